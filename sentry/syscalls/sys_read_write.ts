/**
 * read(2), write(2), their positional and vectored forms, and lseek(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import type { FileDescription, MaybeAsync } from "../vfs/file.ts";
import { accessOk, argI64, argInt, argPtr, argSize, MAX_RW_COUNT } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { UserIo } from "../mm/io.ts";
import type { SyscallDef } from "./table.ts";
import { O_PATH } from "../../abi/linux/file.ts";
import { Iovec, UIO_MAXIOV } from "../../abi/linux/uio.ts";

/** Largest piece copied through the Sentry at once; longer writes are done piecewise. */
const CHUNK = 1 << 20;

/** The file behind fd, refusing O_PATH descriptors (EBADF) as read and write do. */
function fileFor(t: Task, fd: number): FileDescription {
  const f = t.fdTable.get(fd);
  if (f.flags & O_PATH) throw new SysError(Errno.EBADF);
  return f;
}

/** Checks a pread/pwrite offset. */
function checkOffset(off: bigint): bigint {
  if (off < 0n) throw new SysError(Errno.EINVAL);
  return off;
}

/**
 * Reads into iovs: straight into application memory for files that can (readTo), else
 * through one Sentry buffer.
 */
function readInto(
  t: Task,
  file: FileDescription,
  iovs: [bigint, number][],
  offset?: bigint,
): MaybeAsync<number> {
  if (file.readTo) return file.readTo(t, new UserIo(t.mm, iovs), offset);
  return readBuffered(t, file, iovs, offset);
}

async function readBuffered(
  t: Task,
  file: FileDescription,
  iovs: [bigint, number][],
  offset?: bigint,
): Promise<number> {
  const total = Math.min(iovs.reduce((s, [, l]) => s + l, 0), CHUNK);
  const buf = new Uint8Array(total);
  let n = file.read(t, buf, offset);
  if (n instanceof Promise) n = await n;
  let o = 0;
  for (const [base, len] of iovs) {
    if (o >= n) break;
    const m = Math.min(len, n - o);
    t.mm.copyOut(base, buf.subarray(o, o + m));
    o += m;
  }
  return n;
}

async function writeAll(
  t: Task,
  file: FileDescription,
  data: Uint8Array<ArrayBuffer>,
  offset?: bigint,
): Promise<number> {
  let done = 0;
  while (done < data.length || data.length === 0) {
    const piece = data.subarray(done, Math.min(done + CHUNK, data.length));
    let n = file.write(t, piece, offset === undefined ? undefined : offset + BigInt(done));
    if (n instanceof Promise) n = await n;
    done += n;
    if (n < piece.length || data.length === 0) break;
  }
  return done;
}

/**
 * Reads an iovec array: [base, len] pairs (lengths capped at MAX_RW_COUNT in all). Each range
 * is checked to be the caller's unless `checkAccess` is false (process_vm_readv's remote
 * ranges belong to another process).
 */
export function copyInIovecs(
  t: Task,
  addr: bigint,
  count: number,
  checkAccess = true,
): [bigint, number][] {
  if (count < 0 || count > UIO_MAXIOV) throw new SysError(Errno.EINVAL);
  if (count === 0) return [];
  const raw = t.mm.copyIn(addr, count * Iovec.size);
  const out: [bigint, number][] = [];
  let total = 0;
  for (const { base, len } of Iovec.decodeArray(raw, count)) {
    if (len < 0n) throw new SysError(Errno.EINVAL);
    const l = Math.min(Number(len), MAX_RW_COUNT - total);
    if (checkAccess && l > 0) accessOk(t, base, BigInt(l));
    total += l;
    out.push([base, l]);
  }
  return out;
}

function gather(t: Task, iovs: [bigint, number][]): Uint8Array<ArrayBuffer> {
  const total = iovs.reduce((s, [, l]) => s + l, 0);
  const data = new Uint8Array(total);
  let o = 0;
  for (const [base, len] of iovs) {
    if (t.mm.copyInUpTo(base, data.subarray(o, o + len)) < len) throw new SysError(Errno.EFAULT);
    o += len;
  }
  return data;
}

/** Implements Linux syscall read(2). */
function read(t: Task): MaybeAsync<number> {
  const file = fileFor(t, argInt(t, 0));
  accessOk(t, argPtr(t, 1), argPtr(t, 2));
  return readInto(t, file, [[argPtr(t, 1), argSize(t, 2)]]);
}

/**
 * Writes the bytes of iovs: straight from application memory for files that can take them so
 * (writeFrom), else gathered into one Sentry buffer (one write, so atomic on pipes either way).
 */
function writeFrom(
  t: Task,
  file: FileDescription,
  iovs: [bigint, number][],
  offset?: bigint,
): MaybeAsync<number> {
  if (file.writeFrom) return file.writeFrom(t, new UserIo(t.mm, iovs), offset);
  return writeAll(t, file, gather(t, iovs), offset);
}

/** Implements Linux syscall write(2). */
function write(t: Task): MaybeAsync<number> {
  const file = fileFor(t, argInt(t, 0));
  accessOk(t, argPtr(t, 1), argPtr(t, 2));
  return writeFrom(t, file, [[argPtr(t, 1), argSize(t, 2)]]);
}

/** Implements Linux syscall pread64(2). */
function pread64(t: Task): MaybeAsync<number> {
  const file = fileFor(t, argInt(t, 0));
  accessOk(t, argPtr(t, 1), argPtr(t, 2));
  return readInto(t, file, [[argPtr(t, 1), argSize(t, 2)]], checkOffset(argI64(t, 3)));
}

/** Implements Linux syscall pwrite64(2). */
function pwrite64(t: Task): MaybeAsync<number> {
  const file = fileFor(t, argInt(t, 0));
  accessOk(t, argPtr(t, 1), argPtr(t, 2));
  const off = checkOffset(argI64(t, 3));
  return writeFrom(t, file, [[argPtr(t, 1), argSize(t, 2)]], off);
}

/** Implements Linux syscall readv(2). */
function readv(t: Task): MaybeAsync<number> {
  const file = fileFor(t, argInt(t, 0));
  return readInto(t, file, copyInIovecs(t, argPtr(t, 1), argInt(t, 2)));
}

/** Implements Linux syscall writev(2): one write of the gathered buffers (atomic on pipes). */
function writev(t: Task): MaybeAsync<number> {
  const file = fileFor(t, argInt(t, 0));
  return writeFrom(t, file, copyInIovecs(t, argPtr(t, 1), argInt(t, 2)));
}

/** The offset of preadv/pwritev: split in two registers; -1 means the file offset (v2). */
function vOffset(t: Task, v2: boolean): bigint | undefined {
  const off = argI64(t, 3);
  if (v2 && off === -1n) return undefined;
  return checkOffset(off);
}

/** Implements Linux syscall preadv(2) (and preadv2(2) without flags). */
function preadvCommon(t: Task, v2: boolean): MaybeAsync<number> {
  const file = fileFor(t, argInt(t, 0));
  if (v2 && argInt(t, 5) & ~0x1f) throw new SysError(Errno.EOPNOTSUPP);
  return readInto(t, file, copyInIovecs(t, argPtr(t, 1), argInt(t, 2)), vOffset(t, v2));
}

function pwritevCommon(t: Task, v2: boolean): MaybeAsync<number> {
  const file = fileFor(t, argInt(t, 0));
  if (v2 && argInt(t, 5) & ~0x1f) throw new SysError(Errno.EOPNOTSUPP);
  return writeFrom(t, file, copyInIovecs(t, argPtr(t, 1), argInt(t, 2)), vOffset(t, v2));
}

/** Implements Linux syscall lseek(2). */
function lseek(t: Task): bigint {
  const file = t.fdTable.get(argInt(t, 0));
  if (file.flags & O_PATH) throw new SysError(Errno.EBADF);
  return file.seek(t, argI64(t, 1), argInt(t, 2));
}

export const syscalls: Record<string, SyscallDef> = {
  read: { handler: read, args: ["d", "x", "d"] },
  write: { handler: write, args: ["d", "b", "d"] },
  pread64: { handler: pread64, args: ["d", "x", "d", "d"] },
  pwrite64: { handler: pwrite64, args: ["d", "b", "d", "d"] },
  readv: { handler: readv, args: ["d", "x", "d"] },
  writev: { handler: writev, args: ["d", "x", "d"] },
  preadv: { handler: (t) => preadvCommon(t, false), args: ["d", "x", "d", "d"] },
  pwritev: { handler: (t) => pwritevCommon(t, false), args: ["d", "x", "d", "d"] },
  preadv2: {
    handler: (t) => preadvCommon(t, true),
    support: "partial",
    note: "RWF_* flags are accepted and ignored",
    args: ["d", "x", "d", "d", "d", "x"],
  },
  pwritev2: {
    handler: (t) => pwritevCommon(t, true),
    support: "partial",
    note: "RWF_* flags are accepted and ignored",
    args: ["d", "x", "d", "d", "d", "x"],
  },
  lseek: { handler: lseek, args: ["d", "d", "d"] },
};
