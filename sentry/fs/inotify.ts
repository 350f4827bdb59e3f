/**
 * An inotify instance: the watches it holds and the events queued for reading (the watch
 * registry and the notifications themselves are in sentry/vfs/inotify.ts).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { FileDescriptionBase, O_NONBLOCK, POLLIN, POLLRDNORM } from "../vfs/file.ts";
import {
  addWatchOf,
  type Event,
  IN_ALL_EVENTS,
  IN_IGNORED,
  IN_MASK_ADD,
  IN_MASK_CREATE,
  IN_ONESHOT,
  IN_ONLYDIR,
  removeWatchOf,
  type Watch,
  type WatchOwner,
} from "../vfs/inotify.ts";
import { type Attr, type Inode, nowNs } from "../vfs/inode.ts";
import { waitOn } from "../vfs/waiter.ts";
import { anonAttr } from "./anon.ts";
import { byteLength, encodeBytes } from "../../host/utf8b.ts";
import { InotifyEvent } from "../../abi/linux/inotify.ts";

const MAX_QUEUED = 16384;
const IN_Q_OVERFLOW = 0x4000;

/** An inotify instance. */
export class InotifyFile extends FileDescriptionBase implements WatchOwner {
  readonly anonName = "inotify";
  readonly #attr: Attr = anonAttr(nowNs());
  readonly #byWd = new Map<number, Watch>();
  #nextWd = 1;
  readonly #events: Event[] = [];

  /** inotify_add_watch: returns the watch descriptor. */
  addWatch(inode: Inode, mask: number): number {
    if (!(mask & IN_ALL_EVENTS)) throw new SysError(Errno.EINVAL);
    if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE)) throw new SysError(Errno.EINVAL);
    if ((mask & IN_ONLYDIR) && !inode.isDir) throw new SysError(Errno.ENOTDIR);
    for (const w of this.#byWd.values()) {
      if (w.inode !== inode) continue;
      if (mask & IN_MASK_CREATE) throw new SysError(Errno.EEXIST);
      w.mask = (mask & IN_MASK_ADD) ? w.mask | mask : mask;
      return w.wd;
    }
    const w: Watch = { wd: this.#nextWd++, inode, mask, owner: this };
    this.#byWd.set(w.wd, w);
    addWatchOf(w);
    return w.wd;
  }

  /** inotify_rm_watch. */
  removeWatch(wd: number): void {
    const w = this.#byWd.get(wd);
    if (!w) throw new SysError(Errno.EINVAL);
    this.#drop(w);
  }

  #drop(w: Watch): void {
    this.#byWd.delete(w.wd);
    removeWatchOf(w);
    this.queueEvent({ wd: w.wd, mask: IN_IGNORED, cookie: 0, name: "" });
  }

  queueEvent(e: Event): void {
    const last = this.#events[this.#events.length - 1];
    // An event identical to the last unread one is merged into it, as Linux does.
    if (
      last && last.wd === e.wd && last.mask === e.mask && last.cookie === e.cookie &&
      last.name === e.name
    ) return;
    if (this.#events.length >= MAX_QUEUED) {
      if (last?.mask !== IN_Q_OVERFLOW) {
        this.#events.push({ wd: -1, mask: IN_Q_OVERFLOW, cookie: 0, name: "" });
      }
    } else {
      this.#events.push(e);
    }
    this.queue.notify();
  }

  /** Delivers an event to watch w when its mask wants it. */
  deliver(w: Watch, mask: number, cookie: number, name: string): void {
    if (!(w.mask & mask & IN_ALL_EVENTS) && mask !== IN_IGNORED) return;
    this.queueEvent({ wd: w.wd, mask, cookie, name });
    if (w.mask & IN_ONESHOT) this.#drop(w);
  }

  /** The inode behind w is gone: IN_IGNORED and the watch ends. */
  inodeGone(w: Watch): void {
    this.#drop(w);
  }

  override async read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    while (this.#events.length === 0) {
      if (this.flags & O_NONBLOCK) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [this.queue]);
    }
    let o = 0;
    while (this.#events.length > 0) {
      const e = this.#events[0];
      const name = encodeBytes(e.name);
      const len = name.length ? (name.length + 1 + 15) & ~15 : 0;
      if (o + InotifyEvent.size + len > dst.length) {
        if (o === 0) throw new SysError(Errno.EINVAL);
        break;
      }
      InotifyEvent.encodeInto(dst, o, { wd: e.wd, mask: e.mask >>> 0, cookie: e.cookie, len });
      dst.fill(0, o + InotifyEvent.size, o + InotifyEvent.size + len);
      dst.set(name, o + InotifyEvent.size);
      o += InotifyEvent.size + len;
      this.#events.shift();
    }
    return o;
  }

  override write(): number {
    throw new SysError(Errno.EINVAL);
  }

  override readiness(mask: number): number {
    return this.#events.length > 0 ? mask & (POLLIN | POLLRDNORM) : 0;
  }

  override ioctl(t: Task, request: number, arg: bigint): number {
    if (request === 0x541b) {
      // FIONREAD: bytes a read would return now.
      const n = this.#events.reduce((s, e) => {
        const l = byteLength(e.name);
        return s + 16 + (l ? (l + 1 + 15) & ~15 : 0);
      }, 0);
      t.mm.writeU32(arg, n);
      return 0;
    }
    throw new SysError(Errno.ENOTTY);
  }

  stat(_t: Task): Attr {
    return this.#attr;
  }

  override release(): void {
    for (const w of [...this.#byWd.values()]) {
      this.#byWd.delete(w.wd);
      removeWatchOf(w);
    }
  }
}
