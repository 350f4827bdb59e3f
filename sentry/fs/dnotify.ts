/**
 * Directory notification (fcntl F_NOTIFY, "dnotify"): a process asks to be signalled when
 * entries of a directory it holds open are created, deleted, renamed, read, written or change
 * attributes. It rides on inotify's watches (vfs/inotify.ts), so it sees what they see: changes
 * made through the Sentry's VFS.
 *
 * The signal is SIGIO, or the one F_SETSIG chose for the open file description; with the
 * latter, its siginfo carries the descriptor (si_fd) and POLL_MSG, so a handler can tell which
 * directory changed.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import type { FdTable } from "../vfs/fd_table.ts";
import type { FileDescription } from "../vfs/file.ts";
import { POLLIN, POLLRDNORM } from "../vfs/file.ts";
import type { Inode } from "../vfs/inode.ts";
import { sigioSignal } from "../vfs/fasync.ts";
import {
  addWatchOf,
  IN_ACCESS,
  IN_ATTRIB,
  IN_CREATE,
  IN_DELETE,
  IN_MODIFY,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  removeWatchOf,
  type Watch,
  type WatchOwner,
} from "../vfs/inotify.ts";

export const DN_ACCESS = 0x1;
export const DN_MODIFY = 0x2;
export const DN_CREATE = 0x4;
export const DN_DELETE = 0x8;
export const DN_RENAME = 0x10;
export const DN_ATTRIB = 0x20;
export const DN_MULTISHOT = 0x80000000;

const SIGIO = 29;
/** si_code of a signal F_SETSIG chose: a message is available. */
const POLL_MSG = 3;
const POLLMSG = 0x400;
/** si_code of a plain SIGIO (the kernel's). */
const SI_KERNEL = 0x80;

/** The dnotify events an inotify event on (or in) a watched directory counts as. */
function dnEvents(mask: number): number {
  let dn = 0;
  if (mask & IN_ACCESS) dn |= DN_ACCESS;
  if (mask & IN_MODIFY) dn |= DN_MODIFY;
  if (mask & IN_ATTRIB) dn |= DN_ATTRIB;
  if (mask & (IN_CREATE | IN_MOVED_TO)) dn |= DN_CREATE;
  if (mask & (IN_DELETE | IN_MOVED_FROM)) dn |= DN_DELETE;
  if (mask & (IN_MOVED_FROM | IN_MOVED_TO)) dn |= DN_RENAME;
  return dn;
}

/** One F_NOTIFY request: a directory, the descriptor it came through, and who is told. */
class DirNotify implements WatchOwner {
  readonly watch: Watch;
  constructor(
    readonly file: FileDescription,
    inode: Inode,
    public mask: number,
    public fd: number,
    readonly fdTable: FdTable,
    readonly owner: ThreadGroup,
  ) {
    this.watch = { wd: 0, inode, mask: 0xffffffff, owner: this };
  }

  deliver(_w: Watch, mask: number): void {
    // Closing the descriptor ends the request, as Linux ends it on close.
    if (this.fdTable.peek(this.fd) !== this.file || this.owner.exiting) {
      this.remove();
      return;
    }
    if ((dnEvents(mask) & this.mask) === 0) return;
    if (!(this.mask & DN_MULTISHOT)) this.remove();
    const sig = sigioSignal(this.file);
    this.owner.sendSignal(
      sig === 0 ? { signo: SIGIO, errno: 0, code: SI_KERNEL } : {
        signo: sig,
        errno: 0,
        code: POLL_MSG,
        band: BigInt(POLLIN | POLLRDNORM | POLLMSG),
        fd: this.fd,
      },
    );
  }

  inodeGone(): void {
    this.remove();
  }

  remove(): void {
    removeWatchOf(this.watch);
    const list = requests.get(this.file);
    if (list) {
      const i = list.indexOf(this);
      if (i >= 0) list.splice(i, 1);
    }
  }
}

/** The requests made through each open file description (one per owning process). */
const requests = new WeakMap<FileDescription, DirNotify[]>();

/**
 * Implements fcntl(fd, F_NOTIFY, arg) for `file`, a directory (precondition: the caller has
 * refused O_PATH descriptors). A request through the same description by the same process adds
 * its events to the one it has; 0 ends it.
 */
export function fcntlNotify(t: Task, fd: number, file: FileDescription, arg: number): number {
  const list = requests.get(file) ?? [];
  const mine = list.find((r) => r.owner === t.tg);
  if ((arg & ~DN_MULTISHOT) === 0) {
    mine?.remove();
    return 0;
  }
  const inode = file.vd?.inode;
  if (!inode?.isDir) throw new SysError(Errno.ENOTDIR);
  if (mine) {
    mine.mask |= arg;
    mine.fd = fd;
    return 0;
  }
  const r = new DirNotify(file, inode, arg, fd, t.fdTable, t.tg);
  list.push(r);
  requests.set(file, list);
  addWatchOf(r.watch);
  return 0;
}
