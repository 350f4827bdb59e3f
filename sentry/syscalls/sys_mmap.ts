/**
 * brk(2), mmap(2), munmap(2), mprotect(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { PAGE_SIZE, pageRoundUp } from "../mm/memory_file.ts";
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
  const len = pageRoundUp(argPtr(t, 1));
  const advice = argInt(t, 2);
  if (!aligned(addr) || !KNOWN_ADVICE.has(advice)) throw new SysError(Errno.EINVAL);
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
  const oldLen = pageRoundUp(argPtr(t, 1));
  const newLen = pageRoundUp(argPtr(t, 2));
  const flags = argInt(t, 3);
  const newAddr = argPtr(t, 4);
  if (!aligned(old) || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP))) {
    throw new SysError(Errno.EINVAL);
  }
  if (newLen === 0n || ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))) {
    throw new SysError(Errno.EINVAL);
  }
  if (flags & MREMAP_DONTUNMAP) throw new SysError(Errno.EINVAL);
  const fixed = (flags & MREMAP_FIXED) ? newAddr : null;
  return t.mm.remap(old, oldLen, newLen, (flags & MREMAP_MAYMOVE) !== 0, fixed);
}

/** Implements Linux syscall msync(2): shared file mappings write their pages back. */
function msync(t: Task): number {
  const addr = argPtr(t, 0);
  const len = pageRoundUp(argPtr(t, 1));
  const flags = argInt(t, 2);
  if (!aligned(addr) || (flags & ~7) || ((flags & 1) && (flags & 4))) {
    throw new SysError(Errno.EINVAL);
  }
  if (!t.mm.fullyMapped(addr, addr + len)) throw new SysError(Errno.ENOMEM);
  // MS_ASYNC alone schedules a write-back Linux does later; doing it now is as good.
  t.mm.sync(addr, addr + len);
  return 0;
}

/** Implements Linux syscall mincore(2): every mapped page is resident. */
function mincore(t: Task): number {
  const addr = argPtr(t, 0);
  const len = pageRoundUp(argPtr(t, 1));
  if (!aligned(addr)) throw new SysError(Errno.EINVAL);
  if (!t.mm.fullyMapped(addr, addr + len)) throw new SysError(Errno.ENOMEM);
  t.mm.copyOut(argPtr(t, 2), new Uint8Array(Number(len / PAGE_SIZE)).fill(1));
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
    note: "shared mappings of gofer and filestore files map a page cache written back on " +
      "msync, munmap and exit: changes made on the host meanwhile are not seen; pages past " +
      "the end of a file read as zeroes (no SIGBUS)",
    args: ["x", "l", "P", "M", "d", "x"],
  },
  madvise: { handler: madvise, args: ["x", "l", "d"] },
  mremap: {
    handler: mremap,
    support: "partial",
    note: "no MREMAP_DONTUNMAP",
    args: ["x", "l", "l", "x", "x"],
  },
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
