/**
 * Waiting for readiness: poll(2), ppoll(2), select(2), pselect6(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import {
  type FileDescription,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLPRI,
  POLLRDBAND,
  POLLRDNORM,
  POLLWRBAND,
  POLLWRNORM,
} from "../vfs/file.ts";
import { waitOn, type WaitQueue } from "../vfs/waiter.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { Timespec, timespecValid, Timeval } from "../../abi/linux/time.ts";
import { Pollfd, PselectSigmask } from "../../abi/linux/poll.ts";

/** Linux's limit on poll's nfds (RLIMIT_NOFILE in practice). */
const MAX_POLL = 1 << 20;

interface Watch {
  file: FileDescription | undefined;
  events: number;
}

/**
 * Polls watches until one is ready, the deadline (ms since the epoch; null: none) passes, or a
 * signal comes (interruptErrno). Returns the ready events per watch.
 */
export async function pollWatches(
  t: Task,
  watches: Watch[],
  deadline: number | null,
  interruptErrno: number,
): Promise<number[]> {
  for (;;) {
    let any = false;
    const out = watches.map((w) => {
      if (!w.file) return 0;
      const r = w.file.readiness(w.events | POLLERR | POLLHUP);
      if (r) any = true;
      return r;
    });
    const left = deadline === null ? undefined : deadline - Date.now();
    if (any || (left !== undefined && left <= 0)) return out;
    const queues = new Set<WaitQueue>();
    for (const w of watches) if (w.file) queues.add(w.file.queue);
    await waitOn(t, [...queues], left, interruptErrno);
  }
}

/** Reads a struct timespec timeout into a deadline (null for a NULL pointer). */
export function timespecDeadline(t: Task, addr: bigint): number | null {
  if (addr === 0n) return null;
  const ts = Timespec.decode(t.mm.copyIn(addr, Timespec.size));
  if (!timespecValid(ts)) throw new SysError(Errno.EINVAL);
  return Date.now() + Number(ts.sec) * 1000 + Math.ceil(Number(ts.nsec) / 1e6);
}

/** Writes the time left before deadline as a timespec (ppoll, pselect6) or timeval. */
function writeLeft(t: Task, addr: bigint, deadline: number | null, timeval: boolean): void {
  if (addr === 0n || deadline === null) return;
  const left = Math.max(0, deadline - Date.now());
  const sec = BigInt(Math.floor(left / 1000));
  const frac = left % 1000;
  const b = timeval
    ? Timeval.encode({ sec, usec: BigInt(frac * 1000) })
    : Timespec.encode({ sec, nsec: BigInt(frac * 1_000_000) });
  try {
    t.mm.copyOut(addr, b);
  } catch {
    // Linux ignores a failure to write back the time left.
  }
}

/**
 * Swaps in a temporary signal mask for the wait (ppoll, pselect6); returns what restores it
 * when the call returns normally. When a signal interrupts the wait, the old mask stays saved
 * in savedMask and signal delivery restores it after setting up the handler, as sigsuspend.
 */
export function withSigmask(t: Task, addr: bigint, size: number): () => void {
  if (addr === 0n) return () => {};
  if (size !== 8) throw new SysError(Errno.EINVAL);
  const mask = t.mm.readU64(addr);
  t.savedMask = t.sigmask;
  t.setSignalMask(mask);
  return () => {
    if (t.savedMask !== null) {
      t.setSignalMask(t.savedMask);
      t.savedMask = null;
    }
  };
}

async function doPoll(
  t: Task,
  addr: bigint,
  nfds: number,
  deadline: number | null,
  interruptErrno: number,
): Promise<number> {
  if (nfds < 0 || nfds > MAX_POLL || nfds > Number(t.fdTable.limit)) {
    throw new SysError(Errno.EINVAL);
  }
  const raw = t.mm.copyIn(addr, nfds * Pollfd.size);
  const watches: Watch[] = [];
  const fds: number[] = [];
  for (const { fd, events } of Pollfd.decodeArray(raw, nfds)) {
    fds.push(fd);
    watches.push({ file: fd >= 0 ? t.fdTable.peek(fd) : undefined, events });
  }
  const ready = await pollWatches(
    t,
    watches.map((w, i) => (fds[i] >= 0 && !w.file ? { file: undefined, events: 0 } : w)),
    watches.some((w, i) => fds[i] >= 0 && !w.file) ? Date.now() : deadline,
    interruptErrno,
  );
  let n = 0;
  for (let i = 0; i < nfds; i++) {
    let r = ready[i];
    if (fds[i] >= 0 && !watches[i].file) r = POLLNVAL;
    if (fds[i] < 0) r = 0;
    Pollfd.encodeInto(raw, i * Pollfd.size, { revents: r });
    if (r) n++;
  }
  t.mm.copyOut(addr, raw);
  return n;
}

/** Implements Linux syscall poll(2). */
function poll(t: Task): Promise<number> {
  const ms = argInt(t, 2);
  return doPoll(
    t,
    argPtr(t, 0),
    argInt(t, 1),
    ms < 0 ? null : Date.now() + ms,
    Errno.ERESTARTNOHAND,
  );
}

/** Implements Linux syscall ppoll(2). */
async function ppoll(t: Task): Promise<number> {
  const tsAddr = argPtr(t, 2);
  const deadline = timespecDeadline(t, tsAddr);
  const restore = withSigmask(t, argPtr(t, 3), Number(t.regs.arg(4)));
  try {
    const n = await doPoll(t, argPtr(t, 0), argInt(t, 1), deadline, Errno.ERESTARTNOHAND);
    restore();
    return n;
  } finally {
    writeLeft(t, tsAddr, deadline, false);
  }
}

const SEL_IN = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
const SEL_OUT = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
const SEL_EX = POLLPRI;

async function doSelect(
  t: Task,
  nfds: number,
  sets: [bigint, bigint, bigint],
  deadline: number | null,
  interruptErrno: number,
): Promise<number> {
  if (nfds < 0) throw new SysError(Errno.EINVAL);
  nfds = Math.min(nfds, Number(t.fdTable.limit));
  const bytes = Math.ceil(nfds / 64) * 8;
  const bits = sets.map((a) => (a === 0n ? null : t.mm.copyIn(a, bytes)));
  const has = (b: Uint8Array | null, fd: number) =>
    b !== null && (b[fd >> 3] & (1 << (fd & 7))) !== 0;
  const watches: Watch[] = [];
  const which: number[] = [];
  for (let fd = 0; fd < nfds; fd++) {
    let ev = 0;
    if (has(bits[0], fd)) ev |= SEL_IN;
    if (has(bits[1], fd)) ev |= SEL_OUT;
    if (has(bits[2], fd)) ev |= SEL_EX;
    if (!ev) continue;
    const file = t.fdTable.peek(fd);
    if (!file) throw new SysError(Errno.EBADF);
    watches.push({ file, events: ev });
    which.push(fd);
  }
  const ready = await pollWatches(t, watches, deadline, interruptErrno);
  const out = bits.map((b) => (b ? new Uint8Array(b.length) : null));
  let n = 0;
  ready.forEach((r, i) => {
    const fd = which[i];
    const set = (k: number) => {
      out[k]![fd >> 3] |= 1 << (fd & 7);
      n++;
    };
    if (bits[0] && has(bits[0], fd) && (r & SEL_IN)) set(0);
    if (bits[1] && has(bits[1], fd) && (r & SEL_OUT)) set(1);
    if (bits[2] && has(bits[2], fd) && (r & SEL_EX)) set(2);
  });
  out.forEach((b, k) => b && t.mm.copyOut(sets[k], b));
  return n;
}

/** Implements Linux syscall select(2). */
async function select(t: Task): Promise<number> {
  const tvAddr = argPtr(t, 4);
  let deadline: number | null = null;
  if (tvAddr !== 0n) {
    const { sec, usec } = Timeval.decode(t.mm.copyIn(tvAddr, Timeval.size));
    if (sec < 0n || usec < 0n) throw new SysError(Errno.EINVAL);
    deadline = Date.now() + Number(sec) * 1000 + Math.ceil(Number(usec) / 1000);
  }
  try {
    return await doSelect(
      t,
      argInt(t, 0),
      [argPtr(t, 1), argPtr(t, 2), argPtr(t, 3)],
      deadline,
      Errno.ERESTARTNOHAND,
    );
  } finally {
    writeLeft(t, tvAddr, deadline, true);
  }
}

/** Implements Linux syscall pselect6(2). */
async function pselect6(t: Task): Promise<number> {
  const tsAddr = argPtr(t, 4);
  const deadline = timespecDeadline(t, tsAddr);
  let restore = () => {};
  const sigAddr = argPtr(t, 5);
  if (sigAddr !== 0n) {
    const { ss, len } = PselectSigmask.decode(t.mm.copyIn(sigAddr, PselectSigmask.size));
    restore = withSigmask(t, ss, Number(len));
  }
  try {
    const n = await doSelect(
      t,
      argInt(t, 0),
      [argPtr(t, 1), argPtr(t, 2), argPtr(t, 3)],
      deadline,
      Errno.ERESTARTNOHAND,
    );
    restore();
    return n;
  } finally {
    writeLeft(t, tsAddr, deadline, false);
  }
}

export const syscalls: Record<string, SyscallDef> = {
  poll: { handler: poll, args: ["x", "d", "d"] },
  ppoll: { handler: ppoll, args: ["x", "d", "x", "x", "d"] },
  select: { handler: select, args: ["d", "x", "x", "x", "x"] },
  pselect6: { handler: pselect6, args: ["d", "x", "x", "x", "x", "x"] },
};
