/**
 * epoll: an interest list of (fd, description) pairs, level- or edge-triggered, with
 * EPOLLONESHOT. The instance listens to each watched description's wait queue, so a wait only
 * sleeps on the instance's own queue, and an epoll descriptor can itself be polled.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { refCount } from "../vfs/fd_table.ts";
import {
  type FileDescription,
  FileDescriptionBase,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLRDNORM,
} from "../vfs/file.ts";
import { type Attr, nowNs } from "../vfs/inode.ts";
import { anonAttr } from "./anon.ts";
import { chargeKernel, unchargeKernel } from "../mm/memory_file.ts";

/** What one epoll watch costs the Sentry, about (its interest record and subscription). */
const WATCH_COST = 256;

export const EPOLLIN = 0x1;
export const EPOLLERR = 0x8;
export const EPOLLHUP = 0x10;
export const EPOLLRDHUP = 0x2000;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;

interface Interest {
  fd: number;
  file: FileDescription;
  events: number;
  data: bigint;
  /** Edge-triggered: something happened since the last report. */
  edge: boolean;
  /**
   * EPOLLEXCLUSIVE: an event was given to this instance (and it stays ready while the file
   * is); an event given to another instance watching the same file does not count here.
   */
  pending: boolean;
  /** One-shot: reported, disabled until EPOLL_CTL_MOD. */
  disabled: boolean;
  unsubscribe: () => void;
}

/** One ready event. */
export interface EpollEvent {
  events: number;
  data: bigint;
}

export class EpollFile extends FileDescriptionBase {
  readonly anonName = "[eventpoll]";
  readonly #interests = new Map<FileDescription, Map<number, Interest>>();
  readonly #attr: Attr = anonAttr(nowNs());

  #find(fd: number, file: FileDescription): Interest | undefined {
    return this.#interests.get(file)?.get(fd);
  }

  /** EPOLL_CTL_ADD. */
  add(fd: number, file: FileDescription, events: number, data: bigint): void {
    if (this.#find(fd, file)) throw new SysError(Errno.EEXIST);
    if (file === this) throw new SysError(Errno.EINVAL);
    const it: Interest = {
      fd,
      file,
      events,
      data,
      edge: true,
      pending: true,
      disabled: false,
      unsubscribe: () => {},
    };
    // Each watch is Sentry memory the application grows (Linux bounds them by
    // max_user_watches, ENOSPC): charged to the container's memory limit.
    if (!chargeKernel(WATCH_COST)) throw new SysError(Errno.ENOSPC);
    const unsubscribe = events & EPOLLEXCLUSIVE
      ? file.queue.subscribeExclusive((wake) => {
        // Only the instance an event is given to sees it, as only its ready list gets it.
        if (!wake) return false;
        it.edge = true;
        it.pending = true;
        if (this.queue.size === 0) return false;
        this.queue.notify();
        return true;
      })
      : file.queue.subscribe(() => {
        it.edge = true;
        this.queue.notify();
      });
    let charged = true;
    it.unsubscribe = () => {
      unsubscribe();
      if (charged) unchargeKernel(WATCH_COST);
      charged = false;
    };
    let m = this.#interests.get(file);
    if (!m) this.#interests.set(file, m = new Map());
    m.set(fd, it);
    this.queue.notify();
  }

  /** EPOLL_CTL_MOD. */
  modify(fd: number, file: FileDescription, events: number, data: bigint): void {
    const it = this.#find(fd, file);
    if (!it) throw new SysError(Errno.ENOENT);
    if (it.events & EPOLLEXCLUSIVE) throw new SysError(Errno.EINVAL);
    it.events = events;
    it.data = data;
    it.disabled = false;
    it.edge = true;
    this.queue.notify();
  }

  /** EPOLL_CTL_DEL. */
  remove(fd: number, file: FileDescription): void {
    const it = this.#find(fd, file);
    if (!it) throw new SysError(Errno.ENOENT);
    it.unsubscribe();
    this.#interests.get(file)!.delete(fd);
    if (this.#interests.get(file)!.size === 0) this.#interests.delete(file);
  }

  /** Drops watches of descriptions no descriptor refers to any more. */
  #prune(): void {
    for (const [file, m] of this.#interests) {
      if (refCount(file) > 0) continue;
      for (const it of m.values()) it.unsubscribe();
      this.#interests.delete(file);
    }
  }

  /** Collects up to max ready events, consuming edges and one-shots. */
  collect(t: Task, max: number): EpollEvent[] {
    this.#prune();
    const out: EpollEvent[] = [];
    for (const m of this.#interests.values()) {
      for (const it of m.values()) {
        if (out.length >= max) return out;
        if (it.disabled) continue;
        if ((it.events & EPOLLET) && !it.edge) continue;
        if ((it.events & EPOLLEXCLUSIVE) && !it.pending) continue;
        const mask = (it.events & 0xffff) | POLLERR | POLLHUP;
        const r = it.file.readiness(mask);
        void t;
        if (r === 0) {
          it.edge = false;
          it.pending = false;
          continue;
        }
        out.push({ events: r, data: it.data });
        if (it.events & EPOLLET) it.edge = false;
        if (it.events & EPOLLONESHOT) it.disabled = true;
      }
    }
    return out;
  }

  override readiness(mask: number): number {
    this.#prune();
    for (const m of this.#interests.values()) {
      for (const it of m.values()) {
        if (it.disabled || ((it.events & EPOLLET) && !it.edge)) continue;
        if (it.file.readiness((it.events & 0xffff) | POLLERR | POLLHUP)) {
          return mask & (POLLIN | POLLRDNORM);
        }
      }
    }
    return 0;
  }

  stat(_t: Task): Attr {
    return this.#attr;
  }

  override release(): void {
    for (const m of this.#interests.values()) for (const it of m.values()) it.unsubscribe();
    this.#interests.clear();
  }
}
