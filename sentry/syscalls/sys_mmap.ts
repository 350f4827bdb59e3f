/**
 * brk(2), mmap(2), munmap(2), mprotect(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { PAGE_SIZE, pageRoundUp } from "../mm/memory_file.ts";
import { LEGACY_MAP_MASK, PROT_SEM, TASK_SIZE } from "../../abi/linux/mm.ts";
import { argInt, argPtr } from "./args.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import type { MMapOpts } from "../mm/mmap_opts.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

const MAP_SHARED = 0x1;
const MAP_PRIVATE = 0x2;
const MAP_SHARED_VALIDATE = 0x3;
const MAP_TYPE = 0xf;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_GROWSDOWN = 0x100;
const MAP_FIXED_NOREPLACE = 0x100000;
const PROT_ALL = 0x7;
const PROT_GROWSDOWN = 0x01000000;
const PROT_GROWSUP = 0x02000000;

function aligned(v: bigint): boolean {
  return (v & (PAGE_SIZE - 1n)) === 0n;
}

/**
 * len rounded up to whole pages as Linux's PAGE_ALIGN rounds a 64-bit length: one within a
 * page of 2^64 wraps to 0, and each call's checks answer that as Linux's do.
 */
function pageAlign(len: bigint): bigint {
  return BigInt.asUintN(64, pageRoundUp(len));
}

/** True when [addr, addr+len) wraps past the top of the 64-bit range. */
function wraps(addr: bigint, len: bigint): boolean {
  return addr + len > 0xffff_ffff_ffff_ffffn;
}

/** Implements Linux syscall brk(2). */
function brk(t: Task): bigint {
  return t.mm.setBrk(argPtr(t, 0));
}

/**
 * Implements Linux syscall mmap(2): decodes the request into MMapOpts, lets the file configure
 * it (access checks, its pages) and the memory manager place it.
 */
function mmap(t: Task): bigint {
  const addr = argPtr(t, 0);
  const length = argPtr(t, 1);
  // Linux ignores protection bits it does not know in mmap (unlike mprotect).
  const prot = argInt(t, 2) & PROT_ALL;
  const flags = argInt(t, 3);
  const offset = argPtr(t, 5);
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) {
    throw new SysError(Errno.EINVAL);
  }
  if (length === 0n || !aligned(offset)) throw new SysError(Errno.EINVAL);
  // A length that rounds up past 2^64 is no room, before any check of the file's offsets.
  if (pageAlign(length) === 0n) throw new SysError(Errno.ENOMEM);
  // Shared anonymous memory takes MAP_SHARED only.
  if ((flags & MAP_ANONYMOUS) && type === MAP_SHARED_VALIDATE) throw new SysError(Errno.EINVAL);
  const opts: MMapOpts = {
    length: pageRoundUp(length),
    offset,
    addr,
    fixed: (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0,
    noReplace: (flags & MAP_FIXED_NOREPLACE) !== 0,
    perms: prot,
    maxPerms: PROT_ALL,
    private: type === MAP_PRIVATE,
    growsDown: (flags & MAP_GROWSDOWN) !== 0,
    name: "",
  };
  if (!(flags & MAP_ANONYMOUS)) {
    const file = t.fdTable.get(argInt(t, 4));
    // No file here offers a flag beyond the legacy ones (MAP_SYNC): MAP_SHARED_VALIDATE says
    // so rather than ignore it.
    if (type === MAP_SHARED_VALIDATE && (flags & ~(LEGACY_MAP_MASK | MAP_FIXED_NOREPLACE))) {
      throw new SysError(Errno.EOPNOTSUPP);
    }
    if (!file.configureMMap) throw new SysError(Errno.ENODEV);
    file.configureMMap(t, opts);
    opts.name = fileName(t, file);
  }
  return t.mm.mmap(opts);
}

/** The path /proc/<pid>/maps shows for a mapping of file. */
function fileName(t: Task, file: { vd?: VirtualDentry }): string {
  if (!file.vd) return "";
  try {
    return t.kernel.vfs.pathOf(file.vd, FsContext.of(t.tg).root);
  } catch {
    return "";
  }
}

const MADV = {
  NORMAL: 0,
  RANDOM: 1,
  SEQUENTIAL: 2,
  WILLNEED: 3,
  DONTNEED: 4,
  FREE: 8,
  REMOVE: 9,
  DONTFORK: 10,
  DOFORK: 11,
  MERGEABLE: 12,
  UNMERGEABLE: 13,
  HUGEPAGE: 14,
  NOHUGEPAGE: 15,
  DONTDUMP: 16,
  DODUMP: 17,
  WIPEONFORK: 18,
  KEEPONFORK: 19,
  COLD: 20,
  PAGEOUT: 21,
};
const KNOWN_ADVICE = new Set(Object.values(MADV));

/** Implements Linux syscall madvise(2): DONTNEED and FREE drop private memory's stores. */
function madvise(t: Task): number {
  const addr = argPtr(t, 0);
  const lenIn = argPtr(t, 1);
  const len = pageAlign(lenIn);
  const advice = argInt(t, 2);
  if (!aligned(addr) || !KNOWN_ADVICE.has(advice)) throw new SysError(Errno.EINVAL);
  if ((lenIn !== 0n && len === 0n) || wraps(addr, len)) throw new SysError(Errno.EINVAL);
  if (len === 0n) return 0;
  if (!t.mm.fullyMapped(addr, addr + len)) throw new SysError(Errno.ENOMEM);
  if (advice === MADV.DONTNEED || advice === MADV.FREE || advice === MADV.REMOVE) {
    t.mm.dontNeed(addr, addr + len);
  }
  return 0;
}

const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;
const MREMAP_DONTUNMAP = 4;

/** Implements Linux syscall mremap(2). */
function mremap(t: Task): bigint {
  const old = argPtr(t, 0);
  const oldLenIn = argPtr(t, 1);
  const newLenIn = argPtr(t, 2);
  const flags = argInt(t, 3);
  const newAddr = argPtr(t, 4);
  if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) throw new SysError(Errno.EINVAL);
  if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) throw new SysError(Errno.EINVAL);
  if ((flags & MREMAP_DONTUNMAP) && (!(flags & MREMAP_MAYMOVE) || oldLenIn !== newLenIn)) {
    throw new SysError(Errno.EINVAL);
  }
  if (!aligned(old)) throw new SysError(Errno.EINVAL);
  const oldLen = pageAlign(oldLenIn);
  const newLen = pageAlign(newLenIn);
  if (newLen === 0n || newLen > TASK_SIZE) throw new SysError(Errno.EINVAL);
  const fixed = (flags & MREMAP_FIXED) ? newAddr : null;
  const dontUnmap = (flags & MREMAP_DONTUNMAP) !== 0;
  return t.mm.remap(old, oldLen, newLen, (flags & MREMAP_MAYMOVE) !== 0, fixed, dontUnmap);
}

/** Implements Linux syscall msync(2): shared file mappings write their pages back. */
function msync(t: Task): number {
  const addr = argPtr(t, 0);
  const len = pageAlign(argPtr(t, 1));
  const flags = argInt(t, 2);
  if (!aligned(addr) || (flags & ~7) || ((flags & 1) && (flags & 4))) {
    throw new SysError(Errno.EINVAL);
  }
  if (wraps(addr, len)) throw new SysError(Errno.ENOMEM);
  if (len === 0n) return 0;
  if (!t.mm.fullyMapped(addr, addr + len)) throw new SysError(Errno.ENOMEM);
  // MS_ASYNC alone schedules a write-back Linux does later; doing it now is as good.
  t.mm.sync(addr, addr + len);
  return 0;
}

/** Pages mincore(2) answers per copy-out: a huge mapping never needs a huge buffer. */
const MINCORE_CHUNK = 1 << 16;

/**
 * Implements Linux syscall mincore(2): a page is resident when the memory file holds data for
 * it (it was touched, or a file's page is cached); never-touched memory, a file's holes and
 * the part of a file mapping past the file's end are not.
 */
function mincore(t: Task): number {
  const addr = argPtr(t, 0);
  const len = pageRoundUp(argPtr(t, 1));
  if (!aligned(addr)) throw new SysError(Errno.EINVAL);
  if (!t.mm.fullyMapped(addr, addr + len)) throw new SysError(Errno.ENOMEM);
  const vec = argPtr(t, 2);
  const pages = len / PAGE_SIZE;
  const chunk = BigInt(MINCORE_CHUNK) * PAGE_SIZE;
  const bits = new Uint8Array(Number(pages < BigInt(MINCORE_CHUNK) ? pages : MINCORE_CHUNK));
  for (let start = addr; start < addr + len; start += chunk) {
    const end = addr + len - start < chunk ? addr + len : start + chunk;
    bits.fill(0);
    for (const v of t.mm.vmasIn(start, end)) {
      if (v.unbacked) continue;
      const s = v.start > start ? v.start : start;
      const e = v.end < end ? v.end : end;
      t.mm.mf.forEachData(v.fileOffset + (s - v.start), e - s, (ds, de) => {
        const from = Number((v.start + (ds - v.fileOffset) - start) / PAGE_SIZE);
        const to = Number((pageRoundUp(v.start + (de - v.fileOffset)) - start) / PAGE_SIZE);
        bits.fill(1, from, to);
      });
    }
    t.mm.copyOut(
      vec + (start - addr) / PAGE_SIZE,
      bits.subarray(0, Number((end - start) / PAGE_SIZE)),
    );
  }
  return 0;
}

/** mlock and friends: memory is never swapped here, so locking always succeeds. */
function mlockRange(t: Task): number {
  const addr = argPtr(t, 0) & ~(PAGE_SIZE - 1n);
  const len = pageRoundUp(argPtr(t, 1));
  if (!t.mm.fullyMapped(addr, addr + len)) throw new SysError(Errno.ENOMEM);
  return 0;
}

/** Implements Linux syscall munmap(2). */
function munmap(t: Task): number {
  const addr = argPtr(t, 0);
  const lenIn = argPtr(t, 1);
  if (!aligned(addr) || addr > TASK_SIZE || lenIn > TASK_SIZE - addr) {
    throw new SysError(Errno.EINVAL);
  }
  const len = pageRoundUp(lenIn);
  if (len === 0n) throw new SysError(Errno.EINVAL);
  // Nothing of the application's lies above the platform's top (its own pages do, which stay).
  const end = addr + len < t.mm.maxAddress ? addr + len : t.mm.maxAddress;
  if (addr < end) t.mm.unmapRange(addr, end);
  return 0;
}

/** Implements Linux syscall mprotect(2). */
function mprotect(t: Task): number {
  let addr = argPtr(t, 0);
  const lenIn = argPtr(t, 1);
  const raw = argInt(t, 2);
  const grows = raw & (PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP) || !aligned(addr)) {
    throw new SysError(Errno.EINVAL);
  }
  if (lenIn === 0n) return 0;
  const len = pageAlign(lenIn);
  if (len === 0n || wraps(addr, len)) throw new SysError(Errno.ENOMEM);
  const prot = raw & ~grows;
  // PROT_SEM is accepted and means nothing on x86-64.
  if (prot & ~(PROT_ALL | PROT_SEM)) throw new SysError(Errno.EINVAL);
  const end = addr + len;
  if (grows) {
    // The change reaches down to the start of the stack VMA the range begins in (up: no VMA
    // grows up on x86-64).
    const v = t.mm.vmasIn(addr, end)[0];
    if (!v || (grows === PROT_GROWSUP && v.start > addr)) throw new SysError(Errno.ENOMEM);
    if (grows === PROT_GROWSUP || !v.growsDown) throw new SysError(Errno.EINVAL);
    addr = v.start;
  }
  t.mm.protect(addr, end, prot & PROT_ALL);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  brk: { handler: brk, args: ["x"] },
  mmap: {
    handler: mmap,
    support: "partial",
    note: "shared mappings of gofer and filestore files map a page cache written back on " +
      "msync, munmap and exit: changes made on the host meanwhile are not seen",
    args: ["x", "l", "P", "M", "d", "x"],
  },
  madvise: { handler: madvise, args: ["x", "l", "d"] },
  mremap: { handler: mremap, args: ["x", "l", "l", "x", "x"] },
  msync: { handler: msync, args: ["x", "d", "x"] },
  mincore: { handler: mincore, args: ["x", "d", "x"] },
  mlock: { handler: mlockRange, args: ["x", "d"] },
  munlock: { handler: mlockRange, args: ["x", "d"] },
  mlock2: { handler: mlockRange, args: ["x", "d", "x"] },
  mlockall: { handler: () => 0, args: ["x"] },
  munlockall: { handler: () => 0, args: [] },
  munmap: { handler: munmap, args: ["x", "l"] },
  mprotect: { handler: mprotect, args: ["x", "l", "P"] },
};
