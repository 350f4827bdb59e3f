/**
 * The socket system calls on AF_INET and AF_INET6 sockets (sentry/net/socket.ts):
 * sys_socket.ts hands a call here when its descriptor is one. Same handler shape as the
 * rest of the table, with the socket already taken from the descriptor.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import {
  AF_INET,
  AF_INET6,
  type DataSink,
  type DataSource,
  decodeSockAddr,
  encodeSockAddr,
  InetSocket,
  NetStack,
  newInetSocket,
  type Received,
  type SockAddr,
} from "../net/socket.ts";
import type { TCPEndpoint } from "../net/tcp_endpoint.ts";
import { getSockOpt, optionOn, setSockOpt } from "../net/sockopt.ts";
import {
  ControlWriter,
  type PacketInfo,
  parseSendControl,
  RECEIVE_OPTIONS,
  receiveControl,
  type ReceiveOptions,
  type SendControl,
} from "../net/inet_cmsg.ts";
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP } from "../net/stack.ts";
import { CAP, capable } from "../kernel/task_creds.ts";
import { type MaybeAsync, O_NONBLOCK } from "../vfs/file.ts";
import { accessOk, argInt, argPtr, argSize, MAX_RW_COUNT } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { OPTMEM_MAX, readMsgHdr, recvEachMmsg, sendEachMmsg } from "./sys_socket.ts";
import {
  MSG_CTRUNC,
  MSG_OOB,
  MSG_TRUNC,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCKADDR_STORAGE_SIZE,
} from "../../abi/linux/socket.ts";
import { copyInSocklen, copyOutAddress, copyOutMsgResult, copyOutOptval } from "./socket_copy.ts";
import { hostInetSocket } from "./sys_socket_host.ts";

/** Longest address a call reads. */
const SOCKADDR_MAX = SOCKADDR_STORAGE_SIZE;

/** Whether domain is one of ours. */
export function isInetDomain(domain: number): boolean {
  return domain === AF_INET || domain === AF_INET6;
}

/** Implements Linux syscall socket(2) for AF_INET and AF_INET6. */
export function inetSocket(t: Task, domain: number, type: number, protocol: number): number {
  if (NetStack.of(t.kernel).host) return hostInetSocket(t, domain, type, protocol);
  if (type & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC)) throw new SysError(Errno.EINVAL);
  const s = newInetSocket(
    t.kernel,
    domain,
    type & 0xf,
    protocol,
    type & SOCK_NONBLOCK,
    t.tg.uid,
    t.tg.gid,
  );
  return t.fdTable.install(s, (type & SOCK_CLOEXEC) !== 0);
}

function readSockAddr(t: Task, s: InetSocket, addr: bigint, len: number): SockAddr | null {
  if (len < 0 || len > SOCKADDR_MAX) throw new SysError(Errno.EINVAL);
  return decodeSockAddr(s.family, t.mm.copyIn(addr, len));
}

/** Writes an address to (addr, *lenAddr), cut to the user's length, as Linux does. */
function writeSockAddr(t: Task, s: InetSocket, addr: bigint, lenAddr: bigint, a: SockAddr) {
  copyOutAddress(t, addr, lenAddr, encodeSockAddr(s.family, a));
}

function bind(t: Task, s: InetSocket): number {
  const a = readSockAddr(t, s, argPtr(t, 1), argInt(t, 2));
  if (!a) throw new SysError(Errno.EAFNOSUPPORT);
  // Ports below 1024 (the sandbox's ip_unprivileged_port_start) are privileged; a ping
  // socket's identifier is no port.
  const ping = s.protocol === IPPROTO_ICMP || s.protocol === IPPROTO_ICMPV6;
  if (a.port !== 0 && a.port < 1024 && !ping && !capable(t, CAP.NET_BIND_SERVICE)) {
    throw new SysError(Errno.EACCES);
  }
  s.bind(a);
  return 0;
}

function listen(t: Task, s: InetSocket): number {
  s.listen(argInt(t, 1));
  return 0;
}

function accept(t: Task, s: InetSocket, flags: number): MaybeAsync<number> {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) throw new SysError(Errno.EINVAL);
  const done = (ep: TCPEndpoint) => {
    const c = new InetSocket(s.family, s.type, ep, flags & SOCK_NONBLOCK, t.tg.uid, t.tg.gid);
    c.inheritOptions(s);
    const fd = t.fdTable.install(c, (flags & SOCK_CLOEXEC) !== 0);
    writeSockAddr(t, s, argPtr(t, 1), argPtr(t, 2), c.peerName());
    return fd;
  };
  const ep = s.accept(t, (s.flags & O_NONBLOCK) !== 0, () => t.fdTable.checkFree());
  return ep instanceof Promise ? ep.then(done) : done(ep);
}

async function connect(t: Task, s: InetSocket): Promise<number> {
  await s.connect(t, readSockAddr(t, s, argPtr(t, 1), argInt(t, 2)));
  return 0;
}

function getsockname(t: Task, s: InetSocket): number {
  writeSockAddr(t, s, argPtr(t, 1), argPtr(t, 2), s.localName());
  return 0;
}

function getpeername(t: Task, s: InetSocket): number {
  writeSockAddr(t, s, argPtr(t, 1), argPtr(t, 2), s.peerName());
  return 0;
}

function shutdown(t: Task, s: InetSocket): number {
  const how = argInt(t, 1);
  if (how < 0 || how > 2) throw new SysError(Errno.EINVAL);
  s.shutdown(how);
  return 0;
}

/**
 * The destination of a send: the sockaddr is copied in now (EFAULT first, as Linux's
 * move_addr_to_kernel) and checked when the socket asks (after its autobind).
 */
function destination(t: Task, s: InetSocket, addr: bigint, len: number): () => SockAddr | null {
  if (addr === 0n || len === 0) return () => null;
  if (len < 0 || len > SOCKADDR_MAX) throw new SysError(Errno.EINVAL);
  const raw = t.mm.copyIn(addr, len);
  return () => {
    const a = decodeSockAddr(s.family, raw);
    if (!a) throw new SysError(Errno.EAFNOSUPPORT);
    return a;
  };
}

/** Reads the bytes at [at, at+n) of the buffers iov, in order. */
function iovSource(t: Task, iov: [bigint, number][]): DataSource {
  return (at, n) => {
    const out = new Uint8Array(n);
    let skip = at, o = 0;
    for (const [base, len] of iov) {
      if (o >= n) break;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const k = Math.min(len - skip, n - o);
      out.set(t.mm.copyIn(base + BigInt(skip), k), o);
      o += k;
      skip = 0;
    }
    return out;
  };
}

/** Writes chunk at offset `at` across the buffers iov. */
function iovSink(t: Task, iov: [bigint, number][]): DataSink {
  return (chunk, at) => {
    let skip = at, o = 0;
    for (const [base, len] of iov) {
      if (o >= chunk.length) break;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const k = Math.min(len - skip, chunk.length - o);
      t.mm.copyOut(base + BigInt(skip), chunk.subarray(o, o + k));
      o += k;
      skip = 0;
    }
  };
}

function sendto(t: Task, s: InetSocket): Promise<number> {
  const buf = argPtr(t, 1);
  // The length is capped before the range is checked, as Linux's import_single_range.
  accessOk(t, buf, BigInt(argSize(t, 2)));
  const flags = argInt(t, 3);
  // Urgent data is not supported (a datagram socket has none: EOPNOTSUPP there too).
  if (flags & MSG_OOB) throw new SysError(Errno.EOPNOTSUPP);
  const to = destination(t, s, argPtr(t, 4), argInt(t, 5));
  return s.send(t, argSize(t, 2), (at, n) => t.mm.copyIn(buf + BigInt(at), n), flags, to);
}

function recvfrom(t: Task, s: InetSocket): MaybeAsync<number> {
  const buf = argPtr(t, 1);
  accessOk(t, buf, BigInt(argSize(t, 2)));
  const flags = argInt(t, 3);
  // A stream has no urgent data to give; a datagram socket ignores the flag (Linux).
  if (flags & MSG_OOB && s.protocol === IPPROTO_TCP) throw new SysError(Errno.EINVAL);
  const done = (r: Received) => {
    if (argPtr(t, 4) !== 0n && r.from) {
      writeSockAddr(t, s, argPtr(t, 4), argPtr(t, 5), { addr: r.from, port: r.fromPort });
    } else if (argPtr(t, 5) !== 0n && argPtr(t, 4) !== 0n) {
      t.mm.writeU32(argPtr(t, 5), 0);
    }
    return flags & MSG_TRUNC ? r.full : r.n;
  };
  const r = s.recv(t, argSize(t, 2), flags, (c, at) => t.mm.copyOut(buf + BigInt(at), c));
  return r instanceof Promise ? r.then(done) : done(r);
}

/** A send's control messages (IP_TTL, IPV6_HOPLIMIT, IPV6_PKTINFO...), copied in and checked. */
function sendControl(t: Task, s: InetSocket, control: bigint, len: number): SendControl {
  if (len > OPTMEM_MAX) throw new SysError(Errno.ENOBUFS);
  const stack = NetStack.of(t.kernel).stack;
  return parseSendControl(
    t.mm.copyIn(control, len),
    s.family === AF_INET6,
    s.protocol !== IPPROTO_TCP,
    stack,
  );
}

async function sendmsgAt(t: Task, s: InetSocket, hdr: bigint, flags: number): Promise<number> {
  const m = readMsgHdr(t, hdr);
  const total = Math.min(m.iov.reduce((a, [, l]) => a + l, 0), MAX_RW_COUNT);
  const to = destination(t, s, m.name, m.namelen);
  const ctl = m.controllen > 0 ? sendControl(t, s, m.control, m.controllen) : undefined;
  return await s.send(t, total, iovSource(t, m.iov), flags, to, ctl);
}

/**
 * Writes the control messages a received datagram carries, for the receive options the socket
 * has on, into the caller's buffer; returns msg_controllen and MSG_CTRUNC if cut.
 */
function putReceiveControl(
  t: Task,
  s: InetSocket,
  m: { control: bigint; controllen: number },
  info: PacketInfo | undefined,
): [number, number] {
  if (!info) return [0, 0];
  const on = Object.fromEntries(
    Object.entries(RECEIVE_OPTIONS).map(([k, [level, name]]) => [k, optionOn(s, level, name)]),
  ) as unknown as ReceiveOptions;
  const w = new ControlWriter(m.controllen);
  receiveControl(w, s.family === AF_INET6, on, info);
  for (const p of w.pieces) {
    try {
      t.mm.copyOut(m.control + BigInt(p.at), p.bytes);
    } catch (e) {
      // As Linux's put_cmsg: a buffer that faults ends the messages, not the receive.
      if (e instanceof SysError && e.errno === Errno.EFAULT) return [p.at, MSG_CTRUNC];
      throw e;
    }
  }
  return [w.used, w.truncated ? MSG_CTRUNC : 0];
}

async function recvmsgAt(t: Task, s: InetSocket, addr: bigint, flags: number): Promise<number> {
  const m = readMsgHdr(t, addr);
  const max = Math.min(m.iov.reduce((a, [, l]) => a + l, 0), MAX_RW_COUNT);
  const r = await s.recv(t, max, flags, iovSink(t, m.iov));
  const [controllen, ctrunc] = putReceiveControl(t, s, m, r.info);
  const from = r.from ? encodeSockAddr(s.family, { addr: r.from, port: r.fromPort }) : null;
  copyOutMsgResult(t, addr, m, controllen, (r.full > r.n ? MSG_TRUNC : 0) | ctrunc, from);
  return flags & MSG_TRUNC ? r.full : r.n;
}

function sendmsg(t: Task, s: InetSocket): Promise<number> {
  return sendmsgAt(t, s, argPtr(t, 1), argInt(t, 2));
}

function recvmsg(t: Task, s: InetSocket): Promise<number> {
  return recvmsgAt(t, s, argPtr(t, 1), argInt(t, 2));
}

function sendmmsg(t: Task, s: InetSocket): Promise<number> {
  return sendEachMmsg(t, (hdr, flags) => sendmsgAt(t, s, hdr, flags));
}

function recvmmsg(t: Task, s: InetSocket): Promise<number> {
  return recvEachMmsg(t, (hdr, flags) => recvmsgAt(t, s, hdr, flags));
}

/** Longest option value read (struct sizes are far below). */
const OPTVAL_MAX = 256;

function getsockopt(t: Task, s: InetSocket): number {
  const level = argInt(t, 1), name = argInt(t, 2);
  const valAddr = argPtr(t, 3), lenAddr = argPtr(t, 4);
  const have = copyInSocklen(t, lenAddr);
  copyOutOptval(t, valAddr, lenAddr, have, getSockOpt(s, level, name, have));
  return 0;
}

function setsockopt(t: Task, s: InetSocket): number {
  const len = argInt(t, 4);
  if (len < 0) throw new SysError(Errno.EINVAL);
  const v = t.mm.copyIn(argPtr(t, 3), Math.min(len, OPTVAL_MAX));
  setSockOpt(s, argInt(t, 1), argInt(t, 2), v);
  return 0;
}

/** The handlers, by syscall name, for a descriptor that is an InetSocket. */
export const inetHandlers: Record<string, (t: Task, s: InetSocket) => number | Promise<number>> = {
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
  sendmsg,
  recvmsg,
  sendmmsg,
  recvmmsg,
  getsockopt,
  setsockopt,
};
