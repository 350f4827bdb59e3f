/**
 * uname(2), sethostname(2), setdomainname(2).
 *
 * @module
 */

import { CAP, capable } from "../kernel/task_creds.ts";
import type { Task } from "../kernel/task.ts";
import { Errno } from "../../abi/linux/errno.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { decodeBytes, encodeBytes } from "../../host/utf8b.ts";
import type { SyscallDef } from "./table.ts";
import { UTS, UTS_FIELD_LEN } from "../kernel/uts.ts";

/** Implements Linux syscall uname(2). */
function uname(t: Task): number {
  const b = new Uint8Array(UTS_FIELD_LEN * 6);
  const fields = [
    UTS.sysname,
    t.kernel.hostname,
    UTS.release,
    UTS.version,
    UTS.machine,
    t.kernel.domainname,
  ];
  fields.forEach((f, i) => b.set(encodeBytes(f).subarray(0, UTS_FIELD_LEN - 1), i * UTS_FIELD_LEN));
  t.mm.copyOut(argPtr(t, 0), b);
  return 0;
}

/** sethostname(2) and setdomainname(2): CAP_SYS_ADMIN, at most 64 bytes. */
function setUtsName(t: Task, field: "hostname" | "domainname"): number {
  const len = argInt(t, 1);
  if (len < 0 || len > UTS_FIELD_LEN - 1) throw new SysError(Errno.EINVAL);
  if (!capable(t, CAP.SYS_ADMIN)) throw new SysError(Errno.EPERM);
  const name = decodeBytes(t.mm.copyIn(argPtr(t, 0), len));
  const nul = name.indexOf("\0");
  t.kernel[field] = nul < 0 ? name : name.slice(0, nul);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  uname: { handler: uname, args: ["x"] },
  sethostname: { handler: (t: Task) => setUtsName(t, "hostname"), args: ["x", "d"] },
  setdomainname: { handler: (t: Task) => setUtsName(t, "domainname"), args: ["x", "d"] },
};
