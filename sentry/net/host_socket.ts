/**
 * --network=host: an application's AF_INET or AF_INET6 socket that is a host socket the
 * Sentry made and drives (host/hostinet.ts). The application's calls are still served by the
 * Sentry (sentry/syscalls/sys_socket_host.ts): it copies addresses and data between the
 * application's memory and its own buffers, passes only the socket options it knows
 * (never one that carries a pointer, such as SO_ATTACH_FILTER). A blocked call, and poll,
 * select and epoll of these sockets, are woken by the host's own epoll, waited on from a
 * runtime thread (host_readiness.ts), so a blocked call never blocks the host thread or other
 * tasks.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { closeFd } from "../../host/libc.ts";
import {
  hostAccept,
  hostConnect,
  hostGetsockopt,
  hostIoctlInt,
  hostRecv,
  hostSendmsg,
  hostSetsockopt,
  hostSocket,
  type RecvResult,
} from "../../host/hostinet.ts";
import { pollNow } from "../../host/io.ts";
import type { Task } from "../kernel/task.ts";
import {
  FileDescriptionBase,
  O_NONBLOCK,
  O_RDWR,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
} from "../vfs/file.ts";
import type { Attr } from "../vfs/inode.ts";
import { waitOn } from "../vfs/waiter.ts";
import {
  MSG_DONTWAIT,
  MSG_ERRQUEUE,
  MSG_NOSIGNAL,
  MSG_WAITALL,
  SIOCATMARK,
  SIOCINQ,
  SIOCOUTQ,
  SIOCOUTQNSD,
  SO_ERROR,
  SO_LINGER,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../../abi/linux/socket.ts";
import { SIG } from "../../abi/linux/signal.ts";
import { interfaceIoctl } from "./ifioctl.ts";
import { NetStack, socketAttr } from "./socket.ts";
import { HostFdWatch } from "./host_readiness.ts";

const EAGAIN = Errno.EAGAIN;
const SIGPIPE = SIG.PIPE;
/** The requests passed to the host socket: each writes one int, and none takes a pointer. */
const PASSED_IOCTLS: ReadonlySet<number> = new Set([SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK]);

/** Throws the SysError of a host call's -errno; returns a non-negative result. */
export function hostResult(r: number): number {
  if (r < 0) throw new SysError(-r);
  return r;
}

/**
 * The host descriptor is this object's alone: only the handlers of sys_socket_host.ts reach it,
 * through hostFd, so no call of the Sentry's on another descriptor (a Unix socket, the Gofer's)
 * ever takes an application's socket arguments.
 *
 * Its lifetime follows Linux's file references: release() (the last descriptor closed) closes
 * the host descriptor only once no call is in flight on it, so a task still waiting in recv or
 * accept goes on with the same socket, as a Linux thread holding the file does, and the number
 * cannot be reused under it by another socket. Once it is closed, any use answers EBADF.
 */
export class HostSocket extends FileDescriptionBase {
  readonly #fd: number;
  readonly #watch: HostFdWatch;
  /** The last descriptor is closed (release()). */
  #closed = false;
  /** The host descriptor is closed: the number may belong to another file now. */
  #hostClosed = false;
  /** Calls in flight across an await on #fd. */
  #inFlight = 0;
  /** SO_RCVTIMEO and SO_SNDTIMEO in milliseconds (0: wait for ever). */
  rcvTimeoutMs = 0;
  sndTimeoutMs = 0;

  constructor(
    hostFd: number,
    readonly family: number,
    readonly type: number,
    flags: number,
    readonly attr: Attr,
  ) {
    super(O_RDWR | (flags & O_NONBLOCK));
    this.#fd = hostFd;
    this.#watch = new HostFdWatch(hostFd, this.queue);
  }

  /** The host descriptor; EBADF once it is closed (its number may be another file's). */
  get hostFd(): number {
    if (this.#hostClosed) throw new SysError(Errno.EBADF);
    return this.#fd;
  }

  /**
   * Runs call with the host descriptor held open until it settles: release() meanwhile
   * leaves the closing to the last call in flight. Every call that awaits uses it.
   */
  async #held<T>(call: () => Promise<T>): Promise<T> {
    if (this.#hostClosed) throw new SysError(Errno.EBADF);
    this.#inFlight++;
    try {
      return await call();
    } finally {
      this.#drop();
    }
  }

  #drop(): void {
    if (--this.#inFlight === 0 && this.#closed) this.#closeHost();
  }

  /** A new host socket for the application's socket(2); -errno becomes its SysError. */
  static create(
    t: Task,
    family: number,
    type: number,
    protocol: number,
    flags: number,
  ): HostSocket {
    const fd = hostResult(hostSocket(family, type, protocol));
    return new HostSocket(fd, family, type, flags, socketAttr(t.tg.uid, t.tg.gid));
  }

  stat(_t: Task): Attr {
    return this.attr;
  }

  get nonblocking(): boolean {
    return (this.flags & O_NONBLOCK) !== 0;
  }

  /**
   * Waits until the host socket has one of events (or an error or hang-up), woken by the
   * host's epoll as poll(2) is (readiness()). A signal ends the wait: ERESTARTSYS, or EINTR
   * with a timeout, as Linux's sockets answer; after timeoutMs (0: none) EAGAIN, as
   * SO_RCVTIMEO makes it.
   */
  waitFor(t: Task, events: number, timeoutMs = 0): Promise<void> {
    return this.#held(async () => {
      const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
      const wanted = events | POLLERR | POLLHUP;
      for (;;) {
        if (this.readiness(wanted) & wanted) return;
        const left = deadline - Date.now();
        if (left <= 0) throw new SysError(Errno.EAGAIN);
        await waitOn(
          t,
          [this.queue],
          left === Infinity ? undefined : left,
          timeoutMs > 0 ? Errno.EINTR : Errno.ERESTARTSYS,
        );
      }
    });
  }

  /** Runs a non-blocking host call again after each wait for events while it says EAGAIN. */
  retry(
    t: Task,
    dontwait: boolean,
    events: number,
    timeoutMs: number,
    call: () => number,
  ): Promise<number> {
    return this.#held(async () => {
      for (;;) {
        const r = call();
        if (r !== -EAGAIN) return hostResult(r);
        if (dontwait || this.nonblocking) throw new SysError(Errno.EAGAIN);
        await this.waitFor(t, events, timeoutMs);
      }
    });
  }

  /**
   * accept4(2): the next connection, waited for unless non-blocking. `checkFd` throws
   * (EMFILE) when the caller could not install it: it runs before each host accept, so such
   * a connection stays in the host's queue.
   */
  async accept(t: Task, checkFd = () => {}): Promise<{ fd: number; sa: Uint8Array }> {
    let sa: Uint8Array = new Uint8Array(0);
    const fd = await this.retry(t, false, POLLIN, this.rcvTimeoutMs, () => {
      checkFd();
      const a = hostAccept(this.hostFd);
      sa = a.sa;
      return a.r;
    });
    return { fd, sa };
  }

  /** connect(2); a blocking socket waits for the handshake's outcome. */
  connect(t: Task, sa: Uint8Array<ArrayBuffer>): Promise<void> {
    return this.#held(async () => {
      const r = hostConnect(this.hostFd, sa);
      if (r !== -Errno.EINPROGRESS || this.nonblocking) {
        hostResult(r);
        return;
      }
      await this.waitFor(t, POLLOUT, this.sndTimeoutMs);
      const e = hostGetsockopt(this.hostFd, SOL_SOCKET, SO_ERROR, 4);
      hostResult(e.r);
      const err = new DataView(e.val.buffer, e.val.byteOffset).getInt32(0, true);
      if (err) throw new SysError(err);
    });
  }

  /**
   * Sends data (to `to`, or the connected peer) with checked control messages; EPIPE raises
   * SIGPIPE unless MSG_NOSIGNAL.
   */
  async send(
    t: Task,
    data: Uint8Array<ArrayBuffer>,
    flags: number,
    to: Uint8Array<ArrayBuffer> | null,
    control: Uint8Array<ArrayBuffer> | null = null,
  ): Promise<number> {
    try {
      return await this.retry(
        t,
        (flags & MSG_DONTWAIT) !== 0,
        POLLOUT,
        this.sndTimeoutMs,
        () => hostSendmsg(this.hostFd, data, flags & ~MSG_DONTWAIT, to, control),
      );
    } catch (e) {
      if (e instanceof SysError && e.errno === Errno.EPIPE && !(flags & MSG_NOSIGNAL)) {
        t.sendSignal({ signo: SIGPIPE, errno: 0, code: 0, pid: t.tg.pid, uid: t.tg.uid });
      }
      throw e;
    }
  }

  /**
   * Receives into buf, with room for controlSpace bytes of the host's control messages (the
   * caller filters them). MSG_WAITALL on a stream keeps reading until buf is full, the peer
   * has shut down, or something was read and a wait is interrupted.
   */
  recv(
    t: Task,
    buf: Uint8Array<ArrayBuffer>,
    flags: number,
    controlSpace = 0,
  ): Promise<RecvResult> {
    return this.#held(() => this.#recv(t, buf, flags, controlSpace));
  }

  async #recv(
    t: Task,
    buf: Uint8Array<ArrayBuffer>,
    flags: number,
    controlSpace: number,
  ): Promise<RecvResult> {
    // The error queue is never waited for: empty, it answers EAGAIN at once, as on Linux.
    const dontwait = (flags & (MSG_DONTWAIT | MSG_ERRQUEUE)) !== 0;
    const host = flags & ~(MSG_DONTWAIT | MSG_WAITALL);
    let last!: RecvResult;
    const n = await this.retry(t, dontwait, POLLIN, this.rcvTimeoutMs, () => {
      last = hostRecv(this.hostFd, buf, host, controlSpace);
      return last.r;
    });
    if (!(flags & MSG_WAITALL) || n === 0 || n >= buf.length || this.type !== SOCK_STREAM) {
      return last;
    }
    let got = n;
    while (got < buf.length) {
      const r = hostRecv(this.hostFd, buf.subarray(got), host);
      if (r.r === -EAGAIN) {
        // What was read is returned when the wait ends early (a signal, SO_RCVTIMEO).
        try {
          await this.waitFor(t, POLLIN, this.rcvTimeoutMs);
        } catch {
          break;
        }
        continue;
      }
      if (r.r <= 0) break;
      got += r.r;
    }
    return { ...last, r: got };
  }

  override readiness(mask: number): number {
    const r = pollNow(this.hostFd, mask & 0xffff);
    if ((r & mask) === 0) this.#watch.notReady();
    return r & (mask | POLLERR | POLLHUP);
  }

  override read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    return this.recv(t, dst, 0).then((r) => r.r);
  }

  override write(t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    return this.send(t, src, 0, null);
  }

  override ioctl(t: Task, request: number, arg: bigint): number {
    if (!PASSED_IOCTLS.has(request)) {
      // SIOCGIF*: the interfaces as the stack shows them (the host's, at start-up).
      const r = interfaceIoctl(t, NetStack.of(t.kernel).stack, request, arg);
      if (r !== null) return r;
      throw new SysError(Errno.ENOTTY);
    }
    const r = hostIoctlInt(this.hostFd, request);
    hostResult(r.r);
    t.mm.writeU32(arg, r.value);
    return 0;
  }

  override release(): void {
    this.#closed = true;
    if (this.#inFlight === 0) this.#closeHost();
  }

  /**
   * Closes the host descriptor without blocking the Sentry's thread. A TCP socket with
   * SO_LINGER on and a non-zero time would make the host's close(2) wait, up to that many
   * seconds, for its unsent data to be acknowledged, and every task with it: linger is turned
   * off first, so the host closes at once and sends what is queued in the background, as it
   * does for any socket. The application's close(2) therefore returns at once, not after the
   * data is acknowledged (nothing it can read tells the two apart, except the time). A linger
   * time of zero (an abortive close: RST, queued data dropped) is kept: it never waits.
   */
  #closeHost(): void {
    if (this.#hostClosed) return;
    this.#hostClosed = true;
    this.#watch.close();
    if (this.type === SOCK_STREAM) {
      const l = hostGetsockopt(this.#fd, SOL_SOCKET, SO_LINGER, 8);
      if (l.r >= 0 && l.val.length === 8) {
        const v = new DataView(l.val.buffer, l.val.byteOffset);
        if (v.getInt32(0, true) !== 0 && v.getInt32(4, true) !== 0) {
          hostSetsockopt(this.#fd, SOL_SOCKET, SO_LINGER, new Uint8Array(8));
        }
      }
    }
    closeFd(this.#fd);
  }
}
