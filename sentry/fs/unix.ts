/**
 * Unix domain sockets inside the sandbox: stream, datagram and seqpacket; socketpair; bind to
 * paths (a socket file on tmpfs) and to abstract names; listen, connect and accept; shutdown;
 * SCM_RIGHTS and SCM_CREDENTIALS.
 *
 * Each socket has a receive queue of messages; a sender appends to its peer's queue, so the
 * queue's byte limit is what makes a sender wait. Stream reads join messages but never across
 * one that carries descriptors, as on Linux.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { decRef, incRef } from "../vfs/fd_table.ts";
import { chargeKernel, unchargeKernel } from "../mm/memory_file.ts";
import {
  type FileDescription,
  FileDescriptionBase,
  O_NONBLOCK,
  O_RDWR,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDHUP,
  POLLRDNORM,
  POLLWRNORM,
} from "../vfs/file.ts";
import { type Attr, Filesystem, type Inode, nowNs, S_IFSOCK } from "../vfs/inode.ts";
import { waitOn, WaitQueue } from "../vfs/waiter.ts";
import { interfaceIoctl } from "../net/ifioctl.ts";
import { NetStack } from "../net/socket.ts";
import { SIG } from "../../abi/linux/signal.ts";
import {
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_PEEK,
  MSG_WAITALL,
  SOCK_DGRAM,
  SOCK_SEQPACKET,
  SOCK_STREAM,
} from "../../abi/linux/socket.ts";

export { SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM };

/** What a queued message costs the Sentry beyond its bytes (its record), for the charge. */
const MESSAGE_COST = 64;

/** Bytes a receive queue holds before senders wait (Linux's default socket buffer). */
const QUEUE_LIMIT = 212992;

/** Who sent a message (SCM_CREDENTIALS, SO_PEERCRED). */
export interface Ucred {
  pid: number;
  uid: number;
  gid: number;
}

/** A socket address: a path, an abstract name (leading NUL kept out), or none. */
export type UnixAddress =
  | { kind: "path"; path: string }
  | { kind: "abstract"; name: Uint8Array }
  | { kind: "none" };

interface Message {
  data: Uint8Array;
  rights: FileDescription[];
  creds: Ucred;
  from: UnixAddress;
}

/** The Sentry-wide socket state: abstract names and the socket files of bound paths. */
export class UnixNamespace {
  readonly abstract = new Map<string, UnixSocket>();
  static #byKernel = new WeakMap<Kernel, UnixNamespace>();
  static of(k: Kernel): UnixNamespace {
    let n = UnixNamespace.#byKernel.get(k);
    if (!n) UnixNamespace.#byKernel.set(k, n = new UnixNamespace());
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

function abstractKey(name: Uint8Array): string {
  return Array.from(name, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What pending data and rights a receiver took. */
export interface Received {
  /** The bytes (n of them). */
  data: Uint8Array;
  n: number;
  /** Full length of the datagram (MSG_TRUNC). */
  full: number;
  rights: FileDescription[];
  creds: Ucred | null;
  from: UnixAddress;
}

export class UnixSocket extends FileDescriptionBase {
  readonly #queue: Message[] = [];
  #queued = 0;
  peer: UnixSocket | null = null;
  address: UnixAddress = { kind: "none" };
  listening = false;
  backlog = 0;
  readonly pending: UnixSocket[] = [];
  /** This side will not read any more / will not write any more. */
  shutRead = false;
  shutWrite = false;
  /** The connection existed once (reads see EOF rather than ENOTCONN after it ends). */
  wasConnected = false;
  passcred = false;
  /** Credentials of whoever made this end (SO_PEERCRED answers the peer's). */
  creds: Ucred;
  readonly #attr: Attr;
  /** Unbinds the address when the socket goes. */
  #unbind: (() => void) | null = null;
  /** Set when the description is released. */
  closed = false;
  sndbuf = QUEUE_LIMIT;
  rcvbuf = QUEUE_LIMIT;

  constructor(readonly type: number, flags: number, creds: Ucred) {
    super(O_RDWR | (flags & O_NONBLOCK));
    this.creds = creds;
    this.#attr = {
      dev: sockfs.dev,
      ino: sockfs.nextIno(),
      nlink: 1,
      mode: S_IFSOCK | 0o777,
      uid: creds.uid,
      gid: creds.gid,
      rdev: 0,
      size: 0n,
      blksize: 4096,
      blocks: 0n,
      atimeNs: nowNs(),
      mtimeNs: nowNs(),
      ctimeNs: nowNs(),
    };
  }

  get connected(): boolean {
    return this.peer !== null;
  }

  stat(_t: Task): Attr {
    return this.#attr;
  }

  /** Connects two fresh sockets to each other (socketpair, accept). */
  static pair(a: UnixSocket, b: UnixSocket): void {
    a.peer = b;
    b.peer = a;
    a.wasConnected = b.wasConnected = true;
  }

  /** Binds to addr; the caller made the socket file for a path. */
  bind(ns: UnixNamespace, addr: UnixAddress, onUnbind?: () => void): void {
    if (this.address.kind !== "none") throw new SysError(Errno.EINVAL);
    if (addr.kind === "abstract") {
      const key = abstractKey(addr.name);
      if (ns.abstract.has(key)) throw new SysError(Errno.EADDRINUSE);
      ns.abstract.set(key, this);
      this.#unbind = () => ns.abstract.delete(key);
    } else {
      this.#unbind = onUnbind ?? null;
    }
    this.address = addr;
  }

  listen(backlog: number): void {
    if (this.type === SOCK_DGRAM) throw new SysError(Errno.EOPNOTSUPP);
    if (this.connected) throw new SysError(Errno.EINVAL);
    if (this.address.kind === "none") throw new SysError(Errno.EINVAL);
    this.listening = true;
    this.backlog = Math.max(0, Math.min(backlog, 4096));
    this.queue.notify();
  }

  /** Connects to a listening socket (stream, seqpacket) or sets the default peer (dgram). */
  async connect(t: Task, target: UnixSocket): Promise<void> {
    if (target.type !== this.type) throw new SysError(Errno.ECONNREFUSED);
    if (this.type === SOCK_DGRAM) {
      if (target.closed) throw new SysError(Errno.ECONNREFUSED);
      this.peer = target;
      return;
    }
    if (this.listening) throw new SysError(Errno.EINVAL);
    if (this.connected) throw new SysError(Errno.EISCONN);
    if (!target.listening || target.closed) throw new SysError(Errno.ECONNREFUSED);
    while (target.pending.length > target.backlog) {
      if (this.flags & O_NONBLOCK) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [target.queue]);
      if (!target.listening || target.closed) throw new SysError(Errno.ECONNREFUSED);
    }
    const server = new UnixSocket(this.type, 0, target.creds);
    server.address = target.address;
    UnixSocket.pair(this, server);
    target.pending.push(server);
    target.queue.notify();
    this.queue.notify();
  }

  /** Takes a pending connection, waiting unless nonblocking. */
  /**
   * The next connection of a listener. `checkFd` throws (EMFILE) when the caller could not
   * install it: it runs before each look at the queue, so such a connection stays queued.
   */
  async accept(t: Task, checkFd = () => {}): Promise<UnixSocket> {
    if (!this.listening) throw new SysError(Errno.EINVAL);
    checkFd();
    while (this.pending.length === 0) {
      if (this.flags & O_NONBLOCK) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [this.queue]);
      checkFd();
    }
    const s = this.pending.shift()!;
    this.queue.notify();
    return s;
  }

  /** Whether a message of n bytes fits in this socket's receive queue now. */
  #fits(n: number): boolean {
    if (this.#queued === 0) return true;
    return this.#queued + n <= this.rcvbuf;
  }

  /**
   * Queues m, taking references on the rights it carries. Its bytes are charged to the
   * container's memory: a socket storm under a memory limit fails with ENOBUFS (Linux's
   * answer when a socket buffer cannot be allocated) instead of growing the Sentry.
   */
  #enqueue(m: Message): void {
    if (!chargeKernel(m.data.length + MESSAGE_COST)) throw new SysError(Errno.ENOBUFS);
    for (const f of m.rights) incRef(f);
    this.#queue.push(m);
    this.#queued += m.data.length;
    this.queue.notify();
  }

  /**
   * Sends data (and rights) to the peer, or to `to` for an unconnected datagram socket.
   * Returns bytes sent.
   */
  async send(
    t: Task,
    data: Uint8Array,
    rights: FileDescription[],
    flags: number,
    to: UnixSocket | null,
  ): Promise<number> {
    const nonblock = (this.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0;
    const creds: Ucred = { pid: t.tg.pid, uid: t.tg.uid, gid: t.tg.gid };
    const epipe = (): never => {
      if (!(flags & MSG_NOSIGNAL)) {
        t.sendSignal({ signo: SIG.PIPE, errno: 0, code: 0, pid: t.tg.pid, uid: t.tg.uid });
      }
      throw new SysError(Errno.EPIPE);
    };
    if (this.type === SOCK_DGRAM) {
      const dst = to ?? this.peer;
      if (!dst) throw new SysError(to === null && !this.peer ? Errno.ENOTCONN : Errno.EDESTADDRREQ);
      if (dst.closed) {
        throw new SysError(this.peer === dst ? Errno.ECONNREFUSED : Errno.ECONNREFUSED);
      }
      if (this.shutWrite) epipe();
      if (data.length > dst.rcvbuf) throw new SysError(Errno.EMSGSIZE);
      while (!dst.#fits(data.length)) {
        if (nonblock) throw new SysError(Errno.EAGAIN);
        await waitOn(t, [dst.queue]);
        if (dst.closed) throw new SysError(Errno.ECONNREFUSED);
      }
      dst.#enqueue({ data: data.slice(), rights, creds, from: this.address });
      return data.length;
    }
    if (to) throw new SysError(this.connected ? Errno.EISCONN : Errno.EOPNOTSUPP);
    if (!this.peer) {
      if (this.wasConnected) epipe();
      throw new SysError(Errno.ENOTCONN);
    }
    if (this.shutWrite) epipe();
    const peer = this.peer;
    if (this.type === SOCK_SEQPACKET) {
      if (data.length > peer.rcvbuf) throw new SysError(Errno.EMSGSIZE);
      while (!peer.#fits(data.length)) {
        if (peer.closed || peer.shutRead) epipe();
        if (nonblock) throw new SysError(Errno.EAGAIN);
        await waitOn(t, [peer.queue]);
      }
      if (peer.closed || peer.shutRead) epipe();
      peer.#enqueue({ data: data.slice(), rights, creds, from: this.address });
      return data.length;
    }
    let done = 0;
    for (;;) {
      if (peer.closed || peer.shutRead) {
        if (done > 0) return done;
        epipe();
      }
      const room = peer.rcvbuf - peer.#queued;
      if (room > 0 || data.length === 0) {
        const n = Math.min(room, data.length - done);
        const first = done === 0;
        try {
          peer.#enqueue({
            data: data.slice(done, done + n),
            rights: first ? rights : [],
            creds,
            from: this.address,
          });
        } catch (e) {
          if (done > 0) return done;
          throw e;
        }
        done += n;
        if (done >= data.length) return done;
      }
      if (nonblock) {
        if (done > 0) return done;
        throw new SysError(Errno.EAGAIN);
      }
      try {
        await waitOn(t, [peer.queue]);
      } catch (e) {
        if (done > 0) return done;
        throw e;
      }
    }
  }

  /** Whether a read would see end of file. */
  #eof(): boolean {
    if (this.shutRead) return true;
    if (this.type === SOCK_DGRAM) return false;
    const p = this.peer;
    return this.wasConnected && (!p || p.closed || p.shutWrite);
  }

  /** Receives up to max bytes (a whole message for dgram/seqpacket, cut at max). */
  async recv(t: Task, max: number, flags: number): Promise<Received> {
    const nonblock = (this.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0;
    const peek = (flags & MSG_PEEK) !== 0;
    if (this.type !== SOCK_DGRAM && !this.wasConnected && !this.listening) {
      throw new SysError(Errno.EINVAL);
    }
    for (;;) {
      if (this.#queue.length > 0) break;
      if (this.#eof()) {
        return {
          data: new Uint8Array(0),
          n: 0,
          full: 0,
          rights: [],
          creds: null,
          from: { kind: "none" },
        };
      }
      if (nonblock) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [this.queue]);
    }
    const first = this.#queue[0];
    if (this.type !== SOCK_STREAM) {
      const n = Math.min(max, first.data.length);
      const out: Received = {
        n,
        full: first.data.length,
        rights: first.rights,
        creds: first.creds,
        from: first.from,
        data: first.data.subarray(0, n),
      };
      if (!peek) {
        this.#queue.shift();
        this.#queued -= first.data.length;
        unchargeKernel(first.data.length + MESSAGE_COST);
        this.queue.notify();
      } else {
        for (const f of first.rights) incRef(f);
      }
      return out;
    }
    // Stream: join messages, but stop before one that carries rights.
    const parts: Uint8Array[] = [];
    let n = 0;
    let rights: FileDescription[] = [];
    let i = 0;
    const waitall = (flags & MSG_WAITALL) !== 0;
    void waitall;
    while (n < max && i < this.#queue.length) {
      const m = this.#queue[i];
      if (i > 0 && m.rights.length > 0) break;
      if (i === 0) rights = m.rights;
      const take = Math.min(max - n, m.data.length);
      parts.push(m.data.subarray(0, take));
      n += take;
      if (!peek) {
        if (take === m.data.length) {
          i++;
        } else {
          m.data = m.data.subarray(take);
          m.rights = [];
          break;
        }
      } else {
        i++;
      }
    }
    if (!peek) {
      const removed = this.#queue.splice(0, i);
      void removed;
      this.#queued -= n;
      unchargeKernel(n + i * MESSAGE_COST);
      this.queue.notify();
    } else {
      for (const f of rights) incRef(f);
    }
    const data = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      data.set(p, o);
      o += p.length;
    }
    return { n, full: n, rights, creds: first.creds, from: first.from, data };
  }

  override async read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    const r = await this.recv(t, dst.length, 0);
    dst.set(r.data.subarray(0, r.n));
    for (const f of r.rights) decRef(f);
    return r.n;
  }

  override write(t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    return this.send(t, src, [], 0, null);
  }

  shutdown(how: number): void {
    if (this.type !== SOCK_DGRAM && !this.connected) throw new SysError(Errno.ENOTCONN);
    if (how === 0 || how === 2) this.shutRead = true;
    if (how === 1 || how === 2) this.shutWrite = true;
    this.queue.notify();
    this.peer?.queue.notify();
  }

  /** The interface ioctls answer on any socket, as Linux's (glibc's if_nametoindex uses one). */
  override ioctl(t: Task, request: number, arg: bigint): number {
    const r = interfaceIoctl(t, NetStack.of(t.kernel).stack, request, arg);
    if (r === null) throw new SysError(Errno.ENOTTY);
    return r;
  }

  override readiness(mask: number): number {
    let r = 0;
    if (this.listening) {
      if (this.pending.length > 0) r |= POLLIN | POLLRDNORM;
      return r & mask;
    }
    if (this.#queue.length > 0 || this.#eof()) r |= POLLIN | POLLRDNORM;
    const p = this.peer;
    if (this.type !== SOCK_DGRAM) {
      if (this.wasConnected && (!p || p.closed || p.shutWrite)) r |= POLLRDHUP;
      if (this.shutRead && this.shutWrite) r |= POLLHUP;
      if (this.wasConnected && (!p || p.closed)) r |= POLLHUP;
      if (p && !p.closed && !this.shutWrite && p.#queued < p.rcvbuf) r |= POLLOUT | POLLWRNORM;
      if (!this.wasConnected) r |= POLLOUT | POLLWRNORM;
    } else if (!p || p.#fits(1)) {
      r |= POLLOUT | POLLWRNORM;
    }
    return r & (mask | POLLERR | POLLHUP);
  }

  override release(): void {
    this.closed = true;
    this.#unbind?.();
    for (const m of this.#queue) for (const f of m.rights) decRef(f);
    unchargeKernel(this.#queued + this.#queue.length * MESSAGE_COST);
    this.#queue.length = 0;
    this.#queued = 0;
    for (const s of this.pending) s.release();
    this.pending.length = 0;
    const p = this.peer;
    if (p && p.peer === this) {
      p.queue.notify();
    }
    this.queue.notify();
  }
}

/** The socket bound at a socket file (tmpfs keeps it on the inode). */
export function boundAt(ino: Inode): UnixSocket | null {
  const e = (ino as { endpoint?: unknown }).endpoint;
  return e instanceof UnixSocket && !e.closed ? e : null;
}

export { QUEUE_LIMIT, WaitQueue };
