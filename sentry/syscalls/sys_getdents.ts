/**
 * Directory listing: getdents64(2) and getdents(2).
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import type { Dirent } from "../vfs/file.ts";
import { accessOk, argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "./errors.ts";
import type { SyscallDef } from "./table.ts";

const enc = new TextEncoder();

/** Packs as many entries as fit in count bytes, in the 64-bit or the old layout. */
function pack(
  entries: Dirent[],
  count: number,
  old: boolean,
): { buf: Uint8Array; last: bigint; n: number } {
  const buf = new Uint8Array(count);
  const v = new DataView(buf.buffer);
  let o = 0;
  let last = -1n;
  let n = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    // Header: ino (8), off (8), reclen (2), then type (1) before the name in the 64-bit layout.
    const head = old ? 18 : 19;
    const reclen = (head + name.length + 1 + (old ? 1 : 0) + 7) & ~7;
    if (o + reclen > count) break;
    v.setBigUint64(o, e.ino, true);
    v.setBigInt64(o + 8, e.off, true);
    v.setUint16(o + 16, reclen, true);
    if (old) {
      buf.set(name, o + 18);
      buf[o + reclen - 1] = e.type;
    } else {
      buf[o + 18] = e.type;
      buf.set(name, o + 19);
    }
    o += reclen;
    last = e.off;
    n++;
  }
  return { buf: buf.subarray(0, o), last, n };
}

function getdentsCommon(t: Task, old: boolean): number {
  const f = t.fdTable.get(argInt(t, 0));
  const addr = argPtr(t, 1);
  const count = Math.min(argU32(t, 2), 1 << 20);
  accessOk(t, addr, BigInt(count));
  const entries = f.getdents(t);
  if (entries.length === 0) return 0;
  const { buf, last, n } = pack(entries, count, old);
  if (n === 0) throw new SysError(Errno.EINVAL);
  t.mm.copyOut(addr, buf);
  f.advanceDir?.(last);
  return buf.length;
}

export const syscalls: Record<string, SyscallDef> = {
  getdents64: { handler: (t) => getdentsCommon(t, false), args: ["d", "x", "d"] },
  getdents: { handler: (t) => getdentsCommon(t, true), args: ["d", "x", "d"] },
};
