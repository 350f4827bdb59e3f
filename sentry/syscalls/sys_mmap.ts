/**
 * brk(2), mmap(2), munmap(2), mprotect(2).
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import { PAGE_SIZE, pageRoundUp } from "../mm/memory_file.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "./errors.ts";
import type { SyscallDef } from "./table.ts";

const MAP_SHARED = 0x1;
const MAP_PRIVATE = 0x2;
const MAP_SHARED_VALIDATE = 0x3;
const MAP_TYPE = 0xf;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_FIXED_NOREPLACE = 0x100000;
const PROT_ALL = 0x7;
const PROT_GROWSDOWN = 0x01000000;
const PROT_GROWSUP = 0x02000000;

function aligned(v: bigint): boolean {
  return (v & (PAGE_SIZE - 1n)) === 0n;
}

/** Implements Linux syscall brk(2). */
function brk(t: Task): bigint {
  return t.mm.setBrk(argPtr(t, 0));
}

/** Implements Linux syscall mmap(2) for anonymous memory. */
function mmap(t: Task): bigint {
  const addr = argPtr(t, 0);
  const length = argPtr(t, 1);
  const prot = argInt(t, 2);
  const flags = argInt(t, 3);
  const offset = argPtr(t, 5);
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) {
    throw new SysError(Errno.EINVAL);
  }
  if (length === 0n || !aligned(offset)) throw new SysError(Errno.EINVAL);
  if ((flags & MAP_ANONYMOUS) === 0) {
    // File-backed mappings need the VFS's mappable files (the "files and I/O" work).
    throw new SysError(Errno.ENODEV);
  }
  const len = pageRoundUp(length);
  if (len === 0n || len > t.mm.maxAddress) throw new SysError(Errno.ENOMEM);
  const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
  let at: bigint;
  if (fixed) {
    if (!aligned(addr)) throw new SysError(Errno.EINVAL);
    if (!t.mm.validRange(addr, addr + len)) throw new SysError(Errno.ENOMEM);
    if ((flags & MAP_FIXED_NOREPLACE) && t.mm.overlaps(addr, addr + len)) {
      throw new SysError(Errno.EEXIST);
    }
    at = addr;
  } else {
    const hint = addr & ~(PAGE_SIZE - 1n);
    if (hint !== 0n && t.mm.validRange(hint, hint + len) && !t.mm.overlaps(hint, hint + len)) {
      at = hint;
    } else {
      const gap = t.mm.findGap(len);
      if (gap === null) throw new SysError(Errno.ENOMEM);
      at = gap;
    }
  }
  // Linux ignores protection bits it does not know in mmap (unlike mprotect).
  const vma = t.mm.mapAnonymous(at, len, prot & PROT_ALL);
  vma.shared = type !== MAP_PRIVATE;
  return at;
}

/** Implements Linux syscall munmap(2). */
function munmap(t: Task): number {
  const addr = argPtr(t, 0);
  const len = pageRoundUp(argPtr(t, 1));
  if (!aligned(addr) || len === 0n) throw new SysError(Errno.EINVAL);
  if (addr + len > t.mm.maxAddress) throw new SysError(Errno.EINVAL);
  t.mm.unmapRange(addr, addr + len);
  return 0;
}

/** Implements Linux syscall mprotect(2). */
function mprotect(t: Task): number {
  const addr = argPtr(t, 0);
  const len = pageRoundUp(argPtr(t, 1));
  const prot = argInt(t, 2) & ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (!aligned(addr) || (prot & ~PROT_ALL) !== 0) throw new SysError(Errno.EINVAL);
  if (len === 0n) return 0;
  t.mm.protect(addr, addr + len, prot);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  brk: { handler: brk, args: ["x"] },
  mmap: {
    handler: mmap,
    support: "partial",
    note: "anonymous mappings only; file mappings answer ENODEV",
    args: ["x", "d", "x", "x", "d", "x"],
  },
  munmap: { handler: munmap, args: ["x", "d"] },
  mprotect: { handler: mprotect, args: ["x", "d", "x"] },
};
