/**
 * read(2), write(2) and their vectored forms.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import { accessOk, argInt, argPtr, argSize } from "./args.ts";
import { SysError } from "./errors.ts";
import type { SyscallDef } from "./table.ts";

/** Largest piece copied through the Sentry at once; longer writes are done piecewise. */
const CHUNK = 1 << 20;
const UIO_MAXIOV = 1024;

/** Implements Linux syscall read(2). */
async function read(t: Task): Promise<number> {
  const file = t.fdTable.get(argInt(t, 0));
  const addr = argPtr(t, 1);
  accessOk(t, addr, argPtr(t, 2));
  const len = Math.min(argSize(t, 2), CHUNK);
  const buf = new Uint8Array(len);
  const n = await file.read(t, buf);
  if (n > 0) t.mm.copyOut(addr, buf.subarray(0, n));
  return n;
}

async function writeAll(t: Task, fd: number, data: Uint8Array<ArrayBuffer>): Promise<number> {
  const file = t.fdTable.get(fd);
  let done = 0;
  while (done < data.length) {
    const piece = data.subarray(done, Math.min(done + CHUNK, data.length));
    const n = await file.write(t, piece);
    done += n;
    if (n < piece.length) break;
  }
  return done;
}

/** Implements Linux syscall write(2). */
function write(t: Task): Promise<number> {
  const fd = argInt(t, 0);
  t.fdTable.get(fd);
  accessOk(t, argPtr(t, 1), argPtr(t, 2));
  return writeAll(t, fd, t.mm.copyIn(argPtr(t, 1), argSize(t, 2)));
}

/** Reads an iovec array: [base, len] pairs. */
function copyInIovecs(t: Task, addr: bigint, count: number): [bigint, number][] {
  if (count < 0 || count > UIO_MAXIOV) throw new SysError(Errno.EINVAL);
  const raw = t.mm.copyIn(addr, count * 16);
  const v = new DataView(raw.buffer);
  const out: [bigint, number][] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const len = v.getBigInt64(i * 16 + 8, true);
    if (len < 0n) throw new SysError(Errno.EINVAL);
    total += Number(len);
    if (total > 0x7ffff000) throw new SysError(Errno.EINVAL);
    out.push([v.getBigUint64(i * 16, true), Number(len)]);
  }
  return out;
}

/** Implements Linux syscall writev(2): one write of the gathered buffers (atomic on pipes). */
function writev(t: Task): Promise<number> {
  const fd = argInt(t, 0);
  t.fdTable.get(fd);
  const iovs = copyInIovecs(t, argPtr(t, 1), argInt(t, 2));
  const total = iovs.reduce((s, [, l]) => s + l, 0);
  const data = new Uint8Array(total);
  let o = 0;
  for (const [base, len] of iovs) {
    if (len === 0) continue;
    data.set(t.mm.copyIn(base, len), o);
    o += len;
  }
  return writeAll(t, fd, data);
}

/** Implements Linux syscall readv(2). */
async function readv(t: Task): Promise<number> {
  const file = t.fdTable.get(argInt(t, 0));
  const iovs = copyInIovecs(t, argPtr(t, 1), argInt(t, 2));
  const total = Math.min(iovs.reduce((s, [, l]) => s + l, 0), CHUNK);
  const buf = new Uint8Array(total);
  const n = await file.read(t, buf);
  let o = 0;
  for (const [base, len] of iovs) {
    if (o >= n) break;
    const m = Math.min(len, n - o);
    t.mm.copyOut(base, buf.subarray(o, o + m));
    o += m;
  }
  return n;
}

export const syscalls: Record<string, SyscallDef> = {
  read: { handler: read, args: ["d", "x", "d"] },
  write: { handler: write, args: ["d", "b", "d"] },
  readv: { handler: readv, args: ["d", "x", "d"] },
  writev: { handler: writev, args: ["d", "x", "d"] },
};
