/**
 * ioctl(2).
 *
 * @module
 */

import type { Task } from "../kernel/task.ts";
import { argInt, argPtr, argU32 } from "./args.ts";
import type { SyscallDef } from "./table.ts";

/** Implements Linux syscall ioctl(2) by handing the request to the file. */
function ioctl(t: Task): number | Promise<number> {
  return t.fdTable.get(argInt(t, 0)).ioctl(t, argU32(t, 1), argPtr(t, 2));
}

export const syscalls: Record<string, SyscallDef> = {
  ioctl: {
    handler: ioctl,
    support: "partial",
    note: "TCGETS and TIOCGWINSZ on host terminals; others answer ENOTTY",
    args: ["d", "x", "x"],
  },
};
