/**
 * Credentials: getuid, geteuid, getgid, getegid.
 *
 * @module
 */

import type { Task } from "../kernel/task.ts";
import type { SyscallDef } from "./table.ts";

export const syscalls: Record<string, SyscallDef> = {
  getuid: { handler: (t: Task) => t.tg.uid, args: [] },
  geteuid: { handler: (t: Task) => t.tg.uid, args: [] },
  getgid: { handler: (t: Task) => t.tg.gid, args: [] },
  getegid: { handler: (t: Task) => t.tg.gid, args: [] },
};
