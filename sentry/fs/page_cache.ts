/**
 * A page cache in the memory file for a file whose data lives elsewhere (a Gofer file's host
 * file), as gVisor's fsutil.CachingInodeOperations keeps one: MAP_SHARED mappings map these
 * pages, so every mapping of the file, in any process, sees the same memory; read(2) and
 * write(2) go through the pages the cache holds, so they agree with the mappings; msync,
 * munmap and the last mapping's end write the pages back to the file.
 *
 * The cache lives only while some mapping uses it: once the last goes, its pages are written
 * back and returned, and reads and writes go to the file directly again. There is no dirty
 * tracking (the platforms report no dirty bits): a write-back writes every page held in its
 * range.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { type MemoryFile, PAGE, PAGE_SIZE } from "../mm/memory_file.ts";
import type { FileMappers, Mappable, PageRun } from "../mm/mmap_opts.ts";

/** Where the cached file's data lives. */
export interface CacheBacking {
  /** Reads at off; returns the bytes read, short at the end of the file. */
  readAt(off: bigint, dst: Uint8Array<ArrayBuffer>): number;
  /** Writes at off; returns the bytes written. Throws SysError. */
  writeAt(off: bigint, src: Uint8Array<ArrayBuffer>): number;
  /** The file's size now. */
  size(): bigint;
}

/** Pages [index, index+count) of the file, held at [off, off+count pages) of the memory file. */
interface Extent {
  index: number;
  count: number;
  off: bigint;
}

export class PageCache {
  /**
   * The pages held, as runs sorted by index and disjoint: a mapping makes its pages as one run
   * (or a few), so a mapping of gigabytes costs an entry, not an entry per page.
   */
  #extents: Extent[] = [];
  /** Mappings using the pages. */
  #refs = 0;

  /** @param onEmpty called when the last mapping went and the pages were returned. */
  constructor(
    readonly mf: MemoryFile,
    readonly backing: CacheBacking,
    readonly onEmpty: () => void,
  ) {}

  /** The position in #extents of the run holding page `index`, or -(where it would go) - 1. */
  #search(index: number): number {
    let lo = 0, hi = this.#extents.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.#extents[mid];
      if (index < e.index) hi = mid;
      else if (index >= e.index + e.count) lo = mid + 1;
      else return mid;
    }
    return -lo - 1;
  }

  /** The memory-file offset of page `index` when it is held. */
  #lookup(index: number): bigint | undefined {
    const k = this.#search(index);
    if (k < 0) return undefined;
    const e = this.#extents[k];
    return e.off + BigInt(index - e.index) * PAGE_SIZE;
  }

  /** The memory-file offset of page `index`, made and filled from the file when asked. */
  page(index: number, allocate: boolean): bigint | null {
    const have = this.#lookup(index);
    if (have !== undefined || !allocate) return have ?? null;
    return this.pages(index, 1)[0].off;
  }

  /** The runs of [first, first+count) the cache holds, making none. */
  present(first: number, count: number): PageRun[] {
    const out: PageRun[] = [];
    const end = first + count;
    const k = this.#search(first);
    for (let i = k >= 0 ? k : -k - 1; i < this.#extents.length; i++) {
      const e = this.#extents[i];
      if (e.index >= end) break;
      const from = Math.max(first, e.index);
      const to = Math.min(end, e.index + e.count);
      out.push({ index: from, count: to - from, off: e.off + BigInt(from - e.index) * PAGE_SIZE });
    }
    return out;
  }

  /**
   * The pages of [first, first+count), made where missing (each gap one range of the memory
   * file, filled with one read): runs in order that cover the range.
   */
  pages(first: number, count: number): PageRun[] {
    const out: PageRun[] = [];
    const end = first + count;
    let i = first;
    while (i < end) {
      const k = this.#search(i);
      if (k >= 0) {
        const e = this.#extents[k];
        const n = Math.min(end, e.index + e.count) - i;
        out.push({ index: i, count: n, off: e.off + BigInt(i - e.index) * PAGE_SIZE });
        i += n;
        continue;
      }
      const at = -k - 1;
      const next = this.#extents[at];
      const n = (next ? Math.min(end, next.index) : end) - i;
      const made = { index: i, count: n, off: this.#fill(i, n) };
      this.#extents.splice(at, 0, made);
      out.push({ ...made });
      i += n;
    }
    return out;
  }

  /**
   * A new range of the memory file holding pages [index, index+count) of the file; what the
   * file does not hold (past its end) is zeroes.
   */
  #fill(index: number, count: number): bigint {
    const len = count * PAGE;
    const off = this.mf.allocate(BigInt(len));
    const at = BigInt(index) * PAGE_SIZE;
    let got = 0;
    try {
      while (got < len) {
        const view = this.mf.viewUpTo(off + BigInt(got), len - got) as Uint8Array<ArrayBuffer>;
        const n = this.backing.readAt(at + BigInt(got), view);
        if (n <= 0) break;
        got += n;
      }
    } catch (e) {
      this.mf.free(off, BigInt(len));
      throw e;
    }
    // A file shorter than the range: the rest reads as zeroes, whatever the memory file held
    // there before (it hands out zeroed ranges, but the cache does not rest on that).
    if (got < len) this.mf.clear(off + BigInt(got), BigInt(len - got));
    return off;
  }

  /**
   * Reads at off, the cached pages from memory and the others from the file; returns the
   * bytes read (none past the end of the file).
   */
  readAt(off: bigint, dst: Uint8Array<ArrayBuffer>): number {
    const size = this.backing.size();
    if (off >= size) return 0;
    const len = Number(size - off < BigInt(dst.length) ? size - off : BigInt(dst.length));
    let done = 0;
    while (done < len) {
      const at = off + BigInt(done);
      const index = Number(at / PAGE_SIZE);
      const inPage = Number(at % PAGE_SIZE);
      const n = Math.min(len - done, PAGE - inPage);
      const p = this.#lookup(index);
      if (p !== undefined) {
        this.mf.read(p + BigInt(inPage), dst.subarray(done, done + n));
        done += n;
        continue;
      }
      // A run of pages not cached: one read from the file.
      let end = done + n;
      while (end < len && this.#lookup(Number((off + BigInt(end)) / PAGE_SIZE)) === undefined) {
        end = Math.min(len, end + PAGE);
      }
      const got = this.backing.readAt(at, dst.subarray(done, end));
      if (got <= 0) break;
      done += got;
    }
    return done;
  }

  /** Copies bytes written to the file at off into the pages cached for them (write(2)). */
  update(off: bigint, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const at = off + BigInt(done);
      const inPage = Number(at % PAGE_SIZE);
      const n = Math.min(src.length - done, PAGE - inPage);
      const p = this.#lookup(Number(at / PAGE_SIZE));
      if (p !== undefined) this.mf.write(p + BigInt(inPage), src.subarray(done, done + n));
      done += n;
    }
  }

  /**
   * Writes the cached pages of [off, off+len) back to the file, never past its end (stores
   * beyond the end of a file do not grow it). Throws SysError (EIO and the like).
   */
  writeBack(off: bigint, len: bigint, leaving = false): void {
    if (this.#extents.length === 0 || (leaving && this.#refs <= 1)) return;
    const size = this.backing.size();
    const end = off + len < size ? off + len : size;
    for (const e of this.#extents) {
      const from = BigInt(e.index) * PAGE_SIZE;
      const s = from > off ? from : off;
      const to = from + BigInt(e.count) * PAGE_SIZE;
      const t = to < end ? to : end;
      if (s >= t) continue;
      // Pages never touched hold zeroes the file already has (they were past its end when
      // made, or it was cut since): only those holding data are written.
      this.mf.forEachData(
        e.off + (s - from),
        t - s,
        (a, b) => this.#write(a, from + (a - e.off), b - a),
      );
    }
  }

  /** Writes len bytes of the memory file at mfOff to the file at off. */
  #write(mfOff: bigint, off: bigint, len: bigint): void {
    let done = 0;
    const n = Number(len);
    while (done < n) {
      const data = this.mf.viewUpTo(mfOff + BigInt(done), n - done) as Uint8Array<ArrayBuffer>;
      const w = this.backing.writeAt(off + BigInt(done), data);
      if (w <= 0) throw new SysError(Errno.EIO);
      done += w;
    }
  }

  /**
   * The file was cut to `size`: what the cached pages hold beyond it reads as zeroes, as a file
   * grown again would (the pages stay: mappings still map them).
   */
  truncate(size: bigint): void {
    const keep = (size + PAGE_SIZE - 1n) / PAGE_SIZE;
    for (const e of this.#extents) {
      const first = BigInt(e.index), end = first + BigInt(e.count);
      if (end <= keep) continue;
      const from = first > keep ? first : keep;
      // Whole pages past the end go back to the host (zeroes when next touched).
      this.mf.decommit(e.off + (from - first) * PAGE_SIZE, (end - from) * PAGE_SIZE);
    }
    const tail = Number(size % PAGE_SIZE);
    const last = tail === 0 ? undefined : this.#lookup(Number(size / PAGE_SIZE));
    if (last !== undefined) this.mf.zero(last + BigInt(tail), PAGE - tail);
  }

  /**
   * The file grew from `from` bytes (ftruncate, a write past its end): the bytes of its old last
   * page past `from` become the file's, and read as zeroes as a disk file's do, whatever a
   * mapping stored there while they lay past the end (such stores are never written back).
   */
  grow(from: bigint, to: bigint): void {
    const inPage = Number(from % PAGE_SIZE);
    if (to <= from || inPage === 0) return;
    const p = this.#lookup(Number(from / PAGE_SIZE));
    const n = Math.min(PAGE - inPage, Number(to - from));
    if (p !== undefined) this.mf.zero(p + BigInt(inPage), n);
  }

  incRef(): void {
    this.#refs++;
  }

  /** The last mapping gone: writes the pages back and returns them to the memory file. */
  decRef(): void {
    if (--this.#refs > 0) return;
    try {
      this.writeBack(0n, this.backing.size());
    } catch {
      // Nobody is left to tell (munmap and exit do not fail); the file keeps what it had.
    }
    for (const e of this.#extents) this.mf.free(e.off, BigInt(e.count) * PAGE_SIZE);
    this.#extents = [];
    this.onEmpty();
  }
}

/** Pages a touch of a shared mapping reads from the file at once. */
const READ_AHEAD_PAGES = 64;

/**
 * The Mappable of a file cached by a PageCache made on demand: `cache()` gives the file's cache
 * (making it), `current()` the one it has, if any; `readAt` reads the file itself, `size` gives
 * its size; `mappers` are the file's own (they outlive its caches).
 */
export function cachedMappable(
  cache: () => PageCache,
  current: () => PageCache | undefined,
  readAt: (off: bigint, dst: Uint8Array<ArrayBuffer>) => number,
  size: () => bigint,
  mappers: FileMappers,
): Mappable {
  return {
    size,
    mappers,
    page: (index, allocate) =>
      allocate ? cache().page(index, true) : current()?.page(index, false) ?? null,
    pages: (first, count) => cache().pages(first, count),
    // A shared mapping reads the file when touched, a window at a time (read-ahead), rather
    // than all of it when made.
    present: (first, count) => current()?.present(first, count) ?? [],
    holePages: READ_AHEAD_PAGES,
    readAt,
    writeBack: (off, len, leaving) => current()?.writeBack(off, len, leaving),
    incRef: () => cache().incRef(),
    decRef: () => current()?.decRef(),
  };
}
