/**
 * inotify on the Sentry's own view: changes made through the VFS (by any task in the sandbox)
 * are reported to watches on the changed inode and on its parent directory. Changes made
 * outside the sandbox (on the host, under shared gofer mounts) are not seen.
 *
 * @module
 */

import type { Inode } from "./inode.ts";
import type { VirtualDentry } from "./vfs.ts";

export const IN_ACCESS = 0x1;
export const IN_MODIFY = 0x2;
export const IN_ATTRIB = 0x4;
export const IN_CLOSE_WRITE = 0x8;
export const IN_CLOSE_NOWRITE = 0x10;
export const IN_OPEN = 0x20;
export const IN_MOVED_FROM = 0x40;
export const IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100;
export const IN_DELETE = 0x200;
export const IN_DELETE_SELF = 0x400;
export const IN_MOVE_SELF = 0x800;
export const IN_IGNORED = 0x8000;
export const IN_ISDIR = 0x40000000;
export const IN_ONLYDIR = 0x1000000;
export const IN_DONT_FOLLOW = 0x2000000;
export const IN_EXCL_UNLINK = 0x4000000;
export const IN_MASK_CREATE = 0x10000000;
export const IN_MASK_ADD = 0x20000000;
export const IN_ONESHOT = 0x80000000;
export const IN_ALL_EVENTS = 0xfff;

export interface Watch {
  wd: number;
  inode: Inode;
  mask: number;
  owner: WatchOwner;
}

export interface Event {
  wd: number;
  mask: number;
  cookie: number;
  name: string;
}

const watchesOf = new WeakMap<Inode, Set<Watch>>();
let nextCookie = 1;

/** What receives a watch's events (an inotify instance). */
export interface WatchOwner {
  deliver(w: Watch, mask: number, cookie: number, name: string): void;
  inodeGone(w: Watch): void;
}

/** Starts watching inode for owner. */
export function addWatchOf(w: Watch): void {
  let s = watchesOf.get(w.inode);
  if (!s) watchesOf.set(w.inode, s = new Set());
  s.add(w);
}

/** Stops a watch. */
export function removeWatchOf(w: Watch): void {
  watchesOf.get(w.inode)?.delete(w);
}

function watchers(ino: Inode | null | undefined): Watch[] {
  if (!ino) return [];
  const s = watchesOf.get(ino);
  return s && s.size ? [...s] : [];
}

/** Reports event mask on inode (and to its parent's watches as `name`). */
export function notify(
  inode: Inode,
  mask: number,
  parent?: Inode | null,
  name = "",
  cookie = 0,
): void {
  const dir = inode.isDir ? IN_ISDIR : 0;
  for (const w of watchers(parent)) w.owner.deliver(w, mask | dir, cookie, name);
  for (const w of watchers(inode)) w.owner.deliver(w, mask | dir, cookie, "");
}

/** Reports an event on the file vd names, to it and to its parent directory. */
export function notifyVd(vd: VirtualDentry | undefined, mask: number): void {
  if (!vd) return;
  const d = vd.dentry;
  if (!watchesOf.has(d.inode) && !(d.parent && watchesOf.has(d.parent.inode))) return;
  notify(d.inode, mask, d.deleted ? null : d.parent?.inode, d.deleted ? "" : d.name);
}

/** A name appeared in dir. */
export function notifyCreate(dir: Inode, name: string, child: Inode): void {
  for (const w of watchers(dir)) {
    w.owner.deliver(w, IN_CREATE | (child.isDir ? IN_ISDIR : 0), 0, name);
  }
}

/** A name went from dir; child lost a link (and is gone when it has none left). */
export function notifyDelete(dir: Inode, name: string, child: Inode): void {
  const isDir = child.isDir ? IN_ISDIR : 0;
  // A file's link count changes, the file itself goes if no link is left, then the name.
  if (!child.isDir) { for (const w of watchers(child)) w.owner.deliver(w, IN_ATTRIB, 0, ""); }
  if (child.nlink === 0 || child.isDir) {
    for (const w of watchers(child)) {
      w.owner.deliver(w, IN_DELETE_SELF, 0, "");
      w.owner.inodeGone(w);
    }
  }
  for (const w of watchers(dir)) w.owner.deliver(w, IN_DELETE | isDir, 0, name);
}

/** A rename: MOVED_FROM and MOVED_TO share a cookie; the moved file gets MOVE_SELF. */
export function notifyRename(
  oldDir: Inode,
  oldName: string,
  newDir: Inode,
  newName: string,
  moved: Inode,
): void {
  const cookie = nextCookie++;
  const isDir = moved.isDir ? IN_ISDIR : 0;
  for (const w of watchers(oldDir)) w.owner.deliver(w, IN_MOVED_FROM | isDir, cookie, oldName);
  for (const w of watchers(newDir)) w.owner.deliver(w, IN_MOVED_TO | isDir, cookie, newName);
  for (const w of watchers(moved)) w.owner.deliver(w, IN_MOVE_SELF, 0, "");
}
