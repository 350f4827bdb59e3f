/**
 * The socket system calls on AF_NETLINK sockets (sentry/net/netlink.ts): sys_socket.ts hands
 * a call here when its descriptor is one.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { AF_NETLINK, NETLINK_ROUTE, NetlinkSocket } from "../net/netlink.ts";
import { NetStack, socketAttr } from "../net/socket.ts";
import { O_CLOEXEC, O_NONBLOCK } from "../vfs/file.ts";
import { accessOk, argInt, argPtr, argSize } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { readMsgHdr } from "./sys_socket.ts";
import {
  decodeIntOpt,
  encodeIntOpt,
  MSG_TRUNC,
  SO_DOMAIN,
  SO_PROTOCOL,
  SO_RCVBUF,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCKADDR_STORAGE_SIZE,
  SockaddrNl,
  SOL_NETLINK,
  SOL_SOCKET,
} from "../../abi/linux/socket.ts";
import { copyInSocklen, copyOutAddress, copyOutMsgResult, copyOutOptval } from "./socket_copy.ts";

/** Implements Linux syscall socket(2) for AF_NETLINK. */
export function netlinkSocket(t: Task, type: number, protocol: number): number {
  if (type & ~(0xf | O_NONBLOCK | O_CLOEXEC)) throw new SysError(Errno.EINVAL);
  const base = type & 0xf;
  if (base !== SOCK_RAW && base !== SOCK_DGRAM) throw new SysError(Errno.ESOCKTNOSUPPORT);
  if (protocol !== NETLINK_ROUTE) throw new SysError(Errno.EPROTONOSUPPORT);
  const s = new NetlinkSocket(
    NetStack.of(t.kernel).stack,
    base,
    type & O_NONBLOCK,
    socketAttr(t.tg.uid, t.tg.gid),
  );
  return t.fdTable.install(s, (type & O_CLOEXEC) !== 0);
}

function encodeName(pid: number, groups: number): Uint8Array {
  return SockaddrNl.encode({ family: AF_NETLINK, pid: pid >>> 0, groups: groups >>> 0 });
}

function writeName(t: Task, addr: bigint, lenAddr: bigint, enc: Uint8Array): void {
  copyOutAddress(t, addr, lenAddr, enc);
}

/** Checks a sockaddr_nl; a message may only go to the kernel (nl_pid 0). */
function readName(t: Task, addr: bigint, len: number): { pid: number; groups: number } {
  if (len < SockaddrNl.size || len > SOCKADDR_STORAGE_SIZE) throw new SysError(Errno.EINVAL);
  const nl = SockaddrNl.decode(t.mm.copyIn(addr, SockaddrNl.size));
  if (nl.family !== AF_NETLINK) throw new SysError(Errno.EINVAL);
  return { pid: nl.pid | 0, groups: nl.groups };
}

function bind(t: Task, s: NetlinkSocket): number {
  const n = readName(t, argPtr(t, 1), argInt(t, 2));
  s.bind(t, n.pid, n.groups);
  return 0;
}

function connect(t: Task, s: NetlinkSocket): number {
  const n = readName(t, argPtr(t, 1), argInt(t, 2));
  if (n.pid !== 0) throw new SysError(Errno.ECONNREFUSED);
  if (s.portId === 0) s.bind(t, 0, 0);
  return 0;
}

function getsockname(t: Task, s: NetlinkSocket): number {
  writeName(t, argPtr(t, 1), argPtr(t, 2), encodeName(s.portId, s.groups));
  return 0;
}

function getpeername(t: Task, _s: NetlinkSocket): number {
  writeName(t, argPtr(t, 1), argPtr(t, 2), encodeName(0, 0));
  return 0;
}

function sendto(t: Task, s: NetlinkSocket): number {
  accessOk(t, argPtr(t, 1), argPtr(t, 2));
  if (argPtr(t, 4) !== 0n) {
    const n = readName(t, argPtr(t, 4), argInt(t, 5));
    if (n.pid !== 0) throw new SysError(Errno.ECONNREFUSED);
  }
  return s.send(t, t.mm.copyIn(argPtr(t, 1), Math.min(argSize(t, 2), s.sndbuf)));
}

async function recvfrom(t: Task, s: NetlinkSocket): Promise<number> {
  const buf = argPtr(t, 1);
  accessOk(t, buf, argPtr(t, 2));
  const flags = argInt(t, 3);
  const d = await s.recv(t, flags);
  const n = Math.min(d.length, argSize(t, 2));
  t.mm.copyOut(buf, d.subarray(0, n));
  writeName(t, argPtr(t, 4), argPtr(t, 5), encodeName(0, 0));
  return flags & MSG_TRUNC ? d.length : n;
}

function sendmsg(t: Task, s: NetlinkSocket): number {
  const m = readMsgHdr(t, argPtr(t, 1));
  if (m.name !== 0n && m.namelen > 0) {
    const n = readName(t, m.name, m.namelen);
    if (n.pid !== 0) throw new SysError(Errno.ECONNREFUSED);
  }
  const total = Math.min(m.iov.reduce((a, [, l]) => a + l, 0), s.sndbuf);
  const data = new Uint8Array(total);
  let o = 0;
  for (const [base, len] of m.iov) {
    const k = Math.min(len, total - o);
    if (k > 0) data.set(t.mm.copyIn(base, k), o);
    o += k;
  }
  return s.send(t, data);
}

async function recvmsg(t: Task, s: NetlinkSocket): Promise<number> {
  const addr = argPtr(t, 1);
  const flags = argInt(t, 2);
  const m = readMsgHdr(t, addr);
  const d = await s.recv(t, flags);
  let o = 0;
  for (const [base, len] of m.iov) {
    if (o >= d.length) break;
    const k = Math.min(len, d.length - o);
    t.mm.copyOut(base, d.subarray(o, o + k));
    o += k;
  }
  copyOutMsgResult(t, addr, m, 0, o < d.length ? MSG_TRUNC : 0, encodeName(0, 0));
  return flags & MSG_TRUNC ? d.length : o;
}

function getsockopt(t: Task, s: NetlinkSocket): number {
  const level = argInt(t, 1), name = argInt(t, 2);
  const have = copyInSocklen(t, argPtr(t, 4));
  let v: number;
  if (level === SOL_SOCKET) {
    const values: Record<number, number> = {
      [SO_SNDBUF]: s.sndbuf,
      [SO_RCVBUF]: s.rcvbuf,
      [SO_TYPE]: s.type,
      [SO_PROTOCOL]: NETLINK_ROUTE,
      [SO_DOMAIN]: AF_NETLINK,
    };
    if (!(name in values)) throw new SysError(Errno.ENOPROTOOPT);
    v = values[name];
  } else if (level === SOL_NETLINK) {
    v = 0;
  } else {
    throw new SysError(Errno.ENOPROTOOPT);
  }
  copyOutOptval(t, argPtr(t, 3), argPtr(t, 4), have, encodeIntOpt(v));
  return 0;
}

/** Buffer sizes are kept; the netlink options iproute2 sets (ext ack, strict checks) too. */
function setsockopt(t: Task, s: NetlinkSocket): number {
  const level = argInt(t, 1), name = argInt(t, 2);
  if (argInt(t, 4) < 4) throw new SysError(Errno.EINVAL);
  const v = decodeIntOpt(t.mm.copyIn(argPtr(t, 3), 4))!;
  if (level === SOL_SOCKET) {
    if (name === SO_SNDBUF) s.sndbuf = Math.max(4608, Math.min(v >>> 0, 212992) * 2);
    else if (name === SO_RCVBUF) s.rcvbuf = Math.max(2304, Math.min(v >>> 0, 212992) * 2);
    return 0;
  }
  if (level === SOL_NETLINK) return 0;
  throw new SysError(Errno.ENOPROTOOPT);
}

/** The handlers, by syscall name, for a descriptor that is a NetlinkSocket. */
export const netlinkHandlers: Record<
  string,
  (t: Task, s: NetlinkSocket) => number | Promise<number>
> = {
  bind,
  connect,
  getsockname,
  getpeername,
  sendto,
  recvfrom,
  sendmsg,
  recvmsg,
  getsockopt,
  setsockopt,
};
