/**
 * What the socket layer asks of a transport endpoint (UDP, TCP). Every operation is
 * non-blocking: it throws SysError(EAGAIN) where it would have to wait, and the endpoint
 * notifies its wait queue when that may have changed, so the socket layer (socket.ts)
 * waits without holding the Sentry's thread, as gVisor's netstack waits on
 * ErrWouldBlock.
 *
 * @module
 */

import type { IPAddress } from "./address.ts";
import type { PacketInfo, SendControl } from "./inet_cmsg.ts";
import type { PortOwner } from "./ports.ts";
import type { TransportEndpoint } from "./stack.ts";

/** Linux's default socket buffer size (net.core.rmem_default, wmem_default). */
export const DEFAULT_BUFFER = 212992;
/** Linux's limits for SO_RCVBUF/SO_SNDBUF (doubled values, as Linux stores them). */
export const MIN_RCVBUF = 2304;
export const MIN_SNDBUF = 4608;
/** net.core.rmem_max and wmem_max: SO_RCVBUF/SO_SNDBUF store at most twice this. */
export const BUFFER_MAX = 212992;
/**
 * What a TCP buffer grows to when the application did not set its size (Linux tunes TCP
 * buffers up to tcp_rmem[2]/tcp_wmem[2]; a fixed middle is enough for loopback).
 */
export const TCP_AUTO_BUFFER = 1 << 20;

/** Options both transports read. */
export class EndpointOptions {
  /** SO_RCVBUF/SO_SNDBUF as getsockopt reports them. */
  rcvbuf = DEFAULT_BUFFER;
  sndbuf = DEFAULT_BUFFER;
  /** Set by setsockopt: the size is then the application's, not tuned. */
  rcvbufLocked = false;
  sndbufLocked = false;
  ttl = 64;
  tos = 0;
  keepalive = false;
  /** Seconds idle before the first probe, between probes, probes before giving up. */
  keepIdle = 7200;
  keepIntvl = 75;
  keepCnt = 9;
  noDelay = false;
  /** SO_LINGER: null when off; seconds otherwise (0 = reset on close). */
  linger: number | null = null;
  /** TCP_USER_TIMEOUT in ms; 0 = the retransmission limit decides. */
  userTimeout = 0;
  /** TCP_MAXSEG as set by the application; 0 = from the route. */
  maxSeg = 0;
}

/** One read. */
export interface ReadResult {
  data: Uint8Array;
  /** The datagram's full length (MSG_TRUNC). */
  full: number;
  from: IPAddress | null;
  fromPort: number;
  /** A datagram's packet, for the receive options' control messages. */
  info?: PacketInfo;
}

export interface Endpoint extends TransportEndpoint, PortOwner {
  readonly options: EndpointOptions;
  /** Binds; port 0 takes an ephemeral one. */
  bind(addr: IPAddress, port: number): void;
  /**
   * Connects (UDP: sets the default peer; TCP: sends the SYN and throws EINPROGRESS; the
   * socket waits for connected() or an error).
   */
  connect(addr: IPAddress, port: number): void;
  /**
   * Writes, to `to` for unconnected datagrams; returns bytes taken. With `owned`, the caller
   * gives data away (never touches it again), so it may be queued without a copy.
   */
  write(
    data: Uint8Array,
    to: { addr: IPAddress; port: number } | null,
    owned?: boolean,
    ctl?: SendControl,
  ): number;
  /** Reads up to max bytes (a datagram, cut); an empty result is end of file. */
  read(max: number, peek: boolean): ReadResult;
  /**
   * read, but null where read throws EAGAIN (nothing to read yet): a blocking socket finds
   * its queue empty on nearly every wait, and a thrown error costs microseconds.
   */
  tryRead(max: number, peek: boolean): ReadResult | null;
  /** poll events ready now. */
  readiness(): number;
  shutdown(how: number): void;
  /** The descriptor was closed. */
  close(): void;
  /** Takes the pending error (SO_ERROR), 0 if none. */
  takeError(): number;
  /** Whether a write would fail because the sending side is closed. */
  readonly protocol: number;
}
