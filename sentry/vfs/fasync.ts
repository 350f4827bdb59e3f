/**
 * Signal-driven I/O (O_ASYNC): a process names an owner for an open file description
 * (fcntl F_SETOWN / F_SETOWN_EX: a thread, a process or a process group) and sets O_ASYNC; from
 * then on, each time the file becomes ready the owner gets SIGIO, or the signal F_SETSIG chose,
 * whose siginfo then says why (si_code POLL_IN, POLL_OUT, ...), the poll band and the
 * descriptor.
 *
 * Readiness comes from the file's wait queue, which is told of every change: a change that
 * leaves the file readable is reported (Linux signals on each arrival of data), while "writable"
 * is reported only when the file was not writable before (otherwise an always-writable socket
 * would signal on every read of it). A file that tells its events itself
 * (FileDescription.subscribeAsync: pipes) is signalled on each of them instead.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { SigInfo } from "../kernel/signal.ts";
import {
  type FileDescription,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLPRI,
  POLLRDNORM,
  POLLWRNORM,
} from "./file.ts";

/** f_owner_ex.type values. */
export const F_OWNER_TID = 0;
export const F_OWNER_PID = 1;
export const F_OWNER_PGRP = 2;

const SIGIO = 29;
/** si_code of a signal sent with no F_SETSIG signal chosen (the kernel's own). */
const SI_KERNEL = 0x80;
/** si_code values of F_SETSIG signals, and the band each reports. */
const POLL_IN = 1;
const POLL_OUT = 2;
const POLL_ERR = 4;
const POLL_PRI = 5;
const POLL_HUP = 6;
const POLLWRBAND = 0x200;
const POLLRDBAND = 0x80;
const BANDS: Record<number, number> = {
  [POLL_IN]: POLLIN | POLLRDNORM,
  [POLL_OUT]: POLLOUT | POLLWRNORM | POLLWRBAND,
  [POLL_ERR]: POLLERR,
  [POLL_PRI]: POLLPRI | POLLRDBAND,
  [POLL_HUP]: POLLHUP | POLLERR,
};

/** Who is signalled (id 0: no one), and the credentials of whoever named them. */
interface Owner {
  type: number;
  id: number;
  uid: number;
  euid: number;
  /** Whether the one who named the owner held CAP_KILL: checked at each signal, as kill(2). */
  canKill: boolean;
  kernel: Kernel;
}

/** The O_ASYNC state of one open file description. */
interface Async {
  owner?: Owner;
  /** F_SETSIG's signal (0: SIGIO). */
  sig: number;
  /** The descriptor O_ASYNC was set through: si_fd. */
  fd: number;
  /** Set while O_ASYNC is on: stops listening to the file's queue. */
  stop?: () => void;
  /** Readiness at the last change seen. */
  last: number;
}

const state = new WeakMap<FileDescription, Async>();

function of(file: FileDescription): Async {
  let a = state.get(file);
  if (!a) state.set(file, a = { sig: 0, fd: -1, last: 0 });
  return a;
}

/** F_GETOWN: a process id, a negated process group id, or 0. */
export function getOwn(file: FileDescription): number {
  const o = state.get(file)?.owner;
  if (!o) return 0;
  return o.type === F_OWNER_PGRP ? -o.id : o.id;
}

/** F_GETOWN_EX: a description never given an owner reads as thread 0, as on Linux. */
export function getOwnEx(file: FileDescription): { type: number; pid: number } {
  const o = state.get(file)?.owner;
  return o ? { type: o.type, pid: o.id } : { type: F_OWNER_TID, pid: 0 };
}

/**
 * F_SETOWN_EX, and F_SETOWN (a process, or a process group for a negative id): ESRCH for an id
 * that names nothing, EINVAL for an unknown type; id 0 leaves no one to signal.
 */
export function setOwn(
  t: Task,
  file: FileDescription,
  type: number,
  id: number,
  canKill: boolean,
): void {
  if (type !== F_OWNER_TID && type !== F_OWNER_PID && type !== F_OWNER_PGRP) {
    throw new SysError(Errno.EINVAL);
  }
  const k = t.kernel;
  if (id !== 0 && (id < 0 || !(k.tasks.has(id) || k.threadGroups.has(id) || isGroup(k, id)))) {
    throw new SysError(Errno.ESRCH);
  }
  of(file).owner = { type, id, uid: t.tg.uid, euid: t.tg.euid, canKill, kernel: k };
}

function isGroup(k: Kernel, pgid: number): boolean {
  for (const g of k.threadGroups.values()) if (g.pgid === pgid) return true;
  return false;
}

/** F_GETSIG: the signal readiness is reported with; 0 is SIGIO. */
export function sigioSignal(file: FileDescription): number {
  return state.get(file)?.sig ?? 0;
}

/** F_SETSIG: EINVAL for a number that is no signal. */
export function setSigioSignal(file: FileDescription, sig: number): void {
  if (sig < 0 || sig > 64) throw new SysError(Errno.EINVAL);
  of(file).sig = sig;
}

/**
 * Follows a change of O_ASYNC on `file` (F_SETFL, FIOASYNC), made through descriptor `fd`:
 * starts or stops listening to the file's readiness.
 */
export function setAsync(file: FileDescription, fd: number, on: boolean): void {
  const a = of(file);
  a.fd = fd;
  if (!on) {
    a.stop?.();
    a.stop = undefined;
    return;
  }
  if (a.stop) return;
  if (file.subscribeAsync) {
    a.stop = file.subscribeAsync((band) => signal(a, band === POLLIN ? POLL_IN : POLL_OUT));
    return;
  }
  a.last = file.readiness(ALL);
  a.stop = file.queue.subscribe(() => changed(file, a));
}

/** Ends what O_ASYNC holds for a released description. */
export function releaseAsync(file: FileDescription): void {
  state.get(file)?.stop?.();
  state.delete(file);
}

const ALL = POLLIN | POLLOUT | POLLPRI | POLLERR | POLLHUP;

function changed(file: FileDescription, a: Async): void {
  const now = file.readiness(ALL);
  const was = a.last;
  a.last = now;
  let reason = 0;
  if (now & POLLERR) reason = POLL_ERR;
  else if (now & POLLHUP) reason = POLL_HUP;
  else if (now & POLLPRI) reason = POLL_PRI;
  else if (now & POLLIN) reason = POLL_IN;
  else if ((now & POLLOUT) && !(was & POLLOUT)) reason = POLL_OUT;
  if (reason !== 0) signal(a, reason);
}

/** Signals the owner, if any, that `reason` (a POLL_* si_code) happened. */
function signal(a: Async, reason: number): void {
  if (!a.owner || a.owner.id === 0) return;
  const info: SigInfo = a.sig === 0
    ? { signo: SIGIO, errno: 0, code: SI_KERNEL }
    : { signo: a.sig, errno: 0, code: reason, band: BigInt(BANDS[reason]), fd: a.fd };
  deliver(a.owner, info);
}

/** Whether the owner's namer may signal `g` (as kill(2) would let them). */
function permitted(o: Owner, g: ThreadGroup): boolean {
  return o.canKill || [o.uid, o.euid].some((u) => u === g.uid || u === g.suid);
}

function deliver(o: Owner, info: SigInfo): void {
  const k = o.kernel;
  if (o.type === F_OWNER_TID) {
    const task = k.tasks.get(o.id);
    if (task && !task.tg.zombie && permitted(o, task.tg)) task.sendSignal({ ...info });
    return;
  }
  const groups = o.type === F_OWNER_PID
    ? [k.threadGroups.get(o.id)]
    : [...k.threadGroups.values()].filter((g) => g.pgid === o.id);
  for (const g of groups) {
    if (g && !g.zombie && permitted(o, g) && !g.initDrops(info.signo, false)) {
      g.sendSignal({ ...info });
    }
  }
}
