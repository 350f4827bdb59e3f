/**
 * brk(2), mmap(2), munmap(2), mprotect(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { PAGE_SIZE, pageRoundUp } from "../mm/memory_file.ts";
import { argInt, argPtr } from "./args.ts";
import { preadFd } from "../../host/libc.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import type { Vma } from "../mm/mm.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { PROT_WRITE } from "../../platform/platform.ts";
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

/** Implements Linux syscall mmap(2) for anonymous memory. */
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
  if (flags & MAP_ANONYMOUS) {
    const vma = t.mm.mapAnonymous(at, len, prot);
    vma.shared = type !== MAP_PRIVATE;
    if (flags & MAP_GROWSDOWN) vma.growsDown = true;
    return at;
  }
  mapFile(t, argInt(t, 4), at, len, prot, type !== MAP_PRIVATE, offset);
  return at;
}

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;

/**
 * Maps a file. Private mappings (and shared ones of files whose pages live outside the memory
 * file) get a copy of the file's contents; shared mappings of memory-backed files (tmpfs,
 * memfd) map the file's own pages, so writes are shared with every mapper and with read(2).
 */
function mapFile(
  t: Task,
  fd: number,
  at: bigint,
  len: bigint,
  prot: number,
  shared: boolean,
  offset: bigint,
): void {
  const file = t.fdTable.get(fd);
  const m = file.mappable?.() ?? null;
  if (!m) throw new SysError(Errno.ENODEV);
  const acc = file.flags & O_ACCMODE;
  if (acc === O_WRONLY) throw new SysError(Errno.EACCES);
  if (shared && (prot & PROT_WRITE) && acc !== O_RDWR) throw new SysError(Errno.EACCES);
  const mf = t.mm.mf;
  // Pages in another file than the memory file (an overlay's filestore) cannot be mapped in
  // place: such mappings are copies, shared or not.
  const inPlace = m.kind === "memory" && (m.store === undefined || m.store === mf);
  if (m.kind === "memory" && shared && inPlace) {
    mapFilePages(t, m, at, len, offset, prot, fileName(t, file));
    return;
  }
  const vma = t.mm.mapAnonymous(at, len, prot, fileName(t, file));
  if (m.kind === "memory") {
    const first = Number(offset / PAGE_SIZE);
    const page = new Uint8Array(Number(PAGE_SIZE));
    for (let i = 0; i < Number(len / PAGE_SIZE); i++) {
      const src = m.page(first + i, false);
      if (src === null) continue;
      const dst = vma.fileOffset + BigInt(i) * PAGE_SIZE;
      if (inPlace) {
        mf.copyRange(src, dst, PAGE_SIZE);
      } else {
        m.store!.read(src, page);
        mf.write(dst, page);
      }
    }
  } else {
    // Pages past the end of the file read as zeroes (Linux would raise SIGBUS on them).
    const buf = new Uint8Array(Number(len));
    let done = 0;
    while (done < buf.length) {
      const n = preadFd(
        m.fd,
        buf.subarray(done) as Uint8Array<ArrayBuffer>,
        Number(m.offset + offset) + done,
      );
      if (n <= 0) break;
      done += n;
    }
    mf.write(vma.fileOffset, buf.subarray(0, done));
  }
}

/** The path /proc/<pid>/maps shows for a mapping of file. */
/**
 * Maps [offset, offset+len) of a file whose pages are in the memory file at `at`, shared: one
 * VMA per run of contiguous pages, each remembering the file for mremap.
 */
function mapFilePages(
  t: Task,
  m: { page(index: number, allocate: boolean): bigint | null },
  at: bigint,
  len: bigint,
  offset: bigint,
  prot: number,
  name: string,
): void {
  const first = Number(offset / PAGE_SIZE);
  const pages = Number(len / PAGE_SIZE);
  let runStart = 0;
  let runOff = m.page(first, true)!;
  for (let i = 1; i <= pages; i++) {
    const off = i < pages ? m.page(first + i, true)! : -1n;
    if (off !== runOff + BigInt(i - runStart) * PAGE_SIZE) {
      const a = at + BigInt(runStart) * PAGE_SIZE;
      const v = t.mm.mapShared(a, BigInt(i - runStart) * PAGE_SIZE, runOff, prot, name);
      v.file = { page: m.page, delta: offset + BigInt(runStart) * PAGE_SIZE - runOff };
      runStart = i;
      runOff = off;
    }
  }
}

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

/** Implements Linux syscall madvise(2): DONTNEED and FREE zero private memory. */
function madvise(t: Task): number {
  const addr = argPtr(t, 0);
  const len = pageRoundUp(argPtr(t, 1));
  const advice = argInt(t, 2);
  if (!aligned(addr) || !KNOWN_ADVICE.has(advice)) throw new SysError(Errno.EINVAL);
  if (len === 0n) return 0;
  if (!t.mm.fullyMapped(addr, addr + len)) throw new SysError(Errno.ENOMEM);
  if (advice === MADV.DONTNEED || advice === MADV.FREE || advice === MADV.REMOVE) {
    for (const v of t.mm.vmasIn(addr, addr + len)) {
      if (v.shared) continue;
      const s = v.start > addr ? v.start : addr;
      const e = v.end < addr + len ? v.end : addr + len;
      if (v.cow) {
        // Its pages are another process's too: fresh zeroed memory replaces them here.
        t.mm.mapAnonymous(s, e - s, v.prot, v.name);
        continue;
      }
      // Fresh zeroed pages, returned to the host until touched again.
      t.mm.mf.decommit(v.fileOffset + (s - v.start), e - s);
    }
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
  if (oldLen === 0n) throw new SysError(Errno.EINVAL); // duplicating shared mappings: not offered
  const vmas = t.mm.vmasIn(old, old + oldLen);
  if (!t.mm.fullyMapped(old, old + oldLen) || vmas.length === 0) throw new SysError(Errno.EFAULT);
  const last = vmas[vmas.length - 1];
  const prot = last.prot;
  const shared = vmas.some((v) => v.shared);
  // Where the file continues after the old range, when it ends in a shared file mapping.
  const tail = last.file
    ? {
      page: last.file.page,
      offset: last.file.delta + last.fileOffset + old + oldLen - last.start,
      name: last.name,
    }
    : null;
  if (flags & MREMAP_FIXED) {
    if (!aligned(newAddr) || !t.mm.validRange(newAddr, newAddr + newLen)) {
      throw new SysError(Errno.EINVAL);
    }
    if (newAddr < old + oldLen && old < newAddr + newLen) throw new SysError(Errno.EINVAL);
    const keep = oldLen < newLen ? oldLen : newLen;
    t.mm.move(old, keep, newAddr);
    if (oldLen > keep) t.mm.unmapRange(old + keep, old + oldLen);
    if (newLen > keep) growAt(t, newAddr + keep, newLen - keep, prot, shared, tail);
    return newAddr;
  }
  if (newLen <= oldLen) {
    if (newLen < oldLen) t.mm.unmapRange(old + newLen, old + oldLen);
    return old;
  }
  // Grow in place if the pages after are free.
  const extra = newLen - oldLen;
  if (t.mm.validRange(old + oldLen, old + newLen) && !t.mm.overlaps(old + oldLen, old + newLen)) {
    growAt(t, old + oldLen, extra, prot, shared, tail);
    return old;
  }
  if (!(flags & MREMAP_MAYMOVE)) throw new SysError(Errno.ENOMEM);
  const to = t.mm.findGap(newLen);
  if (to === null) throw new SysError(Errno.ENOMEM);
  t.mm.move(old, oldLen, to);
  growAt(t, to + oldLen, extra, prot, shared, tail);
  return to;
}

/**
 * Maps the part a mremap adds: more of the same file when the old range ended in a shared file
 * mapping (writes there must reach the file), else anonymous memory.
 */
function growAt(
  t: Task,
  addr: bigint,
  len: bigint,
  prot: number,
  shared: boolean,
  tail: { page: NonNullable<Vma["file"]>["page"]; offset: bigint; name: string } | null,
): void {
  if (tail) {
    mapFilePages(t, tail, addr, len, tail.offset, prot, tail.name);
    return;
  }
  const v = t.mm.mapAnonymous(addr, len, prot);
  if (shared) v.shared = true;
}

/** Implements Linux syscall msync(2): memory is the file's own or a private copy. */
function msync(t: Task): number {
  const addr = argPtr(t, 0);
  const len = pageRoundUp(argPtr(t, 1));
  const flags = argInt(t, 2);
  if (!aligned(addr) || (flags & ~7) || ((flags & 1) && (flags & 4))) {
    throw new SysError(Errno.EINVAL);
  }
  if (!t.mm.fullyMapped(addr, addr + len)) throw new SysError(Errno.ENOMEM);
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
    note: "shared writable mappings of gofer files and of overlay files kept in a filestore " +
      "are private copies (not written back)",
    args: ["x", "l", "P", "M", "d", "x"],
  },
  madvise: { handler: madvise, args: ["x", "l", "d"] },
  mremap: {
    handler: mremap,
    support: "partial",
    note: "no MREMAP_DONTUNMAP or old_size 0 duplication",
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
