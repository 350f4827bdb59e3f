/**
 * A TCP endpoint: the connection state machine of RFC 9293 (handshake, data within the
 * peer's window in segments of at most its MSS, window scaling, FIN and half-close, RST,
 * TIME_WAIT), retransmission with exponential back-off, congestion control
 * (tcp_congestion.ts) with fast retransmit and a recovery guided by selective
 * acknowledgments when both sides permit them (tcp_sack.ts), keep-alive probes, timestamps
 * (RFC 7323: round-trip times for the retransmission timeout and the congestion control,
 * and old duplicates dropped by PAWS), and for a listener its queue of connections waiting
 * for accept.
 *
 * Segments that arrive out of order are kept within the window and reported in SACK blocks;
 * the sender's retransmission fills the gap.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { chargeKernel, unchargeKernel } from "../mm/memory_file.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDHUP,
  POLLRDNORM,
  POLLWRNORM,
} from "../vfs/file.ts";
import { WaitQueue } from "../vfs/waiter.ts";
import { ANY4, ANY6, type IPAddress, isAny, isV4 } from "./address.ts";
import { ByteQueue } from "./byte_queue.ts";
import { allocate, release, retain } from "./buffer_pool.ts";
import { IPV4_HEADER_SIZE } from "./ipv4.ts";
import { IPV6_HEADER_SIZE } from "./ipv6.ts";
import { type Endpoint, EndpointOptions, type ReadResult, TCP_AUTO_BUFFER } from "./endpoint.ts";
import type { Route } from "./route.ts";
import type { ProcInfo } from "./proc_net.ts";
import { IPPROTO_TCP } from "./stack.ts";
import {
  ACK,
  asReceived,
  encodeTCP,
  FIN,
  headerLength,
  MAX_SACK_BLOCKS,
  type OutSegment,
  type Payload,
  PSH,
  RST,
  type Segment,
  seqAdd,
  seqDiff,
  seqLE,
  seqLT,
  SYN,
  TCP_HEADER_SIZE,
  TIMESTAMPS_SIZE,
} from "./tcp_header.ts";
import type { TCPProtocol } from "./tcp.ts";
import type { ICMPError } from "./icmp.ts";
import type { Init } from "../../abi/linux/layout.ts";
import {
  TCP_CA_LOSS,
  TCP_CA_OPEN,
  TCP_CA_RECOVERY,
  TCP_INFINITE_SSTHRESH,
  TCPI_OPT_SACK,
  TCPI_OPT_TIMESTAMPS,
  TCPI_OPT_WSCALE,
  type TcpInfo,
} from "../../abi/linux/tcp.ts";
import {
  type CongestionControl,
  type CongestionName,
  Cubic,
  newCongestionControl,
} from "./tcp_congestion.ts";
import { sackBlocks, SackScoreboard } from "./tcp_sack.ts";

export enum TCPState {
  ESTABLISHED = 1,
  SYN_SENT = 2,
  SYN_RECV = 3,
  FIN_WAIT1 = 4,
  FIN_WAIT2 = 5,
  TIME_WAIT = 6,
  CLOSE = 7,
  CLOSE_WAIT = 8,
  LAST_ACK = 9,
  LISTEN = 10,
  CLOSING = 11,
}

/** Linux's SOMAXCONN: the largest listen backlog. */
export const SOMAXCONN = 4096;
/** The window scale we offer (Linux's for its default buffers). */
const OUR_WSCALE = 7;
const RTO_INITIAL_MS = 1000;
const RTO_MAX_MS = 120_000;
/** Linux's tcp_retries2 and tcp_syn_retries. */
const MAX_RETRIES = 15;
const MAX_SYN_RETRIES = 6;
/** Most out-of-order segments kept per connection (each within the receive window). */
const MAX_OUT_OF_ORDER = 256;
/** TIME_WAIT and an orphaned FIN_WAIT2 last this long (Linux's TCP_TIMEWAIT_LEN). */
const TIME_WAIT_MS = 60_000;
/** Linux's net.ipv4.tcp_max_tw_buckets default for a small machine. */
const MAX_TIME_WAIT = 16384;
/** The MSS assumed when a SYN has none (RFC 9293: 536 for IPv4, 1220 for IPv6). */
const DEFAULT_MSS4 = 536;
const DEFAULT_MSS6 = 1220;

/** How far past the send buffer's limit a write that finds room may reach (Linux: one skb). */
const SND_OVERSHOOT = 64 << 10;

/** Chunks of the send buffer this large are worth a segment of their own start (no copy). */
const IN_PLACE_MIN = 16 << 10;

/** Duplicate ACKs that start a fast retransmit (RFC 5681's and Linux's tcp_reordering). */
const DUPACK_THRESHOLD = 3;

const RCV_SHUTDOWN = 1;
const SEND_SHUTDOWN = 2;

/** #writeBar's answer for a pending error (SO_ERROR), which write takes as it fails. */
const PENDING_ERROR = -1;

function timer(fn: () => void, ms: number): number {
  const id = setTimeout(fn, ms) as unknown as number;
  // Timers of the stack never keep the sandbox alive once the application is gone.
  Deno.unrefTimer(id);
  return id;
}

export class TCPEndpoint implements Endpoint {
  readonly protocol = IPPROTO_TCP;
  readonly queue = new WaitQueue();
  options = new EndpointOptions();
  state = TCPState.CLOSE;
  localAddr: IPAddress;
  localPort = 0;
  remoteAddr: IPAddress | null = null;
  remotePort = 0;
  v6only = false;
  reuseAddr = false;
  reusePort = false;
  /** The socket that holds it, for /proc/net. */
  procInfo: ProcInfo | null = null;
  #bound = false;
  /** bind(2) chose the address (a failed connect keeps it, as on Linux). */
  #explicitBind = false;
  /** Whether this endpoint holds a port reservation to give back. */
  #reserved = false;
  /** In the protocol's table (bound, listening or connected). */
  #registered = false;
  #route: Route | null = null;
  /** The IPv6 flow label every segment carries (connect's, under IPV6_FLOWINFO_SEND). */
  flowLabel = 0;
  /** The last segment's IPv6 traffic class and flow label (IPV6_2292PKTOPTIONS). */
  rcvFlowinfo = 0;

  // Listener.
  backlog = 0;
  readonly acceptQueue: TCPEndpoint[] = [];
  #synRecv = new Set<TCPEndpoint>();
  #parent: TCPEndpoint | null = null;

  // Send side.
  #iss = 0;
  #sndUna = 0;
  #sndNxt = 0;
  #sndWnd = 0;
  #sndWScale = 0;
  #sndMss = DEFAULT_MSS4;
  /** The largest window the peer offered (silly window avoidance). */
  #maxSndWnd = 0;
  /** Bytes from sndUna on: sent and not yet acknowledged, then not yet sent. */
  readonly #sndBuf = new ByteQueue();
  #finSent = false;

  // Receive side.
  #rcvNxt = 0;
  #rcvWScale = 0;
  readonly #rcvBuf = new ByteQueue();
  /**
   * Segments that arrived beyond rcvNxt (one before them was lost), kept within the window
   * until the gap is filled, so that the sender's one retransmission repairs the stream.
   */
  #ooo: { seq: number; data: Uint8Array; fin: boolean }[] = [];
  #oooBytes = 0;
  /** The right edge of the window last advertised: rcvNxt then, plus the window. */
  #rcvAdvEdge = 0;
  /** The window field of the last ACK sent. */
  #rcvAdvField = 0;

  /** Linux's sk_shutdown bits. */
  #shutdown = 0;
  /** Linux's sk_err: reported once by read, write or SO_ERROR. */
  #error = 0;
  /** Linux's sk_err_soft: an ICMP error kept for a connection that then times out. */
  #softError = 0;
  /** The descriptor is gone; the endpoint lives on to finish the connection. */
  #orphan = false;
  /** The connection was established once (reads then see EOF rather than ENOTCONN). */
  #done = false;

  #rto = RTO_INITIAL_MS;
  #retries = 0;
  /** Duplicate ACKs in a row (RFC 5681): the third resends the first unacknowledged segment. */
  #dupAcks = 0;
  /** In fast recovery: sndNxt when it began; an ACK below it resends the next hole (RFC 6582). */
  #recover: number | null = null;
  /** In a recovery: holes below this were sent again already. */
  #rtxHigh = 0;
  /** Both SYNs carried SACK-permitted: ACKs carry blocks and a recovery follows them. */
  #sackOk = false;
  readonly #scoreboard = new SackScoreboard();
  #cc: CongestionControl = new Cubic(DEFAULT_MSS4);
  /** TCP_CONGESTION: the algorithm, from the protocol's default. */
  #congestion: CongestionName;
  /** One past the highest sequence number sent (the FIN included), and the segments sent again (TCP_INFO). */
  #sndMax = 0;
  #totalRetrans = 0;
  /** Where the last out-of-order segment began (its block is reported first). */
  #lastOutOfOrder = 0;
  #rtxTimer: number | undefined;
  /**
   * When the retransmission timer is due (0: stopped), and when its host timer fires
   * (performance.now()).
   */
  #rtxDeadline = 0;
  #rtxFiresAt = 0;
  #waitTimer: number | undefined;
  #keepTimer: number | undefined;
  #keepProbes = 0;
  #lastRecv = 0;
  #ackPending = false;

  /** Both SYNs carried timestamps: every segment does (RFC 7323). */
  #tsOk = false;
  /** This connection's offset of the timestamp clock (RFC 7323 section 5.4: not the uptime). */
  readonly #tsOffset = (Math.random() * 0x100000000) >>> 0;
  /** The peer's timestamp to echo (TS.Recent) and rcvNxt of our last ACK (Last.ACK.sent). */
  #tsRecent = 0;
  #lastAckSent = 0;
  /** Smoothed round-trip time and its variation (ms, RFC 6298); srtt < 0: no sample yet. */
  #srtt = -1;
  #rttvar = 0;

  constructor(readonly tcp: TCPProtocol, readonly v4: boolean) {
    this.localAddr = v4 ? ANY4 : ANY6;
    this.#congestion = tcp.congestion;
  }

  /** TCP_CONGESTION's name. */
  get congestion(): CongestionName {
    return this.#congestion;
  }

  /** Sets TCP_CONGESTION: a connection switches at once, keeping its windows (as Linux). */
  set congestion(name: CongestionName) {
    this.#congestion = name;
    if (this.#cc.name !== name) this.#cc = newCongestionControl(name, this.#sndMss, this.#cc);
  }

  listening(): boolean {
    return this.state === TCPState.LISTEN;
  }
  timeWait(): boolean {
    return this.state === TCPState.TIME_WAIT;
  }
  get connected(): boolean {
    return this.state === TCPState.ESTABLISHED || this.state === TCPState.CLOSE_WAIT ||
      this.state === TCPState.FIN_WAIT1 || this.state === TCPState.FIN_WAIT2 ||
      this.state === TCPState.CLOSING || this.state === TCPState.LAST_ACK;
  }
  /** Bytes waiting to be read (FIONREAD). */
  get readable(): number {
    return this.#rcvBuf.length;
  }
  /** Bytes not yet acknowledged (TIOCOUTQ). */
  get unacked(): number {
    return this.#sndBuf.length;
  }
  /**
   * Bytes not yet sent (SIOCOUTQNSD): past the highest byte sent, so that what a timeout
   * resends again does not count as unsent.
   */
  get unsent(): number {
    const sent = Math.max(0, seqDiff(this.#sndMax, this.#sndUna));
    return Math.max(0, this.#sndBuf.length - sent);
  }

  bind(addr: IPAddress, port: number): void {
    if (this.#bound || this.state !== TCPState.CLOSE) throw new SysError(Errno.EINVAL);
    if (!this.tcp.stack.isLocal(addr)) throw new SysError(Errno.EADDRNOTAVAIL);
    this.localPort = this.tcp.stack.ports.reserve(IPPROTO_TCP, addr, port, this);
    this.localAddr = addr;
    this.#bound = this.#reserved = this.#explicitBind = true;
  }

  listen(backlog: number): void {
    if (this.state === TCPState.LISTEN) {
      this.backlog = Math.min(backlog >>> 0, SOMAXCONN);
      return;
    }
    if (this.state !== TCPState.CLOSE || this.#done) throw new SysError(Errno.EINVAL);
    if (!this.#bound) this.bind(this.localAddr, 0);
    // A negative backlog is a huge unsigned one, as Linux reads it: capped at SOMAXCONN.
    this.backlog = Math.min(backlog >>> 0, SOMAXCONN);
    this.state = TCPState.LISTEN;
    this.#register();
  }

  #register(): void {
    if (!this.#registered) this.tcp.table.add(this);
    this.#registered = true;
  }
  #unregister(): void {
    if (this.#registered) this.tcp.table.remove(this);
    this.#registered = false;
  }

  /** What options take of every segment (the MSS counts data only, as Linux's mss_cache). */
  #optionSize(): number {
    return this.#tsOk ? TIMESTAMPS_SIZE : 0;
  }

  #mssFor(r: Route): number {
    const ipHeader = isV4(r.dst) ? 20 : 40;
    // An IPv4 packet's total length is 16 bits: a 64 KiB MTU still carries at most 65535.
    const path = this.tcp.stack.pathMtu(r);
    const mtu = Math.min(path, isV4(r.dst) ? 0xffff : path);
    const m = mtu - ipHeader - TCP_HEADER_SIZE;
    return this.options.maxSeg > 0 ? Math.min(this.options.maxSeg, m) : m;
  }

  connect(addr: IPAddress, port: number): void {
    switch (this.state) {
      case TCPState.SYN_SENT:
        throw new SysError(Errno.EALREADY);
      case TCPState.LISTEN:
        throw new SysError(Errno.EISCONN);
      case TCPState.CLOSE:
        if (this.#done) throw new SysError(Errno.EISCONN);
        break;
      default:
        throw new SysError(Errno.EISCONN);
    }
    if (port === 0) throw new SysError(Errno.ECONNREFUSED);
    const r = this.tcp.stack.route(addr, isAny(this.localAddr) ? null : this.localAddr);
    if (!this.#bound) {
      this.localPort = this.tcp.stack.ports.reserve(IPPROTO_TCP, this.localAddr, 0, this);
      this.#bound = this.#reserved = true;
    }
    this.localAddr = r.src;
    this.remoteAddr = addr;
    this.remotePort = port;
    this.#route = r;
    this.#register();
    this.#iss = (Math.random() * 0x100000000) >>> 0;
    this.#sndUna = this.#iss;
    this.#sndNxt = this.#sndMax = seqAdd(this.#iss, 1);
    // What a refused attempt left behind does not concern this one.
    this.#shutdown = 0;
    this.#finSent = false;
    this.#retries = 0;
    this.state = TCPState.SYN_SENT;
    this.#rto = RTO_INITIAL_MS;
    this.#sendSyn(false);
    this.#armRetransmit();
    throw new SysError(Errno.EINPROGRESS);
  }

  #sendSyn(ack: boolean): void {
    const wnd = this.#rcvWindow();
    this.#emit({
      seq: this.#iss,
      ack: ack ? this.#rcvNxt : 0,
      flags: SYN | (ack ? ACK : 0),
      // The window of a SYN is never scaled.
      window: Math.min(wnd, 0xffff),
      mss: this.#mssFor(this.#route!),
      // A SYN-ACK offers scaling only if the SYN did.
      wscale: ack && this.#rcvWScale === 0 ? null : OUR_WSCALE,
      // The same for SACK: a SYN offers it, a SYN-ACK accepts it only when offered.
      sackPermitted: ack ? this.#sackOk : this.tcp.sack,
      // And for timestamps; a SYN echoes nothing yet.
      ts: (ack ? this.#tsOk : this.tcp.timestamps)
        ? { val: this.#tsNow(), ecr: ack ? this.#tsRecent : 0 }
        : undefined,
      data: new Uint8Array(0),
    });
  }

  /** The timestamp clock: milliseconds, from this connection's offset. */
  #tsNow(): number {
    return (Math.floor(performance.now()) + this.#tsOffset) >>> 0;
  }

  /** Accepts a connection request on a listener: a child in SYN_RECV. */
  #onListenSegment(pkt: { src: IPAddress; dst: IPAddress }, s: Segment): void {
    if (s.flags & RST) return;
    if (s.flags & ACK) {
      this.tcp.sendReset(pkt.dst, pkt.src, s);
      return;
    }
    if (!(s.flags & SYN)) return;
    // A full accept queue drops the SYN; the client's retransmission tries again.
    if (this.acceptQueue.length > this.backlog || this.#synRecv.size > SOMAXCONN) return;
    let r: Route;
    try {
      r = this.tcp.stack.route(pkt.src, pkt.dst);
    } catch {
      return;
    }
    const c = new TCPEndpoint(this.tcp, this.v4);
    c.options = Object.assign(new EndpointOptions(), this.options);
    c.#congestion = this.#congestion;
    c.localAddr = pkt.dst;
    c.localPort = this.localPort;
    c.remoteAddr = pkt.src;
    c.remotePort = s.sport;
    c.#route = r;
    c.#bound = true;
    c.#parent = this;
    c.#iss = (Math.random() * 0x100000000) >>> 0;
    c.#sndUna = c.#iss;
    c.#sndNxt = c.#sndMax = seqAdd(c.#iss, 1);
    c.#rcvNxt = seqAdd(s.seq, 1);
    c.#setPeerOptions(s, r);
    c.#sndWnd = c.#maxSndWnd = s.window;
    c.state = TCPState.SYN_RECV;
    this.tcp.stack.ports.share(IPPROTO_TCP, c.localAddr, c.localPort, c);
    c.#reserved = true;
    c.#register();
    this.#synRecv.add(c);
    c.#sendSyn(true);
    c.#armRetransmit();
  }

  #setPeerOptions(s: Segment, r: Route): void {
    // A SYN-ACK with timestamps answers our offer; a SYN's is accepted if we offer them too.
    this.#tsOk = s.ts !== undefined && this.tcp.timestamps;
    if (s.ts) this.#tsRecent = s.ts.val;
    const peerMss = s.mss ?? (isV4(r.dst) ? DEFAULT_MSS4 : DEFAULT_MSS6);
    this.#sndMss = Math.max(64, Math.min(peerMss, this.#mssFor(r))) - this.#optionSize();
    this.#cc = newCongestionControl(this.#congestion, this.#sndMss);
    this.#sackOk = s.sackPermitted === true && this.tcp.sack;
    if (s.wscale !== null) {
      this.#sndWScale = s.wscale;
      this.#rcvWScale = OUR_WSCALE;
    } else {
      this.#sndWScale = this.#rcvWScale = 0;
    }
  }

  /** Handles a segment for this endpoint (the protocol found it by its addresses). */
  handleSegment(
    pkt: { src: IPAddress; dst: IPAddress; tos?: number; flow?: number },
    s: Segment,
  ): void {
    if (!isV4(pkt.dst)) this.rcvFlowinfo = (((pkt.tos ?? 0) << 20) | (pkt.flow ?? 0)) >>> 0;
    this.#lastRecv = performance.now();
    this.#keepProbes = 0;
    switch (this.state) {
      case TCPState.LISTEN:
        this.#onListenSegment(pkt, s);
        return;
      case TCPState.SYN_SENT:
        this.#onSynSent(pkt, s);
        return;
      case TCPState.CLOSE:
        if (!(s.flags & RST)) this.tcp.sendReset(pkt.dst, pkt.src, s);
        return;
    }
    this.#onSynchronized(pkt, s);
  }

  #onSynSent(pkt: { src: IPAddress; dst: IPAddress }, s: Segment): void {
    if (s.flags & ACK && s.ack !== this.#sndNxt) {
      if (!(s.flags & RST)) this.tcp.sendReset(pkt.dst, pkt.src, s);
      return;
    }
    if (s.flags & RST) {
      if (s.flags & ACK) this.#reset(Errno.ECONNREFUSED);
      return;
    }
    if (!(s.flags & SYN)) return;
    this.#rcvNxt = seqAdd(s.seq, 1);
    this.#setPeerOptions(s, this.#route!);
    if (!(s.flags & ACK)) return; // A simultaneous open is not supported: wait for SYN-ACK.
    this.#sndUna = s.ack;
    // The window of a SYN-ACK is never scaled.
    this.#sndWnd = this.#maxSndWnd = s.window;
    this.#established();
    this.#sendAck();
  }

  #established(): void {
    this.state = TCPState.ESTABLISHED;
    this.#done = true;
    this.#retries = 0;
    this.#rto = this.#rtoFromRtt();
    this.#clearRetransmit();
    this.#armKeepalive();
    this.queue.notify();
  }

  #inWindow(s: Segment): boolean {
    const wnd = this.#rcvWindow();
    const len = s.data.length + (s.flags & (SYN | FIN) ? 1 : 0);
    if (len === 0) {
      return wnd === 0
        ? s.seq === this.#rcvNxt
        : seqLE(this.#rcvNxt, s.seq) && seqLT(s.seq, seqAdd(this.#rcvNxt, wnd)) ||
          s.seq === this.#rcvNxt;
    }
    // Anything that reaches back to rcvNxt or ahead within the window.
    return seqLT(s.seq, seqAdd(this.#rcvNxt, Math.max(wnd, 1))) &&
        seqLT(this.#rcvNxt, seqAdd(s.seq, len)) || s.seq === this.#rcvNxt;
  }

  #onSynchronized(pkt: { src: IPAddress; dst: IPAddress }, s: Segment): void {
    if (this.state === TCPState.TIME_WAIT && s.flags & SYN && !(s.flags & ACK)) {
      // A new connection for the same addresses takes the place of this one.
      this.#finish();
      this.tcp.handleAgain(pkt, s);
      return;
    }
    if (this.#tsOk && s.ts && !(s.flags & RST)) {
      // PAWS (RFC 7323 section 5.3): a segment stamped before the latest one is an old
      // duplicate, even with a sequence number that looks current (wrapped): dropped, and
      // acknowledged so that the peer learns where we are.
      if (seqLT(s.ts.val, this.#tsRecent)) {
        this.#sendAck();
        return;
      }
    }
    if (!this.#inWindow(s)) {
      if (!(s.flags & RST)) this.#sendAck();
      return;
    }
    // Only an acceptable segment sets the stamp to echo (one outside the window could push it
    // ahead and make PAWS drop the real ones): that of the segment that reached where our
    // last ACK said, so that the peer's round trip includes any delay of ours (RFC 7323 4.3).
    if (this.#tsOk && s.ts && !(s.flags & RST) && seqLE(s.seq, this.#lastAckSent)) {
      this.#tsRecent = s.ts.val;
    }
    if (s.flags & RST) {
      if (this.state === TCPState.SYN_RECV) {
        this.#finish();
        return;
      }
      this.#reset(this.state === TCPState.CLOSE_WAIT ? Errno.EPIPE : Errno.ECONNRESET);
      return;
    }
    if (s.flags & SYN) {
      // A SYN in a synchronized state: a challenge ACK, as RFC 5961 asks.
      this.#sendAck();
      return;
    }
    if (!(s.flags & ACK)) return;
    if (this.state === TCPState.SYN_RECV) {
      if (s.ack !== this.#sndNxt) {
        this.tcp.sendReset(pkt.dst, pkt.src, s);
        return;
      }
      this.#sndUna = s.ack;
      this.#sndWnd = s.window << this.#sndWScale;
      this.#maxSndWnd = this.#sndWnd;
      const parent = this.#parent;
      this.#established();
      if (parent) {
        parent.#synRecv.delete(this);
        if (parent.state === TCPState.LISTEN) {
          parent.acceptQueue.push(this);
          parent.queue.notify();
        }
      }
    } else {
      this.#onAck(s);
      if (this.state === TCPState.CLOSE) return;
    }
    this.#onData(pkt, s);
  }

  #onAck(s: Segment): void {
    if (seqLT(this.#sndMax, s.ack)) {
      // Acknowledges what was never sent.
      this.#sendAck();
      return;
    }
    if (seqLT(this.#sndNxt, s.ack)) this.#skipAcked(s.ack);
    if (this.#sackOk && s.sack && s.sack.length > 0) {
      this.#scoreboard.update(s.sack, this.#sndUna, this.#sndMax);
    }
    const duplicate = s.ack === this.#sndUna && s.data.length === 0 && !(s.flags & FIN) &&
      this.#sndNxt !== this.#sndUna && (s.window << this.#sndWScale) === this.#sndWnd;
    if (duplicate) {
      this.#dupAcks++;
      // The segment after what the peer has is lost (what follows it arrived): resent now,
      // not after the retransmission timeout.
      if (this.#recover === null && this.#dupAcks === DUPACK_THRESHOLD) this.#enterRecovery();
      // Each further duplicate means a segment left the network: room for another.
      else if (this.#recover !== null) this.#recoverySend(false);
    }
    if (seqLE(this.#sndUna, s.ack)) {
      this.#sndWnd = s.window << this.#sndWScale;
      this.#maxSndWnd = Math.max(this.#maxSndWnd, this.#sndWnd);
    }
    if (seqLT(this.#sndUna, s.ack)) {
      let acked = seqDiff(s.ack, this.#sndUna);
      const finAcked = this.#finSent && s.ack === this.#sndNxt;
      if (finAcked) acked--;
      const n = Math.min(acked, this.#sndBuf.length);
      this.#sndBuf.consume(n);
      unchargeKernel(n);
      this.#sndUna = s.ack;
      this.#softError = 0;
      this.#scoreboard.advance(s.ack);
      if (this.#tsOk && s.ts && s.ts.ecr !== 0 && this.#retries === 0) {
        // The echo of our clock (RFC 7323 section 4): the round trip of what this ACK
        // covers (after a timeout it may echo the first transmission: Karn's rule).
        this.#rttSample(seqDiff(this.#tsNow(), s.ts.ecr));
      }
      this.#retries = 0;
      this.#rto = this.#rtoFromRtt();
      this.#dupAcks = 0;
      if (this.#recover === null) {
        this.#cc.onAck(acked, this.#sndMss, this.#srtt);
      } else if (seqLT(s.ack, this.#recover)) {
        // A partial ACK: the next hole is resent at once.
        this.#recoverySend(true);
      } else {
        // A full one ends the recovery.
        this.#recover = null;
        this.#cc.onRecovered(seqDiff(this.#sndNxt, this.#sndUna), this.#sndMss);
        this.#scoreboard.clear();
      }
      if (this.#sndUna === this.#sndNxt) this.#clearRetransmit();
      else this.#armRetransmit(true);
      this.queue.notify();
      if (finAcked) {
        switch (this.state) {
          case TCPState.FIN_WAIT1:
            this.state = TCPState.FIN_WAIT2;
            this.#orphanTimeout();
            break;
          case TCPState.CLOSING:
            this.#enterTimeWait();
            break;
          case TCPState.LAST_ACK:
            this.#finish();
            return;
        }
      }
    }
    this.#output();
  }

  #onData(pkt: { src: IPAddress; dst: IPAddress }, s: Segment): void {
    let data = s.data;
    let seq = s.seq;
    let fin = (s.flags & FIN) !== 0;
    if (data.length === 0 && !fin) return;
    const receiving = this.state === TCPState.ESTABLISHED || this.state === TCPState.FIN_WAIT1 ||
      this.state === TCPState.FIN_WAIT2;
    if (!receiving) {
      // Data or FIN after ours was received: the peer retransmits, we acknowledge again.
      this.#sendAck();
      return;
    }
    if (seqLT(seq, this.#rcvNxt)) {
      const skip = seqDiff(this.#rcvNxt, seq);
      if (skip > data.length) {
        this.#sendAck();
        return;
      }
      data = data.subarray(skip);
      seq = this.#rcvNxt;
    }
    if (seq !== this.#rcvNxt) {
      // Out of order: kept, and a duplicate ACK tells the sender where the gap is.
      this.#keepOutOfOrder(seq, data, fin);
      this.#sendAck();
      return;
    }
    if (data.length > 0) {
      if (this.#orphan) {
        // Data for a socket nobody can read any more: the connection is reset (Linux).
        this.tcp.sendReset(pkt.dst, pkt.src, s);
        this.#reset(0);
        return;
      }
      const room = this.#rcvLimit - this.#rcvBuf.length;
      const take = Math.min(room, data.length);
      if (take > 0 && chargeKernel(take)) {
        // The packet is the stack's own and read by nobody else: its bytes are kept as they are.
        this.#rcvBuf.push(data.subarray(0, take));
        this.#rcvNxt = seqAdd(this.#rcvNxt, take);
      }
      if (take < data.length) {
        // What did not fit waits for the sender's retransmission; its FIN too.
        this.#sendAck();
        this.queue.notify();
        return;
      }
    }
    const filled = this.#ooo.length > 0;
    if (filled && !fin && this.#drainOutOfOrder()) {
      fin = true;
    }
    if (fin) {
      this.#rcvNxt = seqAdd(this.#rcvNxt, 1);
      this.#shutdown |= RCV_SHUTDOWN;
      switch (this.state) {
        case TCPState.ESTABLISHED:
          this.state = TCPState.CLOSE_WAIT;
          break;
        case TCPState.FIN_WAIT1:
          this.state = TCPState.CLOSING;
          break;
        case TCPState.FIN_WAIT2:
          this.#enterTimeWait();
          break;
      }
      this.#sendAck();
    } else if (filled) {
      // The gap is filled: the sender learns it at once.
      this.#sendAck();
    } else {
      this.#scheduleAck();
    }
    this.queue.notify();
  }

  #keepOutOfOrder(seq: number, data: Uint8Array, fin: boolean): void {
    if (data.length === 0 || this.#ooo.length >= MAX_OUT_OF_ORDER) return;
    this.#lastOutOfOrder = seq;
    const ahead = seqDiff(seq, this.#rcvNxt);
    if (ahead <= 0 || ahead + data.length > this.#rcvWindow() - this.#oooBytes) return;
    if (this.#ooo.some((o) => o.seq === seq)) return;
    if (!chargeKernel(data.length)) return;
    retain(data);
    this.#ooo.push({ seq, data, fin });
    this.#oooBytes += data.length;
  }

  /**
   * Moves what now continues rcvNxt from the out-of-order segments to the receive buffer;
   * true when a FIN was reached.
   */
  #drainOutOfOrder(): boolean {
    this.#ooo.sort((a, b) => seqDiff(a.seq, b.seq));
    let fin = false;
    while (this.#ooo.length > 0 && seqLE(this.#ooo[0].seq, this.#rcvNxt) && !fin) {
      const o = this.#ooo.shift()!;
      this.#oooBytes -= o.data.length;
      unchargeKernel(o.data.length);
      const skip = seqDiff(this.#rcvNxt, o.seq);
      const part = o.data.subarray(Math.min(skip, o.data.length));
      const take = Math.min(this.#rcvLimit - this.#rcvBuf.length, part.length);
      if (skip <= o.data.length && take > 0 && chargeKernel(take)) {
        this.#rcvBuf.push(part.subarray(0, take));
        this.#rcvNxt = seqAdd(this.#rcvNxt, take);
      }
      // The receive buffer holds what it took of it now.
      release(o.data);
      if (skip > o.data.length) continue;
      if (take < part.length) break;
      fin = o.fin;
    }
    return fin;
  }

  #dropOutOfOrder(): void {
    for (const o of this.#ooo) release(o.data);
    unchargeKernel(this.#oooBytes);
    this.#ooo = [];
    this.#oooBytes = 0;
  }

  /** Acknowledges once for everything a batch of arriving segments brought. */
  #scheduleAck(): void {
    if (this.#ackPending) return;
    this.#ackPending = true;
    queueMicrotask(() => {
      if (!this.#ackPending) return;
      this.#sendAck();
    });
  }

  get #rcvLimit(): number {
    const o = this.options;
    return o.rcvbufLocked ? o.rcvbuf : Math.max(o.rcvbuf, TCP_AUTO_BUFFER);
  }
  get #sndLimit(): number {
    const o = this.options;
    return o.sndbufLocked ? o.sndbuf : Math.max(o.sndbuf, TCP_AUTO_BUFFER);
  }

  #rcvWindow(): number {
    return Math.max(0, this.#rcvLimit - this.#rcvBuf.length);
  }

  /**
   * Sends a segment; one of more than segmentSize bytes of data (only where the link
   * offloads) leaves the link cut into segments of that size.
   */
  #emit(s: Omit<OutSegment, "sport" | "dport">, segmentSize = 0): void {
    const r = this.#route;
    if (!r) return;
    const seg: OutSegment = { sport: this.localPort, dport: this.remotePort, ...s };
    if (this.#tsOk && !(s.flags & (RST | SYN))) {
      seg.ts = { val: this.#tsNow(), ecr: this.#tsRecent };
    }
    if (s.flags & ACK) {
      this.#lastAckSent = s.ack;
      this.#ackPending = false;
      // A SYN's window is never scaled.
      const wnd = s.flags & SYN ? s.window : (s.window << this.#rcvWScale) >>> 0;
      this.#rcvAdvEdge = seqAdd(s.ack, wnd);
      this.#rcvAdvField = s.window;
    }
    const stack = this.tcp.stack;
    if (stack.sendsLocal(r)) {
      this.#emitLocal(r, seg);
      return;
    }
    const link = r.nic.link;
    const offload = (link.offloadMaxSize ?? 0) > 0;
    // A link that checks for us (loopback) needs no partial sum either.
    const b = encodeTCP(r.src, r.dst, seg, link.checksumOffload, offload && !link.checksumOffload);
    this.tcp.stack.send(
      r,
      IPPROTO_TCP,
      b,
      this.options.ttl,
      this.options.tos,
      offload ? { checksumOffset: 16, headerLength: (b[12] >> 4) * 4, segmentSize } : undefined,
      this.flowLabel,
    );
    // A segment copied into a buffer of its own is ours to give back (whoever queued it holds
    // it still); one built in place is the send buffer's.
    if (!(s.data instanceof Uint8Array && s.data.buffer === b.buffer)) release(b);
  }

  /** Hands seg to a link that takes it parsed (loopback): no header is written or read. */
  #emitLocal(r: Route, seg: OutSegment): void {
    const d = seg.data;
    let data: Uint8Array;
    if (d instanceof Uint8Array) {
      data = d;
    } else {
      data = allocate(d.length, 0);
      d.copyTo(data);
    }
    const v4 = isV4(r.dst);
    this.tcp.stack.sendLocal(r, {
      src: r.src,
      dst: r.dst,
      protocol: IPPROTO_TCP,
      tos: this.options.tos & 0xff,
      flow: v4 ? 0 : this.flowLabel & 0xfffff,
      length: (v4 ? IPV4_HEADER_SIZE : IPV6_HEADER_SIZE) + headerLength(seg) + data.length,
      transport: asReceived(seg, data),
      data,
    });
    // The link holds a buffer of our own now; one from the send buffer stays its.
    if (data !== d) release(data);
  }

  /**
   * The most data one packet carries: a segment, or where the link cuts packets into
   * segments (offload), as many whole segments as its largest packet holds.
   */
  #sendLimit(): number {
    const r = this.#route!;
    const max = r.nic.link.offloadMaxSize ?? 0;
    if (max <= 0) return this.#sndMss;
    const room = max - (isV4(r.dst) ? 20 : 40) - TCP_HEADER_SIZE;
    return Math.max(this.#sndMss, room - room % this.#sndMss);
  }

  #advertised(): number {
    return Math.min(this.#rcvWindow() >> this.#rcvWScale, 0xffff);
  }

  #sendAck(): void {
    this.#emit({
      seq: this.#sndNxt,
      ack: this.#rcvNxt,
      flags: ACK,
      window: this.#advertised(),
      mss: null,
      wscale: null,
      // What arrived beyond a gap, so that the sender resends only the gap.
      sack: this.#sackOk && this.#ooo.length > 0
        ? sackBlocks(this.#ooo, this.#lastOutOfOrder, MAX_SACK_BLOCKS)
        : undefined,
      data: new Uint8Array(0),
    });
  }

  /** Sends what the window allows of the send buffer, then the FIN when it is due. */
  #output(): void {
    if (!this.connected) return;
    for (;;) {
      const inFlight = seqDiff(this.#sndNxt, this.#sndUna);
      const unsent = this.#sndBuf.length - inFlight;
      if (unsent <= 0) break;
      const wnd = this.#sndWnd - inFlight;
      if (wnd <= 0) {
        // A closed window: the persist timer probes it in case the update that opens it is
        // lost (the reader sends one when it reads).
        if (inFlight === 0) this.#armRetransmit();
        break;
      }
      let n = Math.min(unsent, wnd, this.#sndMss);
      // Sender silly window avoidance (RFC 9293 3.8.6.2.1): a sliver of window left by the
      // last segment waits for the ACKs in flight to open more, unless it takes all that
      // is to send or half the largest window the peer offered.
      if (
        n < this.#sndMss && n < unsent && inFlight > 0 && n < this.#maxSndWnd / 2 &&
        this.#sndBuf.beforeLargeChunk(inFlight, n, IN_PLACE_MIN) === n
      ) {
        break;
      }
      // The congestion window counts what is in the network; a segment goes out whole, not
      // cut to the last bytes of room (the ACKs that follow open more).
      const room = this.#cc.cwnd - this.#pipe();
      if (room < n && inFlight > 0) break;
      const limit = this.#sendLimit();
      if (limit > n) {
        // Several segments in one packet, as many as the windows allow in whole segments.
        const whole = Math.max(n, room - room % this.#sndMss);
        n = Math.min(unsent, wnd, limit, whole);
      }
      // A segment that a window cut left mid-chunk ends where the next large write's chunk
      // begins, so that segments from there on are built in place again, not copied.
      n = this.#sndBuf.beforeLargeChunk(inFlight, n, IN_PLACE_MIN);
      this.#emit({
        seq: this.#sndNxt,
        ack: this.#rcvNxt,
        flags: ACK | (n === unsent ? PSH : 0),
        window: this.#advertised(),
        mss: null,
        wscale: null,
        data: this.#sndData(inFlight, n),
      }, n > this.#sndMss ? this.#sndMss : 0);
      this.#countSent(this.#sndNxt, n);
      this.#sndNxt = seqAdd(this.#sndNxt, n);
      this.#armRetransmit();
    }
    if (
      this.#shutdown & SEND_SHUTDOWN && !this.#finSent &&
      seqDiff(this.#sndNxt, this.#sndUna) === this.#sndBuf.length &&
      (this.state === TCPState.ESTABLISHED || this.state === TCPState.CLOSE_WAIT)
    ) {
      this.#finSent = true;
      this.#emit({
        seq: this.#sndNxt,
        ack: this.#rcvNxt,
        flags: FIN | ACK,
        window: this.#advertised(),
        mss: null,
        wscale: null,
        data: new Uint8Array(0),
      });
      this.#sndNxt = seqAdd(this.#sndNxt, 1);
      // The FIN counts as sent: a late ACK of it is acceptable after a timeout went back.
      if (seqLT(this.#sndMax, this.#sndNxt)) this.#sndMax = this.#sndNxt;
      this.state = this.state === TCPState.ESTABLISHED ? TCPState.FIN_WAIT1 : TCPState.LAST_ACK;
      this.#armRetransmit();
    }
  }

  /** n bytes of the send buffer from offset, copied only into the packet that carries them. */
  #sndData(offset: number, n: number): Payload {
    const q = this.#sndBuf;
    // A segment that begins a chunk as the application wrote it is sent from the chunk itself.
    return q.chunkStart(offset, n) ?? { length: n, copyTo: (dst) => q.copyTo(offset, n, dst) };
  }

  /**
   * Bytes in the network (RFC 6675's pipe): outside a recovery, all that is unacknowledged; in
   * one, less what the peer SACKed and the holes taken as lost and not yet sent again, or
   * without SACK less a segment per duplicate ACK (RFC 5681's window inflation).
   */
  #pipe(): number {
    const flight = seqDiff(this.#sndNxt, this.#sndUna);
    if (this.#recover === null) return flight;
    if (this.#sackOk && !this.#scoreboard.empty) {
      const lost = this.#scoreboard.holesFrom(this.#holeFrom());
      return Math.max(0, flight - this.#scoreboard.sacked - lost);
    }
    return Math.max(0, flight - this.#dupAcks * this.#sndMss);
  }

  #holeFrom(): number {
    return seqLT(this.#rtxHigh, this.#sndUna) ? this.#sndUna : this.#rtxHigh;
  }

  /** A loss seen by duplicate ACKs: the window shrinks and the first hole goes out now. */
  #enterRecovery(): void {
    this.#cc.onFastRetransmit(seqDiff(this.#sndNxt, this.#sndUna), this.#sndMss);
    this.#recover = this.#sndNxt;
    this.#rtxHigh = this.#sndUna;
    this.#recoverySend(true);
  }

  /**
   * Sends again the holes the window has room for (the first one at once when `now`): those
   * the SACK blocks show, else only the first unacknowledged segment (NewReno). Each hole goes
   * once per recovery; new data follows through #output under the same window.
   */
  #recoverySend(now: boolean): void {
    for (let first = now;; first = false) {
      if (!first && this.#pipe() + this.#sndMss > this.#cc.cwnd) return;
      const hole = this.#nextHole();
      if (!hole) return;
      const [seq, len] = hole;
      const offset = seqDiff(seq, this.#sndUna);
      const n = Math.min(len, this.#sndBuf.length - offset);
      if (n <= 0) return;
      this.#emit({
        seq,
        ack: this.#rcvNxt,
        flags: ACK,
        window: this.#advertised(),
        mss: null,
        wscale: null,
        data: this.#sndData(offset, n),
      });
      this.#countSent(seq, n);
      this.#rtxHigh = seqAdd(seq, n);
      this.#armRetransmit(seq === this.#sndUna);
    }
  }

  /** The next hole to send again in a recovery: [seq, length], or null. */
  #nextHole(): [number, number] | null {
    const from = this.#holeFrom();
    if (this.#sackOk && !this.#scoreboard.empty) {
      return this.#scoreboard.nextHole(from, this.#sndMss);
    }
    // Without SACK blocks only the first unacknowledged segment is known to be missing.
    if (from !== this.#sndUna) return null;
    const n = Math.min(this.#sndMss, seqDiff(this.#sndNxt, this.#sndUna));
    return n > 0 ? [from, n] : null;
  }

  /** Adds a round-trip time (ms) to the estimate (RFC 6298 section 2). */
  #rttSample(rtt: number): void {
    if (rtt < 0 || rtt > RTO_MAX_MS) return;
    if (this.#srtt < 0) {
      this.#srtt = rtt;
      this.#rttvar = rtt / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rtt);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rtt;
    }
  }

  /** The retransmission timeout the estimate gives, never below the floor (rtoMinMs). */
  #rtoFromRtt(): number {
    const floor = this.tcp.rtoMinMs;
    if (this.#srtt < 0) return floor;
    // The clock's granularity (1 ms) bounds the variation's share from below.
    return Math.min(RTO_MAX_MS, Math.max(floor, this.#srtt + Math.max(1, 4 * this.#rttvar)));
  }

  #armRetransmit(restart = false): void {
    if (this.#rtxTimer !== undefined && !restart && this.#rtxDeadline !== 0) return;
    const now = performance.now();
    if (this.#rtxTimer !== undefined) {
      // Restarted on every ACK that moves sndUna: the deadline moves later and the timer,
      // when it fires early, sleeps again for the rest (one host timer per RTO, not one per
      // ACK); only a deadline earlier than the timer's (the RTO fell back after a back-off)
      // takes a new timer.
      this.#rtxDeadline = now + this.#rto;
      if (this.#rtxDeadline >= this.#rtxFiresAt) return;
      clearTimeout(this.#rtxTimer);
    }
    this.#rtxDeadline = this.#rtxFiresAt = now + this.#rto;
    this.#rtxTimer = timer(() => this.#onRetransmitTimer(), this.#rto);
  }

  /**
   * Stops the retransmission timer. Its host timer is left to fire and find nothing due: on a
   * stream every write starts the timer again after an ACK stopped it, and a host timer made
   * and cancelled each time cost more than the stack's own work on the segment.
   */
  #clearRetransmit(): void {
    this.#rtxDeadline = 0;
  }

  /** Stops the retransmission timer and its host timer (the connection is over). */
  #cancelRetransmit(): void {
    if (this.#rtxTimer !== undefined) clearTimeout(this.#rtxTimer);
    this.#rtxTimer = undefined;
    this.#rtxDeadline = 0;
  }

  #onRetransmitTimer(): void {
    this.#rtxTimer = undefined;
    if (this.#rtxDeadline === 0) return;
    const now = performance.now();
    const early = this.#rtxDeadline - now;
    if (early > 1) {
      this.#rtxFiresAt = now + early;
      this.#rtxTimer = timer(() => this.#onRetransmitTimer(), early);
      return;
    }
    if (this.#sndUna === this.#sndNxt) {
      if (this.connected && this.#sndWnd === 0 && this.#sndBuf.length > 0) {
        // Persist: a segment the peer has already acknowledged makes it say its window.
        this.#rto = Math.min(this.#rto * 2, RTO_MAX_MS);
        this.#sendProbe();
        this.#armRetransmit();
      }
      return;
    }
    const limit = this.state === TCPState.SYN_SENT || this.state === TCPState.SYN_RECV
      ? MAX_SYN_RETRIES
      : MAX_RETRIES;
    if (++this.#retries > limit) {
      if (this.state === TCPState.SYN_RECV) {
        this.#finish();
        return;
      }
      this.#reset(this.#softError || Errno.ETIMEDOUT);
      return;
    }
    this.#rto = Math.min(this.#rto * 2, RTO_MAX_MS);
    if (this.connected) {
      // A timeout is the network's strongest signal: one segment at a time again, and what
      // the peer SACKed is sent again too (a receiver may drop what it SACKed).
      const flight = seqDiff(this.#sndNxt, this.#sndUna);
      if (this.#retries === 1) this.#cc.onTimeout(flight, this.#sndMss);
      else this.#cc.cwnd = this.#sndMss;
      this.#scoreboard.clear();
    }
    this.#recover = null;
    this.#dupAcks = 0;
    if (this.state === TCPState.SYN_SENT || this.state === TCPState.SYN_RECV) {
      this.#sendSyn(this.state === TCPState.SYN_RECV);
      this.#armRetransmit();
      return;
    }
    this.#goBack();
    this.#output();
    this.#armRetransmit();
  }

  /**
   * A timeout went back to resend from the first unacknowledged byte, but the first flight had
   * arrived (its ACKs were late, not lost): the peer's ACK covers more than was sent since, and
   * sending resumes after it. Refusing such an ACK as one for unsent data would resend the
   * same segment forever.
   */
  #skipAcked(ack: number): void {
    const dataEnd = seqAdd(this.#sndUna, this.#sndBuf.length);
    if (!seqLT(dataEnd, ack)) {
      this.#sndNxt = ack;
      return;
    }
    // The FIN, sent before the timeout, is acknowledged too.
    this.#sndNxt = ack;
    this.#finSent = true;
    if (this.state === TCPState.ESTABLISHED) this.state = TCPState.FIN_WAIT1;
    else if (this.state === TCPState.CLOSE_WAIT) this.state = TCPState.LAST_ACK;
  }

  /** Goes back to the first unacknowledged byte, to send again from there. */
  #goBack(): void {
    this.#sndNxt = this.#sndUna;
    if (this.#finSent) {
      this.#finSent = false;
      this.state = this.state === TCPState.FIN_WAIT1 || this.state === TCPState.CLOSING
        ? TCPState.ESTABLISHED
        : this.state === TCPState.LAST_ACK
        ? TCPState.CLOSE_WAIT
        : this.state;
    }
  }

  /**
   * Handles an ICMP error about the segment that began at seq. Only one about what is in
   * flight counts (RFC 5927: an attacker who cannot see the connection must guess it).
   */
  handleError(err: ICMPError, seq: number): void {
    const synSent = this.state === TCPState.SYN_SENT;
    if (!this.connected && !synSent) return;
    if (seqLT(seq, this.#sndUna) || !seqLT(seq, this.#sndNxt)) return;
    if (err.mtu > 0) {
      const r = this.#route;
      if (!r) return;
      // Another connection may have lowered the path already: the MSS follows it either way.
      this.tcp.stack.pmtu.lower(r.dst, err.mtu, r.nic.link.mtu);
      this.#pathMtuReduced();
      return;
    }
    // "Fragmentation needed" without an MTU (a router older than RFC 1191) tells nothing.
    if (err.errno === Errno.EMSGSIZE) return;
    if (synSent) {
      // The attempt fails at once with the error, as Linux's connect does.
      this.#reset(err.errno);
      return;
    }
    // A connection keeps going: the error is what it reports if it then times out.
    this.#softError = err.errno;
  }

  /**
   * A hop toward the peer is narrower than the segments: the MSS follows the path's MTU and
   * what was sent is sent again in the new size at once (it was dropped, not congested).
   */
  #pathMtuReduced(): void {
    const mss = Math.max(64, this.#mssFor(this.#route!)) - this.#optionSize();
    if (mss >= this.#sndMss) return;
    this.#sndMss = mss;
    if (this.state === TCPState.SYN_SENT) return;
    this.#recover = null;
    this.#dupAcks = 0;
    this.#scoreboard.clear();
    this.#goBack();
    this.#output();
    this.#armRetransmit(true);
  }

  #armKeepalive(): void {
    if (!this.options.keepalive || this.#keepTimer !== undefined) return;
    const wait = this.#keepProbes > 0 ? this.options.keepIntvl : this.options.keepIdle;
    this.#keepTimer = timer(() => this.#onKeepalive(), wait * 1000);
  }

  /** SO_KEEPALIVE or its timings changed. */
  keepaliveChanged(): void {
    if (this.#keepTimer !== undefined) clearTimeout(this.#keepTimer);
    this.#keepTimer = undefined;
    if (this.connected) this.#armKeepalive();
  }

  #onKeepalive(): void {
    this.#keepTimer = undefined;
    if (!this.options.keepalive || !this.connected) return;
    const idle = performance.now() - this.#lastRecv;
    if (this.#keepProbes === 0 && idle < this.options.keepIdle * 1000) {
      this.#keepTimer = timer(() => this.#onKeepalive(), this.options.keepIdle * 1000 - idle);
      return;
    }
    if (this.#keepProbes >= this.options.keepCnt) {
      this.#reset(this.#softError || Errno.ETIMEDOUT);
      return;
    }
    this.#keepProbes++;
    this.#sendProbe();
    this.#armKeepalive();
  }

  /** A segment below the window (keep-alive, window probe): the peer answers with an ACK. */
  #sendProbe(): void {
    this.#emit({
      seq: seqAdd(this.#sndUna, -1),
      ack: this.#rcvNxt,
      flags: ACK,
      window: this.#advertised(),
      mss: null,
      wscale: null,
      data: new Uint8Array(0),
    });
  }

  #enterTimeWait(): void {
    // Connections in TIME_WAIT belong to no descriptor and so to no charge: past Linux's
    // default bucket count the wait is skipped (Linux logs "time wait bucket table overflow").
    if (this.tcp.timeWaitCount >= MAX_TIME_WAIT) {
      this.#finish();
      return;
    }
    this.tcp.timeWaitCount++;
    this.state = TCPState.TIME_WAIT;
    this.#cancelRetransmit();
    if (this.#keepTimer !== undefined) clearTimeout(this.#keepTimer);
    this.#keepTimer = undefined;
    if (this.#waitTimer === undefined) this.#waitTimer = timer(() => this.#finish(), TIME_WAIT_MS);
    this.queue.notify();
  }

  /** The connection failed or was reset: errno is what the application sees (0: none). */
  #reset(errno: number): void {
    if (errno) this.#error = errno;
    this.#shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
    this.#finish();
  }

  /** Ends the connection: out of the tables, timers stopped, buffers given back. */
  #finish(): void {
    const wasSynRecv = this.state === TCPState.SYN_RECV;
    if (this.state === TCPState.TIME_WAIT) this.tcp.timeWaitCount--;
    this.state = TCPState.CLOSE;
    this.#cancelRetransmit();
    if (this.#waitTimer !== undefined) clearTimeout(this.#waitTimer);
    if (this.#keepTimer !== undefined) clearTimeout(this.#keepTimer);
    this.#waitTimer = this.#keepTimer = undefined;
    this.#unregister();
    // A connect that failed leaves a socket that may connect again, bound as before it.
    const retry = !this.#done && !this.#orphan && this.remoteAddr !== null;
    if (retry && this.#explicitBind) {
      this.remoteAddr = null;
      this.remotePort = 0;
    } else if (this.#reserved) {
      this.tcp.stack.ports.release(IPPROTO_TCP, this.localPort, this);
      this.#reserved = false;
      if (retry) {
        this.#bound = false;
        this.localPort = 0;
        this.localAddr = this.v4 ? ANY4 : ANY6;
        this.remoteAddr = null;
        this.remotePort = 0;
      }
    }
    unchargeKernel(this.#sndBuf.length);
    this.#sndBuf.clear();
    this.#dropOutOfOrder();
    if (this.#orphan) {
      unchargeKernel(this.#rcvBuf.length);
      this.#rcvBuf.clear();
    }
    if (wasSynRecv && this.#parent) this.#parent.#synRecv.delete(this);
    this.queue.notify();
  }

  /** Writes to the connection; an address given to sendto is ignored, as Linux does. */
  write(
    data: Uint8Array,
    _to: { addr: IPAddress; port: number } | null,
    owned = false,
  ): number {
    const bar = this.#writeBar();
    if (bar === PENDING_ERROR) throw new SysError(this.takeError());
    if (bar !== 0) throw new SysError(bar);
    const room = this.#sndLimit - this.#sndBuf.length;
    // While there is room at all, up to a segment's worth more is taken, as Linux queues a
    // whole buffer past sk_sndbuf: a blocked writer woken by an ACK that freed a little does
    // not queue a sliver of its write (and wait again for the rest).
    const n = Math.min(room + SND_OVERSHOOT, data.length);
    if (n === 0) return 0;
    if (!chargeKernel(n)) throw new SysError(Errno.ENOBUFS);
    // A buffer handed over (owned) is kept as it is; any other is copied.
    this.#sndBuf.push(owned ? data.subarray(0, n) : data.slice(0, n));
    this.#output();
    return n;
  }

  /**
   * What keeps write from taking data now, in the order it is reported: 0 when nothing does,
   * PENDING_ERROR for an error the write takes and fails with, else the errno (EPIPE, or
   * EAGAIN for a handshake not done or a full send buffer). The socket's fast paths ask it
   * too (wouldBlock, takesWhole), so that they and write can never disagree.
   */
  #writeBar(): number {
    if (this.#error) return PENDING_ERROR;
    if (this.#shutdown & SEND_SHUTDOWN) return Errno.EPIPE;
    if (this.state === TCPState.SYN_SENT || this.state === TCPState.SYN_RECV) return Errno.EAGAIN;
    if (this.state !== TCPState.ESTABLISHED && this.state !== TCPState.CLOSE_WAIT) {
      return Errno.EPIPE;
    }
    return this.#sndLimit - this.#sndBuf.length <= 0 ? Errno.EAGAIN : 0;
  }

  /** Whether write would fail with EAGAIN now (a blocked writer waits without the throw). */
  wouldBlock(): boolean {
    return this.#writeBar() === Errno.EAGAIN;
  }

  /**
   * Whether write would take n bytes whole now, so that a caller that skips the socket's
   * waiting and error paths (socket.ts writeFrom) never needs them.
   */
  takesWhole(n: number): boolean {
    return this.#writeBar() === 0 && n <= this.#sndLimit - this.#sndBuf.length + SND_OVERSHOOT;
  }

  /**
   * Takes up to max received bytes (one buffered chunk's worth). The data is a view that
   * belongs to the stack's buffer pool once consumed: the caller copies it out before
   * anything else sends on the stack (the socket copies it to the application at once).
   */
  read(max: number, peek: boolean): ReadResult {
    const r = this.tryRead(max, peek);
    if (r === null) throw new SysError(Errno.EAGAIN);
    return r;
  }

  tryRead(max: number, peek: boolean): ReadResult | null {
    if (this.state === TCPState.LISTEN) throw new SysError(Errno.ENOTCONN);
    const have = this.#rcvBuf.length;
    if (have > 0) {
      // A read takes one chunk's view at a time (the socket copies it out and reads again);
      // only a peek, which must not consume, gathers a copy.
      const data = peek ? this.#rcvBuf.peek(0, Math.min(max, have)) : this.#rcvBuf.front(max);
      const n = data.length;
      if (!peek) {
        this.#rcvBuf.consume(n);
        unchargeKernel(n);
        this.#windowUpdate();
      }
      return { data, full: n, from: this.remoteAddr, fromPort: this.remotePort };
    }
    if (this.#error) throw new SysError(this.takeError());
    if (this.#shutdown & RCV_SHUTDOWN) {
      return { data: new Uint8Array(0), full: 0, from: null, fromPort: 0 };
    }
    if (this.state === TCPState.CLOSE) throw new SysError(Errno.ENOTCONN);
    return null;
  }

  /**
   * After a read: tells the peer the window opened, once it is at least twice what the peer
   * may still send and larger by a segment (or half the buffer), as Linux decides. A reader
   * that keeps up sends no update (the ACKs of the data carry the window): one segment less
   * per read on a stream. Behind a gap, though, the sender counts duplicate ACKs, which must
   * carry an unchanged window (RFC 5681): a window that grew is told at once, on its own,
   * rather than on the next ACK, which would then not count.
   */
  #windowUpdate(): void {
    if (!this.connected) return;
    if (this.#ooo.length > 0) {
      if (this.#advertised() !== this.#rcvAdvField) this.#sendAck();
      return;
    }
    const wnd = this.#rcvWindow();
    const left = Math.max(0, seqDiff(this.#rcvAdvEdge, this.#rcvNxt));
    const grown = wnd - left;
    if (wnd >= 2 * left && (grown >= this.#sndMss || grown >= this.#rcvLimit / 2)) {
      this.#sendAck();
    }
  }

  readiness(): number {
    let r = 0;
    if (this.state === TCPState.LISTEN) {
      return this.acceptQueue.length > 0 ? POLLIN | POLLRDNORM : 0;
    }
    if (this.#error) r |= POLLERR;
    if (this.#shutdown === (RCV_SHUTDOWN | SEND_SHUTDOWN) || this.state === TCPState.CLOSE) {
      r |= POLLHUP;
    }
    if (this.#shutdown & RCV_SHUTDOWN) r |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (this.state === TCPState.SYN_SENT || this.state === TCPState.SYN_RECV) return r;
    if (this.#rcvBuf.length > 0) r |= POLLIN | POLLRDNORM;
    if (this.#shutdown & SEND_SHUTDOWN || this.#sndBuf.length < this.#sndLimit) {
      r |= POLLOUT | POLLWRNORM;
    }
    return r;
  }

  shutdown(how: number): void {
    if (this.state === TCPState.LISTEN && (how === 0 || how === 2)) {
      this.#closeListener();
      this.#shutdown |= RCV_SHUTDOWN;
      this.queue.notify();
      return;
    }
    if (!this.connected && this.state !== TCPState.SYN_SENT) throw new SysError(Errno.ENOTCONN);
    if (how === 0 || how === 2) this.#shutdown |= RCV_SHUTDOWN;
    if (how === 1 || how === 2) {
      this.#shutdown |= SEND_SHUTDOWN;
      this.#output();
    }
    this.queue.notify();
  }

  #closeListener(): void {
    this.state = TCPState.CLOSE;
    this.#unregister();
    for (const c of [...this.acceptQueue, ...this.#synRecv]) c.abort();
    this.acceptQueue.length = 0;
    this.#synRecv.clear();
  }

  /** Resets the connection (a listener's unaccepted children, SO_LINGER of 0). */
  abort(): void {
    if (this.#route && this.state !== TCPState.CLOSE && this.state !== TCPState.TIME_WAIT) {
      this.#emit({
        seq: this.#sndNxt,
        ack: 0,
        flags: RST,
        window: 0,
        mss: null,
        wscale: null,
        data: new Uint8Array(0),
      });
    }
    this.#orphan = true;
    this.#reset(0);
    unchargeKernel(this.#rcvBuf.length);
    this.#rcvBuf.clear();
  }

  close(): void {
    this.#orphan = true;
    switch (this.state) {
      case TCPState.LISTEN:
        this.#closeListener();
        this.#finish();
        return;
      case TCPState.CLOSE:
      case TCPState.SYN_SENT:
        this.#finish();
        return;
      case TCPState.TIME_WAIT:
        return;
    }
    // Unread data, or a linger of zero, resets the connection rather than closing it (Linux).
    if (this.#rcvBuf.length > 0 || this.options.linger === 0) {
      this.abort();
      return;
    }
    this.#shutdown |= RCV_SHUTDOWN | SEND_SHUTDOWN;
    this.#output();
    this.#orphanTimeout();
  }

  /** An orphan in FIN_WAIT2 does not wait for ever for the peer's FIN (tcp_fin_timeout). */
  #orphanTimeout(): void {
    if (this.#orphan && this.state === TCPState.FIN_WAIT2 && this.#waitTimer === undefined) {
      this.#waitTimer = timer(() => this.#finish(), TIME_WAIT_MS);
    }
  }

  takeError(): number {
    const e = this.#error;
    this.#error = 0;
    return e;
  }

  /** TCP_INFO's state, /proc/net/tcp's st. */
  get linuxState(): number {
    return this.state;
  }

  /** Counts data sent: what lies below the highest byte ever sent is a retransmission. */
  #countSent(seq: number, n: number): void {
    const end = seqAdd(seq, n);
    if (seqLT(seq, this.#sndMax)) {
      this.#totalRetrans += Math.ceil(Math.min(n, seqDiff(this.#sndMax, seq)) / this.#sndMss);
    }
    if (seqLT(this.#sndMax, end)) this.#sndMax = end;
  }

  /** What TCP_INFO reports (struct tcp_info's first 104 bytes). */
  tcpInfo(): Init<typeof TcpInfo.fields> {
    const r = this.#route;
    const sync = this.connected || this.state === TCPState.TIME_WAIT;
    if (!r || !sync) return { state: this.state, rto: this.#rto * 1000, reordering: 3 };
    const mss = this.#sndMss;
    const segs = (bytes: number) => Math.ceil(bytes / mss);
    const cc = this.#cc;
    return {
      state: this.state,
      caState: this.#recover !== null
        ? TCP_CA_RECOVERY
        : this.#retries > 0 && this.#sndUna !== this.#sndNxt
        ? TCP_CA_LOSS
        : TCP_CA_OPEN,
      retransmits: Math.min(this.#retries, 255),
      backoff: Math.min(this.#retries, 255),
      options: (this.#sackOk ? TCPI_OPT_SACK : 0) | (this.#rcvWScale ? TCPI_OPT_WSCALE : 0) |
        (this.#tsOk ? TCPI_OPT_TIMESTAMPS : 0),
      wscale: this.#sndWScale | (this.#rcvWScale << 4),
      rto: this.#rto * 1000,
      // In microseconds; Linux reports its smoothed estimate, and no sample as 0.
      rtt: this.#srtt < 0 ? 0 : Math.round(this.#srtt * 1000),
      rttvar: Math.round(this.#rttvar * 1000),
      sndMss: mss,
      rcvMss: Math.min(mss, this.#mssFor(r)),
      unacked: segs(Math.max(0, seqDiff(this.#sndNxt, this.#sndUna))),
      sacked: segs(this.#scoreboard.sacked),
      // An IPv4 packet's length is 16 bits: a 64 KiB loopback MTU is reported as 65535.
      pmtu: Math.min(this.tcp.stack.pathMtu(r), isV4(r.dst) ? 0xffff : Infinity),
      sndSsthresh: cc.ssthresh >= TCP_INFINITE_SSTHRESH
        ? TCP_INFINITE_SSTHRESH
        : Math.floor(cc.ssthresh / mss),
      sndCwnd: Math.floor(cc.cwnd / mss),
      advmss: this.#mssFor(r),
      reordering: DUPACK_THRESHOLD,
      rcvSpace: this.#rcvWindow(),
      totalRetrans: this.#totalRetrans,
    };
  }
}
