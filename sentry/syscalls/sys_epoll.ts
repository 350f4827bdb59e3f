/**
 * epoll_create(2), epoll_create1(2), epoll_ctl(2), epoll_wait(2), epoll_pwait(2),
 * epoll_pwait2(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { EPOLLET, EPOLLEXCLUSIVE, EpollFile, EPOLLONESHOT, EPOLLWAKEUP } from "../fs/epoll.ts";
import { O_CLOEXEC, O_PATH, O_RDWR } from "../vfs/file.ts";
import { waitOn } from "../vfs/waiter.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { EpollEvent } from "../../abi/linux/poll.ts";
import { timespecDeadline, withSigmask } from "./sys_poll.ts";

const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EP_MAX_EVENTS = 0x7fffffff / EpollEvent.size;

function create(t: Task, flags: number): number {
  if (flags & ~O_CLOEXEC) throw new SysError(Errno.EINVAL);
  return t.fdTable.install(new EpollFile(O_RDWR), (flags & O_CLOEXEC) !== 0);
}

function epollOf(t: Task, fd: number): EpollFile {
  const f = t.fdTable.get(fd);
  if (!(f instanceof EpollFile)) throw new SysError(Errno.EINVAL);
  return f;
}

/** Implements Linux syscall epoll_ctl(2). */
function epollCtl(t: Task): number {
  const ep = epollOf(t, argInt(t, 0));
  const op = argInt(t, 1), fd = argInt(t, 2);
  const file = t.fdTable.get(fd);
  if (file.flags & O_PATH) throw new SysError(Errno.EBADF);
  if (file === ep) throw new SysError(Errno.EINVAL);
  if (file.vd && !file.vd.inode.isDir && (file.vd.inode.mode & 0o170000) === 0o100000) {
    // Regular files and directories cannot be watched.
    throw new SysError(Errno.EPERM);
  }
  if (file.vd?.inode.isDir) throw new SysError(Errno.EPERM);
  let events = 0, data = 0n;
  if (op !== EPOLL_CTL_DEL) {
    ({ events, data } = EpollEvent.decode(t.mm.copyIn(argPtr(t, 3), EpollEvent.size)));
    if (
      (events & EPOLLEXCLUSIVE) && (events & (EPOLLONESHOT | EPOLLWAKEUP) || op === EPOLL_CTL_MOD)
    ) {
      throw new SysError(Errno.EINVAL);
    }
  }
  switch (op) {
    case EPOLL_CTL_ADD:
      ep.add(fd, file, events, data);
      return 0;
    case EPOLL_CTL_MOD:
      ep.modify(fd, file, events, data);
      return 0;
    case EPOLL_CTL_DEL:
      ep.remove(fd, file);
      return 0;
    default:
      throw new SysError(Errno.EINVAL);
  }
}

async function wait(t: Task, deadline: number | null, mask?: [bigint, number]): Promise<number> {
  const ep = epollOf(t, argInt(t, 0));
  const addr = argPtr(t, 1), max = argInt(t, 2);
  if (max <= 0 || max > EP_MAX_EVENTS) throw new SysError(Errno.EINVAL);
  const restore = mask ? withSigmask(t, mask[0], mask[1]) : () => {};
  for (;;) {
    const evs = ep.collect(t, max);
    const left = deadline === null ? undefined : deadline - Date.now();
    if (evs.length > 0 || (left !== undefined && left <= 0)) {
      const b = EpollEvent.encodeArray(evs);
      if (b.length) t.mm.copyOut(addr, b);
      restore();
      return evs.length;
    }
    await waitOn(t, [ep.queue], left, Errno.EINTR);
  }
}

function msDeadline(ms: number): number | null {
  return ms < 0 ? null : Date.now() + ms;
}

/** Implements Linux syscall epoll_pwait2(2): the timeout is a struct timespec. */
function epollPwait2(t: Task): Promise<number> {
  const ts = argPtr(t, 3);
  return wait(t, timespecDeadline(t, ts), [argPtr(t, 4), Number(t.regs.arg(5))]);
}

export const syscalls: Record<string, SyscallDef> = {
  epoll_create: {
    handler: (t) => {
      if (argInt(t, 0) <= 0) throw new SysError(Errno.EINVAL);
      return create(t, 0);
    },
    args: ["d"],
  },
  epoll_create1: { handler: (t) => create(t, argInt(t, 0)), args: ["x"] },
  epoll_ctl: { handler: epollCtl, args: ["d", "d", "d", "x"] },
  epoll_wait: { handler: (t) => wait(t, msDeadline(argInt(t, 3))), args: ["d", "x", "d", "d"] },
  epoll_pwait: {
    handler: (t) => wait(t, msDeadline(argInt(t, 3)), [argPtr(t, 4), Number(t.regs.arg(5))]),
    args: ["d", "x", "d", "d", "x", "d"],
  },
  epoll_pwait2: { handler: epollPwait2, args: ["d", "x", "d", "x", "x", "d"] },
};

void EPOLLET;
