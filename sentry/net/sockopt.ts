/**
 * getsockopt(2) and setsockopt(2) for AF_INET and AF_INET6 sockets: SOL_SOCKET, IPPROTO_IP,
 * IPPROTO_IPV6 and IPPROTO_TCP. Values arrive as hostile bytes of a length the application
 * chose: each option says how many it needs, and shorter input is EINVAL.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { BUFFER_MAX, MIN_RCVBUF, MIN_SNDBUF } from "./endpoint.ts";
import { AF_INET6, type InetSocket } from "./socket.ts";
import { IPPROTO_TCP } from "./stack.ts";
import { TCPEndpoint, TCPState } from "./tcp_endpoint.ts";
import { CONGESTION_CONTROLS } from "./tcp_congestion.ts";
import { TcpInfo } from "../../abi/linux/tcp.ts";
import {
  decodeIntOpt,
  encodeIntOpt,
  IP_PKTINFO,
  IP_RECVORIGDSTADDR,
  IP_RECVTOS,
  IP_RECVTTL,
  IP_TOS,
  IP_TTL,
  IPV6_2292HOPLIMIT,
  IPV6_2292PKTINFO,
  IPV6_2292PKTOPTIONS,
  IPV6_AUTOFLOWLABEL,
  IPV6_FLOWINFO,
  IPV6_FLOWINFO_SEND,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVORIGDSTADDR,
  IPV6_RECVPKTINFO,
  IPV6_RECVTCLASS,
  IPV6_TCLASS,
  Linger,
  SO_ACCEPTCONN,
  SO_BROADCAST,
  SO_DOMAIN,
  SO_DONTROUTE,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_OOBINLINE,
  SO_PRIORITY,
  SO_PROTOCOL,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_RCVLOWAT,
  SO_RCVTIMEO,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SO_SNDLOWAT,
  SO_SNDTIMEO,
  SO_TYPE,
  SOL_IP,
  SOL_IPV6,
  SOL_SOCKET,
  SOL_TCP,
} from "../../abi/linux/socket.ts";
import { Timeval } from "../../abi/linux/time.ts";
import { be32, encodeValue } from "../../abi/linux/layout.ts";
import { ControlWriter } from "./inet_cmsg.ts";

export { SOL_IP, SOL_IPV6, SOL_SOCKET, SOL_TCP };

const IP_MTU_DISCOVER = 10, IP_RECVERR = 11, IP_MULTICAST_IF = 32, IP_MULTICAST_TTL = 33;
const IP_MULTICAST_LOOP = 34, IP_FREEBIND = 15;

const IPV6_UNICAST_HOPS = 16, IPV6_MULTICAST_IF = 17, IPV6_MULTICAST_HOPS = 18;
const IPV6_MULTICAST_LOOP = 19, IPV6_V6ONLY = 26;

const TCP_NODELAY = 1, TCP_MAXSEG = 2, TCP_CORK = 3, TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5;
const TCP_KEEPCNT = 6, TCP_SYNCNT = 7, TCP_LINGER2 = 8, TCP_DEFER_ACCEPT = 9;
const TCP_WINDOW_CLAMP = 10, TCP_INFO = 11, TCP_QUICKACK = 12, TCP_CONGESTION = 13;
const TCP_USER_TIMEOUT = 18;
/** Linux's TCP_CA_NAME_MAX: a congestion control's name with its terminating NUL. */
const TCP_CA_NAME_MAX = 16;

/** Linux's limits for the keep-alive timings (MAX_TCP_KEEPIDLE and friends). */
const MAX_KEEPIDLE = 32767, MAX_KEEPINTVL = 32767, MAX_KEEPCNT = 127;

const int = encodeIntOpt;

function timeval(ms: number): Uint8Array {
  return Timeval.encode({
    sec: BigInt(Math.floor(ms / 1000)),
    usec: BigInt(Math.round((ms % 1000) * 1000)),
  });
}

/** Options that are kept as given and reported back, with their defaults. */
const STORED: Record<string, number> = {
  [`${SOL_SOCKET}/${SO_DONTROUTE}`]: 0,
  [`${SOL_SOCKET}/${SO_BROADCAST}`]: 0,
  [`${SOL_SOCKET}/${SO_OOBINLINE}`]: 0,
  [`${SOL_SOCKET}/${SO_PRIORITY}`]: 0,
  [`${SOL_SOCKET}/${SO_RCVLOWAT}`]: 1,
  [`${SOL_SOCKET}/${SO_SNDLOWAT}`]: 1,
  [`${SOL_IP}/${IP_PKTINFO}`]: 0,
  [`${SOL_IP}/${IP_MTU_DISCOVER}`]: 1,
  [`${SOL_IP}/${IP_RECVERR}`]: 0,
  [`${SOL_IP}/${IP_RECVTTL}`]: 0,
  [`${SOL_IP}/${IP_RECVTOS}`]: 0,
  [`${SOL_IP}/${IP_RECVORIGDSTADDR}`]: 0,
  [`${SOL_IP}/${IP_MULTICAST_TTL}`]: 1,
  [`${SOL_IP}/${IP_MULTICAST_LOOP}`]: 1,
  [`${SOL_IP}/${IP_FREEBIND}`]: 0,
  [`${SOL_IPV6}/${IPV6_MULTICAST_HOPS}`]: 1,
  [`${SOL_IPV6}/${IPV6_MULTICAST_LOOP}`]: 1,
  [`${SOL_IPV6}/${IPV6_MULTICAST_IF}`]: 0,
  [`${SOL_IPV6}/${IPV6_RECVPKTINFO}`]: 0,
  [`${SOL_IPV6}/${IPV6_RECVHOPLIMIT}`]: 0,
  [`${SOL_IPV6}/${IPV6_RECVTCLASS}`]: 0,
  [`${SOL_IPV6}/${IPV6_2292PKTINFO}`]: 0,
  [`${SOL_IPV6}/${IPV6_2292HOPLIMIT}`]: 0,
  [`${SOL_IPV6}/${IPV6_FLOWINFO}`]: 0,
  [`${SOL_IPV6}/${IPV6_FLOWINFO_SEND}`]: 0,
  [`${SOL_IPV6}/${IPV6_RECVORIGDSTADDR}`]: 0,
  // The stack never makes up flow labels; the option is kept for the application to read.
  [`${SOL_IPV6}/${IPV6_AUTOFLOWLABEL}`]: 1,
  [`${SOL_TCP}/${TCP_CORK}`]: 0,
  [`${SOL_TCP}/${TCP_SYNCNT}`]: 6,
  [`${SOL_TCP}/${TCP_LINGER2}`]: 60,
  [`${SOL_TCP}/${TCP_DEFER_ACCEPT}`]: 0,
  [`${SOL_TCP}/${TCP_WINDOW_CLAMP}`]: 0,
  [`${SOL_TCP}/${TCP_QUICKACK}`]: 1,
};

/** Stored options Linux keeps as a flag: any non-zero value reads back as 1. */
const FLAGS = new Set([
  `${SOL_IP}/${IP_PKTINFO}`,
  `${SOL_IP}/${IP_RECVTTL}`,
  `${SOL_IP}/${IP_RECVTOS}`,
  `${SOL_IP}/${IP_RECVORIGDSTADDR}`,
  `${SOL_IPV6}/${IPV6_RECVPKTINFO}`,
  `${SOL_IPV6}/${IPV6_RECVHOPLIMIT}`,
  `${SOL_IPV6}/${IPV6_RECVTCLASS}`,
  `${SOL_IPV6}/${IPV6_2292PKTINFO}`,
  `${SOL_IPV6}/${IPV6_2292HOPLIMIT}`,
  `${SOL_IPV6}/${IPV6_FLOWINFO}`,
  `${SOL_IPV6}/${IPV6_FLOWINFO_SEND}`,
  `${SOL_IPV6}/${IPV6_RECVORIGDSTADDR}`,
  `${SOL_IPV6}/${IPV6_AUTOFLOWLABEL}`,
]);

/** Whether the flag option level/name is on (the receive options that add control messages). */
export function optionOn(s: InetSocket, level: number, name: number): boolean {
  return (s.stored.get(`${level}/${name}`) ?? 0) !== 0;
}

/** Whether level is one the socket answers (TCP options on a UDP socket are not). */
function checkLevel(s: InetSocket, level: number): void {
  if (level === SOL_SOCKET || level === SOL_IP) return;
  if (level === SOL_IPV6 && s.family === AF_INET6) return;
  if (level === SOL_TCP && s.protocol === IPPROTO_TCP) return;
  throw new SysError(Errno.ENOPROTOOPT);
}

/**
 * The value of an option, as bytes (the caller cuts them to the user's length, `room`, which
 * IPV6_2292PKTOPTIONS lays its control messages out in).
 */
export function getSockOpt(
  s: InetSocket,
  level: number,
  name: number,
  room = Number.MAX_SAFE_INTEGER,
): Uint8Array {
  checkLevel(s, level);
  const o = s.ep.options;
  const ep = s.ep;
  const tcp = ep instanceof TCPEndpoint ? ep : null;
  const k = `${level}/${name}`;
  switch (level) {
    case SOL_SOCKET:
      switch (name) {
        case SO_REUSEADDR:
          return int(ep.reuseAddr ? 1 : 0);
        case SO_REUSEPORT:
          return int(ep.reusePort ? 1 : 0);
        case SO_TYPE:
          return int(s.type);
        case SO_ERROR:
          return int(ep.takeError());
        case SO_SNDBUF:
          return int(o.sndbuf);
        case SO_RCVBUF:
          return int(o.rcvbuf);
        case SO_KEEPALIVE:
          return int(o.keepalive ? 1 : 0);
        case SO_LINGER: {
          return Linger.encode({ onoff: o.linger === null ? 0 : 1, linger: o.linger ?? 0 });
        }
        case SO_RCVTIMEO:
          return timeval(s.rcvTimeoutMs);
        case SO_SNDTIMEO:
          return timeval(s.sndTimeoutMs);
        case SO_ACCEPTCONN:
          return int(tcp?.state === TCPState.LISTEN ? 1 : 0);
        case SO_PROTOCOL:
          return int(s.protocol);
        case SO_DOMAIN:
          return int(s.family);
      }
      break;
    case SOL_IP:
      switch (name) {
        case IP_TOS:
          return int(o.tos);
        case IP_TTL:
          return int(o.ttl);
        case IP_MULTICAST_IF:
          return new Uint8Array(4);
      }
      break;
    case SOL_IPV6:
      switch (name) {
        case IPV6_V6ONLY:
          return int(ep.v6only ? 1 : 0);
        case IPV6_UNICAST_HOPS:
          return int(o.ttl);
        case IPV6_TCLASS:
          return int(o.tos);
        case IPV6_2292PKTOPTIONS:
          if (!tcp) throw new SysError(Errno.ENOPROTOOPT);
          return segmentControl(s, tcp, room);
      }
      break;
    case SOL_TCP:
      switch (name) {
        case TCP_NODELAY:
          return int(o.noDelay ? 1 : 0);
        case TCP_MAXSEG:
          return int(o.maxSeg || 536);
        case TCP_KEEPIDLE:
          return int(o.keepIdle);
        case TCP_KEEPINTVL:
          return int(o.keepIntvl);
        case TCP_KEEPCNT:
          return int(o.keepCnt);
        case TCP_USER_TIMEOUT:
          return int(o.userTimeout);
        case TCP_CONGESTION: {
          // The name in its 16-byte field, NUL-padded (the caller's length cuts it).
          const b = new Uint8Array(TCP_CA_NAME_MAX);
          b.set(new TextEncoder().encode(tcp?.congestion ?? "cubic"));
          return b;
        }
        case TCP_INFO:
          return TcpInfo.encode(tcp?.tcpInfo() ?? {});
      }
      break;
  }
  const stored = s.stored.get(k) ?? STORED[k];
  if (stored !== undefined) return int(stored);
  throw new SysError(Errno.ENOPROTOOPT);
}

/**
 * IPV6_2292PKTOPTIONS on TCP: the control messages of the last segment received that the
 * receive options ask for, of those the stack keeps (its traffic class and flow label).
 * IPV6_FLOWINFO answers even a zero one, as Linux does for a segment it kept no copy of. They
 * are cut to `room` bytes by recvmsg's rules.
 */
function segmentControl(s: InetSocket, tcp: TCPEndpoint, room: number): Uint8Array {
  const w = new ControlWriter(room);
  const flowinfo = tcp.rcvFlowinfo;
  if (optionOn(s, SOL_IPV6, IPV6_RECVTCLASS)) {
    w.put(SOL_IPV6, IPV6_TCLASS, int((flowinfo >>> 20) & 0xff));
  }
  if (optionOn(s, SOL_IPV6, IPV6_FLOWINFO)) {
    w.put(SOL_IPV6, IPV6_FLOWINFO, encodeValue(be32, flowinfo));
  }
  const out = new Uint8Array(w.used);
  for (const p of w.pieces) out.set(p.bytes, p.at);
  return out;
}

/** Reads an int option: 4 bytes, except that IPv4's options also take a single byte (Linux). */
function intOf(v: Uint8Array, level = SOL_SOCKET): number {
  const n = decodeIntOpt(v);
  if (n !== null) return n;
  if (level === SOL_IP && v.length >= 1) return v[0];
  throw new SysError(Errno.EINVAL);
}

function msOfTimeval(v: Uint8Array): number {
  if (v.length < Timeval.size) throw new SysError(Errno.EINVAL);
  const { sec, usec } = Timeval.decode(v);
  if (usec < 0n || usec >= 1000000n) throw new SysError(Errno.EDOM);
  if (sec < 0n) return 0;
  const ms = Number(sec) * 1000 + Number(usec) / 1000;
  // A tiny positive timeout still times out rather than meaning "for ever".
  return ms > 0 && ms < 1 ? 1 : Math.min(ms, 0x7fffffff);
}

/** Sets an option from the application's bytes. */
export function setSockOpt(s: InetSocket, level: number, name: number, v: Uint8Array): void {
  checkLevel(s, level);
  const o = s.ep.options;
  const ep = s.ep;
  const tcp = ep instanceof TCPEndpoint ? ep : null;
  const k = `${level}/${name}`;
  switch (level) {
    case SOL_SOCKET:
      switch (name) {
        case SO_REUSEADDR:
          ep.reuseAddr = intOf(v) !== 0;
          return;
        case SO_REUSEPORT:
          ep.reusePort = intOf(v) !== 0;
          return;
        case SO_SNDBUF:
        case SO_SNDBUFFORCE: {
          const n = intOf(v);
          o.sndbuf = Math.max(MIN_SNDBUF, Math.min(n >>> 0, BUFFER_MAX) * 2);
          o.sndbufLocked = true;
          ep.queue.notify();
          return;
        }
        case SO_RCVBUF:
        case SO_RCVBUFFORCE: {
          const n = intOf(v);
          o.rcvbuf = Math.max(MIN_RCVBUF, Math.min(n >>> 0, BUFFER_MAX) * 2);
          o.rcvbufLocked = true;
          return;
        }
        case SO_KEEPALIVE:
          o.keepalive = intOf(v) !== 0;
          tcp?.keepaliveChanged();
          return;
        case SO_LINGER: {
          if (v.length < Linger.size) throw new SysError(Errno.EINVAL);
          const l = Linger.decode(v);
          o.linger = l.onoff ? Math.max(0, l.linger) : null;
          return;
        }
        case SO_RCVTIMEO:
          s.rcvTimeoutMs = msOfTimeval(v);
          return;
        case SO_SNDTIMEO:
          s.sndTimeoutMs = msOfTimeval(v);
          return;
        case SO_TYPE:
        case SO_ERROR:
        case SO_ACCEPTCONN:
        case SO_PROTOCOL:
        case SO_DOMAIN:
          throw new SysError(Errno.ENOPROTOOPT);
      }
      break;
    case SOL_IP:
      switch (name) {
        case IP_TOS: {
          // A stream keeps its ECN bits to itself (TCP sets them); a datagram sends them as set.
          const n = intOf(v, SOL_IP) & 0xff;
          o.tos = tcp ? (n & 0xfc) | (o.tos & 3) : n;
          return;
        }
        case IP_TTL: {
          const n = intOf(v, SOL_IP);
          if (n === -1) o.ttl = 64;
          else if (n < 1 || n > 255) throw new SysError(Errno.EINVAL);
          else o.ttl = n;
          return;
        }
        case IP_MULTICAST_IF:
          return;
      }
      break;
    case SOL_IPV6:
      switch (name) {
        case IPV6_V6ONLY: {
          // Fixed once bound, as Linux: the port reservation depends on it.
          if (ep.localPort !== 0) throw new SysError(Errno.EINVAL);
          ep.v6only = intOf(v) !== 0;
          return;
        }
        case IPV6_UNICAST_HOPS: {
          const n = intOf(v);
          if (n < -1 || n > 255) throw new SysError(Errno.EINVAL);
          o.ttl = n === -1 ? 64 : n;
          return;
        }
        case IPV6_TCLASS: {
          const n = intOf(v);
          if (n < -1 || n > 255) throw new SysError(Errno.EINVAL);
          o.tos = n === -1 ? 0 : n;
          return;
        }
      }
      break;
    case SOL_TCP:
      switch (name) {
        case TCP_NODELAY:
          o.noDelay = intOf(v) !== 0;
          return;
        case TCP_CONGESTION: {
          if (v.length < 1) throw new SysError(Errno.EINVAL);
          // A name of at most 15 bytes, ending at its first NUL.
          const raw = v.subarray(0, TCP_CA_NAME_MAX - 1);
          const end = raw.indexOf(0);
          const name = new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
          const known = CONGESTION_CONTROLS.find((c) => c === name);
          if (!known || !tcp) throw new SysError(Errno.ENOENT);
          tcp.congestion = known;
          return;
        }
        case TCP_MAXSEG: {
          const n = intOf(v);
          if (n !== 0 && (n < 88 || n > 32767)) throw new SysError(Errno.EINVAL);
          o.maxSeg = n;
          return;
        }
        case TCP_KEEPIDLE:
        case TCP_KEEPINTVL: {
          const n = intOf(v);
          const max = name === TCP_KEEPIDLE ? MAX_KEEPIDLE : MAX_KEEPINTVL;
          if (n < 1 || n > max) throw new SysError(Errno.EINVAL);
          if (name === TCP_KEEPIDLE) o.keepIdle = n;
          else o.keepIntvl = n;
          tcp?.keepaliveChanged();
          return;
        }
        case TCP_KEEPCNT: {
          const n = intOf(v);
          if (n < 1 || n > MAX_KEEPCNT) throw new SysError(Errno.EINVAL);
          o.keepCnt = n;
          return;
        }
        case TCP_USER_TIMEOUT: {
          const n = intOf(v);
          if (n < 0) throw new SysError(Errno.EINVAL);
          o.userTimeout = n;
          return;
        }
        case TCP_INFO:
          throw new SysError(Errno.ENOPROTOOPT);
      }
      break;
  }
  if (k in STORED) {
    const n = intOf(v, level);
    s.stored.set(k, FLAGS.has(k) ? (n !== 0 ? 1 : 0) : n);
    return;
  }
  throw new SysError(Errno.ENOPROTOOPT);
}
