/**
 * The socket system calls on --network=host sockets (sentry/net/host_socket.ts): sys_socket.ts
 * hands a call here when its descriptor is one. Each handler copies what the application
 * gives into the Sentry's own buffers (addresses at most sockaddr_storage long, data at most
 * HOST_IO_MAX a call), makes the host call on the host socket, and copies the result out.
 * Control messages pass only as sentry/net/host_cmsg.ts allows.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  HOST_SOCKET_KINDS,
  hostBind,
  hostGetpeername,
  hostGetsockname,
  hostGetsockopt,
  hostListen,
  hostSetsockopt,
  hostShutdown,
  SOCKADDR_MAX,
} from "../../host/hostinet.ts";
import { CAP, capable } from "../kernel/task_creds.ts";
import type { Task } from "../kernel/task.ts";
import { hostResult, HostSocket } from "../net/host_socket.ts";
import { socketAttr } from "../net/socket.ts";
import { O_CLOEXEC, O_NONBLOCK } from "../vfs/file.ts";
import { accessOk, argInt, argPtr, argSize, MAX_RW_COUNT } from "./args.ts";
import { readMsgHdr, recvEachMmsg, sendEachMmsg } from "./sys_socket.ts";
import { copyOutAddress, copyOutMsgResult } from "./socket_copy.ts";
import {
  receivedControl,
  RECV_CONTROL_MAX,
  SEND_CONTROL_MAX,
  sendControl,
} from "../net/host_cmsg.ts";

const SOCK_STREAM = 1, SOCK_DGRAM = 2;
const AF_UNSPEC = 0, AF_INET = 2, AF_INET6 = 10;
/** Protocol numbers are below this (socket(2) answers EINVAL otherwise). */
const IPPROTO_MAX = 263;
const SOCKADDR_IN_SIZE = 16;
const SIN6_LEN_RFC2133 = 24;
/** Ports below this need CAP_NET_BIND_SERVICE unless the host's sysctl says otherwise. */
const PROT_SOCK = 1024;
const UNPRIVILEGED_PORT_START = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
const MSG_TRUNC = 0x20;
const MSG_CTRUNC = 0x8;
const MSG_OOB = 0x1;
/** Reads the socket's error queue (IP_RECVERR): ICMP errors with where they came from. */
const MSG_ERRQUEUE = 0x2000;
/** The most bytes one call moves (a stream send or receive returns less; a datagram fits). */
const HOST_IO_MAX = 1 << 20;
/**
 * Flags passed on to the host: sends OOB, DONTROUTE, DONTWAIT, EOR, CONFIRM, NOSIGNAL, MORE;
 * receives OOB, PEEK, TRUNC, DONTWAIT, WAITALL, ERRQUEUE.
 */
const SEND_FLAGS = 0x1 | 0x4 | 0x40 | 0x80 | 0x800 | 0x4000 | 0x8000;
const RECV_FLAGS = 0x1 | 0x2 | 0x20 | 0x40 | 0x100 | MSG_ERRQUEUE;

/** Implements Linux syscall socket(2) for AF_INET and AF_INET6 with --network=host. */
export function hostInetSocket(t: Task, domain: number, type: number, protocol: number): number {
  if (type & ~(0xf | O_NONBLOCK | O_CLOEXEC)) throw new SysError(Errno.EINVAL);
  if (protocol < 0 || protocol >= IPPROTO_MAX) throw new SysError(Errno.EINVAL);
  const base = type & 0xf;
  // Raw and packet-level sockets are not offered: the Sentry holds no capability for them.
  if (base !== SOCK_STREAM && base !== SOCK_DGRAM) throw new SysError(Errno.ESOCKTNOSUPPORT);
  // Only the protocols the Sentry's filter lets through (HOST_SOCKET_KINDS): any other (SCTP,
  // UDP-Lite, MPTCP...) is answered here as by a kernel without it, and never reaches the host.
  const kind = HOST_SOCKET_KINDS.find((k) => k.family === domain && k.type === base);
  if (!kind?.protocols.includes(protocol)) throw new SysError(Errno.EPROTONOSUPPORT);
  const s = HostSocket.create(t, domain, base, protocol, type & O_NONBLOCK);
  try {
    return t.fdTable.install(s, (type & O_CLOEXEC) !== 0);
  } catch (e) {
    s.release(); // EMFILE: the host socket must not stay open in the Sentry
    throw e;
  }
}

/**
 * Copies in a socket address for `s`, the only kind of address passed to the host: of its
 * family and at least that family's length (sockaddr_in, or sockaddr_in6 without its scope as
 * RFC 2133 had it), or AF_UNSPEC where the call takes it (`unspec`: connect's disconnect,
 * bind's INADDR_ANY on IPv4), as Linux checks them.
 */
function readAddress(
  t: Task,
  s: HostSocket,
  addr: bigint,
  len: number,
  unspec = false,
): Uint8Array<ArrayBuffer> {
  if (len < 2 || len > SOCKADDR_MAX) throw new SysError(Errno.EINVAL);
  const sa = t.mm.copyIn(addr, len);
  const family = sa[0] | (sa[1] << 8);
  if (unspec && family === AF_UNSPEC) return sa;
  if (len < (s.family === AF_INET6 ? SIN6_LEN_RFC2133 : SOCKADDR_IN_SIZE)) {
    throw new SysError(Errno.EINVAL);
  }
  if (family !== s.family) throw new SysError(Errno.EAFNOSUPPORT);
  return sa;
}

/** The first port that needs CAP_NET_BIND_SERVICE (net.ipv4.ip_unprivileged_port_start). */
function unprivilegedPortStart(): number {
  try {
    // The Sentry's /proc shows the host's network namespace with --network=host; read at each
    // bind, as the kernel does, since the host's administrator may change it.
    const v = Number(Deno.readTextFileSync(UNPRIVILEGED_PORT_START).trim());
    return Number.isInteger(v) && v >= 0 ? v : PROT_SOCK;
  } catch {
    return PROT_SOCK;
  }
}

/**
 * The Sentry holds CAP_NET_BIND_SERVICE on the host with --network=host (boot/boot.ts), so the
 * host would let any task bind a low port: the task's own capability is checked here first,
 * as Linux checks the caller's.
 */
function bind(t: Task, s: HostSocket): number {
  const sa = readAddress(t, s, argPtr(t, 1), argInt(t, 2), s.family === AF_INET);
  if (sa.length >= 4) {
    const port = (sa[2] << 8) | sa[3];
    if (
      port !== 0 && !capable(t, CAP.NET_BIND_SERVICE) && port < unprivilegedPortStart()
    ) {
      throw new SysError(Errno.EACCES);
    }
  }
  hostResult(hostBind(s.hostFd, sa));
  return 0;
}

function listen(t: Task, s: HostSocket): number {
  hostResult(hostListen(s.hostFd, argInt(t, 1)));
  return 0;
}

async function accept(t: Task, s: HostSocket, flags: number): Promise<number> {
  if (flags & ~(O_NONBLOCK | O_CLOEXEC)) throw new SysError(Errno.EINVAL);
  const { fd, sa } = await s.accept(t, () => t.fdTable.checkFree());
  const c = new HostSocket(
    fd,
    s.family,
    s.type,
    flags & O_NONBLOCK,
    socketAttr(t.tg.uid, t.tg.gid),
  );
  try {
    // The address first, as Linux: a bad pointer fails the call with no descriptor left.
    copyOutAddress(t, argPtr(t, 1), argPtr(t, 2), sa);
    return t.fdTable.install(c, (flags & O_CLOEXEC) !== 0);
  } catch (e) {
    c.release(); // EFAULT, EMFILE: the accepted host socket must not stay open in the Sentry
    throw e;
  }
}

async function connect(t: Task, s: HostSocket): Promise<number> {
  await s.connect(t, readAddress(t, s, argPtr(t, 1), argInt(t, 2), true));
  return 0;
}

function getsockname(t: Task, s: HostSocket): number {
  const r = hostGetsockname(s.hostFd);
  hostResult(r.r);
  copyOutAddress(t, argPtr(t, 1), argPtr(t, 2), r.sa);
  return 0;
}

function getpeername(t: Task, s: HostSocket): number {
  const r = hostGetpeername(s.hostFd);
  hostResult(r.r);
  copyOutAddress(t, argPtr(t, 1), argPtr(t, 2), r.sa);
  return 0;
}

function shutdown(t: Task, s: HostSocket): number {
  hostResult(hostShutdown(s.hostFd, argInt(t, 1)));
  return 0;
}

function sendto(t: Task, s: HostSocket): Promise<number> {
  const buf = argPtr(t, 1);
  const len = argSize(t, 2);
  accessOk(t, buf, BigInt(len));
  const to = argPtr(t, 4) !== 0n ? readAddress(t, s, argPtr(t, 4), argInt(t, 5)) : null;
  const data = t.mm.copyIn(buf, Math.min(len, HOST_IO_MAX));
  return s.send(t, data, argInt(t, 3) & SEND_FLAGS, to);
}

async function recvfrom(t: Task, s: HostSocket): Promise<number> {
  const buf = argPtr(t, 1);
  const len = argSize(t, 2);
  accessOk(t, buf, BigInt(len));
  const flags = argInt(t, 3) & RECV_FLAGS;
  const data = new Uint8Array(Math.min(len, HOST_IO_MAX));
  const r = await s.recv(t, data, flags);
  t.mm.copyOut(buf, data.subarray(0, Math.min(r.r, data.length)));
  if (argPtr(t, 4) !== 0n) copyOutAddress(t, argPtr(t, 4), argPtr(t, 5), r.from);
  return r.r;
}

/**
 * The msghdr at addr with msg_namelen as Linux takes it: a negative one is EINVAL, a longer
 * one than sockaddr_storage is cut to it.
 */
function readHostMsgHdr(t: Task, addr: bigint): ReturnType<typeof readMsgHdr> {
  const m = readMsgHdr(t, addr);
  if (m.namelen > 0x7fff_ffff) throw new SysError(Errno.EINVAL);
  return { ...m, namelen: Math.min(m.namelen, SOCKADDR_MAX) };
}

async function sendmsgAt(t: Task, s: HostSocket, hdr: bigint, flags: number): Promise<number> {
  const m = readHostMsgHdr(t, hdr);
  const total = Math.min(m.iov.reduce((a, [, l]) => a + l, 0), HOST_IO_MAX);
  const data = new Uint8Array(total);
  let off = 0;
  for (const [base, len] of m.iov) {
    const k = Math.min(len, total - off);
    if (k <= 0) break;
    data.set(t.mm.copyIn(base, k), off);
    off += k;
  }
  const to = m.name !== 0n && m.namelen > 0 ? readAddress(t, s, m.name, m.namelen) : null;
  let control: Uint8Array<ArrayBuffer> | null = null;
  if (m.controllen > 0) {
    if (m.controllen > SEND_CONTROL_MAX) throw new SysError(Errno.ENOBUFS);
    control = sendControl(t.mm.copyIn(m.control, m.controllen), s.family, s.type === SOCK_STREAM);
  }
  return await s.send(t, data, flags & SEND_FLAGS, to, control);
}

async function recvmsgAt(t: Task, s: HostSocket, addr: bigint, flags: number): Promise<number> {
  const m = readHostMsgHdr(t, addr);
  const max = Math.min(m.iov.reduce((a, [, l]) => a + l, 0), HOST_IO_MAX, MAX_RW_COUNT);
  const data = new Uint8Array(max);
  const r = await s.recv(t, data, flags & RECV_FLAGS, Math.min(m.controllen, RECV_CONTROL_MAX));
  let off = 0;
  const got = Math.min(r.r, data.length);
  for (const [base, len] of m.iov) {
    const k = Math.min(len, got - off);
    if (k <= 0) break;
    t.mm.copyOut(base, data.subarray(off, off + k));
    off += k;
  }
  const control = receivedControl(r.control);
  if (control.length > 0) t.mm.copyOut(m.control, control);
  const shown = MSG_TRUNC | MSG_CTRUNC | MSG_OOB | MSG_ERRQUEUE;
  copyOutMsgResult(t, addr, m, control.length, r.flags & shown, r.from);
  return r.r;
}

/**
 * The options passed to the host socket, by level: all take and give plain values (ints,
 * struct linger, ip_mreq...), never an address in the caller's memory.
 */
const PASSED: Record<number, ReadonlySet<number>> = {
  // SOL_SOCKET: REUSEADDR TYPE ERROR DONTROUTE BROADCAST SNDBUF RCVBUF KEEPALIVE OOBINLINE
  // LINGER REUSEPORT RCVLOWAT SNDLOWAT TIMESTAMP ACCEPTCONN TIMESTAMPNS PROTOCOL DOMAIN
  1: new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 15, 18, 19, 29, 30, 35, 38, 39]),
  // IPPROTO_IP: TOS TTL PKTINFO MTU_DISCOVER RECVERR RECVTTL RECVTOS RECVORIGDSTADDR
  // MULTICAST_IF MULTICAST_TTL MULTICAST_LOOP ADD_MEMBERSHIP DROP_MEMBERSHIP
  0: new Set([1, 2, 8, 10, 11, 12, 13, 20, 32, 33, 34, 35, 36]),
  // IPPROTO_TCP: NODELAY MAXSEG CORK KEEPIDLE KEEPINTVL KEEPCNT SYNCNT LINGER2 DEFER_ACCEPT
  // WINDOW_CLAMP INFO QUICKACK CONGESTION USER_TIMEOUT NOTSENT_LOWAT
  6: new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 18, 25]),
  // IPPROTO_IPV6: FLOWINFO UNICAST_HOPS MULTICAST_IF MULTICAST_HOPS MULTICAST_LOOP
  // JOIN_GROUP LEAVE_GROUP RECVERR V6ONLY FLOWINFO_SEND RECVPKTINFO RECVHOPLIMIT RECVTCLASS
  // TCLASS AUTOFLOWLABEL RECVORIGDSTADDR
  41: new Set([11, 16, 17, 18, 19, 20, 21, 25, 26, 33, 49, 51, 66, 67, 70, 74]),
};
const SOL_SOCKET = 1, SO_RCVTIMEO = 20, SO_SNDTIMEO = 21;
/** Longest option value passed (struct tcp_info, the largest, is 232 bytes). */
const OPTVAL_MAX = 256;

function getsockopt(t: Task, s: HostSocket): number {
  const level = argInt(t, 1), name = argInt(t, 2);
  const valAddr = argPtr(t, 3), lenAddr = argPtr(t, 4);
  const have = new DataView(t.mm.copyIn(lenAddr, 4).buffer).getInt32(0, true);
  if (have < 0) throw new SysError(Errno.EINVAL);
  let out: Uint8Array;
  if (level === SOL_SOCKET && (name === SO_RCVTIMEO || name === SO_SNDTIMEO)) {
    const ms = name === SO_RCVTIMEO ? s.rcvTimeoutMs : s.sndTimeoutMs;
    const tv = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1000)]);
    out = new Uint8Array(tv.buffer);
  } else {
    if (!PASSED[level]?.has(name)) throw new SysError(Errno.ENOPROTOOPT);
    const r = hostGetsockopt(s.hostFd, level, name, Math.min(have, OPTVAL_MAX));
    hostResult(r.r);
    out = r.val;
  }
  const n = Math.min(have, out.length);
  t.mm.copyOut(valAddr, out.subarray(0, n));
  t.mm.writeU32(lenAddr, n);
  return 0;
}

function setsockopt(t: Task, s: HostSocket): number {
  const level = argInt(t, 1), name = argInt(t, 2);
  const len = argInt(t, 4);
  if (len < 0) throw new SysError(Errno.EINVAL);
  const v = t.mm.copyIn(argPtr(t, 3), Math.min(len, OPTVAL_MAX));
  if (level === SOL_SOCKET && (name === SO_RCVTIMEO || name === SO_SNDTIMEO)) {
    // The host socket never blocks: the Sentry's waits apply the timeout.
    if (v.length < 16) throw new SysError(Errno.EINVAL);
    const dv = new DataView(v.buffer);
    const sec = dv.getBigInt64(0, true), usec = dv.getBigInt64(8, true);
    if (sec < 0n || usec < 0n || usec >= 1_000_000n) throw new SysError(Errno.EDOM);
    const ms = Number(sec) * 1000 + Math.ceil(Number(usec) / 1000);
    if (name === SO_RCVTIMEO) s.rcvTimeoutMs = ms;
    else s.sndTimeoutMs = ms;
    return 0;
  }
  if (!PASSED[level]?.has(name)) throw new SysError(Errno.ENOPROTOOPT);
  hostResult(hostSetsockopt(s.hostFd, level, name, v));
  return 0;
}

/** The handlers, by syscall name, for a descriptor that is a HostSocket. */
export const hostInetHandlers: Record<
  string,
  (t: Task, s: HostSocket) => number | Promise<number>
> = {
  bind,
  listen,
  accept: (t, s) => accept(t, s, 0),
  accept4: (t, s) => accept(t, s, argInt(t, 3)),
  connect,
  getsockname,
  getpeername,
  shutdown,
  sendto,
  recvfrom,
  sendmsg: (t, s) => sendmsgAt(t, s, argPtr(t, 1), argInt(t, 2)),
  recvmsg: (t, s) => recvmsgAt(t, s, argPtr(t, 1), argInt(t, 2)),
  sendmmsg: (t, s) => sendEachMmsg(t, (hdr, flags) => sendmsgAt(t, s, hdr, flags)),
  recvmmsg: (t, s) => recvEachMmsg(t, (hdr, flags) => recvmsgAt(t, s, hdr, flags)),
  getsockopt,
  setsockopt,
};
