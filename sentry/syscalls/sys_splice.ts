/**
 * Moving data between descriptors inside the Sentry: sendfile(2), splice(2), tee(2),
 * copy_file_range(2). Each is a read from one description and a write to the other through a
 * Sentry buffer; none of them needs the data to pass through application memory.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { PipeFile } from "../fs/pipe.ts";
import { BufferIo } from "../mm/io.ts";
import {
  type FileDescription,
  O_ACCMODE,
  O_APPEND,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
} from "../vfs/file.ts";
import { argInt, argPtr, argU32, MAX_RW_COUNT } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { blockUntil } from "../vfs/waiter.ts";
import type { SyscallDef } from "./table.ts";
import { decodeValue, i64 } from "../../abi/linux/layout.ts";

const CHUNK = 1 << 20;

function readable(f: FileDescription): void {
  if ((f.flags & O_PATH) || (f.flags & O_ACCMODE) === O_WRONLY) throw new SysError(Errno.EBADF);
}
function writable(f: FileDescription): void {
  if ((f.flags & O_PATH) || (f.flags & O_ACCMODE) === O_RDONLY) throw new SysError(Errno.EBADF);
}

/**
 * Copies up to count bytes from `src` (at *inOff when given, else its offset) to `dst` (at
 * *outOff when given). Stops at end of input or a short write; returns bytes moved.
 */
async function transfer(
  t: Task,
  src: FileDescription,
  dst: FileDescription,
  count: number,
  inOff: { v: bigint } | null,
  outOff: { v: bigint } | null,
): Promise<number> {
  let done = 0;
  while (done < count) {
    const buf = new Uint8Array(Math.min(CHUNK, count - done));
    // A pipe cannot take bytes back: its piece is peeked, the pipe locked against other
    // readers, and only what the output took is consumed (endSplice).
    const pipe = src instanceof PipeFile ? src.pipe : null;
    let n = src instanceof PipeFile
      ? src.peekInto(t, buf)
      : src.read(t, buf, inOff ? inOff.v : undefined);
    if (n instanceof Promise) n = await n;
    // (No bytes: the pipe was not locked.)
    if (n === 0) break;
    if (inOff) inOff.v += BigInt(n);
    let w = 0;
    try {
      const p = dst.write(t, buf.subarray(0, n), outOff ? outOff.v : undefined);
      w = p instanceof Promise ? await p : p;
    } catch (e) {
      // A full non-blocking socket or pipe (EAGAIN) after earlier pieces went out: those bytes
      // are gone and must be counted, or the caller sends them again; this piece's read is
      // given back either way.
      giveBack(t, src, inOff, n);
      if (done > 0) return done;
      throw e;
    } finally {
      pipe?.endSplice(buf.subarray(0, w));
    }
    if (outOff) outOff.v += BigInt(w);
    done += w;
    if (w < n) {
      giveBack(t, src, inOff, n - w);
      break;
    }
    // After the first piece, stop rather than wait for more input.
    if (n < buf.length) break;
  }
  return done;
}

/** Gives back `n` bytes read but not written (a pipe's were only peeked: nothing to do). */
function giveBack(t: Task, src: FileDescription, inOff: { v: bigint } | null, n: number): void {
  if (inOff) inOff.v -= BigInt(n);
  else if (!(src instanceof PipeFile)) src.seek(t, BigInt(-n), 1);
}

/** Reads a loff_t argument (NULL: none). */
function readOff(t: Task, addr: bigint): { v: bigint } | null {
  if (addr === 0n) return null;
  const v = decodeValue(i64, t.mm.copyIn(addr, 8));
  if (v < 0n) throw new SysError(Errno.EINVAL);
  return { v };
}

function writeOff(t: Task, addr: bigint, off: { v: bigint } | null): void {
  if (addr !== 0n && off) t.mm.writeU64(addr, off.v);
}

/** Implements Linux syscall sendfile(2). */
async function sendfile(t: Task): Promise<number> {
  const out = t.fdTable.get(argInt(t, 0));
  const inp = t.fdTable.get(argInt(t, 1));
  readable(inp);
  writable(out);
  if (out.flags & O_APPEND) throw new SysError(Errno.EINVAL);
  const offAddr = argPtr(t, 2);
  const off = readOff(t, offAddr);
  if (off && inp instanceof PipeFile) throw new SysError(Errno.ESPIPE);
  // Linux cannot read a pipe for sendfile (pipes have no splice_read): splice does that.
  if (inp instanceof PipeFile) throw new SysError(Errno.EINVAL);
  const count = Math.min(Number(BigInt.asUintN(64, t.regs.arg(3))), MAX_RW_COUNT);
  const n = await transfer(t, inp, out, count, off, null);
  writeOff(t, offAddr, off);
  return n;
}

/** Implements Linux syscall splice(2): one end must be a pipe. */
async function splice(t: Task): Promise<number> {
  const inp = t.fdTable.get(argInt(t, 0));
  const inOffAddr = argPtr(t, 1);
  const out = t.fdTable.get(argInt(t, 2));
  const outOffAddr = argPtr(t, 3);
  const count = Math.min(Number(BigInt.asUintN(64, t.regs.arg(4))), MAX_RW_COUNT);
  const flags = argU32(t, 5);
  readable(inp);
  writable(out);
  if (!(inp instanceof PipeFile) && !(out instanceof PipeFile)) throw new SysError(Errno.EINVAL);
  if (inp instanceof PipeFile && out instanceof PipeFile && inp.pipe === out.pipe) {
    throw new SysError(Errno.EINVAL);
  }
  if (
    (inp instanceof PipeFile && inOffAddr !== 0n) || (out instanceof PipeFile && outOffAddr !== 0n)
  ) {
    throw new SysError(Errno.ESPIPE);
  }
  if (out.flags & O_APPEND) throw new SysError(Errno.EINVAL);
  if (count === 0) return 0;
  const inOff = readOff(t, inOffAddr);
  const outOff = readOff(t, outOffAddr);
  const saved = [inp.flags, out.flags];
  if (flags & SPLICE_F_NONBLOCK) {
    if (inp instanceof PipeFile) inp.flags |= 0o4000;
    if (out instanceof PipeFile) out.flags |= 0o4000;
  }
  try {
    const n = await transfer(t, inp, out, count, inOff, outOff);
    writeOff(t, inOffAddr, inOff);
    writeOff(t, outOffAddr, outOff);
    return n;
  } finally {
    if (flags & SPLICE_F_NONBLOCK) [inp.flags, out.flags] = saved;
  }
}

/** Implements Linux syscall copy_file_range(2). */
async function copyFileRange(t: Task): Promise<number> {
  const inp = t.fdTable.get(argInt(t, 0));
  const inOffAddr = argPtr(t, 1);
  const out = t.fdTable.get(argInt(t, 2));
  const outOffAddr = argPtr(t, 3);
  const count = Math.min(Number(BigInt.asUintN(64, t.regs.arg(4))), MAX_RW_COUNT);
  if (argU32(t, 5) !== 0) throw new SysError(Errno.EINVAL);
  readable(inp);
  writable(out);
  if (out.flags & O_APPEND) throw new SysError(Errno.EBADF);
  if (!inp.vd || !out.vd) throw new SysError(Errno.EINVAL);
  if (inp.vd.inode.isDir || out.vd.inode.isDir) throw new SysError(Errno.EISDIR);
  const inOff = readOff(t, inOffAddr);
  const outOff = readOff(t, outOffAddr);
  const n = await transfer(t, inp, out, count, inOff, outOff);
  writeOff(t, inOffAddr, inOff);
  writeOff(t, outOffAddr, outOff);
  return n;
}

/** Implements Linux syscall tee(2): duplicates pipe data without consuming it. */
/**
 * Implements Linux syscall tee(2): copies data from one pipe to another without consuming it,
 * waiting for data and for room unless SPLICE_F_NONBLOCK.
 */
function tee(t: Task): number | Promise<number> {
  const inp = t.fdTable.get(argInt(t, 0));
  const out = t.fdTable.get(argInt(t, 1));
  if (!(inp instanceof PipeFile) || !(out instanceof PipeFile) || inp.pipe === out.pipe) {
    throw new SysError(Errno.EINVAL);
  }
  const count = Math.min(Number(BigInt.asUintN(64, t.regs.arg(2))), CHUNK);
  const nonblock = (argInt(t, 3) & SPLICE_F_NONBLOCK) !== 0;
  const attempt = (): number | undefined => {
    // A splice from the input is still deciding what it consumes (see PipeFile.peekInto).
    if (inp.pipe.spliceBusy) return undefined;
    const data = new Uint8Array(Math.min(count, inp.pipe.size));
    if (inp.pipe.peek(data) === 0) {
      if (inp.pipe.writers === 0) return 0;
      if (nonblock) throw new SysError(Errno.EAGAIN);
      return undefined;
    }
    const n = out.pipe.put(new BufferIo(data), true);
    if (n > 0) out.pipe.readerEvents.notify();
    if (n === 0) {
      if (nonblock) throw new SysError(Errno.EAGAIN);
      return undefined;
    }
    return n;
  };
  const now = attempt();
  if (now !== undefined) return now;
  return blockUntil(t, [inp.pipe.queue, out.pipe.queue], attempt);
}

const SPLICE_F_NONBLOCK = 2;

export const syscalls: Record<string, SyscallDef> = {
  sendfile: { handler: sendfile, args: ["d", "d", "x", "d"] },
  splice: { handler: splice, args: ["d", "x", "d", "x", "d", "x"] },
  tee: { handler: tee, args: ["d", "d", "d", "x"] },
  copy_file_range: { handler: copyFileRange, args: ["d", "x", "d", "x", "d", "x"] },
};
