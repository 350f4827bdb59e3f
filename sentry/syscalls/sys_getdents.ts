/**
 * Directory listing: getdents64(2) and getdents(2).
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import type { DirEntry } from "../vfs/inode.ts";
import { accessOk, argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "./errors.ts";
import type { SyscallDef } from "./table.ts";

const enc = new TextEncoder();

/** The largest buffer one call fills; Linux has no limit, but a listing is rarely that long. */
const MAX_COUNT = 1 << 20;

/**
 * Where records are assembled before one copy-out. Handlers run one at a time and do not
 * yield between packing and copying out, so one buffer serves every call; it grows to the
 * largest count asked for.
 */
let scratch = new Uint8Array(32768);
let view = new DataView(scratch.buffer);

/**
 * Implements Linux syscalls getdents64(2) and, with old, getdents(2): records of
 * ino (8), d_off (8), reclen (2), then type (1) and the name in the 64-bit layout, or the
 * name, a NUL and type in the last byte in the old one; each padded to 8 bytes.
 */
function getdentsCommon(t: Task, old: boolean): number {
  const f = t.fdTable.get(argInt(t, 0));
  const addr = argPtr(t, 1);
  const count = Math.min(argU32(t, 2), MAX_COUNT);
  accessOk(t, addr, BigInt(count));
  if (scratch.length < count) {
    scratch = new Uint8Array(count);
    view = new DataView(scratch.buffer);
  }
  const buf = scratch;
  const v = view;
  const head = old ? 18 : 19;
  const tail = old ? 2 : 1;
  let o = 0;
  let offered = false;
  f.iterDirents(t, (e: DirEntry, next: number) => {
    offered = true;
    const name = e.nameBytes ??= enc.encode(e.name);
    const reclen = (head + name.length + tail + 7) & ~7;
    if (o + reclen > count) return false;
    v.setBigUint64(o, e.ino, true);
    v.setUint32(o + 8, next >>> 0, true);
    v.setUint32(o + 12, Math.floor(next / 0x1_0000_0000), true);
    v.setUint16(o + 16, reclen, true);
    buf.set(name, o + head);
    // The buffer is reused: the name's NUL and the padding must be written, not assumed.
    buf.fill(0, o + head + name.length, o + reclen);
    if (old) buf[o + reclen - 1] = e.type;
    else buf[o + 18] = e.type;
    o += reclen;
    return true;
  });
  if (o === 0) {
    // Entries remain but not one fits.
    if (offered) throw new SysError(Errno.EINVAL);
    return 0;
  }
  t.mm.copyOut(addr, buf.subarray(0, o));
  return o;
}

export const syscalls: Record<string, SyscallDef> = {
  getdents64: { handler: (t) => getdentsCommon(t, false), args: ["d", "x", "d"] },
  getdents: { handler: (t) => getdentsCommon(t, true), args: ["d", "x", "d"] },
};
