/**
 * Advisory file locks: POSIX record locks (fcntl F_SETLK/F_SETLKW/F_GETLK, owned by the
 * process, released when it closes any descriptor of the file), open file description locks
 * (F_OFD_*, owned by the description), and flock(2) locks (owned by the description).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { Inode } from "./inode.ts";
import { waitOn, WaitQueue } from "./waiter.ts";

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
const MAX = 0x7fffffffffffffffn;

/** Who holds a lock: a process's FD table (POSIX) or a file description (OFD, flock). */
export type LockOwner = object;

interface RangeLock {
  owner: LockOwner;
  /** The pid F_GETLK reports (-1 for OFD locks). */
  pid: number;
  type: number;
  start: bigint;
  /** Exclusive end; MAX for "to end of file". */
  end: bigint;
}

interface LockState {
  ranges: RangeLock[];
  /** flock: holders and their kind. */
  flocks: Map<LockOwner, number>;
  readonly queue: WaitQueue;
}

const states = new WeakMap<Inode, LockState>();
/** Inodes an owner holds locks on, to release them all at once. */
const held = new WeakMap<LockOwner, Set<Inode>>();

function stateOf(ino: Inode): LockState {
  let s = states.get(ino);
  if (!s) states.set(ino, s = { ranges: [], flocks: new Map(), queue: new WaitQueue() });
  return s;
}

function remember(owner: LockOwner, ino: Inode): void {
  let s = held.get(owner);
  if (!s) held.set(owner, s = new Set());
  s.add(ino);
}

/** The first lock of another owner that conflicts with [start, end) of type. */
export function conflict(
  ino: Inode,
  owner: LockOwner,
  type: number,
  start: bigint,
  end: bigint,
): RangeLock | null {
  const s = states.get(ino);
  if (!s) return null;
  for (const l of s.ranges) {
    if (l.owner === owner) continue;
    if (l.end <= start || l.start >= end) continue;
    if (l.type === F_WRLCK || type === F_WRLCK) return l;
  }
  return null;
}

/** Replaces owner's locks over [start, end) with type (F_UNLCK removes them). */
function apply(ino: Inode, l: RangeLock): void {
  const s = stateOf(ino);
  const out: RangeLock[] = [];
  for (const r of s.ranges) {
    if (r.owner !== l.owner || r.end <= l.start || r.start >= l.end) {
      out.push(r);
      continue;
    }
    if (r.start < l.start) out.push({ ...r, end: l.start });
    if (r.end > l.end) out.push({ ...r, start: l.end });
  }
  if (l.type !== F_UNLCK) out.push(l);
  s.ranges = out;
  if (l.type !== F_UNLCK) remember(l.owner, ino);
  s.queue.notify();
}

/**
 * Sets a record lock, waiting for conflicting ones to go when wait. Throws EAGAIN when it
 * cannot be had without waiting.
 */
export async function setRangeLock(
  t: Task,
  ino: Inode,
  l: RangeLock,
  wait: boolean,
): Promise<void> {
  for (;;) {
    const c = l.type === F_UNLCK ? null : conflict(ino, l.owner, l.type, l.start, l.end);
    if (!c) {
      apply(ino, l);
      return;
    }
    if (!wait) throw new SysError(Errno.EAGAIN);
    // A process waiting for a process that waits for it would wait for ever: POSIX locks
    // (not OFD locks) report that as EDEADLK, as Linux does.
    if (l.pid >= 0 && c.pid >= 0 && wouldDeadlock(l.owner, c.owner)) {
      throw new SysError(Errno.EDEADLK);
    }
    waitsFor.set(l.owner, c.owner);
    try {
      await waitOn(t, [stateOf(ino).queue]);
    } finally {
      waitsFor.delete(l.owner);
    }
  }
}

/** POSIX lock owners waiting in F_SETLKW, and the owner each waits for. */
const waitsFor = new Map<LockOwner, LockOwner>();
/** How far the waits-for chain is followed (Linux's MAX_DEADLK_ITERATIONS). */
const MAX_DEADLOCK_CHAIN = 10;

/** True if blocker waits, directly or through others, for me. */
function wouldDeadlock(me: LockOwner, blocker: LockOwner): boolean {
  let o: LockOwner | undefined = blocker;
  for (let i = 0; o !== undefined && i < MAX_DEADLOCK_CHAIN; i++) {
    if (o === me) return true;
    o = waitsFor.get(o);
  }
  return false;
}

/** Turns (whence, start, len) at file offset/size into [start, end). Throws EINVAL. */
export function lockRange(
  whence: number,
  start: bigint,
  len: bigint,
  offset: bigint,
  size: bigint,
): [bigint, bigint] {
  let s: bigint;
  switch (whence) {
    case 0:
      s = start;
      break;
    case 1:
      s = offset + start;
      break;
    case 2:
      s = size + start;
      break;
    default:
      throw new SysError(Errno.EINVAL);
  }
  let e: bigint;
  if (len === 0n) e = MAX;
  else if (len > 0n) e = s + len;
  else {
    e = s;
    s = s + len;
  }
  if (s < 0n) throw new SysError(Errno.EINVAL);
  return [s, e > MAX ? MAX : e];
}

export function lockEnd(end: bigint): bigint {
  return end === MAX ? 0n : end;
}

/** flock(2): LOCK_SH 1, LOCK_EX 2, LOCK_UN 8, with LOCK_NB 4. */
export async function flock(t: Task, ino: Inode, owner: LockOwner, op: number): Promise<void> {
  const s = stateOf(ino);
  const nb = (op & 4) !== 0;
  const kind = op & ~4;
  if (kind === 8) {
    s.flocks.delete(owner);
    s.queue.notify();
    return;
  }
  for (;;) {
    let blocked = false;
    for (const [o, k] of s.flocks) {
      if (o !== owner && (k === 2 || kind === 2)) blocked = true;
    }
    if (!blocked) {
      s.flocks.set(owner, kind);
      remember(owner, ino);
      s.queue.notify();
      return;
    }
    if (nb) throw new SysError(Errno.EAGAIN);
    // Converting a lock drops the old one first, as Linux does.
    if (s.flocks.delete(owner)) s.queue.notify();
    await waitOn(t, [s.queue]);
  }
}

/** Releases every lock owner holds (a process closing a file, a description going away). */
export function releaseLocks(owner: LockOwner, only?: Inode): void {
  const set = held.get(owner);
  if (!set) return;
  for (const ino of [...set]) {
    if (only && ino !== only) continue;
    const s = states.get(ino);
    if (s) {
      s.ranges = s.ranges.filter((r) => r.owner !== owner);
      s.flocks.delete(owner);
      s.queue.notify();
    }
    set.delete(ino);
  }
}
