/**
 * A host epoll instance waited on from a runtime thread, so that the Sentry's JavaScript thread
 * never blocks in it: with --network=host it learns that a host socket standing for an
 * application's changed (sentry/net/host_readiness.ts) without polling it on a timer.
 *
 * epoll_create1, epoll_ctl and epoll_wait are in RUNTIME of host/filters.ts (Deno's own event
 * loop makes them), so the Sentry's filter gains nothing for this.
 *
 * @module
 */

import { SYS } from "../abi/linux/syscalls.ts";
import { libc, rawSyscall } from "./libc.ts";

export const EPOLLIN = 0x1;
export const EPOLLPRI = 0x2;
export const EPOLLOUT = 0x4;
export const EPOLLRDHUP = 0x2000;
/** Edge-triggered: one event per change of the socket, as a wait queue's wake-up. */
export const EPOLLET = 0x8000_0000;

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
/** struct epoll_event is packed on x86-64: u32 events, then u64 data at offset 4. */
const EVENT_SIZE = 12;

/** One event epoll_wait reported: the `data` it was added with and the events. */
export interface HostEpollEvent {
  data: number;
  events: number;
}

export class HostEpoll {
  readonly #ctl = new Uint8Array(EVENT_SIZE);
  readonly #ctlView = new DataView(this.#ctl.buffer);

  private constructor(readonly fd: number) {}

  /** A new close-on-exec epoll instance, or -errno. */
  static create(): HostEpoll | number {
    const r = Number(rawSyscall(SYS.epoll_create1, BigInt(EPOLL_CLOEXEC)));
    return r < 0 ? r : new HostEpoll(r);
  }

  /** EPOLL_CTL_ADD of fd with events, reported with `data` (a safe integer): 0 or -errno. */
  add(fd: number, data: number, events: number): number {
    this.#ctlView.setUint32(0, events >>> 0, true);
    this.#ctlView.setBigUint64(4, BigInt(data), true);
    // SAFETY: #ctl lives as long as this object and the call is synchronous; the kernel reads
    // its 12 bytes during the call only.
    const p = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#ctl)));
    return Number(rawSyscall(SYS.epoll_ctl, BigInt(this.fd), BigInt(EPOLL_CTL_ADD), BigInt(fd), p));
  }

  /** EPOLL_CTL_DEL of fd (before it is closed): 0 or -errno. */
  remove(fd: number): number {
    return Number(
      rawSyscall(SYS.epoll_ctl, BigInt(this.fd), BigInt(EPOLL_CTL_DEL), BigInt(fd), 0n),
    );
  }

  /**
   * Waits on a runtime thread for at most timeoutMs: up to max events ([] on timeout), or null
   * when epoll_wait failed (EINTR when a signal reached that thread; that thread's errno is not
   * ours to read).
   */
  async wait(max: number, timeoutMs: number): Promise<HostEpollEvent[] | null> {
    const buf = new Uint8Array(max * EVENT_SIZE);
    // SAFETY: Deno keeps `buf` alive and unmoved until the promise settles, and the kernel
    // writes at most max events into it.
    const r = await libc.symbols.epoll_wait_async(this.fd, buf, max, timeoutMs);
    if (r < 0) return null;
    const v = new DataView(buf.buffer);
    const out: HostEpollEvent[] = [];
    for (let i = 0; i < Math.min(r, max); i++) {
      const at = i * EVENT_SIZE;
      out.push({ events: v.getUint32(at, true), data: Number(v.getBigUint64(at + 4, true)) });
    }
    return out;
  }
}
