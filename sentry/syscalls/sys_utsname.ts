/**
 * uname(2), sethostname(2).
 *
 * @module
 */

import type { Task } from "../kernel/task.ts";
import { argPtr } from "./args.ts";
import type { SyscallDef } from "./table.ts";

/** What the sandbox reports as its kernel; applications see a fixed Linux, not the host's. */
export const UTS = {
  sysname: "Linux",
  release: "4.4.0",
  version: "#1 SMP Sun Jan 10 15:06:54 PST 2016",
  machine: "x86_64",
};

const FIELD = 65;

/** Implements Linux syscall uname(2). */
function uname(t: Task): number {
  const b = new Uint8Array(FIELD * 6);
  const enc = new TextEncoder();
  const fields = [
    UTS.sysname,
    t.kernel.hostname,
    UTS.release,
    UTS.version,
    UTS.machine,
    t.kernel.domainname,
  ];
  fields.forEach((f, i) => b.set(enc.encode(f).subarray(0, FIELD - 1), i * FIELD));
  t.mm.copyOut(argPtr(t, 0), b);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  uname: { handler: uname, args: ["x"] },
};
