/**
 * sendmsg(2)/recvmsg(2) on Unix sockets with SCM_RIGHTS, through FFI: the Gofer donates host
 * file descriptors to the Sentry this way.
 *
 * Struct layouts are x86-64 Linux (glibc):
 *
 * ```
 * struct iovec   { void *iov_base; size_t iov_len; }                          // 16 bytes
 * struct msghdr  { void *msg_name; socklen_t msg_namelen; (pad 4)             // 0, 8
 *                  struct iovec *msg_iov; size_t msg_iovlen;                  // 16, 24
 *                  void *msg_control; size_t msg_controllen; int msg_flags; } // 32, 40, 48; 56 bytes
 * struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; data... } // data at 16
 * ```
 *
 * @module
 */

import { Errno } from "../abi/linux/errno.ts";
import { dlopenLazy, errno, HostError, libc } from "./libc.ts";
import { decodeBytes, encodeBytes } from "./utf8b.ts";
import {
  AF_UNIX,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_NOSIGNAL,
  SCM_RIGHTS,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SOL_SOCKET,
  UNIX_PATH_MAX as SUN_PATH_SIZE,
} from "../abi/linux/socket.ts";

const sym = libc.symbols;

const MSGHDR_SIZE = 56;
const IOVEC_SIZE = 16;
const CMSG_HDR_SIZE = 16;

/** The most descriptors one message may carry (the kernel's SCM_MAX_FD is 253). */
export const MAX_FDS_PER_MESSAGE = 64;

/** CMSG_SPACE(n * sizeof(int)): a header plus n ints, padded to 8 bytes. */
function cmsgSpace(nfds: number): number {
  return CMSG_HDR_SIZE + ((nfds * 4 + 7) & ~7);
}

/** The address of `buf`'s first byte (its byteOffset included), as a bigint. */
export function addr(buf: Uint8Array<ArrayBuffer>): bigint {
  if (buf.length === 0) return 0n;
  // SAFETY: each caller puts the address in a msghdr or iovec that it passes to one synchronous
  // sendmsg or recvmsg while it still holds `buf`, so the address is valid for that call.
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** Bytes of data a call copies through the scratch area rather than pointing at the caller's. */
const SCRATCH_DATA = 64 * 1024;
const SCRATCH_CONTROL = cmsgSpace(MAX_FDS_PER_MESSAGE);

/**
 * The msghdr, iovec, control and data buffers of every sendMsg and recvMsg call, made once and
 * their addresses taken once. Making typed arrays and taking their addresses cost more than
 * the system call itself here (a 40-byte send and receive took 9 us that way, 1.4 us through
 * this area), and the Gofer's round trips are made of such calls. One ArrayBuffer this large
 * lives outside V8's heap, so its address never changes. Only the JavaScript thread calls
 * sendMsg and recvMsg, each synchronously: one area per isolate is never used twice at once.
 */
class Scratch {
  readonly bytes = new Uint8Array(
    new ArrayBuffer(MSGHDR_SIZE + IOVEC_SIZE + SCRATCH_CONTROL + SCRATCH_DATA),
  );
  readonly view = new DataView(this.bytes.buffer);
  readonly base = addr(this.bytes);
  readonly hdr = this.bytes.subarray(0, MSGHDR_SIZE);
  static readonly IOV = MSGHDR_SIZE;
  static readonly CONTROL = MSGHDR_SIZE + IOVEC_SIZE;
  static readonly DATA = Scratch.CONTROL + SCRATCH_CONTROL;
  readonly control = this.bytes.subarray(Scratch.CONTROL, Scratch.DATA);
  readonly data = this.bytes.subarray(Scratch.DATA);

  /**
   * Fills the msghdr: one iovec of `len` bytes at `dataAddr`, and `controlLen` bytes of the
   * control buffer (none when 0).
   */
  fill(dataAddr: bigint, len: number, controlLen: number): void {
    const v = this.view;
    v.setBigUint64(0, 0n, true);
    v.setBigUint64(8, 0n, true);
    v.setBigUint64(16, this.base + BigInt(Scratch.IOV), true);
    v.setBigUint64(24, 1n, true);
    v.setBigUint64(32, controlLen > 0 ? this.base + BigInt(Scratch.CONTROL) : 0n, true);
    v.setBigUint64(40, BigInt(controlLen), true);
    v.setBigUint64(48, 0n, true);
    v.setBigUint64(Scratch.IOV, len > 0 ? dataAddr : 0n, true);
    v.setBigUint64(Scratch.IOV + 8, BigInt(len), true);
  }
}

let scratchArea: Scratch | undefined;
const scratch = () => scratchArea ??= new Scratch();

/**
 * Sends `data` on socket `fd` with one sendmsg call, attaching `fds` as SCM_RIGHTS.
 * Returns the number of bytes sent (possibly fewer than `data.length`). Retries EINTR; throws
 * HostError on failure. SIGPIPE is suppressed (EPIPE is thrown instead).
 */
export function sendMsg(
  fd: number,
  data: Uint8Array<ArrayBuffer>,
  fds: readonly number[] = [],
): number {
  if (fds.length > MAX_FDS_PER_MESSAGE) {
    throw new RangeError(`host: sendmsg: ${fds.length} descriptors exceed ${MAX_FDS_PER_MESSAGE}`);
  }
  const sc = scratch();
  let controlLen = 0;
  if (fds.length > 0) {
    controlLen = cmsgSpace(fds.length);
    const c = sc.view, o = Scratch.CONTROL;
    sc.control.fill(0, 0, controlLen);
    c.setBigUint64(o, BigInt(CMSG_HDR_SIZE + fds.length * 4), true);
    c.setInt32(o + 8, SOL_SOCKET, true);
    c.setInt32(o + 12, SCM_RIGHTS, true);
    fds.forEach((f, i) => c.setInt32(o + CMSG_HDR_SIZE + i * 4, f, true));
  }
  const copied = data.length <= SCRATCH_DATA;
  if (copied) sc.data.set(data);
  sc.fill(copied ? sc.base + BigInt(Scratch.DATA) : addr(data), data.length, controlLen);
  for (;;) {
    const n = Number(sym.sendmsg(fd, sc.hdr, MSG_NOSIGNAL));
    if (n >= 0) {
      void data;
      return n;
    }
    const e = errno();
    if (e !== Errno.EINTR) throw new HostError(`sendmsg fd ${fd}`, e);
  }
}

/**
 * Sends all of `data`, attaching `fds` to the first chunk (a stream socket delivers them with
 * the first byte of that chunk).
 */
export function sendAll(
  fd: number,
  data: Uint8Array<ArrayBuffer>,
  fds: readonly number[] = [],
): void {
  let off = sendMsg(fd, data, fds);
  while (off < data.length) off += sendMsg(fd, data.subarray(off));
}

/** What one recvmsg call returned. */
export interface Received {
  /** Bytes received; 0 at end of stream. */
  n: number;
  /** Descriptors received (close-on-exec), in order. */
  fds: number[];
  /** The kernel dropped descriptors that did not fit (MSG_CTRUNC); those are lost. */
  truncatedFds: boolean;
}

/**
 * Receives into `buf` with one recvmsg call, accepting up to `maxFds` descriptors (received
 * close-on-exec). Blocks this thread. Retries EINTR; throws HostError on failure.
 */
export function recvMsg(
  fd: number,
  buf: Uint8Array<ArrayBuffer>,
  maxFds = MAX_FDS_PER_MESSAGE,
): Received {
  if (maxFds > MAX_FDS_PER_MESSAGE) {
    throw new RangeError(`host: recvmsg: ${maxFds} descriptors exceed ${MAX_FDS_PER_MESSAGE}`);
  }
  const sc = scratch();
  const copied = buf.length <= SCRATCH_DATA;
  sc.fill(
    copied ? sc.base + BigInt(Scratch.DATA) : addr(buf),
    buf.length,
    cmsgSpace(Math.max(1, maxFds)),
  );
  let n: number;
  for (;;) {
    n = Number(sym.recvmsg(fd, sc.hdr, MSG_CMSG_CLOEXEC));
    if (n >= 0) break;
    const e = errno();
    if (e !== Errno.EINTR) throw new HostError(`recvmsg fd ${fd}`, e);
  }
  void buf;
  if (copied && n > 0) buf.set(sc.data.subarray(0, n));
  const c = sc.view;
  const controlLen = Number(c.getBigUint64(40, true));
  const flags = c.getInt32(48, true);
  const fds: number[] = [];
  // Walk the cmsg chain (CMSG_FIRSTHDR/CMSG_NXTHDR) within what the kernel filled in.
  let off = 0;
  const at = Scratch.CONTROL;
  while (off + CMSG_HDR_SIZE <= controlLen) {
    const len = Number(c.getBigUint64(at + off, true));
    if (len < CMSG_HDR_SIZE || off + len > controlLen) break;
    if (
      c.getInt32(at + off + 8, true) === SOL_SOCKET &&
      c.getInt32(at + off + 12, true) === SCM_RIGHTS
    ) {
      const count = (len - CMSG_HDR_SIZE) >> 2;
      for (let i = 0; i < count; i++) fds.push(c.getInt32(at + off + CMSG_HDR_SIZE + i * 4, true));
    }
    off += (len + 7) & ~7;
  }
  return { n, fds, truncatedFds: (flags & MSG_CTRUNC) !== 0 };
}

// SAFETY: glibc's exact signatures on x86-64; sockaddr buffers are owned by the caller for the
// duration of each call.
const sockLib = dlopenLazy("libc.so.6", {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
});
const ss = sockLib.symbols;

export { SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM };

function retrySock(op: string, call: () => number): number {
  for (;;) {
    const r = call();
    if (r !== -1) return r;
    const e = errno();
    if (e !== Errno.EINTR) throw new HostError(op, e);
  }
}

/** struct sockaddr_un {sa_family u16; sun_path char[108]} for a filesystem `path`. */
function sockaddrUn(path: string): Uint8Array<ArrayBuffer> {
  const p = encodeBytes(path);
  if (p.length >= SUN_PATH_SIZE) throw new HostError(`sockaddr_un ${JSON.stringify(path)}`, 36);
  const a = new Uint8Array(2 + SUN_PATH_SIZE);
  new DataView(a.buffer).setUint16(0, AF_UNIX, true);
  a.set(p, 2);
  return a;
}

/** socket(AF_UNIX, type | SOCK_CLOEXEC, 0). */
export function unixSocket(type: number): number {
  return retrySock("socket AF_UNIX", () => ss.socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
}

/** bind(2) to filesystem `path`. */
export function bindUnix(fd: number, path: string): void {
  const a = sockaddrUn(path);
  retrySock(`bind ${JSON.stringify(path)}`, () => ss.bind(fd, a, a.length));
}

/** connect(2) to filesystem `path`. */
export function connectUnix(fd: number, path: string): void {
  const a = sockaddrUn(path);
  retrySock(`connect ${JSON.stringify(path)}`, () => ss.connect(fd, a, a.length));
}

/** listen(2). */
export function listenFd(fd: number, backlog: number): void {
  retrySock(`listen fd ${fd}`, () => ss.listen(fd, backlog));
}

/**
 * accept4(2), close-on-exec; `flags` may add SOCK_NONBLOCK. Returns the new socket and the
 * peer's bound path ("" when unbound).
 */
export function acceptUnix(fd: number, flags = 0): { fd: number; peer: string } {
  const a = new Uint8Array(2 + SUN_PATH_SIZE);
  const len = new Uint32Array([a.length]);
  const nfd = retrySock(
    `accept4 fd ${fd}`,
    () => ss.accept4(fd, a, new Uint8Array(len.buffer), flags | SOCK_CLOEXEC),
  );
  const end = Math.min(len[0], a.length);
  let path = a.subarray(2, Math.max(2, end));
  const nul = path.indexOf(0);
  if (nul >= 0) path = path.subarray(0, nul);
  return { fd: nfd, peer: decodeBytes(path) };
}

/** getsockopt(fd, SOL_SOCKET, opt) of an option that is `words` 32-bit integers. */
function socketOption(fd: number, opt: number, name: string, words: number): Int32Array {
  const v = new Int32Array(words);
  const len = new Uint32Array([4 * words]);
  retrySock(
    `getsockopt ${name} fd ${fd}`,
    () => ss.getsockopt(fd, SOL_SOCKET, opt, new Uint8Array(v.buffer), new Uint8Array(len.buffer)),
  );
  return v;
}

/** getsockopt(fd, SOL_SOCKET, SO_TYPE): the socket's type. */
export function socketType(fd: number): number {
  return socketOption(fd, 3, "SO_TYPE", 1)[0];
}

/** getsockopt(fd, SOL_SOCKET, SO_PEERCRED): the peer's credentials when it connected. */
export function peerCred(fd: number): { pid: number; uid: number; gid: number } {
  const [pid, uid, gid] = socketOption(fd, 17, "SO_PEERCRED", 3);
  return { pid, uid, gid };
}
