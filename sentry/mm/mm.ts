/**
 * A task's memory manager (Linux's mm_struct): the VMAs of one address space, brk, and
 * copy-in/copy-out of application memory through the Sentry's mapping of the memory file.
 *
 * Every VMA is backed by a contiguous range of the memory file and is mapped into the
 * platform's address space as soon as it is created. After fork, private VMAs share their
 * memory copy-on-write (cow.ts): they are mapped without write permission, and the Sentry
 * resolves the write fault (handleFault) or its own write (copyOut) by copying.
 *
 * @module
 */

import type { AddressSpace } from "../../platform/platform.ts";
import { PROT_READ, PROT_WRITE } from "../../platform/platform.ts";
import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { MemoryFile, PAGE_SIZE, pageRoundDown, pageRoundUp } from "./memory_file.ts";
import { CowRange } from "./cow.ts";
import type { FileMapper, FileMappers, Mappable, MMapOpts, PageRun } from "./mmap_opts.ts";
import { decodeBytes, encodeBytes } from "../../host/utf8b.ts";

let nextMmId = 1n;

/** One virtual memory area. */
export interface Vma {
  start: bigint;
  end: bigint;
  prot: number;
  /** Memory file offset backing `start`; the range is contiguous. */
  fileOffset: bigint;
  /** A name for /proc/self/maps ("[heap]", "[stack]", the ELF path...). */
  name: string;
  /**
   * MAP_SHARED: the memory file range is shared with other address spaces (after fork) and
   * is not copied on fork. Its pages are not returned to the memory file on unmap until
   * reference counting of ranges lands (a bounded leak, never a corruption).
   */
  shared?: boolean;
  /** Copy-on-write: the range is shared with other address spaces until this VMA writes. */
  cow?: CowRange;
  /** MAP_GROWSDOWN (and the main stack): a fault just below it extends it downwards. */
  growsDown?: boolean;
  /**
   * A mapping of a file: its pages, and the file's byte offset minus the memory-file offset
   * (the same for every piece a cut or a move makes), so that mremap can map more of the same
   * file after it and msync and munmap know what to write back. A shared one maps the file's
   * own pages and holds a reference on them (Mappable.incRef); a private one holds a copy.
   */
  file?: { mappable: Mappable; delta: bigint };
  /** PROT_* mprotect may grant (the file's access mode bounds shared mappings); all if unset. */
  maxPerms?: number;
  /**
   * Part of a file mapping with no pages behind it: past the end of the file when it was
   * mapped, or cut off by a truncation since. Nothing is mapped in the address space there
   * (fileOffset is only the base of the file offset arithmetic, never memory to touch or
   * free): a touch maps the file's pages (shared) or a copy of them (private) once the file
   * has grown to hold them, else raises SIGBUS.
   */
  unbacked?: boolean;
}

const PROT_ALL = 7;
/** The most of a grown file a fault past its old end maps at once (#populate). */
const POPULATE_MAX = 16n << 20n;

const STACK_SIZE = 8n << 20n;
/** Gap between the stack's reserved region and the top of the mmap area. */
const STACK_GAP = 128n << 20n;
/** Where brk-less programs and ET_DYN executables without an interpreter are placed. */
export const ELF_ET_DYN_BASE = 0x5555_5555_4000n;
const MIN_ADDR = 0x10000n;

export class MemoryManager implements FileMapper {
  readonly vmas: Vma[] = [];
  brkStart = 0n;
  brk = 0n;
  /** Index in vmas of the VMA #find returned last. */
  #lastFound = 0;
  /** Start of the heap VMA once brk has grown. */
  #heap: Vma | null = null;
  readonly stackTop: bigint;
  readonly mmapBase: bigint;
  /** Counts changes to the address space's mappings (a retried fault that changed nothing). */
  generation = 0;
  /** Tasks using this address space (CLONE_VM shares it); released when the last goes. */
  users = 1;
  /** Identifies this address space in futex keys of private memory. */
  readonly id: bigint = nextMmId++;

  constructor(
    readonly as: AddressSpace,
    readonly mf: MemoryFile,
    readonly maxAddress: bigint,
  ) {
    this.stackTop = pageRoundDown(maxAddress - 0x10000n);
    this.mmapBase = pageRoundDown(this.stackTop - STACK_SIZE - STACK_GAP);
  }

  /** Maps the initial stack; returns its top. */
  mapStack(): bigint {
    const v = this.mapAnonymous(
      this.stackTop - STACK_SIZE,
      STACK_SIZE,
      PROT_READ | PROT_WRITE,
      "[stack]",
    );
    v.growsDown = true;
    return this.stackTop;
  }

  /**
   * How far a grows-down VMA may reach below its top: RLIMIT_STACK, but never into the mmap
   * area below the stack's reserved region.
   */
  #stackLimit: bigint = STACK_SIZE;
  get stackLimit(): bigint {
    return this.#stackLimit;
  }
  set stackLimit(v: bigint) {
    const most = STACK_SIZE + STACK_GAP;
    this.#stackLimit = v < most ? v : most;
  }

  /** Finds a free range of `length` bytes, preferring the highest below the mmap base. */
  findGap(length: bigint, below = this.mmapBase): bigint | null {
    let top = below;
    for (let i = this.vmas.length - 1; i >= 0; i--) {
      const v = this.vmas[i];
      if (v.start >= top) continue;
      if (v.end <= top && top - v.end >= length) return top - length;
      top = v.start < top ? v.start : top;
    }
    return top - MIN_ADDR >= length ? top - length : null;
  }

  /** True if any VMA overlaps [start, end). */
  overlaps(start: bigint, end: bigint): boolean {
    return this.vmas.some((v) => v.start < end && start < v.end);
  }

  /**
   * Creates an anonymous mapping at [addr, addr+length), replacing what was there, backed by
   * fresh zeroed memory. Preconditions: page-aligned, inside the user range.
   */
  mapAnonymous(addr: bigint, length: bigint, prot: number, name = ""): Vma {
    const len = pageRoundUp(length);
    // The platform's mapFile replaces what was mapped, so only the bookkeeping is undone here.
    this.unmapRange(addr, addr + len, false);
    const fileOffset = this.mf.allocate(len);
    const vma: Vma = { start: addr, end: addr + len, prot, fileOffset, name };
    this.#insert(vma);
    this.generation++;
    this.as.mapFile(addr, len, fileOffset, prot);
    this.#settle();
    return vma;
  }

  #insert(vma: Vma): void {
    let i = 0;
    while (i < this.vmas.length && this.vmas[i].start < vma.start) i++;
    this.vmas.splice(i, 0, vma);
    vma.cow?.users.add(vma);
    this.#ref(vma);
  }

  /** Mappings that dropped their reference on a file's pages, told once they are unmapped. */
  #unref: { m: Mappable; shared: boolean }[] = [];

  /** Write-backs of shared file mappings cut, run once the address space has lost them. */
  #writeBacks: { v: Vma; start: bigint; end: bigint; leaving: boolean }[] = [];
  /**
   * Memory-file ranges of private memory cut, returned once the address space has lost them:
   * returned earlier, another thread's store could put data back into a range the next
   * allocation hands out as zeroes, to another process.
   */
  #frees: [bigint, bigint][] = [];
  /**
   * Mappings were taken out since the last #settle: memory they held may have gone back to the
   * memory file already (a copy-on-write range's last user), so other threads must lose it.
   */
  #cutSinceSettle = false;

  /**
   * v maps a file: a shared one holds a reference on the file's pages; either kind is among
   * the file's mappers (a cut of the file takes its pages past the new end away).
   */
  #ref(v: Vma): void {
    if (!v.file) return;
    if (v.shared) v.file.mappable.incRef?.();
    v.file.mappable.mappers?.add(this);
  }

  /**
   * v no longer maps a file: its reference goes once the address space has lost the pages
   * (#settle), for the last one returns them, which no thread may still reach.
   */
  #unrefLater(v: Vma): void {
    if (v.file) this.#unref.push({ m: v.file.mappable, shared: !!v.shared });
  }

  /** Makes v, a VMA already in place, a private mapping of a file. */
  #setFile(v: Vma, file: { mappable: Mappable; delta: bigint }): void {
    v.file = file;
    this.#ref(v);
  }

  /**
   * Finishes a change once the address space shows it: writes back what the shared file
   * mappings cut held, then drops their references. The write-back comes after the unmap has
   * reached every thread of the address space: a store another thread makes until then is in
   * the pages written, and none can come after.
   */
  #settle(): void {
    const syncs = this.#writeBacks;
    const gone = this.#unref;
    const frees = this.#frees;
    const cut = this.#cutSinceSettle;
    this.#cutSinceSettle = false;
    // With another task on this address space, its threads may run now: they must have lost
    // the pages first. A lone task is in the Sentry, and the changes reach the address space
    // before it runs again.
    if ((cut || syncs.length > 0 || frees.length > 0) && this.users > 1) this.as.flush?.();
    if (syncs.length === 0 && gone.length === 0 && frees.length === 0) return;
    this.#writeBacks = [];
    this.#unref = [];
    this.#frees = [];
    for (const [off, len] of frees) this.mf.free(off, len);
    for (const w of syncs) {
      // Stores to a shared file mapping reach the file when it goes, as on Linux (the pages
      // stay the file's while other mappings use them). munmap cannot fail on that.
      try {
        this.#writeBack(w.v, w.start, w.end, w.leaving);
      } catch {
        // The file keeps what it had; msync is where an application learns of it.
      }
    }
    for (const { m, shared } of gone) {
      m.mappers?.remove(this);
      if (shared) m.decRef?.();
    }
  }

  /**
   * Replaces vmas[i] with pieces (split or cut), keeping copy-on-write bookkeeping: the
   * pieces join the old VMA's range before it leaves, so the range is never seen unused.
   */
  #replace(i: number, pieces: Vma[]): void {
    const old = this.vmas[i];
    for (const p of pieces) {
      p.cow?.users.add(p);
      this.#ref(p);
    }
    this.vmas.splice(i, 1, ...pieces);
    old.cow?.leave(old);
    this.#unrefLater(old);
  }

  /** The address space's mapping of v: without write permission while it shares memory. */
  #mapVma(v: Vma, start = v.start, end = v.end): void {
    this.generation++;
    if (v.unbacked) {
      // Nothing to map; whatever was there before must go.
      this.as.unmap(start, end - start);
      return;
    }
    const prot = v.cow ? v.prot & ~PROT_WRITE : v.prot;
    this.as.mapFile(start, end - start, v.fileOffset + (start - v.start), prot);
  }

  /**
   * Gives v memory of its own: a copy of the pages that hold data, or the shared range itself
   * when no other VMA maps it any more. Then it may be written.
   */
  #breakCow(v: Vma): void {
    const r = v.cow!;
    if (r.sharedWithOthers(v)) {
      const len = v.end - v.start;
      const off = this.mf.allocate(len);
      this.mf.copyRange(v.fileOffset, off, len);
      r.leave(v);
      // The same file bytes are now at another memory-file offset.
      if (v.file) v.file = { ...v.file, delta: v.file.delta + v.fileOffset - off };
      v.fileOffset = off;
    } else {
      r.claim(v);
    }
    v.cow = undefined;
    this.#mapVma(v);
  }

  /**
   * Extends the grows-down VMA just above addr down to addr's page, as Linux grows stacks:
   * within the stack limit and never into another mapping (keeping a one-page guard gap).
   */
  #grow(addr: bigint): boolean {
    if (this.#find(addr)) return false;
    const page = pageRoundDown(addr);
    const above = this.vmas.find((v) => v.start > addr);
    if (!above?.growsDown) return false;
    // The stack's top: the end of the run of grows-down VMAs that earlier growth made.
    let end = above.end;
    for (const v of this.vmas) if (v.growsDown && v.start === end) end = v.end;
    if (end - page > this.stackLimit) return false;
    const below = this.vmas.filter((v) => v.end <= above.start).pop();
    if (below && below.end + PAGE_SIZE > page) return false;
    const v = this.mapAnonymous(page, above.start - page, above.prot, above.name);
    v.growsDown = true;
    return true;
  }

  /**
   * Resolves a fault at addr that the Sentry caused (copy-on-write). Returns false when it is
   * the application's fault, to be delivered as a signal.
   */
  handleFault(addr: bigint, access = 0, again = false): boolean {
    if (this.#grow(addr)) return true;
    const v = this.#find(addr);
    if (!v) return false;
    if (v.unbacked) return this.#reaches(v, access) && this.#populate(v, addr);
    if (v.cow && (v.prot & PROT_WRITE) && (access === 0 || (access & PROT_WRITE))) {
      this.#breakCow(v);
      return true;
    }
    // A fault the VMA allows is stale: another thread's fault already gave the memory its own
    // pages (two threads writing after fork fault on the same copy-on-write range, and the
    // first one's copy resolves both), or an mprotect raced it. The access is retried. Where
    // the platform cannot tell the access, a data fault on a readable and writable VMA is
    // retried once; the same fault again is the application's.
    const allowed = access !== 0
      ? (v.prot & access) === access
      : !again && (v.prot & (PROT_READ | PROT_WRITE)) === (PROT_READ | PROT_WRITE);
    if (!allowed) return false;
    const page = pageRoundDown(addr);
    this.#mapVma(v, page, page + PAGE_SIZE);
    return true;
  }

  /** True if [start, end) lies in the user range. */
  validRange(start: bigint, end: bigint): boolean {
    return start >= MIN_ADDR && end <= this.maxAddress && start < end;
  }

  /** Removes [start, end) from the VMAs, the address space and the memory file. */
  unmapRange(start: bigint, end: bigint, updateAs = true): void {
    const touched = this.#cut(start, end, (v, cutStart, cutEnd) => {
      if (!v.shared && !v.cow && !v.unbacked) {
        this.#frees.push([v.fileOffset + (cutStart - v.start), cutEnd - cutStart]);
      }
      if (v.shared && v.file && !v.unbacked) {
        const leaving = cutStart === v.start && cutEnd === v.end;
        this.#writeBacks.push({ v, start: cutStart, end: cutEnd, leaving });
      }
    });
    if (touched && updateAs) {
      this.generation++;
      this.as.unmap(start, end - start);
    }
    // #settle returns the pages once threads of this address space that run meanwhile have
    // lost them (they may go to another process next).
    if (updateAs) this.#settle();
  }

  /**
   * Writes what [start, end) of v, a shared mapping of a file, holds back to the file;
   * `leaving` when v goes whole (see Mappable.writeBack).
   */
  #writeBack(v: Vma, start: bigint, end: bigint, leaving = false): void {
    const f = v.file;
    if (!v.shared || v.unbacked || !f?.mappable.writeBack) return;
    // Mappings that could never be written hold nothing to write back.
    if (!((v.maxPerms ?? PROT_ALL) & PROT_WRITE)) return;
    f.mappable.writeBack(f.delta + v.fileOffset + (start - v.start), end - start, leaving);
  }

  /**
   * Writes what the shared file mappings of [start, end) hold back to their files (msync).
   * Throws SysError when a file cannot be written.
   */
  sync(start: bigint, end: bigint): void {
    for (const v of this.vmasIn(start, end)) {
      this.#writeBack(v, v.start > start ? v.start : start, v.end < end ? v.end : end);
    }
  }

  /**
   * Takes [start, end) out of the VMAs, splitting the ones that straddle its ends; `cut` is
   * told each part removed, before it goes. Returns whether anything was mapped there.
   */
  #cut(
    start: bigint,
    end: bigint,
    cut: (v: Vma, cutStart: bigint, cutEnd: bigint) => void,
  ): boolean {
    let touched = false;
    for (let i = 0; i < this.vmas.length; i++) {
      const v = this.vmas[i];
      if (v.end <= start || v.start >= end) continue;
      touched = true;
      this.#cutSinceSettle = true;
      const cutStart = v.start > start ? v.start : start;
      const cutEnd = v.end < end ? v.end : end;
      cut(v, cutStart, cutEnd);
      const pieces: Vma[] = [];
      if (v.start < cutStart) pieces.push({ ...v, end: cutStart });
      if (cutEnd < v.end) {
        pieces.push({ ...v, start: cutEnd, fileOffset: v.fileOffset + (cutEnd - v.start) });
      }
      if (this.#heap === v) this.#heap = pieces[0] ?? null;
      this.#replace(i, pieces);
      i += pieces.length - 1;
    }
    return touched;
  }

  /** Changes protections of [start, end); fails with ENOMEM where nothing is mapped. */
  protect(start: bigint, end: bigint, prot: number): void {
    // Linux requires the whole range to be mapped.
    let cur = start;
    for (const v of this.vmas) {
      if (v.end <= cur || v.start >= end) continue;
      if (v.start > cur) throw new SysError(Errno.ENOMEM);
      cur = v.end;
      if (cur >= end) break;
    }
    if (cur < end) throw new SysError(Errno.ENOMEM);
    for (const v of this.vmasIn(start, end)) {
      if (prot & ~(v.maxPerms ?? PROT_ALL)) throw new SysError(Errno.EACCES);
    }
    for (let i = 0; i < this.vmas.length; i++) {
      const v = this.vmas[i];
      if (v.end <= start || v.start >= end) continue;
      const s = v.start > start ? v.start : start;
      const e = v.end < end ? v.end : end;
      const pieces: Vma[] = [];
      if (v.start < s) pieces.push({ ...v, end: s });
      const mid = { ...v, start: s, end: e, prot, fileOffset: v.fileOffset + (s - v.start) };
      pieces.push(mid);
      if (e < v.end) pieces.push({ ...v, start: e, fileOffset: v.fileOffset + (e - v.start) });
      if (this.#heap === v) this.#heap = null;
      this.#replace(i, pieces);
      i += pieces.length - 1;
      this.#mapVma(mid);
    }
    this.#settle();
  }

  /** Sets the program break (brk(2) semantics: returns the new or unchanged break). */
  setBrk(addr: bigint): bigint {
    if (addr < this.brkStart) return this.brk;
    const oldTop = pageRoundUp(this.brk);
    const newTop = pageRoundUp(addr);
    if (newTop > oldTop) {
      if (newTop > this.mmapBase || this.overlaps(oldTop, newTop)) return this.brk;
      try {
        this.#heap = this.mapAnonymous(oldTop, newTop - oldTop, PROT_READ | PROT_WRITE, "[heap]");
      } catch (e) {
        // brk(2) reports failure by leaving the break where it was, never by an error.
        if (e instanceof SysError) return this.brk;
        throw e;
      }
    } else if (newTop < oldTop) {
      this.unmapRange(newTop, oldTop);
    }
    this.brk = addr;
    return addr;
  }

  #find(addr: bigint): Vma | undefined {
    // Copies walk one buffer page by page: the VMA found last is checked first. It is
    // remembered by index and checked in full, so that a changed list can never make it lie.
    const vs = this.vmas;
    const last = vs[this.#lastFound];
    if (last && addr >= last.start && addr < last.end) return last;
    // VMAs are few (tens); a linear scan is cheap.
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      if (addr >= v.start && addr < v.end) {
        this.#lastFound = i;
        return v;
      }
    }
    return undefined;
  }

  /**
   * Calls fn for each piece of [addr, addr+len) with its memory file offset, after checking
   * that every byte is mapped with `need` protection. Throws EFAULT otherwise.
   */
  #walk(
    addr: bigint,
    len: number,
    need: number,
    fn: (fileOffset: bigint, done: number, n: number) => void,
  ): void {
    if (this.#walkUpTo(addr, len, need, fn) < len) throw new SysError(Errno.EFAULT);
  }

  /** Like #walk, but stops at the first byte that fails the check; returns the bytes walked. */
  #walkUpTo(
    addr: bigint,
    len: number,
    need: number,
    fn: (fileOffset: bigint, done: number, n: number) => void,
  ): number {
    let done = 0;
    let a = addr;
    while (done < len) {
      const v = this.#find(a);
      if (!v || (v.prot & need) !== need) break;
      if (v.unbacked) {
        // Past the end of a mapped file: EFAULT, unless the file has grown since.
        if (!this.#populate(v, a)) break;
        continue;
      }
      // The Sentry writing for the application is a write like any other.
      if ((need & PROT_WRITE) && v.cow) this.#breakCow(v);
      const n = Math.min(len - done, Number(v.end - a));
      fn(v.fileOffset + (a - v.start), done, n);
      done += n;
      a += BigInt(n);
    }
    return done;
  }

  /** Copies len bytes of application memory at addr. Throws EFAULT. */
  copyIn(addr: bigint, len: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(len);
    this.#walk(addr, len, PROT_READ, (off, done, n) => {
      this.mf.read(off, out.subarray(done, done + n));
    });
    return out;
  }

  /** Copies data into application memory at addr. Throws EFAULT. */
  copyOut(addr: bigint, data: Uint8Array): void {
    this.#walk(addr, data.length, PROT_WRITE, (off, done, n) => {
      this.mf.write(off, data.subarray(done, done + n));
    });
  }

  /**
   * Copies application memory at addr into dst up to the first byte that is not readable;
   * returns the bytes copied (for reads and writes that end short at a fault rather than fail).
   */
  copyInUpTo(addr: bigint, dst: Uint8Array): number {
    return this.#walkUpTo(addr, dst.length, PROT_READ, (off, done, n) => {
      this.mf.read(off, dst.subarray(done, done + n));
    });
  }

  /** Copies src into application memory at addr up to the first byte that is not writable. */
  copyOutUpTo(addr: bigint, src: Uint8Array): number {
    return this.#walkUpTo(addr, src.length, PROT_WRITE, (off, done, n) => {
      this.mf.write(off, src.subarray(done, done + n));
    });
  }

  /**
   * Fills [addr, addr+len) by calling fill(view, done) for each piece, where view is the
   * memory itself (no copy): for the loader reading a file straight into a new image.
   * Ignores protections. Returns the bytes filled (fill returns how many it put; less ends).
   */
  fillDirect(
    addr: bigint,
    len: number,
    fill: (view: Uint8Array<ArrayBuffer>, done: number) => number,
  ): number {
    let total = 0;
    let stop = false;
    this.#walk(addr, len, 0, (off, done, n) => {
      if (stop) return;
      let got = 0;
      while (got < n) {
        const view = this.mf.viewUpTo(off + BigInt(got), n - got);
        const m = fill(view as Uint8Array<ArrayBuffer>, done + got);
        if (m <= 0) {
          stop = true;
          break;
        }
        got += m;
      }
      total += got;
    });
    return total;
  }

  /** Like copyOut but ignores protections: for the loader writing read-only segments. */
  copyOutForce(addr: bigint, data: Uint8Array): void {
    this.#walk(addr, data.length, 0, (off, done, n) => {
      this.mf.write(off, data.subarray(done, done + n));
    });
  }

  /** Reads a NUL-terminated string of at most max bytes. Throws EFAULT, ENAMETOOLONG. */
  copyInString(addr: bigint, max = 4096): string {
    const chunks: Uint8Array[] = [];
    let total = 0;
    let a = addr;
    while (total < max) {
      // Read up to the end of the page so a string ending near unmapped memory is fine.
      const pageLeft = Number(PAGE_SIZE - (a & (PAGE_SIZE - 1n)));
      const n = Math.min(pageLeft, max - total);
      const b = this.copyIn(a, n);
      const z = b.indexOf(0);
      if (z >= 0) {
        chunks.push(b.subarray(0, z));
        total += z;
        const all = new Uint8Array(total);
        let o = 0;
        for (const c of chunks) {
          all.set(c, o);
          o += c.length;
        }
        return decodeBytes(all);
      }
      chunks.push(b);
      total += n;
      a += BigInt(n);
    }
    throw new SysError(Errno.ENAMETOOLONG);
  }

  /** Reads a NULL-terminated array of string pointers (argv/envp). */
  copyInStringArray(addr: bigint, maxCount = 0x7fffffff): string[] {
    const out: string[] = [];
    if (addr === 0n) return out;
    for (let i = 0; i < maxCount; i++) {
      const p = this.readU64(addr + BigInt(i * 8));
      if (p === 0n) return out;
      out.push(this.copyInString(p, 128 * 1024));
    }
    throw new SysError(Errno.E2BIG);
  }

  readU64(addr: bigint): bigint {
    return new DataView(this.copyIn(addr, 8).buffer).getBigUint64(0, true);
  }
  writeU64(addr: bigint, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.copyOut(addr, b);
  }
  writeU32(addr: bigint, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.copyOut(addr, b);
  }
  encode(s: string): Uint8Array {
    return encodeBytes(s);
  }

  /**
   * A copy for fork: a new address space with every private VMA copied (only the pages that
   * hold data) and every shared VMA mapping the same memory.
   */
  fork(as: AddressSpace): MemoryManager {
    const child = new MemoryManager(as, this.mf, this.maxAddress);
    child.brkStart = this.brkStart;
    child.brk = this.brk;
    try {
      this.#copyInto(child, as);
      // The parent's other threads run on while the forking one is in the Sentry: their writes
      // must stop reaching the memory the child now shares before any copy is taken of it,
      // or the child sees memory from after the fork and the parent's copy misses writes.
      this.as.flush?.();
    } catch (e) {
      child.release();
      throw e;
    }
    return child;
  }

  /**
   * Gives the child every VMA: shared ones map the same memory; private ones share theirs
   * copy-on-write, both sides losing write permission until they write.
   */
  #copyInto(child: MemoryManager, _as: AddressSpace): void {
    for (const v of this.vmas) {
      if (!v.shared && !v.cow && !v.unbacked) {
        v.cow = new CowRange(this.mf, v.fileOffset, v.end - v.start);
        v.cow.users.add(v);
        if (v.prot & PROT_WRITE) this.#mapVma(v);
      }
      const c: Vma = { ...v };
      child.vmas.push(c);
      c.cow?.users.add(c);
      child.#ref(c);
      if (v === this.#heap) child.#heap = c;
      child.#mapVma(c);
    }
  }

  /**
   * The futex key of the word at addr: the memory itself for shared memory, the address
   * space and address for private memory (which fork shares copy-on-write). Throws EFAULT.
   */
  futexKey(addr: bigint): bigint {
    let v = this.#find(addr);
    if (v?.unbacked && this.#populate(v, addr)) v = this.#find(addr);
    if (!v || v.unbacked) throw new SysError(Errno.EFAULT);
    if (v.shared) return v.fileOffset + (addr - v.start);
    return (this.id << 64n) | addr;
  }

  /**
   * Maps existing memory file pages at [addr, addr+length) (MAP_SHARED of a memory-backed
   * file): no copy, and never freed or copied by this address space.
   */
  mapShared(
    addr: bigint,
    length: bigint,
    fileOffset: bigint,
    prot: number,
    name = "",
    extra: Partial<Vma> = {},
  ): Vma {
    this.unmapRange(addr, addr + length, false);
    // Complete before it is inserted: a file mapping takes its reference on the file's pages
    // before the mapping it replaces drops its own (the pages must not go in between).
    const vma: Vma = {
      start: addr,
      end: addr + length,
      prot,
      fileOffset,
      name,
      shared: true,
      ...extra,
    };
    this.#insert(vma);
    this.#mapVma(vma);
    this.#settle();
    return vma;
  }

  /**
   * Places and makes the mapping opts describe (mmap(2) once the file has configured it);
   * returns its address. Throws SysError: ENOMEM (no room, outside the user range), EEXIST
   * (MAP_FIXED_NOREPLACE over a mapping), EINVAL (a fixed address not page-aligned).
   */
  mmap(o: MMapOpts): bigint {
    const at = this.#place(o.addr, o.length, o.fixed, o.noReplace);
    const m = o.mappable;
    if (!m) {
      const v = this.mapAnonymous(at, o.length, o.perms, o.name);
      v.shared = !o.private;
      if (o.growsDown) v.growsDown = true;
      return at;
    }
    this.#mapFile(m, at, o.length, o.offset, o.perms, o.maxPerms, !o.private, o.name);
    return at;
  }

  /** Where a new mapping of len bytes goes: addr if fixed, the hint if free, else a gap. */
  #place(addr: bigint, len: bigint, fixed: boolean, noReplace: boolean): bigint {
    if (len === 0n || len > this.maxAddress) throw new SysError(Errno.ENOMEM);
    if (fixed) {
      if (addr & (PAGE_SIZE - 1n)) throw new SysError(Errno.EINVAL);
      if (!this.validRange(addr, addr + len)) throw new SysError(Errno.ENOMEM);
      if (noReplace && this.overlaps(addr, addr + len)) throw new SysError(Errno.EEXIST);
      return addr;
    }
    const hint = pageRoundDown(addr);
    if (hint !== 0n && this.validRange(hint, hint + len) && !this.overlaps(hint, hint + len)) {
      return hint;
    }
    const gap = this.findGap(len);
    if (gap === null) throw new SysError(Errno.ENOMEM);
    return gap;
  }

  /**
   * Maps [off, off+len) of a file at `at`. A shared mapping maps the file's own pages (every
   * mapper and read(2) see its stores); a private one gets a copy of what the file holds now.
   */
  #mapFile(
    m: Mappable,
    at: bigint,
    len: bigint,
    off: bigint,
    prot: number,
    maxPerms: number,
    shared: boolean,
    name: string,
  ): void {
    if (shared) {
      this.#mapFilePages(m, at, len, off, prot, maxPerms, name);
      return;
    }
    // A copy of the pages the file holds; those wholly past its end stay unbacked (SIGBUS).
    const held = this.#held(m, off, len);
    if (held > 0n) {
      const v = this.mapAnonymous(at, held, prot, name);
      v.maxPerms = maxPerms;
      this.#copyFile(m, off, v.fileOffset, held);
      this.#setFile(v, { mappable: m, delta: off - v.fileOffset });
    }
    if (held < len) this.#mapUnbacked(m, at + held, len - held, off + held, prot, maxPerms, name);
  }

  /** The bytes of [off, off+len) of m on pages the file holds now (whole pages). */
  #held(m: Mappable, off: bigint, len: bigint): bigint {
    const size = m.size?.();
    if (size === undefined) return len;
    const end = pageRoundUp(size);
    if (end <= off) return 0n;
    return end - off < len ? end - off : len;
  }

  /**
   * Maps [off, off+len) of m at `at` as an unbacked VMA (see Vma.unbacked), private unless
   * `shared`.
   */
  #mapUnbacked(
    m: Mappable,
    at: bigint,
    len: bigint,
    off: bigint,
    prot: number,
    maxPerms: number,
    name: string,
    shared = false,
  ): void {
    this.unmapRange(at, at + len, false);
    const vma: Vma = {
      start: at,
      end: at + len,
      prot,
      fileOffset: 0n,
      name,
      maxPerms,
      file: { mappable: m, delta: off },
      unbacked: true,
    };
    if (shared) vma.shared = true;
    this.#insert(vma);
    this.#mapVma(vma);
    this.#settle();
  }

  /**
   * Maps the file's own pages of [off, off+len) at `at`: one VMA per run of pages contiguous in
   * the memory file, each holding a reference on the file's pages. Pages wholly past the end
   * of the file are neither made nor mapped (one unbacked VMA): a mapping far larger than its
   * file costs what the file holds, and a touch past its end raises SIGBUS. With `lazy`, the
   * holes of a file that tells them (Mappable.present) are left unbacked too, made when touched.
   */
  #mapFilePages(
    m: Mappable,
    at: bigint,
    len: bigint,
    off: bigint,
    prot: number,
    maxPerms: number,
    name: string,
    lazy = true,
  ): void {
    const first = Number(off / PAGE_SIZE);
    const pages = Number(this.#held(m, off, len) / PAGE_SIZE);
    const holes = lazy && m.present !== undefined;
    // Every page first, then the VMAs: a failure (no memory, the file unreadable) leaves
    // nothing half mapped.
    const runs: PageRun[] = (holes ? m.present?.(first, pages) : m.pages?.(first, pages)) ?? [];
    if (!holes && !m.pages) {
      for (let i = 0; i < pages; i++) {
        runs.push({ index: first + i, count: 1, off: m.page(first + i, true)! });
      }
    }
    const place = (index: number) => BigInt(index - first) * PAGE_SIZE;
    // Runs that follow each other in the memory file make one VMA; a hole is an unbacked one.
    let next = first;
    let k = 0;
    while (k < runs.length) {
      const start = runs[k];
      let count = start.count;
      while (
        ++k < runs.length && runs[k].index === start.index + count &&
        runs[k].off === start.off + BigInt(count) * PAGE_SIZE
      ) {
        count += runs[k].count;
      }
      if (start.index > next) {
        const gap = BigInt(start.index - next) * PAGE_SIZE;
        this.#mapUnbacked(m, at + place(next), gap, off + place(next), prot, maxPerms, name, true);
      }
      const delta = BigInt(start.index) * PAGE_SIZE - start.off;
      const runLen = BigInt(count) * PAGE_SIZE;
      this.#mapRun(m, at + place(start.index), runLen, start.off, delta, prot, maxPerms, name);
      next = start.index + count;
    }
    const done = place(next);
    if (done < len) {
      this.#mapUnbacked(m, at + done, len - done, off + done, prot, maxPerms, name, true);
    }
  }

  /**
   * Maps [a, a+len) to a file's pages at memory-file offset mfOff: as more of the VMA just
   * before, when that one maps the pages just before them (so that a mapping filled in a
   * window at a time stays one VMA), else as a new VMA.
   */
  #mapRun(
    m: Mappable,
    a: bigint,
    len: bigint,
    mfOff: bigint,
    delta: bigint,
    prot: number,
    maxPerms: number,
    name: string,
  ): void {
    const prev = a >= PAGE_SIZE ? this.#find(a - 1n) : undefined;
    if (
      prev && prev.end === a && prev.shared && !prev.unbacked && prev.file?.mappable === m &&
      prev.file.delta === delta && prev.fileOffset + (a - prev.start) === mfOff &&
      prev.prot === prot && prev.maxPerms === maxPerms && prev.name === name && !prev.growsDown
    ) {
      this.unmapRange(a, a + len, false);
      prev.end = a + len;
      this.#mapVma(prev, a, a + len);
      this.#settle();
      return;
    }
    this.mapShared(a, len, mfOff, prot, name, { maxPerms, file: { mappable: m, delta } });
  }

  /**
   * Maps the file's pages (or, private, a copy of them) in v, an unbacked part of a file
   * mapping, from addr's page on as far as the file now reaches. Returns false when that page
   * is still wholly past the end of the file (or cannot be had: no memory, the file
   * unreadable): SIGBUS, as Linux.
   */
  #populate(v: Vma, addr: bigint): boolean {
    const f = v.file!;
    const page = pageRoundDown(addr);
    const off = f.delta + v.fileOffset + (page - v.start);
    const size = f.mappable.size?.();
    if (size !== undefined && off >= size) return false;
    // As far as the file reaches, but a bounded amount per fault: a file grown huge is made
    // (and read) a window at a time, a hole of a sparse file a smaller one.
    const most = f.mappable.present ? BigInt(f.mappable.holePages ?? 1) * PAGE_SIZE : POPULATE_MAX;
    let len = v.end - page < most ? v.end - page : most;
    if (size !== undefined && pageRoundUp(size) - off < len) len = pageRoundUp(size) - off;
    try {
      const maxPerms = v.maxPerms ?? PROT_ALL;
      if (v.shared) {
        this.#mapFilePages(f.mappable, page, len, off, v.prot, maxPerms, v.name, false);
      } else this.#mapFile(f.mappable, page, len, off, v.prot, maxPerms, false, v.name);
    } catch (e) {
      if (e instanceof SysError) return false;
      throw e;
    }
    return true;
  }

  /**
   * True when a touch at addr lies past the end of a mapped file (an unbacked VMA the access
   * may reach): SIGBUS with BUS_ADRERR rather than SIGSEGV.
   */
  pastEnd(addr: bigint, access = 0): boolean {
    const v = this.#find(addr);
    return !!v?.unbacked && this.#reaches(v, access);
  }

  /** Whether v's protections allow `access` (0: an access the platform could not tell). */
  #reaches(v: Vma, access: number): boolean {
    return access !== 0 ? (v.prot & access) === access : v.prot !== 0;
  }

  /** Implements FileMapper.fileShrunk: the cut pages leave the address space first. */
  fileShrunk(mappers: FileMappers, firstPage: number): void {
    const from = BigInt(firstPage) * PAGE_SIZE;
    let touched = false;
    for (let i = 0; i < this.vmas.length; i++) {
      const v = this.vmas[i];
      const f = v.file;
      if (!f || v.unbacked || f.mappable.mappers !== mappers) continue;
      const fileStart = f.delta + v.fileOffset;
      if (fileStart + (v.end - v.start) <= from) continue;
      const cut = fileStart >= from ? v.start : v.start + (from - fileStart);
      // A private copy goes too, as on Linux: its pages past the end are the cut file's.
      if (!v.shared && !v.cow) this.#frees.push([v.fileOffset + (cut - v.start), v.end - cut]);
      const pieces: Vma[] = [];
      if (v.start < cut) pieces.push({ ...v, end: cut });
      pieces.push({
        ...v,
        start: cut,
        fileOffset: v.fileOffset + (cut - v.start),
        unbacked: true,
        cow: undefined,
      });
      this.#replace(i, pieces);
      i += pieces.length - 1;
      this.as.unmap(cut, v.end - cut);
      touched = true;
    }
    if (!touched) return;
    this.generation++;
    this.as.flush?.();
    this.#settle();
  }

  /**
   * Copies [off, off+len) of a file into the memory file at dst: pages the file holds in
   * memory page by page, the rest read from the file in runs. What the file does not give
   * (holes, the bytes past its end in its last page) reads as zeroes.
   */
  #copyFile(m: Mappable, off: bigint, dst: bigint, len: bigint): void {
    // Zeroes first, whatever dst held: copies skip the source's holes, and a read ends short
    // at the end of the file.
    this.mf.decommit(dst, len);
    const first = Number(off / PAGE_SIZE);
    const pages = Number(len / PAGE_SIZE);
    let i = 0;
    while (i < pages) {
      const src = m.page(first + i, false);
      const to = dst + BigInt(i) * PAGE_SIZE;
      if (src !== null) {
        this.mf.copyRange(src, to, PAGE_SIZE);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < pages && m.page(first + j, false) === null) j++;
      if (m.readAt) {
        const n = (j - i) * Number(PAGE_SIZE);
        const from = off + BigInt(i) * PAGE_SIZE;
        let done = 0;
        while (done < n) {
          const view = this.mf.viewUpTo(to + BigInt(done), n - done) as Uint8Array<ArrayBuffer>;
          const got = m.readAt(from + BigInt(done), view);
          if (got <= 0) break;
          done += got;
        }
      }
      i = j;
    }
  }

  /**
   * Drops the stores of the private mappings in [start, end) (madvise MADV_DONTNEED): anonymous
   * memory reads as zeroes again, a private file mapping as the file holds it now. Shared
   * mappings keep their memory.
   */
  dontNeed(start: bigint, end: bigint): void {
    for (const v of this.vmasIn(start, end)) {
      if (v.shared || v.unbacked) continue;
      const s = v.start > start ? v.start : start;
      const e = v.end < end ? v.end : end;
      const fileOff = v.file ? v.file.delta + v.fileOffset + (s - v.start) : 0n;
      let w = v;
      if (v.cow) {
        // Its pages are another process's too: fresh memory replaces them here.
        w = this.mapAnonymous(s, e - s, v.prot, v.name);
        w.maxPerms = v.maxPerms;
      } else {
        // Fresh zeroed pages, returned to the host until touched again.
        this.mf.decommit(v.fileOffset + (s - v.start), e - s);
      }
      if (v.file) {
        this.#copyFile(v.file.mappable, fileOff, w.fileOffset + (s - w.start), e - s);
        if (w !== v) this.#setFile(w, { mappable: v.file.mappable, delta: fileOff - w.fileOffset });
      }
    }
  }

  /**
   * mremap(2) with an old size of 0: a second mapping of the same shared memory, `len` bytes
   * from `old` on. Throws SysError: EFAULT (nothing mapped at old), EINVAL (private memory, a
   * bad fixed address), ENOMEM (neither moving nor fixed: it cannot grow in place).
   */
  #duplicate(old: bigint, len: bigint, mayMove: boolean, fixedAddr: bigint | null): bigint {
    const v = this.#find(old);
    if (!v) throw new SysError(Errno.EFAULT);
    if (!v.shared) throw new SysError(Errno.EINVAL);
    let to: bigint;
    if (fixedAddr !== null) {
      if ((fixedAddr & (PAGE_SIZE - 1n)) || !this.validRange(fixedAddr, fixedAddr + len)) {
        throw new SysError(Errno.EINVAL);
      }
      to = fixedAddr;
    } else {
      if (!mayMove) throw new SysError(Errno.ENOMEM);
      const gap = this.findGap(len);
      if (gap === null) throw new SysError(Errno.ENOMEM);
      to = gap;
    }
    if (v.file) {
      const off = v.file.delta + v.fileOffset + (old - v.start);
      this.#mapFile(v.file.mappable, to, len, off, v.prot, v.maxPerms ?? PROT_ALL, true, v.name);
      return to;
    }
    // Shared anonymous memory: the same pages as far as this mapping reaches, fresh ones past
    // it (where Linux raises SIGBUS), never memory file pages beyond it that are not its own.
    const have = v.end - old < len ? v.end - old : len;
    this.mapShared(to, have, v.fileOffset + (old - v.start), v.prot, v.name);
    if (have < len) this.mapAnonymous(to + have, len - have, v.prot, v.name).shared = true;
    return to;
  }

  /**
   * Changes the size of the mapping at [old, old+oldLen) (mremap(2)), growing it in place when
   * the pages after it are free, else moving it when `mayMove`, or to `fixedAddr` when given.
   * Returns the mapping's address. What it grows by is more of the same file when it ends in a
   * file mapping, else anonymous memory. With `dontUnmap` (MREMAP_DONTUNMAP: the sizes are the
   * same) it always moves, and leaves a mapping at the old place (#leaveBehind). Throws
   * SysError: EFAULT (not all mapped), EINVAL, ENOMEM.
   */
  remap(
    old: bigint,
    oldLen: bigint,
    newLen: bigint,
    mayMove: boolean,
    fixedAddr: bigint | null,
    dontUnmap = false,
  ): bigint {
    if (oldLen === 0n) return this.#duplicate(old, newLen, mayMove, fixedAddr);
    const vmas = this.vmasIn(old, old + oldLen);
    if (!this.fullyMapped(old, old + oldLen) || vmas.length === 0) {
      throw new SysError(Errno.EFAULT);
    }
    if (dontUnmap) {
      let to = fixedAddr;
      if (to !== null) {
        if ((to & (PAGE_SIZE - 1n)) || !this.validRange(to, to + oldLen)) {
          throw new SysError(Errno.EINVAL);
        }
        if (to < old + oldLen && old < to + oldLen) throw new SysError(Errno.EINVAL);
      } else {
        to = this.findGap(oldLen);
        if (to === null) throw new SysError(Errno.ENOMEM);
      }
      const left = vmas.map((v) => ({
        v,
        s: v.start > old ? v.start : old,
        e: v.end < old + oldLen ? v.end : old + oldLen,
      }));
      this.move(old, oldLen, to);
      for (const { v, s, e } of left) this.#leaveBehind(v, s, e);
      return to;
    }
    const last = vmas[vmas.length - 1];
    const grow = (at: bigint, len: bigint) => {
      if (last.file) {
        const f = last.file;
        const off = f.delta + last.fileOffset + (old + oldLen - last.start);
        this.#mapFile(
          f.mappable,
          at,
          len,
          off,
          last.prot,
          last.maxPerms ?? PROT_ALL,
          !!last.shared,
          last.name,
        );
        return;
      }
      const v = this.mapAnonymous(at, len, last.prot);
      if (vmas.some((v) => v.shared)) v.shared = true;
    };
    if (fixedAddr !== null) {
      if ((fixedAddr & (PAGE_SIZE - 1n)) || !this.validRange(fixedAddr, fixedAddr + newLen)) {
        throw new SysError(Errno.EINVAL);
      }
      if (fixedAddr < old + oldLen && old < fixedAddr + newLen) throw new SysError(Errno.EINVAL);
      const keep = oldLen < newLen ? oldLen : newLen;
      this.move(old, keep, fixedAddr);
      if (oldLen > keep) this.unmapRange(old + keep, old + oldLen);
      if (newLen > keep) grow(fixedAddr + keep, newLen - keep);
      return fixedAddr;
    }
    if (newLen <= oldLen) {
      if (newLen < oldLen) this.unmapRange(old + newLen, old + oldLen);
      return old;
    }
    const extra = newLen - oldLen;
    if (this.validRange(old + oldLen, old + newLen) && !this.overlaps(old + oldLen, old + newLen)) {
      grow(old + oldLen, extra);
      return old;
    }
    if (!mayMove) throw new SysError(Errno.ENOMEM);
    const to = this.findGap(newLen);
    if (to === null) throw new SysError(Errno.ENOMEM);
    this.move(old, oldLen, to);
    grow(to + oldLen, extra);
    return to;
  }

  /**
   * Maps [s, e) again after MREMAP_DONTUNMAP moved v's memory away: as v did, with nothing of
   * what it held privately. Private memory reads as zeroes (anonymous) or as the file holds it
   * now; shared memory maps the same pages as before.
   */
  #leaveBehind(v: Vma, s: bigint, e: bigint): void {
    const f = v.file;
    if (f) {
      const off = f.delta + v.fileOffset + (s - v.start);
      this.#mapFile(f.mappable, s, e - s, off, v.prot, v.maxPerms ?? PROT_ALL, !!v.shared, v.name);
      return;
    }
    const w = v.shared
      ? this.mapShared(s, e - s, v.fileOffset + (s - v.start), v.prot, v.name)
      : this.mapAnonymous(s, e - s, v.prot, v.name);
    if (v.growsDown) w.growsDown = true;
    if (v.maxPerms !== undefined) w.maxPerms = v.maxPerms;
  }

  /**
   * Moves the mappings of [from, from+len) to [to, to+len) without copying (mremap): the
   * same memory file ranges appear at the new address.
   */
  move(from: bigint, len: bigint, to: bigint): void {
    const moved: Vma[] = [];
    for (const v of this.vmas) {
      if (v.end <= from || v.start >= from + len) continue;
      const s = v.start > from ? v.start : from;
      const e = v.end < from + len ? v.end : from + len;
      moved.push({
        ...v,
        start: s - from + to,
        end: e - from + to,
        fileOffset: v.fileOffset + (s - v.start),
      });
    }
    // Detach the old range without returning its memory, then attach the new one; moved
    // copy-on-write pieces join their range first so that it never looks unused.
    for (const v of moved) v.cow?.users.add(v);
    this.#detach(from, from + len);
    this.unmapRange(to, to + len, false);
    for (const v of moved) {
      this.#insert(v);
      this.#mapVma(v);
    }
    this.#settle();
  }

  /** Removes VMAs in [start, end) from bookkeeping and the address space, keeping memory. */
  #detach(start: bigint, end: bigint): void {
    this.#cut(start, end, () => {});
    this.generation++;
    this.as.unmap(start, end - start);
  }

  /** The VMAs overlapping [start, end), in address order. */
  vmasIn(start: bigint, end: bigint): Vma[] {
    return this.vmas.filter((v) => v.start < end && start < v.end);
  }

  /** True if every byte of [start, end) is mapped. */
  fullyMapped(start: bigint, end: bigint): boolean {
    let cur = start;
    for (const v of this.vmas) {
      if (v.end <= cur || v.start >= end) continue;
      if (v.start > cur) return false;
      cur = v.end;
      if (cur >= end) return true;
    }
    return cur >= end;
  }

  /** Drops one user; the last releases everything. */
  decUsers(): void {
    if (--this.users === 0) this.release();
  }

  /** Releases every mapping and the address space. */
  release(): void {
    for (const v of this.vmas) {
      if (v.cow) v.cow.leave(v);
      else if (!v.shared && !v.unbacked) this.mf.free(v.fileOffset, v.end - v.start);
      // No write-back here: the last mapping of a file's pages to go writes them all back
      // (Mappable.decRef), and until then they are what every reader of the file sees.
      this.#unrefLater(v);
    }
    this.vmas.length = 0;
    this.as.release();
    this.#settle();
  }
}
