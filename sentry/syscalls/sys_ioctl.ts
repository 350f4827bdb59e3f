/**
 * ioctl(2): the requests every descriptor answers (FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC),
 * then the file's own (terminals, pipes, sockets).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { O_ASYNC, O_NONBLOCK, O_PATH } from "../vfs/file.ts";
import { argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { setAsync } from "../vfs/fasync.ts";
import { decodeValue, i32 } from "../../abi/linux/layout.ts";
import { FIOASYNC, FIOCLEX, FIONBIO, FIONCLEX } from "../../abi/linux/ioctl.ts";

/** Implements Linux syscall ioctl(2). */
function ioctl(t: Task): number | Promise<number> {
  const fd = argInt(t, 0);
  const f = t.fdTable.get(fd);
  const request = argU32(t, 1);
  const arg = argPtr(t, 2);
  switch (request) {
    case FIOCLEX:
      t.fdTable.setCloexec(fd, true);
      return 0;
    case FIONCLEX:
      t.fdTable.setCloexec(fd, false);
      return 0;
  }
  if (f.flags & O_PATH) throw new SysError(Errno.EBADF);
  switch (request) {
    case FIONBIO:
    case FIOASYNC: {
      const on = decodeValue(i32, t.mm.copyIn(arg, 4)) !== 0;
      const bit = request === FIONBIO ? O_NONBLOCK : O_ASYNC;
      const was = f.flags;
      f.flags = on ? f.flags | bit : f.flags & ~bit;
      if ((was ^ f.flags) & O_ASYNC) setAsync(f, fd, on);
      return 0;
    }
  }
  return f.ioctl(t, request, arg);
}

export const syscalls: Record<string, SyscallDef> = {
  ioctl: {
    handler: ioctl,
    support: "partial",
    note: "terminal requests on the Sentry's ptys (and TCGETS/TIOCGWINSZ on host terminals), " +
      "FIONREAD on pipes, FIONBIO/FIOCLEX/FIONCLEX/FIOASYNC everywhere; others answer ENOTTY",
    args: ["d", "x", "x"],
  },
};
