/**
 * The memory file: one memfd that backs all application memory (DESIGN.md). The Sentry maps
 * it whole into its own address space and copies application memory in and out through that
 * mapping; platforms map ranges of it into the application's address space.
 *
 * @module
 */

import { HostError } from "../../host/libc.ts";
import { fallocate, ftruncate, seek } from "../../host/fsops.ts";
import { fstatInto, STAT_BLOCKS_OFFSET, STAT_SIZE } from "../../host/io.ts";
import { mapShared, memfdCreate, view } from "../../host/mman.ts";
import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { PAGE_SIZE as PAGE } from "../../abi/linux/mm.ts";

export { PAGE_SIZE as PAGE } from "../../abi/linux/mm.ts";
/** The page size as a bigint, for address arithmetic. */
export const PAGE_SIZE = BigInt(PAGE);

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;

// Views are made per chunk: typed arrays over the whole (sparse, very large) file would exceed
// what V8 allows for one array, and a view per access would allocate on every copy.
const CHUNK = 1 << 30;

/** The host's MemTotal, or 1 TiB when it cannot be read. */
export function hostMemTotal(): bigint {
  try {
    const m = /MemTotal:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/meminfo"));
    if (m) return BigInt(m[1]) * 1024n;
  } catch {
    // No /proc: no limit beyond the file's size.
  }
  return 1n << 40n;
}

export function pageRoundDown(v: bigint): bigint {
  return v & ~(PAGE_SIZE - 1n);
}
export function pageRoundUp(v: bigint): bigint {
  return (v + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
}

/** A range allocator over the memory file with first-fit reuse of freed ranges. */
export class MemoryFile {
  readonly fd: number;
  readonly size: bigint;
  #base: Deno.PointerObject;
  #chunks: (Uint8Array | undefined)[] = [];
  #next = 0n;
  #free: { off: bigint; len: bigint }[] = [];
  /** Bytes currently allocated, for accounting. */
  used = 0n;
  /**
   * Most bytes of memory the application may hold (pages touched, not ranges reserved):
   * allocations fail with ENOMEM beyond it, so that a runaway program sees ENOMEM rather
   * than the host's OOM killer.
   */
  limit: bigint = hostMemTotal();
  /**
   * Bytes of Sentry-held memory that the application made grow (pipe buffers, descriptors...)
   * charged against the same limit, as Linux charges kernel objects to the memory cgroup.
   */
  charged = 0n;
  #stat = new Uint8Array(STAT_SIZE);

  /**
   * Creates a sparse memory file of `size` bytes (only touched pages use memory): a new memfd,
   * or, given `fd`, a host file the caller hands over (an overlay's filestore on disk).
   */
  constructor(size: bigint = 64n << 30n, fd?: number) {
    this.fd = fd ?? memfdCreate("runsc-memory");
    ftruncate(this.fd, size);
    this.size = size;
    // Never unmapped: the views of it (#chunk) live as long as the Sentry.
    this.#base = mapShared(this.fd, size);
  }

  /** Bytes of the file that hold data (touched pages), from the host's block count. */
  resident(): bigint {
    if (fstatInto(this.fd, this.#stat) !== 0) return 0n;
    return new DataView(this.#stat.buffer).getBigInt64(STAT_BLOCKS_OFFSET, true) * 512n;
  }

  /**
   * Allocates `length` bytes (page-aligned), zero-filled; returns the file offset. Throws
   * SysError(ENOMEM) when the memory in use has reached the limit.
   */
  allocate(length: bigint): bigint {
    const len = pageRoundUp(length);
    if (this.resident() + this.charged >= this.limit) throw new SysError(Errno.ENOMEM);
    for (let i = 0; i < this.#free.length; i++) {
      const f = this.#free[i];
      if (f.len >= len) {
        const off = f.off;
        f.off += len;
        f.len -= len;
        if (f.len === 0n) this.#free.splice(i, 1);
        this.used += len;
        return off;
      }
    }
    if (this.#next + len > this.size) throw new SysError(Errno.ENOMEM);
    const off = this.#next;
    this.#next += len;
    this.used += len;
    return off;
  }

  /**
   * Charges bytes of Sentry-held memory to the container; returns false, charging nothing,
   * when that would take it past the limit (the caller fails as Linux does for that object).
   */
  charge(bytes: number): boolean {
    const n = BigInt(bytes);
    // resident() is a host call; resident pages lie within allocated ranges (used), so a
    // charge far from the limit skips it.
    if (this.used + this.charged + n > this.limit) {
      if (this.resident() + this.charged + n > this.limit) return false;
    }
    this.charged += n;
    return true;
  }

  /** Gives back a charge taken with charge(). */
  uncharge(bytes: number): void {
    this.charged -= BigInt(bytes);
    if (this.charged < 0n) this.charged = 0n;
  }

  /** Returns a range to the allocator and its pages to the host (they read as zero again). */
  free(off: bigint, length: bigint): void {
    const len = pageRoundUp(length);
    this.decommit(off, len);
    this.used -= len;
    this.#free.push({ off, len });
  }

  /**
   * Returns the pages of an allocated range to the host, keeping the range allocated: they
   * read as zero when next touched (madvise(MADV_DONTNEED)).
   */
  decommit(off: bigint, length: bigint): void {
    try {
      fallocate(this.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, pageRoundUp(length));
    } catch (e) {
      if (!(e instanceof HostError)) throw e;
      // A file system that cannot punch holes: the pages that hold data are zeroed instead, so
      // that nothing of their last owner reaches the next.
      this.forEachData(off, pageRoundUp(length), (s, e) => this.zero(s, Number(e - s)));
    }
  }

  /**
   * Zeroes [off, off+len) of an allocated range: the pages wholly inside go back to the host
   * (decommit), the bytes of a page only partly inside are zeroed in place.
   */
  clear(off: bigint, len: bigint): void {
    const end = off + len;
    const first = pageRoundUp(off);
    const last = pageRoundDown(end);
    if (first >= last) {
      this.zero(off, Number(len));
      return;
    }
    if (off < first) this.zero(off, Number(first - off));
    this.decommit(first, last - first);
    if (last < end) this.zero(last, Number(end - last));
  }

  #chunk(i: number): Uint8Array {
    let c = this.#chunks[i];
    if (!c) {
      c = view(this.#base, CHUNK, i * CHUNK);
      this.#chunks[i] = c;
    }
    return c;
  }

  /** Copies file bytes [off, off+dst.length) into dst. */
  read(off: bigint, dst: Uint8Array): void {
    let o = Number(off);
    let done = 0;
    while (done < dst.length) {
      const ci = Math.floor(o / CHUNK);
      const co = o % CHUNK;
      const n = Math.min(dst.length - done, CHUNK - co);
      dst.set(this.#chunk(ci).subarray(co, co + n), done);
      done += n;
      o += n;
    }
  }

  /** Copies src into the file at off. */
  write(off: bigint, src: Uint8Array): void {
    let o = Number(off);
    let done = 0;
    while (done < src.length) {
      const ci = Math.floor(o / CHUNK);
      const co = o % CHUNK;
      const n = Math.min(src.length - done, CHUNK - co);
      this.#chunk(ci).set(src.subarray(done, done + n), co);
      done += n;
      o += n;
    }
  }

  /**
   * Copies [src, src+len) to [dst, dst+len), touching only the pages that hold data in the
   * source: holes stay holes, so copying a mostly untouched stack costs nothing.
   */
  copyRange(src: bigint, dst: bigint, len: bigint): void {
    this.forEachData(src, len, (s, e) => this.#copy(s, dst + (s - src), Number(e - s)));
  }

  /** Bytes of [off, off+len) that hold data (pages touched), from the file's holes. */
  residentIn(off: bigint, len: bigint): bigint {
    let total = 0n;
    this.forEachData(off, len, (s, e) => total += e - s);
    return total;
  }

  /**
   * Calls fn for each run [start, end) of [off, off+len) that holds data, in order: what lies
   * between reads as zeroes and was never touched.
   */
  forEachData(off: bigint, len: bigint, fn: (start: bigint, end: bigint) => void): void {
    const end = off + len;
    let pos = off;
    while (pos < end) {
      const data = seek(this.fd, pos, SEEK_DATA);
      if (data < 0n || data >= end) return;
      let hole = seek(this.fd, data, SEEK_HOLE);
      if (hole < 0n || hole > end) hole = end;
      fn(data, hole);
      pos = hole;
    }
  }

  /** Copies len bytes within the file, view to view, without a temporary buffer. */
  #copy(src: bigint, dst: bigint, len: number): void {
    let s = Number(src);
    let d = Number(dst);
    while (len > 0) {
      const sc = Math.floor(s / CHUNK);
      const dc = Math.floor(d / CHUNK);
      const so = s % CHUNK;
      const doff = d % CHUNK;
      const n = Math.min(len, CHUNK - so, CHUNK - doff);
      if (sc === dc) this.#chunk(sc).copyWithin(doff, so, so + n);
      else this.#chunk(dc).set(this.#chunk(sc).subarray(so, so + n), doff);
      s += n;
      d += n;
      len -= n;
    }
  }

  /** Zeroes [off, off+len). */
  zero(off: bigint, len: number): void {
    let o = Number(off);
    let left = len;
    while (left > 0) {
      const ci = Math.floor(o / CHUNK);
      const co = o % CHUNK;
      const n = Math.min(left, CHUNK - co);
      this.#chunk(ci).fill(0, co, co + n);
      left -= n;
      o += n;
    }
  }

  /** A view of [off, off+n) for the largest n <= len that stays inside one chunk. */
  viewUpTo(off: bigint, len: number): Uint8Array {
    const o = Number(off);
    const co = o % CHUNK;
    return this.#chunk(Math.floor(o / CHUNK)).subarray(co, co + Math.min(len, CHUNK - co));
  }

  /**
   * A view of [off, off+len) when it lies inside one chunk (the common case for small
   * copies), or null when the caller must copy with read/write.
   */
  slice(off: bigint, len: number): Uint8Array | null {
    const o = Number(off);
    const co = o % CHUNK;
    if (co + len > CHUNK) return null;
    return this.#chunk(Math.floor(o / CHUNK)).subarray(co, co + len);
  }
}

/**
 * The memory file that kernel objects are charged to: the sandbox's, set once at boot (one
 * Sentry runs one sandbox). Unset (unit tests), nothing is charged.
 */
let kernelAccount: MemoryFile | undefined;

/** Makes mf the memory file that chargeKernel charges. */
export function setKernelAccount(mf: MemoryFile | undefined): void {
  kernelAccount = mf;
}

/**
 * Charges bytes of Sentry-held memory the application made grow to the container's memory
 * limit; false when the limit is reached (nothing is charged then).
 */
export function chargeKernel(bytes: number): boolean {
  return kernelAccount?.charge(bytes) ?? true;
}

/** Gives back a charge taken with chargeKernel. */
export function unchargeKernel(bytes: number): void {
  kernelAccount?.uncharge(bytes);
}
