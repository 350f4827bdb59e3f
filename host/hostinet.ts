/**
 * Host TCP/IP sockets for --network=host: the calls the Sentry makes on the host sockets that
 * stand for the application's AF_INET and AF_INET6 sockets (sentry/net/host_socket.ts). Every
 * socket is non-blocking (the Sentry waits with poll, never in the host kernel) and
 * close-on-exec; every call returns the kernel's value or -errno, and takes buffers the Sentry
 * owns, never an address of the application's.
 *
 * struct msghdr (x86-64): {void *name; u32 namelen; (pad); struct iovec *iov; size_t iovlen;
 * void *control; size_t controllen; int flags} (56 bytes); struct iovec {void *base;
 * size_t len} (16).
 *
 * @module
 */

import { rawSyscall } from "./libc.ts";
import { addr } from "./socket.ts";

const SYS_socket = 41;
const SYS_connect = 42;
const SYS_sendmsg = 46;
const SYS_recvmsg = 47;
const SYS_shutdown = 48;
const SYS_bind = 49;
const SYS_listen = 50;
const SYS_getsockname = 51;
const SYS_getpeername = 52;
const SYS_setsockopt = 54;
const SYS_getsockopt = 55;
const SYS_accept4 = 288;
const SYS_ioctl = 16;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
/** struct msghdr's size on x86-64 (see the module's comment). */
const MSGHDR_SIZE = 56;

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_ICMPV6 = 58;

/**
 * The host sockets the Sentry makes (socket(2)'s family, base type and protocol): TCP, UDP and
 * ping sockets (ICMP echo over SOCK_DGRAM, which the host allows only to the groups of
 * net.ipv4.ping_group_range). The Sentry refuses any other before the call
 * (sentry/syscalls/sys_socket_host.ts) and its filter refuses it at the host (host/filters.ts).
 */
export const HOST_SOCKET_KINDS: readonly { family: number; type: number; protocols: number[] }[] = [
  { family: AF_INET, type: SOCK_STREAM, protocols: [0, IPPROTO_TCP] },
  { family: AF_INET, type: SOCK_DGRAM, protocols: [0, IPPROTO_UDP, IPPROTO_ICMP] },
  { family: AF_INET6, type: SOCK_STREAM, protocols: [0, IPPROTO_TCP] },
  { family: AF_INET6, type: SOCK_DGRAM, protocols: [0, IPPROTO_UDP, IPPROTO_ICMPV6] },
];

/** Longest socket address (sockaddr_storage). */
export const SOCKADDR_MAX = 128;

const n = (r: bigint) => Number(r);

/** socket(2): a non-blocking, close-on-exec socket of domain and base type. */
export function hostSocket(domain: number, type: number, protocol: number): number {
  return n(rawSyscall(
    SYS_socket,
    BigInt(domain),
    BigInt(type | SOCK_NONBLOCK | SOCK_CLOEXEC),
    BigInt(protocol),
  ));
}

export function hostBind(fd: number, sa: Uint8Array<ArrayBuffer>): number {
  return n(rawSyscall(SYS_bind, BigInt(fd), addr(sa), BigInt(sa.length)));
}

export function hostConnect(fd: number, sa: Uint8Array<ArrayBuffer>): number {
  return n(rawSyscall(SYS_connect, BigInt(fd), addr(sa), BigInt(sa.length)));
}

export function hostListen(fd: number, backlog: number): number {
  return n(rawSyscall(SYS_listen, BigInt(fd), BigInt(backlog)));
}

export function hostShutdown(fd: number, how: number): number {
  return n(rawSyscall(SYS_shutdown, BigInt(fd), BigInt(how)));
}

/** The address a name call (getsockname, getpeername, accept4) returns, or -errno. */
export interface NameResult {
  r: number;
  sa: Uint8Array;
}

function nameCall(nr: number, fd: number, extra: bigint | null): NameResult {
  const sa = new Uint8Array(SOCKADDR_MAX);
  const len = new Uint32Array([SOCKADDR_MAX]);
  const lenBytes = new Uint8Array(len.buffer);
  const r = extra === null
    ? rawSyscall(nr, BigInt(fd), addr(sa), addr(lenBytes))
    : rawSyscall(nr, BigInt(fd), addr(sa), addr(lenBytes), extra);
  return { r: n(r), sa: sa.subarray(0, Math.min(len[0], SOCKADDR_MAX)) };
}

export function hostGetsockname(fd: number): NameResult {
  return nameCall(SYS_getsockname, fd, null);
}

export function hostGetpeername(fd: number): NameResult {
  return nameCall(SYS_getpeername, fd, null);
}

/** accept4(2) without waiting: the new socket is non-blocking and close-on-exec too. */
export function hostAccept(fd: number): NameResult {
  return nameCall(SYS_accept4, fd, BigInt(SOCK_NONBLOCK | SOCK_CLOEXEC));
}

/**
 * sendmsg(2) of one buffer without waiting and without SIGPIPE (the Sentry raises it for the
 * task), to `to` or the connected peer, with the control messages in `control` (the Sentry's
 * own copy, already checked: sentry/net/host_cmsg.ts).
 */
export function hostSendmsg(
  fd: number,
  data: Uint8Array<ArrayBuffer>,
  flags: number,
  to: Uint8Array<ArrayBuffer> | null,
  control: Uint8Array<ArrayBuffer> | null = null,
): number {
  const iov = new BigUint64Array([addr(data), BigInt(data.length)]);
  const iovBytes = new Uint8Array(iov.buffer);
  const hdr = new Uint8Array(MSGHDR_SIZE);
  const v = new DataView(hdr.buffer);
  if (to) {
    v.setBigUint64(0, addr(to), true);
    v.setUint32(8, to.length, true);
  }
  v.setBigUint64(16, addr(iovBytes), true);
  v.setBigUint64(24, 1n, true);
  if (control && control.length > 0) {
    v.setBigUint64(32, addr(control), true);
    v.setBigUint64(40, BigInt(control.length), true);
  }
  // SAFETY: hdr holds the addresses of to, iovBytes, data and control, all alive until this
  // synchronous call returns.
  return n(rawSyscall(
    SYS_sendmsg,
    BigInt(fd),
    addr(hdr),
    BigInt(flags | MSG_DONTWAIT | MSG_NOSIGNAL),
  ));
}

/**
 * What one receive gave: bytes (or -errno), the sender's address, msg_flags, and the control
 * messages the host wrote (for the Sentry to filter before any reaches the application).
 */
export interface RecvResult {
  r: number;
  from: Uint8Array;
  flags: number;
  control: Uint8Array;
}

/**
 * recvmsg(2) into buf without waiting, with room for `controlSpace` bytes of control messages
 * (the host truncates them to it and sets MSG_CTRUNC as for the application). Descriptors
 * passed in one (impossible on an IP socket) would be close-on-exec (MSG_CMSG_CLOEXEC).
 */
export function hostRecv(
  fd: number,
  buf: Uint8Array<ArrayBuffer>,
  flags: number,
  controlSpace = 0,
): RecvResult {
  const name = new Uint8Array(SOCKADDR_MAX);
  const iov = new BigUint64Array([addr(buf), BigInt(buf.length)]);
  const iovBytes = new Uint8Array(iov.buffer);
  const control = new Uint8Array(controlSpace);
  const hdr = new Uint8Array(MSGHDR_SIZE);
  const v = new DataView(hdr.buffer);
  v.setBigUint64(0, addr(name), true);
  v.setUint32(8, SOCKADDR_MAX, true);
  v.setBigUint64(16, addr(iovBytes), true);
  v.setBigUint64(24, 1n, true);
  if (controlSpace > 0) {
    v.setBigUint64(32, addr(control), true);
    v.setBigUint64(40, BigInt(controlSpace), true);
  }
  // SAFETY: hdr holds the addresses of name, iovBytes, buf and control, all alive until this
  // returns.
  const r = n(rawSyscall(
    SYS_recvmsg,
    BigInt(fd),
    addr(hdr),
    BigInt(flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC),
  ));
  const nameLen = Math.min(v.getUint32(8, true), SOCKADDR_MAX);
  const controlLen = r >= 0 ? Math.min(Number(v.getBigUint64(40, true)), controlSpace) : 0;
  return {
    r,
    from: name.subarray(0, r >= 0 ? nameLen : 0),
    flags: v.getInt32(48, true),
    control: control.subarray(0, controlLen),
  };
}

export function hostSetsockopt(
  fd: number,
  level: number,
  name: number,
  val: Uint8Array<ArrayBuffer>,
): number {
  return n(rawSyscall(
    SYS_setsockopt,
    BigInt(fd),
    BigInt(level),
    BigInt(name),
    addr(val),
    BigInt(val.length),
  ));
}

/** getsockopt(2) into a buffer of `size` bytes: -errno, or the value (cut to its length). */
export function hostGetsockopt(
  fd: number,
  level: number,
  name: number,
  size: number,
): { r: number; val: Uint8Array } {
  const val = new Uint8Array(Math.max(size, 1));
  const len = new Uint32Array([size]);
  const r = n(rawSyscall(
    SYS_getsockopt,
    BigInt(fd),
    BigInt(level),
    BigInt(name),
    addr(val),
    addr(new Uint8Array(len.buffer)),
  ));
  return { r, val: val.subarray(0, Math.min(len[0], size)) };
}

/** An ioctl that writes one int (FIONREAD, SIOCOUTQ): -errno or the value. */
export function hostIoctlInt(fd: number, request: number): { r: number; value: number } {
  const v = new Int32Array(1);
  const r = n(rawSyscall(SYS_ioctl, BigInt(fd), BigInt(request), addr(new Uint8Array(v.buffer))));
  return { r, value: v[0] };
}
