/**
 * Sockets of the families AF_INET and AF_INET6: the file description over a UDP or TCP
 * endpoint, where the waiting happens (blocking connect, accept, send, receive, with
 * SO_RCVTIMEO/SO_SNDTIMEO), the socket options, and the sockaddr_in/sockaddr_in6 codec.
 * The endpoints never wait: they answer EAGAIN and notify their queue (endpoint.ts).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  FileDescriptionBase,
  type MaybeAsync,
  O_NONBLOCK,
  O_RDWR,
  POLLERR,
  POLLHUP,
} from "../vfs/file.ts";
import { type Attr, Filesystem, type Inode, nowNs, S_IFSOCK } from "../vfs/inode.ts";
import { waitOn, type WaitQueue } from "../vfs/waiter.ts";
import { doneOrFault, type IoSequence } from "../mm/io.ts";
import {
  ANY4,
  ANY6,
  type IPAddress,
  isAny,
  isV4,
  LOOPBACK4,
  LOOPBACK6,
  v4Bytes,
  v4Mapped,
} from "./address.ts";
import type { Endpoint, ReadResult } from "./endpoint.ts";
import type { PacketInfo, SendControl } from "./inet_cmsg.ts";
import { ICMPProtocol } from "./icmp.ts";
import { interfaceIoctl } from "./ifioctl.ts";
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  Stack,
} from "./stack.ts";
import { PingEndpoint, PingProtocol } from "./ping.ts";
import { TCPProtocol } from "./tcp.ts";
import { TCPEndpoint, TCPState } from "./tcp_endpoint.ts";
import { streamBuffer } from "./tcp_header.ts";
import { release } from "./buffer_pool.ts";
import { UDPEndpoint, UDPProtocol } from "./udp.ts";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_PEEK,
  MSG_WAITALL,
  SIN6_LEN_RFC2133,
  SOCK_DGRAM,
  SOCK_STREAM,
  SockaddrFamily,
  SockaddrIn,
  SockaddrIn6,
} from "../../abi/linux/socket.ts";
import { SIG } from "../../abi/linux/signal.ts";
import {
  IPV6_FLOWINFO_SEND,
  IPV6_FLOWLABEL_MASK,
  SIOCATMARK,
  SIOCINQ,
  SIOCOUTQ,
  SIOCOUTQNSD,
  SOL_IPV6,
  SOL_TCP,
} from "../../abi/linux/socket.ts";

/** The key of IPV6_FLOWINFO_SEND among the stored options (sockopt.ts). */
const FLOWINFO_SEND = `${SOL_IPV6}/${IPV6_FLOWINFO_SEND}`;
/** sin6_flowinfo's traffic class and label (Linux's IPV6_FLOWINFO_MASK). */
const FLOWINFO_MASK = 0x0fffffff;
/** The two ECN bits of sin6_flowinfo's traffic class. */
const FLOWINFO_ECN = 0x00300000;

export { AF_INET, AF_INET6, AF_UNSPEC, SOCK_DGRAM, SOCK_STREAM };
const SIGPIPE = SIG.PIPE;

/**
 * Copies n bytes at offset `at` of what is being sent in from the application, into a
 * buffer of its own that the socket may keep.
 */
export type DataSource = (at: number, n: number) => Uint8Array;
/** Copies received bytes out to the application at offset `at` of its buffer. */
export type DataSink = (chunk: Uint8Array, at: number) => void;

/** What one receive delivered. */
export interface Received {
  n: number;
  /** A datagram's whole length (MSG_TRUNC). */
  full: number;
  from: IPAddress | null;
  fromPort: number;
  /** A datagram's packet (for IP_PKTINFO, IP_RECVTTL and their kin). */
  info?: PacketInfo;
}

/** A receive in progress: what it asks for and what it has taken so far. */
interface Receiving {
  max: number;
  peek: boolean;
  /** MSG_WAITALL on a stream: complete only with max bytes (or the end, or an error). */
  waitall: boolean;
  got: number;
  /** The first read's result (a datagram's sender and length). */
  first: ReadResult | null;
  sink: DataSink;
}

/** How much of a stream send is copied in from the application at a time. */
const SEND_PIECE = 256 * 1024;
/** The largest UDP payload over IPv6 or IPv4 on the loopback's MTU. */
const MAX_DATAGRAM = 65535;

/** The stack and protocols of one sandbox. */
export class NetStack {
  readonly stack = Stack.loopback();
  readonly udp = new UDPProtocol(this.stack);
  readonly udplite = new UDPProtocol(this.stack, IPPROTO_UDPLITE);
  readonly tcp = new TCPProtocol(this.stack);
  readonly icmp4 = new ICMPProtocol(this.stack, false);
  readonly icmp6 = new ICMPProtocol(this.stack, true);
  readonly ping4 = new PingProtocol(this.stack, false);
  readonly ping6 = new PingProtocol(this.stack, true);
  /**
   * --network=host: the application's AF_INET and AF_INET6 sockets are host sockets
   * (host_socket.ts); this stack then serves only netlink, SIOCGIF* and /proc/net.
   */
  host = false;
  constructor() {
    this.icmp4.ping = this.ping4;
    this.icmp6.ping = this.ping6;
    const udpErrors = this.udp.handleError.bind(this.udp);
    this.icmp4.handlers.set(IPPROTO_UDP, udpErrors);
    this.icmp6.handlers.set(IPPROTO_UDP, udpErrors);
    const tcpErrors = this.tcp.handleError.bind(this.tcp);
    this.icmp4.handlers.set(IPPROTO_TCP, tcpErrors);
    this.icmp6.handlers.set(IPPROTO_TCP, tcpErrors);
    const liteErrors = this.udplite.handleError.bind(this.udplite);
    this.icmp4.handlers.set(IPPROTO_UDPLITE, liteErrors);
    this.icmp6.handlers.set(IPPROTO_UDPLITE, liteErrors);
  }

  static #byKernel = new WeakMap<Kernel, NetStack>();
  static of(k: Kernel): NetStack {
    let n = NetStack.#byKernel.get(k);
    if (!n) NetStack.#byKernel.set(k, n = new NetStack());
    return n;
  }
}

class SockFs extends Filesystem {
  readonly name = "sockfs";
  root(): Inode {
    throw new Error("sockfs has no root");
  }
}
const sockfs = new SockFs();

/** The attributes fstat shows for a socket of ours. */
export function socketAttr(uid: number, gid: number): Attr {
  const now = nowNs();
  return {
    dev: sockfs.dev,
    ino: sockfs.nextIno(),
    nlink: 1,
    mode: S_IFSOCK | 0o777,
    uid,
    gid,
    rdev: 0,
    size: 0n,
    blksize: 4096,
    blocks: 0n,
    atimeNs: now,
    mtimeNs: now,
    ctimeNs: now,
  };
}

/** An address and port as a socket call gives or returns them. */
export interface SockAddr {
  addr: IPAddress;
  port: number;
  /** sin6_flowinfo, as given (IPv6 only). */
  flowinfo?: number;
}

/** Encodes addr:port as the family's sockaddr. */
export function encodeSockAddr(family: number, a: SockAddr): Uint8Array {
  if (family === AF_INET) {
    return SockaddrIn.encode({ family, port: a.port, addr: v4Bytes(a.addr) });
  }
  return SockaddrIn6.encode({ family, port: a.port, flowinfo: a.flowinfo ?? 0, addr: a.addr });
}

/**
 * Decodes a sockaddr given to a socket of `family`; null for AF_UNSPEC (connect's
 * disconnect). Wrong lengths are EINVAL and wrong families EAFNOSUPPORT, as Linux.
 */
export function decodeSockAddr(family: number, raw: Uint8Array): SockAddr | null {
  if (raw.length < SockaddrFamily.size) throw new SysError(Errno.EINVAL);
  const f = SockaddrFamily.decode(raw).family;
  if (f === AF_UNSPEC) return null;
  if (family === AF_INET) {
    if (raw.length < SockaddrIn.size) throw new SysError(Errno.EINVAL);
    if (f !== AF_INET) throw new SysError(Errno.EAFNOSUPPORT);
    const sin = SockaddrIn.decode(raw);
    return { addr: v4Mapped(sin.addr), port: sin.port };
  }
  if (raw.length < SIN6_LEN_RFC2133) throw new SysError(Errno.EINVAL);
  if (f !== AF_INET6) throw new SysError(Errno.EAFNOSUPPORT);
  // Without sin6_scope_id (RFC 2133's length), the struct is read as if it were zero.
  const full = new Uint8Array(SockaddrIn6.size);
  full.set(raw.subarray(0, SockaddrIn6.size));
  const sin6 = SockaddrIn6.decode(full);
  return { addr: sin6.addr, port: sin6.port, flowinfo: sin6.flowinfo };
}

export class InetSocket extends FileDescriptionBase {
  readonly #attr: Attr;
  /** SO_RCVTIMEO and SO_SNDTIMEO in ms; 0 waits for ever. */
  rcvTimeoutMs = 0;
  sndTimeoutMs = 0;
  /** Options that are kept and reported but change nothing on loopback. */
  readonly stored = new Map<string, number>();
  /**
   * The flow information from connect(2) under IPV6_FLOWINFO_SEND: its label goes out with
   * each send to the peer (a TCP endpoint's every segment), and getpeername shows it while the
   * option is on.
   */
  #peerFlowinfo = 0;
  /** A non-blocking connect is under way or its outcome not yet asked for. */
  #connecting = false;

  constructor(
    readonly family: number,
    readonly type: number,
    readonly ep: UDPEndpoint | TCPEndpoint,
    flags: number,
    uid: number,
    gid: number,
  ) {
    super(O_RDWR | (flags & O_NONBLOCK));
    this.#attr = socketAttr(uid, gid);
    ep.procInfo = { uid, ino: this.#attr.ino };
  }

  override get queue(): WaitQueue {
    return this.ep.queue;
  }

  get protocol(): number {
    return this.ep.protocol;
  }

  stat(_t: Task): Attr {
    return this.#attr;
  }

  /** A user address as the endpoint takes it, checked against the socket's family. */
  #local(a: SockAddr, forConnect: boolean): IPAddress {
    if (this.family === AF_INET6 && isV4(a.addr) && this.ep.v6only) {
      throw new SysError(forConnect ? Errno.ENETUNREACH : Errno.EINVAL);
    }
    // Connecting to the unspecified address reaches the local host, as on Linux.
    if (forConnect && isAny(a.addr)) return isV4(a.addr) ? LOOPBACK4 : LOOPBACK6;
    return a.addr;
  }

  bind(a: SockAddr): void {
    this.ep.bind(this.#local(a, false), a.port);
  }

  listen(backlog: number): void {
    if (!(this.ep instanceof TCPEndpoint)) throw new SysError(Errno.EOPNOTSUPP);
    this.ep.listen(backlog);
  }

  #nonblocking(flags: number): boolean {
    return (this.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0;
  }

  /** Waits for the queue; false when the timeout passed. */
  async #wait(t: Task, timeoutMs: number): Promise<boolean> {
    // With a timeout, an interrupted call fails with EINTR rather than restart (Linux).
    return await waitOn(
      t,
      [this.ep.queue],
      timeoutMs > 0 ? timeoutMs : undefined,
      timeoutMs > 0 ? Errno.EINTR : Errno.ERESTARTSYS,
    );
  }

  async connect(t: Task, a: SockAddr | null): Promise<void> {
    const ep = this.ep;
    if (ep instanceof UDPEndpoint) {
      if (a === null) ep.disconnect();
      else ep.connect(this.#local(a, true), a.port);
      this.#peerFlowinfo = a && this.stored.get(FLOWINFO_SEND)
        ? (a.flowinfo ?? 0) & FLOWINFO_MASK
        : 0;
      return;
    }
    if (a === null) throw new SysError(Errno.EAFNOSUPPORT);
    if (this.#connecting) {
      // The call after a non-blocking connect: its outcome, once (Linux's SS_CONNECTING).
      if (ep.state === TCPState.SYN_SENT) throw new SysError(Errno.EALREADY);
      this.#connecting = false;
      if (ep.connected) return;
      const err = ep.takeError();
      if (err) throw new SysError(err);
    }
    // Only the label goes out (the socket's traffic class does); Linux keeps the traffic
    // class without its ECN bits for getpeername.
    const flowinfo = this.stored.get(FLOWINFO_SEND) ? (a.flowinfo ?? 0) & FLOWINFO_MASK : 0;
    ep.flowLabel = flowinfo & IPV6_FLOWLABEL_MASK;
    this.#peerFlowinfo = flowinfo & ~FLOWINFO_ECN;
    try {
      ep.connect(this.#local(a, true), a.port);
    } catch (e) {
      if (!(e instanceof SysError) || e.errno !== Errno.EINPROGRESS) throw e;
      if (this.flags & O_NONBLOCK) {
        this.#connecting = true;
        throw e;
      }
    }
    const deadline = this.sndTimeoutMs > 0 ? performance.now() + this.sndTimeoutMs : 0;
    while (ep.state === TCPState.SYN_SENT) {
      const left = deadline ? deadline - performance.now() : 0;
      if (deadline && left <= 0) throw new SysError(Errno.EINPROGRESS);
      await this.#wait(t, deadline ? left : 0);
    }
    if (!ep.connected) throw new SysError(ep.takeError() || Errno.ECONNREFUSED);
  }

  /**
   * The next connection of a listener. `checkFd` throws (EMFILE) when the caller could not
   * install it: it runs before each look at the queue, so such a connection stays queued.
   */
  accept(t: Task, nonblock: boolean, checkFd = () => {}): MaybeAsync<TCPEndpoint> {
    const ep = this.ep;
    if (!(ep instanceof TCPEndpoint)) throw new SysError(Errno.EOPNOTSUPP);
    const deadline = this.rcvTimeoutMs > 0 ? performance.now() + this.rcvTimeoutMs : 0;
    // A queued connection, or a nonblocking listener's EAGAIN, without a promise.
    const c = this.#acceptNow(ep, checkFd);
    if (c) return c;
    if (nonblock) throw new SysError(Errno.EAGAIN);
    return this.#acceptWaiting(t, ep, checkFd, deadline);
  }

  async #acceptWaiting(
    t: Task,
    ep: TCPEndpoint,
    checkFd: () => void,
    deadline: number,
  ): Promise<TCPEndpoint> {
    for (;;) {
      const left = deadline ? deadline - performance.now() : 0;
      if (deadline && left <= 0) throw new SysError(Errno.EAGAIN);
      await this.#wait(t, left);
      const c = this.#acceptNow(ep, checkFd);
      if (c) return c;
    }
  }

  #acceptNow(ep: TCPEndpoint, checkFd: () => void): TCPEndpoint | undefined {
    if (ep.state !== TCPState.LISTEN) throw new SysError(Errno.EINVAL);
    checkFd();
    return ep.acceptQueue.shift();
  }

  #epipe(t: Task, flags: number): never {
    if (!(flags & MSG_NOSIGNAL)) {
      t.sendSignal({ signo: SIGPIPE, errno: 0, code: 0, pid: t.tg.pid, uid: t.tg.uid });
    }
    throw new SysError(Errno.EPIPE);
  }

  /**
   * Sends `total` bytes that source(at, n) copies in from the application, a piece at a
   * time: a stream never holds more of them in the Sentry than its send buffer takes, and a
   * datagram too long for the link is refused before any copy. A blocking stream send waits
   * until all of it is taken.
   */
  async send(
    t: Task,
    total: number,
    source: DataSource,
    flags: number,
    to: SockAddr | null | (() => SockAddr | null),
    ctl?: SendControl,
  ): Promise<number> {
    const ep = this.ep;
    // Linux's order for a datagram: autobind, length, then the address, then the copy.
    if (ep instanceof UDPEndpoint) {
      ep.autobind();
      if (total > MAX_DATAGRAM) throw new SysError(Errno.EMSGSIZE);
    }
    const a = typeof to === "function" ? to() : to;
    const dst = a ? { addr: this.#local(a, true), port: a.port } : null;
    // The flow label: with IPV6_FLOWINFO_SEND, the one of the destination's sin6_flowinfo
    // (not its traffic class bits: the socket's go out); to the connected peer, the one
    // connect(2) kept. Linux checks a label only against exclusive leases
    // (IPV6_FLOWLABEL_MGR), which the stack has none of.
    const flowinfo = a
      ? (this.stored.get(FLOWINFO_SEND) ? a.flowinfo ?? 0 : 0)
      : this.#peerFlowinfo;
    const flowLabel = flowinfo & IPV6_FLOWLABEL_MASK;
    if (flowLabel && ep instanceof UDPEndpoint) ctl = { ...ctl, flowLabel };
    if (
      dst && dst.port === 0 && (ep.protocol === IPPROTO_UDP || ep.protocol === IPPROTO_UDPLITE)
    ) {
      throw new SysError(Errno.EINVAL);
    }
    const nonblock = this.#nonblocking(flags);
    const deadline = this.sndTimeoutMs > 0 ? performance.now() + this.sndTimeoutMs : 0;
    const dgram = ep instanceof UDPEndpoint;
    let done = 0;
    let piece: Uint8Array | null = null;
    // The piece as source made it: a stream's comes from the buffer pool, held by this call
    // until the endpoint took all of it (its send buffer then holds it) or the call ends.
    let held: Uint8Array | null = null;
    try {
      for (;;) {
        try {
          if (piece === null) {
            piece = held = source(done, dgram ? total : Math.min(total - done, SEND_PIECE));
          }
          // A stream whose send buffer is full waits without a thrown EAGAIN (a blocked
          // writer finds it so on nearly every wait).
          if (!(ep instanceof TCPEndpoint && ep.wouldBlock())) {
            const n: number = this.ep.write(piece, dst, true, ctl);
            done += n;
            if (n < piece.length) {
              piece = piece.subarray(n);
            } else {
              piece = null;
              release(held!);
              held = null;
            }
            if (done >= total || dgram) return done;
            if (piece === null) continue;
          }
        } catch (e) {
          if (!(e instanceof SysError)) throw e;
          if (done > 0 && e.errno !== Errno.EAGAIN) return done;
          if (e.errno === Errno.EPIPE) this.#epipe(t, flags);
          if (e.errno !== Errno.EAGAIN) throw e;
        }
        if (nonblock) {
          if (done > 0) return done;
          throw new SysError(Errno.EAGAIN);
        }
        const left = deadline ? deadline - performance.now() : 0;
        if (deadline && left <= 0) {
          if (done > 0) return done;
          throw new SysError(Errno.EAGAIN);
        }
        try {
          await this.#wait(t, left);
        } catch (e) {
          if (done > 0) return done;
          throw e;
        }
      }
    } finally {
      if (held) release(held);
    }
  }

  /**
   * Receives up to max bytes into sink(chunk, at), which copies them out to the application
   * as they come: MSG_WAITALL on a stream waits for all of them without gathering them in
   * the Sentry. Returns the bytes delivered and the datagram's full length. What is there
   * now is taken without a promise, and a nonblocking receive that finds nothing fails
   * at once: an event loop's read until EAGAIN pays no rejected promise per empty read.
   */
  recv(t: Task, max: number, flags: number, sink: DataSink): MaybeAsync<Received> {
    const peek = (flags & MSG_PEEK) !== 0;
    const waitall = this.ep instanceof TCPEndpoint && (flags & MSG_WAITALL) !== 0 && !peek;
    const rx: Receiving = { max, peek, waitall, got: 0, first: null, sink };
    const deadline = this.rcvTimeoutMs > 0 ? performance.now() + this.rcvTimeoutMs : 0;
    if (this.#receiveNow(rx)) return this.#received(rx);
    // A nonblocking receive returns what it took (MSG_WAITALL short of its length too).
    if (this.#nonblocking(flags)) {
      if (rx.got > 0) return this.#received(rx);
      throw new SysError(Errno.EAGAIN);
    }
    return this.#receiveWaiting(t, rx, deadline);
  }

  async #receiveWaiting(t: Task, rx: Receiving, deadline: number): Promise<Received> {
    for (;;) {
      const left = deadline ? deadline - performance.now() : 0;
      if (deadline && left <= 0) {
        if (rx.got > 0) break;
        throw new SysError(Errno.EAGAIN);
      }
      try {
        await this.#wait(t, left);
      } catch (e) {
        if (rx.got > 0) break;
        throw e;
      }
      if (this.#receiveNow(rx)) break;
    }
    return this.#received(rx);
  }

  /**
   * Takes into rx what the endpoint holds now: true when the receive is complete (its
   * length reached, the end of the stream, an error after some bytes, or a datagram or
   * stream read that took something and need not wait for more), false when it would wait.
   */
  #receiveNow(rx: Receiving): boolean {
    const ep = this.ep;
    for (;;) {
      let r: ReadResult | null;
      try {
        r = ep.tryRead(rx.max - rx.got, rx.peek);
      } catch (e) {
        if (rx.got > 0) return true;
        throw e;
      }
      if (r === null) return false;
      rx.first ??= r;
      if (r.data.length > 0) rx.sink(r.data, rx.got);
      rx.got += r.data.length;
      if (r.data.length === 0 || rx.got >= rx.max) return true;
      // A stream read hands out one buffered chunk at a time: the rest of what is there
      // now is taken at once, as one read of it.
      if (!rx.peek && ep instanceof TCPEndpoint && ep.readable > 0) continue;
      return !rx.waitall;
    }
  }

  #received(rx: Receiving): Received {
    const first = rx.first;
    return {
      n: rx.got,
      full: this.ep instanceof TCPEndpoint ? rx.got : first?.full ?? rx.got,
      from: first?.from ?? null,
      fromPort: first?.fromPort ?? 0,
      info: first?.info,
    };
  }

  override read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): MaybeAsync<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    const r = this.recv(t, dst.length, 0, (chunk, at) => dst.set(chunk, at));
    return r instanceof Promise ? r.then((r) => r.n) : r.n;
  }

  override write(t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    return this.send(t, src.length, (at, n) => src.slice(at, at + n), 0, null);
  }

  /**
   * Implements FileDescription.readTo: received bytes go from the receive buffer straight to
   * the application's memory.
   */
  readTo(t: Task, dst: IoSequence, offset?: bigint): MaybeAsync<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    let moved = 0;
    const sink = (chunk: Uint8Array) => {
      moved += dst.copyOut(chunk);
    };
    // A fault part way drops what was taken from the queue past it (the read returns what
    // reached the application; it asked for the rest into memory it cannot write).
    const r = this.recv(t, dst.remaining, 0, sink);
    if (r instanceof Promise) return r.then((r) => doneOrFault(dst, Math.min(moved, r.n)));
    return doneOrFault(dst, Math.min(moved, r.n));
  }

  /**
   * Implements FileDescription.writeFrom: each piece is copied from the application's memory
   * once, into the buffer the endpoint keeps.
   */
  writeFrom(t: Task, src: IoSequence, offset?: bigint): MaybeAsync<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    const ep = this.ep;
    const stream = ep instanceof TCPEndpoint;
    const total = src.remaining;
    // A stream write the send buffer takes whole now is served without a promise.
    if (stream && total > 0 && total <= SEND_PIECE && ep.takesWhole(total)) {
      const b = streamBuffer(total);
      try {
        const m = src.copyIn(b);
        if (m === 0) throw new SysError(Errno.EFAULT);
        return ep.write(m < total ? b.subarray(0, m) : b, null, true);
      } finally {
        release(b);
      }
    }
    return this.send(
      t,
      src.remaining,
      (_at, n) => {
        // A stream's piece has room for the headers of the segment that will carry it.
        const b = stream ? streamBuffer(n) : new Uint8Array(n);
        const m = src.copyIn(b);
        // A stream takes what could be copied; a datagram is sent whole or not at all.
        if (m < n && (m === 0 || !stream)) {
          throw new SysError(Errno.EFAULT);
        }
        return m < n ? b.subarray(0, m) : b;
      },
      0,
      null,
    );
  }

  shutdown(how: number): void {
    this.ep.shutdown(how);
  }

  /**
   * A socket accept(2) made from listener takes its socket and IP options, as Linux's copy of
   * the listener's socket does (the TCP endpoint took its own options already).
   */
  inheritOptions(listener: InetSocket): void {
    for (const [k, v] of listener.stored) {
      if (!k.startsWith(`${SOL_TCP}/`)) this.stored.set(k, v);
    }
  }

  /** The bound address (getsockname): the unspecified one before bind. */
  localName(): SockAddr {
    return { addr: this.ep.localAddr, port: this.ep.localPort };
  }

  /** The peer (getpeername); ENOTCONN when not connected. */
  peerName(): SockAddr {
    const ep = this.ep;
    const ok = ep instanceof TCPEndpoint ? ep.connected : ep.remoteAddr !== null;
    if (!ok || !ep.remoteAddr) throw new SysError(Errno.ENOTCONN);
    const flowinfo = this.stored.get(FLOWINFO_SEND) ? this.#peerFlowinfo : 0;
    return { addr: ep.remoteAddr, port: ep.remotePort, flowinfo };
  }

  /** The address to report for a family: an IPv4 socket's are v4-mapped inside. */
  unspecified(): IPAddress {
    return this.family === AF_INET ? ANY4 : ANY6;
  }

  /**
   * The queue ioctls as Linux answers them: SIOCINQ (FIONREAD) is a TCP socket's unread
   * bytes, a datagram socket's next datagram's size; SIOCOUTQ (TIOCOUTQ) a TCP socket's bytes
   * not yet acknowledged (a datagram socket's are never held back); both EINVAL on a
   * listener. SIOCOUTQNSD is a TCP socket's bytes not yet sent. SIOCATMARK is TCP's only, and
   * 0: no urgent data is ever marked.
   */
  override ioctl(t: Task, request: number, arg: bigint): number {
    const ep = this.ep;
    const tcp = ep instanceof TCPEndpoint ? ep : null;
    const value = (n: number) => (t.mm.writeU32(arg, n), 0);
    switch (request) {
      case SIOCINQ:
      case SIOCOUTQ:
        if (!tcp) return value(request === SIOCINQ ? (ep as UDPEndpoint).nextLength : 0);
        if (tcp.state === TCPState.LISTEN) throw new SysError(Errno.EINVAL);
        return value(request === SIOCINQ ? tcp.readable : tcp.unacked);
      case SIOCOUTQNSD:
        if (!tcp) throw new SysError(Errno.ENOTTY);
        if (tcp.state === TCPState.LISTEN) throw new SysError(Errno.EINVAL);
        return value(tcp.unsent);
      case SIOCATMARK:
        if (tcp) return value(0);
        throw new SysError(Errno.ENOTTY);
    }
    const r = interfaceIoctl(t, NetStack.of(t.kernel).stack, request, arg);
    if (r !== null) return r;
    throw new SysError(Errno.ENOTTY);
  }

  override readiness(mask: number): number {
    return this.ep.readiness() & (mask | POLLERR | POLLHUP);
  }

  override release(): void {
    this.ep.close();
  }
}

/** Makes the endpoint for socket(2), or throws the errno Linux answers. */
export function newInetSocket(
  k: Kernel,
  family: number,
  type: number,
  protocol: number,
  flags: number,
  uid: number,
  gid: number,
): InetSocket {
  const ns = NetStack.of(k);
  const v4 = family === AF_INET;
  let ep: Endpoint & (UDPEndpoint | TCPEndpoint);
  if (type === SOCK_STREAM) {
    if (protocol !== 0 && protocol !== IPPROTO_TCP) throw new SysError(Errno.EPROTONOSUPPORT);
    ep = ns.tcp.newEndpoint(v4);
    ep.options.rcvbuf = 131072;
    ep.options.sndbuf = 16384;
  } else if (type === SOCK_DGRAM) {
    if (protocol === (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
      ep = new PingEndpoint(v4 ? ns.ping4 : ns.ping6, v4);
    } else {
      if (protocol === IPPROTO_UDPLITE) ep = new UDPEndpoint(ns.udplite, v4);
      else if (protocol !== 0 && protocol !== IPPROTO_UDP) {
        throw new SysError(Errno.EPROTONOSUPPORT);
      } else ep = new UDPEndpoint(ns.udp, v4);
    }
  } else {
    throw new SysError(Errno.ESOCKTNOSUPPORT);
  }
  return new InetSocket(family, type, ep, flags, uid, gid);
}
