/**
 * Sockets: socket(2), socketpair(2), bind(2), listen(2), accept(2), accept4(2), connect(2),
 * getsockname(2), getpeername(2), sendto(2), recvfrom(2), sendmsg(2), recvmsg(2),
 * shutdown(2), getsockopt(2), setsockopt(2). Only AF_UNIX exists inside the sandbox so far.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import {
  boundAt,
  SOCK_DGRAM,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  type UnixAddress,
  UnixNamespace,
  UnixSocket,
} from "../fs/unix.ts";
import { decRef } from "../vfs/fd_table.ts";
import { type FileDescription, O_NONBLOCK } from "../vfs/file.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { checkPermission, credsOf, MAY_WRITE, S_IFMT, S_IFSOCK } from "../vfs/inode.ts";
import { accessOk, argInt, argPtr, argSize, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { readTimespec } from "./sys_time.ts";
import { AT_FDCWD, contextAt } from "./paths.ts";
import type { SyscallDef } from "./table.ts";
import { inetHandlers, inetSocket, isInetDomain } from "./sys_socket_inet.ts";
import { InetSocket } from "../net/socket.ts";
import { HostSocket } from "../net/host_socket.ts";
import { hostInetHandlers } from "./sys_socket_host.ts";
import { netlinkHandlers, netlinkSocket } from "./sys_socket_netlink.ts";
import { AF_NETLINK, NetlinkSocket } from "../net/netlink.ts";
import { decodeBytes, encodeBytes } from "../../host/utf8b.ts";
import { array, decodeValue, encodeValue, i32 } from "../../abi/linux/layout.ts";
import {
  AF_UNIX,
  cmsgAlign,
  Cmsghdr,
  decodeIntOpt,
  encodeIntOpt,
  Mmsghdr,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_TRUNC,
  MSG_WAITFORONE,
  Msghdr,
  SCM_CREDENTIALS,
  SCM_MAX_FD,
  SCM_RIGHTS,
  SO_ACCEPTCONN,
  SO_DOMAIN,
  SO_ERROR,
  SO_PASSCRED,
  SO_PEERCRED,
  SO_PROTOCOL,
  SO_RCVBUF,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SockaddrFamily,
  SOL_SOCKET,
  Ucred,
  UNIX_PATH_MAX,
} from "../../abi/linux/socket.ts";
import { Timespec, timespecFromNs } from "../../abi/linux/time.ts";
import { Iovec, UIO_MAXIOV } from "../../abi/linux/uio.ts";
import { copyInSocklen, copyOutAddress, copyOutMsgResult, copyOutOptval } from "./socket_copy.ts";

function sockOf(t: Task, fd: number): UnixSocket {
  const f = t.fdTable.get(fd);
  if (!(f instanceof UnixSocket)) throw new SysError(Errno.ENOTSOCK);
  return f;
}

function credsFor(t: Task) {
  return { pid: t.tg.pid, uid: t.tg.uid, gid: t.tg.gid };
}

function newSocket(t: Task, domain: number, type: number, protocol: number): UnixSocket {
  if (domain !== AF_UNIX) throw new SysError(Errno.EAFNOSUPPORT);
  const base = type & 0xf;
  if (type & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC)) throw new SysError(Errno.EINVAL);
  if (base !== SOCK_STREAM && base !== SOCK_DGRAM && base !== SOCK_SEQPACKET) {
    throw new SysError(Errno.ESOCKTNOSUPPORT);
  }
  if (protocol !== 0 && protocol !== AF_UNIX) throw new SysError(Errno.EPROTONOSUPPORT);
  return new UnixSocket(base, type & SOCK_NONBLOCK, credsFor(t));
}

/** Implements Linux syscall socket(2). */
function socket(t: Task): number {
  const type = argInt(t, 1);
  if (isInetDomain(argInt(t, 0))) return inetSocket(t, argInt(t, 0), type, argInt(t, 2));
  if (argInt(t, 0) === AF_NETLINK) return netlinkSocket(t, type, argInt(t, 2));
  const s = newSocket(t, argInt(t, 0), type, argInt(t, 2));
  return t.fdTable.install(s, (type & SOCK_CLOEXEC) !== 0);
}

/** Implements Linux syscall socketpair(2). */
function socketpair(t: Task): number {
  const type = argInt(t, 1);
  if (isInetDomain(argInt(t, 0))) throw new SysError(Errno.EOPNOTSUPP);
  const a = newSocket(t, argInt(t, 0), type, argInt(t, 2));
  const b = newSocket(t, argInt(t, 0), type, argInt(t, 2));
  UnixSocket.pair(a, b);
  const cloexec = (type & SOCK_CLOEXEC) !== 0;
  const fa = t.fdTable.install(a, cloexec);
  const fb = t.fdTable.install(b, cloexec);
  try {
    t.mm.copyOut(argPtr(t, 3), encodeValue(array(i32, 2), [fa, fb]));
  } catch (e) {
    t.fdTable.close(fa);
    t.fdTable.close(fb);
    throw e;
  }
  return 0;
}

/** Reads a sockaddr_un. */
function readAddress(t: Task, addr: bigint, len: number): UnixAddress {
  if (len < 2 || len > 2 + UNIX_PATH_MAX) throw new SysError(Errno.EINVAL);
  const raw = t.mm.copyIn(addr, len);
  if (SockaddrFamily.decode(raw).family !== AF_UNIX) throw new SysError(Errno.EINVAL);
  if (len === 2) return { kind: "none" };
  const p = raw.subarray(2);
  if (p[0] === 0) return { kind: "abstract", name: p.slice(1) };
  const end = p.indexOf(0);
  const path = decodeBytes(end < 0 ? p : p.subarray(0, end));
  return { kind: "path", path };
}

/** Encodes a sockaddr_un for getsockname and friends. */
function encodeAddress(a: UnixAddress): Uint8Array {
  let body: Uint8Array;
  if (a.kind === "path") {
    const p = encodeBytes(a.path);
    body = new Uint8Array(p.length + 1);
    body.set(p);
  } else if (a.kind === "abstract") {
    body = new Uint8Array(a.name.length + 1);
    body.set(a.name, 1);
  } else {
    body = new Uint8Array(0);
  }
  const out = new Uint8Array(SockaddrFamily.size + body.length);
  SockaddrFamily.encodeInto(out, 0, { family: AF_UNIX });
  out.set(body, SockaddrFamily.size);
  return out;
}

/** A received message's source address; null when the sender has none (length 0 on Linux). */
function senderAddress(a: UnixAddress): Uint8Array | null {
  return a.kind === "none" ? null : encodeAddress(a);
}

/** Writes an address to (addr, *lenAddr) as accept/getsockname do. */
function writeAddress(t: Task, addr: bigint, lenAddr: bigint, a: UnixAddress): void {
  copyOutAddress(t, addr, lenAddr, encodeAddress(a));
}

/** The socket an address names, for connect and sendto. */
function lookup(t: Task, a: UnixAddress): UnixSocket {
  if (a.kind === "abstract") {
    const key = Array.from(a.name, (b) => b.toString(16).padStart(2, "0")).join("");
    const s = UnixNamespace.of(t.kernel).abstract.get(key);
    if (!s) throw new SysError(Errno.ECONNREFUSED);
    return s;
  }
  if (a.kind === "none") throw new SysError(Errno.EINVAL);
  const vd = t.kernel.vfs.resolve(contextAt(t, AT_FDCWD, a.path), a.path, { follow: true });
  if ((vd.inode.mode & S_IFMT) !== S_IFSOCK) throw new SysError(Errno.ECONNREFUSED);
  checkPermission(credsOf(t), vd.inode, MAY_WRITE);
  const s = boundAt(vd.inode);
  if (!s) throw new SysError(Errno.ECONNREFUSED);
  return s;
}

let autobindSeq = 0;

/** Implements Linux syscall bind(2). */
function bind(t: Task): number {
  const s = sockOf(t, argInt(t, 0));
  let a = readAddress(t, argPtr(t, 1), argInt(t, 2));
  const ns = UnixNamespace.of(t.kernel);
  if (a.kind === "none") {
    // Autobind: a fresh abstract name of five hex digits.
    const name = new TextEncoder().encode((autobindSeq++ & 0xfffff).toString(16).padStart(5, "0"));
    a = { kind: "abstract", name };
  }
  if (a.kind === "path") {
    if (s.address.kind !== "none") throw new SysError(Errno.EINVAL);
    let ino;
    try {
      ino = t.kernel.vfs.mknod(
        contextAt(t, AT_FDCWD, a.path),
        a.path,
        S_IFSOCK | 0o777,
        0,
        FsContext.of(t.tg).umask,
      );
    } catch (e) {
      if (e instanceof SysError && e.errno === Errno.EEXIST) throw new SysError(Errno.EADDRINUSE);
      throw e;
    }
    // Socket files of every filesystem keep the bound socket in `endpoint`.
    const holder = ino as { endpoint?: unknown };
    if ("endpoint" in holder) holder.endpoint = s;
    s.bind(ns, a, () => {
      if (holder.endpoint === s) holder.endpoint = null;
    });
    return 0;
  }
  s.bind(ns, a);
  return 0;
}

/** Implements Linux syscall listen(2). */
function listen(t: Task): number {
  sockOf(t, argInt(t, 0)).listen(argInt(t, 1));
  return 0;
}

async function acceptCommon(t: Task, flags: number): Promise<number> {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) throw new SysError(Errno.EINVAL);
  const s = sockOf(t, argInt(t, 0));
  if (s.type === SOCK_DGRAM) throw new SysError(Errno.EOPNOTSUPP);
  const c = await s.accept(t, () => t.fdTable.checkFree());
  c.flags = (c.flags & ~O_NONBLOCK) | (flags & SOCK_NONBLOCK);
  const fd = t.fdTable.install(c, (flags & SOCK_CLOEXEC) !== 0);
  writeAddress(t, argPtr(t, 1), argPtr(t, 2), c.peer?.address ?? { kind: "none" });
  return fd;
}

/** Implements Linux syscall connect(2). */
async function connect(t: Task): Promise<number> {
  const s = sockOf(t, argInt(t, 0));
  const a = readAddress(t, argPtr(t, 1), argInt(t, 2));
  await s.connect(t, lookup(t, a));
  return 0;
}

/** Implements Linux syscall getsockname(2). */
function getsockname(t: Task): number {
  const s = sockOf(t, argInt(t, 0));
  writeAddress(t, argPtr(t, 1), argPtr(t, 2), s.address);
  return 0;
}

/** Implements Linux syscall getpeername(2). */
function getpeername(t: Task): number {
  const s = sockOf(t, argInt(t, 0));
  if (!s.peer || s.peer.closed) throw new SysError(Errno.ENOTCONN);
  writeAddress(t, argPtr(t, 1), argPtr(t, 2), s.peer.address);
  return 0;
}

/** Implements Linux syscall shutdown(2). */
function shutdown(t: Task): number {
  const how = argInt(t, 1);
  if (how < 0 || how > 2) throw new SysError(Errno.EINVAL);
  sockOf(t, argInt(t, 0)).shutdown(how);
  return 0;
}

/** Implements Linux syscall sendto(2) (and send(2)). */
function sendto(t: Task): Promise<number> {
  const s = sockOf(t, argInt(t, 0));
  accessOk(t, argPtr(t, 1), argPtr(t, 2));
  const data = t.mm.copyIn(argPtr(t, 1), argSize(t, 2));
  const flags = argInt(t, 3);
  const to = argPtr(t, 4) !== 0n ? lookup(t, readAddress(t, argPtr(t, 4), argInt(t, 5))) : null;
  return s.send(t, data, [], flags, to);
}

/** Implements Linux syscall recvfrom(2) (and recv(2)). */
async function recvfrom(t: Task): Promise<number> {
  const s = sockOf(t, argInt(t, 0));
  const buf = argPtr(t, 1);
  accessOk(t, buf, argPtr(t, 2));
  const flags = argInt(t, 3);
  const r = await s.recv(t, argSize(t, 2), flags);
  for (const f of r.rights) decRef(f);
  t.mm.copyOut(buf, r.data.subarray(0, r.n));
  copyOutAddress(t, argPtr(t, 4), argPtr(t, 5), senderAddress(r.from) ?? new Uint8Array(0));
  return flags & MSG_TRUNC ? r.full : r.n;
}

export interface MsgHdr {
  name: bigint;
  namelen: number;
  iov: [bigint, number][];
  control: bigint;
  controllen: number;
}

export function readMsgHdr(t: Task, addr: bigint): MsgHdr {
  const h = Msghdr.decode(t.mm.copyIn(addr, Msghdr.size));
  if (h.iovlen > BigInt(UIO_MAXIOV)) throw new SysError(Errno.EMSGSIZE);
  const iovlen = Number(h.iovlen);
  const iov: [bigint, number][] = [];
  if (iovlen > 0) {
    const raw = t.mm.copyIn(h.iov, iovlen * Iovec.size);
    for (const { base, len } of Iovec.decodeArray(raw, iovlen)) {
      if (len < 0n) throw new SysError(Errno.EINVAL);
      iov.push([base, Number(len)]);
    }
  }
  return {
    name: h.name,
    namelen: h.namelen,
    iov,
    control: h.control,
    controllen: Number(h.controllen),
  };
}

/** Implements Linux syscall sendmsg(2). */
function sendmsg(t: Task): Promise<number> {
  return sendmsgAt(t, sockOf(t, argInt(t, 0)), argPtr(t, 1), argInt(t, 2));
}

/**
 * The most control bytes a send takes: Linux copies them into socket memory, which
 * net.core.optmem_max bounds (ENOBUFS beyond).
 */
export const OPTMEM_MAX = 131072;

function sendmsgAt(t: Task, s: UnixSocket, hdr: bigint, flags: number): Promise<number> {
  const m = readMsgHdr(t, hdr);
  if (m.controllen > OPTMEM_MAX) throw new SysError(Errno.ENOBUFS);
  const total = m.iov.reduce((a, [, l]) => a + l, 0);
  const data = new Uint8Array(total);
  let o = 0;
  for (const [base, len] of m.iov) {
    if (len) data.set(t.mm.copyIn(base, len), o);
    o += len;
  }
  const rights: FileDescription[] = [];
  if (m.controllen > 0) {
    const c = t.mm.copyIn(m.control, m.controllen);
    let off = 0;
    while (off + Cmsghdr.size <= c.length) {
      const h = Cmsghdr.decode(c, off);
      if (h.len < BigInt(Cmsghdr.size) || BigInt(off) + h.len > BigInt(c.length)) {
        throw new SysError(Errno.EINVAL);
      }
      const len = Number(h.len);
      const data = off + Cmsghdr.size;
      if (h.level !== SOL_SOCKET) throw new SysError(Errno.EINVAL);
      if (h.type === SCM_RIGHTS) {
        const n = Math.floor((len - Cmsghdr.size) / 4);
        if (rights.length + n > SCM_MAX_FD) throw new SysError(Errno.EINVAL);
        for (let i = 0; i < n; i++) rights.push(t.fdTable.get(decodeValue(i32, c, data + i * 4)));
      } else if (h.type === SCM_CREDENTIALS) {
        if (len < Cmsghdr.size + Ucred.size) throw new SysError(Errno.EINVAL);
        const { pid, uid, gid } = Ucred.decode(c, data);
        if (t.tg.uid !== 0 && (pid !== t.tg.pid || uid !== t.tg.uid || gid !== t.tg.gid)) {
          throw new SysError(Errno.EPERM);
        }
      } else {
        throw new SysError(Errno.EINVAL);
      }
      off += cmsgAlign(len);
    }
  }
  const to = m.name !== 0n && m.namelen > 0 ? lookup(t, readAddress(t, m.name, m.namelen)) : null;
  return s.send(t, data, rights, flags, to);
}

/** Implements Linux syscall recvmsg(2). */
function recvmsg(t: Task): Promise<number> {
  return recvmsgAt(t, sockOf(t, argInt(t, 0)), argPtr(t, 1), argInt(t, 2));
}

async function recvmsgAt(t: Task, s: UnixSocket, addr: bigint, flags: number): Promise<number> {
  const m = readMsgHdr(t, addr);
  const max = m.iov.reduce((a, [, l]) => a + l, 0);
  const r = await s.recv(t, max, flags);
  let o = 0;
  for (const [base, len] of m.iov) {
    if (o >= r.n) break;
    const k = Math.min(len, r.n - o);
    t.mm.copyOut(base, r.data.subarray(o, o + k));
    o += k;
  }
  let outFlags = r.full > r.n ? MSG_TRUNC : 0;
  // Control messages: credentials when asked for, then the passed descriptors.
  const ctl: number[] = [];
  const credLen = Cmsghdr.size + Ucred.size;
  // Sized by what can be written, not by the application's msg_controllen (any u64).
  const most = cmsgAlign(credLen) + cmsgAlign(Cmsghdr.size + 4 * r.rights.length);
  const cbuf = new Uint8Array(Math.max(0, Math.min(m.controllen, most)));
  let used = 0;
  if (s.passcred && r.creds) {
    // As Linux: a message that does not fit whole is cut to the room left (its cmsg_len
    // says so) with MSG_CTRUNC, unless not even its header fits; the padding after a whole
    // one is counted only as far as the room goes.
    const room = cbuf.length - used;
    if (room < Cmsghdr.size) {
      outFlags |= MSG_CTRUNC;
    } else {
      const len = Math.min(credLen, room);
      if (len < credLen) outFlags |= MSG_CTRUNC;
      const whole = new Uint8Array(credLen);
      Cmsghdr.encodeInto(whole, 0, { len: BigInt(len), level: SOL_SOCKET, type: SCM_CREDENTIALS });
      Ucred.encodeInto(whole, Cmsghdr.size, r.creds);
      cbuf.set(whole.subarray(0, len), used);
      used += Math.min(cmsgAlign(credLen), room);
    }
  }
  if (r.rights.length > 0) {
    const room = Math.floor((cbuf.length - used - Cmsghdr.size) / 4);
    const fit = Math.max(0, Math.min(room, r.rights.length));
    if (fit < r.rights.length) outFlags |= MSG_CTRUNC;
    for (let i = 0; i < r.rights.length; i++) {
      if (i < fit) ctl.push(t.fdTable.install(r.rights[i], (flags & MSG_CMSG_CLOEXEC) !== 0));
      decRef(r.rights[i]);
    }
    if (fit > 0) {
      const len = Cmsghdr.size + 4 * fit;
      Cmsghdr.encodeInto(cbuf, used, { len: BigInt(len), level: SOL_SOCKET, type: SCM_RIGHTS });
      cbuf.set(encodeValue(array(i32, fit), ctl), used + Cmsghdr.size);
      used += cmsgAlign(len);
      used = Math.min(used, cbuf.length);
    }
  }
  if (used > 0) t.mm.copyOut(m.control, cbuf.subarray(0, used));
  copyOutMsgResult(t, addr, m, used, outFlags, senderAddress(r.from));
  return flags & MSG_TRUNC ? r.full : r.n;
}

/** Implements Linux syscall sendmmsg(2): sends each mmsghdr until one fails. */
function sendmmsg(t: Task): Promise<number> {
  const s = sockOf(t, argInt(t, 0));
  return sendEachMmsg(t, (hdr, flags) => sendmsgAt(t, s, hdr, flags));
}

/**
 * sendmmsg(2) for any socket family: `send` sends the msghdr at an address; the count of each
 * goes into its mmsghdr. Stops at the first failure, which is the call's only if none was sent.
 */
export async function sendEachMmsg(
  t: Task,
  send: (hdr: bigint, flags: number) => Promise<number>,
): Promise<number> {
  const vec = argPtr(t, 1);
  const n = Math.min(argU32(t, 2), 1024);
  const flags = argInt(t, 3);
  let done = 0;
  for (; done < n; done++) {
    const hdr = vec + BigInt(done * Mmsghdr.size);
    let sent: number;
    try {
      sent = await send(hdr, flags);
    } catch (e) {
      if (done > 0) break;
      throw e;
    }
    t.mm.writeU32(hdr + BigInt(Mmsghdr.offsetOf("len")), sent);
  }
  return done;
}

/** Implements Linux syscall recvmmsg(2). */
function recvmmsg(t: Task): Promise<number> {
  const s = sockOf(t, argInt(t, 0));
  return recvEachMmsg(t, (hdr, flags) => recvmsgAt(t, s, hdr, flags));
}

/** recvmmsg(2) for any socket family: `recv` receives into the msghdr at an address. */
export async function recvEachMmsg(
  t: Task,
  recv: (hdr: bigint, flags: number) => Promise<number>,
): Promise<number> {
  const vec = argPtr(t, 1);
  const n = Math.min(argU32(t, 2), 1024);
  let flags = argInt(t, 3);
  // As on Linux, the timeout is looked at after each message received (it cannot cut short
  // the wait for one), and what is left of it is written back.
  const tsAddr = argPtr(t, 4);
  const deadline = tsAddr === 0n ? null : performance.now() + readTimespec(t, tsAddr);
  let done = 0;
  for (; done < n; done++) {
    const hdr = vec + BigInt(done * Mmsghdr.size);
    let got: number;
    try {
      got = await recv(hdr, flags);
    } catch (e) {
      if (done > 0) break;
      throw e;
    }
    t.mm.writeU32(hdr + BigInt(Mmsghdr.offsetOf("len")), got);
    if (flags & MSG_WAITFORONE) flags |= MSG_DONTWAIT;
    if (deadline !== null && performance.now() >= deadline) {
      done++;
      break;
    }
  }
  if (deadline !== null) {
    const left = BigInt(Math.max(0, Math.floor((deadline - performance.now()) * 1e6)));
    t.mm.copyOut(tsAddr, Timespec.encode(timespecFromNs(left)));
  }
  return done;
}

/** Implements Linux syscall getsockopt(2) for SOL_SOCKET basics. */
function getsockopt(t: Task): number {
  const s = sockOf(t, argInt(t, 0));
  const level = argInt(t, 1), name = argInt(t, 2);
  const valAddr = argPtr(t, 3), lenAddr = argPtr(t, 4);
  const have = copyInSocklen(t, lenAddr);
  if (level !== SOL_SOCKET) throw new SysError(Errno.ENOPROTOOPT);
  let out: Uint8Array;
  const int = encodeIntOpt;
  switch (name) {
    case SO_TYPE:
      out = int(s.type);
      break;
    case SO_ERROR:
      out = int(0);
      break;
    case SO_SNDBUF:
      out = int(s.sndbuf);
      break;
    case SO_RCVBUF:
      out = int(s.rcvbuf);
      break;
    case SO_PASSCRED:
      out = int(s.passcred ? 1 : 0);
      break;
    case SO_ACCEPTCONN:
      out = int(s.listening ? 1 : 0);
      break;
    case SO_PROTOCOL:
      out = int(0);
      break;
    case SO_DOMAIN:
      out = int(AF_UNIX);
      break;
    case SO_PEERCRED: {
      out = Ucred.encode(s.peer?.creds ?? { pid: 0, uid: -1 >>> 0, gid: -1 >>> 0 });
      break;
    }
    default:
      out = int(0);
  }
  copyOutOptval(t, valAddr, lenAddr, have, out);
  return 0;
}

/** Implements Linux syscall setsockopt(2) for SOL_SOCKET basics. */
function setsockopt(t: Task): number {
  const s = sockOf(t, argInt(t, 0));
  const level = argInt(t, 1), name = argInt(t, 2);
  const len = argU32(t, 4);
  if (level !== SOL_SOCKET) throw new SysError(Errno.ENOPROTOOPT);
  if (len < 4) throw new SysError(Errno.EINVAL);
  const v = decodeIntOpt(t.mm.copyIn(argPtr(t, 3), 4))!;
  switch (name) {
    case SO_PASSCRED:
      s.passcred = v !== 0;
      break;
    case SO_SNDBUF:
      s.sndbuf = Math.max(4608, Math.min(v, 1 << 24) * 2);
      break;
    case SO_RCVBUF:
      s.rcvbuf = Math.max(2304, Math.min(v, 1 << 24) * 2);
      break;
  }
  return 0;
}

/**
 * Hands the call to sys_socket_inet.ts or sys_socket_netlink.ts when the descriptor is an
 * AF_INET/AF_INET6 or AF_NETLINK socket.
 */
function withInet(
  name: string,
  unix: (t: Task) => number | Promise<number>,
): (t: Task) => number | Promise<number> {
  return (t) => {
    const f = t.fdTable.get(argInt(t, 0));
    // Looked up per call: the modules import each other.
    if (f instanceof InetSocket) return inetHandlers[name](t, f);
    if (f instanceof HostSocket) return hostInetHandlers[name](t, f);
    if (f instanceof NetlinkSocket) {
      const h = netlinkHandlers[name];
      if (!h) throw new SysError(Errno.EOPNOTSUPP);
      return h(t, f);
    }
    return unix(t);
  };
}

export const syscalls: Record<string, SyscallDef> = {
  socket: {
    handler: socket,
    support: "partial",
    note: "AF_UNIX; AF_INET/AF_INET6 (TCP, UDP) on the Sentry's stack (loopback, and the " +
      "interfaces taken over with --network=sandbox), or host sockets with --network=host; " +
      "AF_NETLINK (NETLINK_ROUTE queries)",
    args: ["d", "x", "d"],
  },
  socketpair: { handler: socketpair, args: ["d", "x", "d", "x"] },
  bind: { handler: withInet("bind", bind), args: ["d", "x", "d"] },
  listen: { handler: withInet("listen", listen), args: ["d", "d"] },
  accept: { handler: withInet("accept", (t) => acceptCommon(t, 0)), args: ["d", "x", "x"] },
  accept4: {
    handler: withInet("accept4", (t) => acceptCommon(t, argInt(t, 3))),
    args: ["d", "x", "x", "x"],
  },
  connect: { handler: withInet("connect", connect), args: ["d", "x", "d"] },
  getsockname: { handler: withInet("getsockname", getsockname), args: ["d", "x", "x"] },
  getpeername: { handler: withInet("getpeername", getpeername), args: ["d", "x", "x"] },
  shutdown: { handler: withInet("shutdown", shutdown), args: ["d", "d"] },
  sendto: { handler: withInet("sendto", sendto), args: ["d", "b", "d", "x", "x", "d"] },
  recvfrom: { handler: withInet("recvfrom", recvfrom), args: ["d", "x", "d", "x", "x", "x"] },
  sendmsg: { handler: withInet("sendmsg", sendmsg), args: ["d", "x", "x"] },
  recvmsg: { handler: withInet("recvmsg", recvmsg), args: ["d", "x", "x"] },
  sendmmsg: { handler: withInet("sendmmsg", sendmmsg), args: ["d", "x", "d", "x"] },
  recvmmsg: {
    handler: withInet("recvmmsg", recvmmsg),
    args: ["d", "x", "d", "x", "x"],
  },
  getsockopt: {
    handler: withInet("getsockopt", getsockopt),
    support: "partial",
    note: "SOL_SOCKET basics",
    args: ["d", "d", "d", "x", "x"],
  },
  setsockopt: {
    handler: withInet("setsockopt", setsockopt),
    support: "partial",
    note: "SOL_SOCKET basics; unknown options are accepted and ignored",
    args: ["d", "d", "d", "x", "d"],
  },
};
