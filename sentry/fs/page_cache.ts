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
import type { Mappable } from "../mm/mmap_opts.ts";

/** Where the cached file's data lives. */
export interface CacheBacking {
  /** Reads at off; returns the bytes read, short at the end of the file. */
  readAt(off: bigint, dst: Uint8Array<ArrayBuffer>): number;
  /** Writes at off; returns the bytes written. Throws SysError. */
  writeAt(off: bigint, src: Uint8Array<ArrayBuffer>): number;
  /** The file's size now. */
  size(): bigint;
}

export class PageCache {
  /** Memory-file offset of each cached page, by page index. */
  readonly #pages = new Map<number, bigint>();
  /** Mappings using the pages. */
  #refs = 0;

  /** @param onEmpty called when the last mapping went and the pages were returned. */
  constructor(
    readonly mf: MemoryFile,
    readonly backing: CacheBacking,
    readonly onEmpty: () => void,
  ) {}

  /** The memory-file offset of page `index`, made and filled from the file when asked. */
  page(index: number, allocate: boolean): bigint | null {
    const have = this.#pages.get(index);
    if (have !== undefined || !allocate) return have ?? null;
    const off = this.mf.allocate(PAGE_SIZE);
    // The page is page-aligned, so it never straddles two of the memory file's views.
    const view = this.mf.slice(off, PAGE)! as Uint8Array<ArrayBuffer>;
    const at = BigInt(index) * PAGE_SIZE;
    let got = 0;
    try {
      while (got < PAGE) {
        const n = this.backing.readAt(at + BigInt(got), view.subarray(got));
        if (n <= 0) break;
        got += n;
      }
    } catch (e) {
      this.mf.free(off, PAGE_SIZE);
      throw e;
    }
    this.#pages.set(index, off);
    return off;
  }

  /** Makes the missing pages of [first, first+count): one range and one read per run. */
  populate(first: number, count: number): void {
    let i = first;
    const end = first + count;
    while (i < end) {
      if (this.#pages.has(i)) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < end && !this.#pages.has(j)) j++;
      const len = (j - i) * PAGE;
      const off = this.mf.allocate(BigInt(len));
      const at = BigInt(i) * PAGE_SIZE;
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
      for (let k = i; k < j; k++) this.#pages.set(k, off + BigInt(k - i) * PAGE_SIZE);
      i = j;
    }
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
      const p = this.#pages.get(index);
      if (p !== undefined) {
        this.mf.read(p + BigInt(inPage), dst.subarray(done, done + n));
        done += n;
        continue;
      }
      // A run of pages not cached: one read from the file.
      let end = done + n;
      while (end < len && !this.#pages.has(Number((off + BigInt(end)) / PAGE_SIZE))) {
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
      const p = this.#pages.get(Number(at / PAGE_SIZE));
      if (p !== undefined) this.mf.write(p + BigInt(inPage), src.subarray(done, done + n));
      done += n;
    }
  }

  /**
   * Writes the cached pages of [off, off+len) back to the file, never past its end (stores
   * beyond the end of a file do not grow it). Throws SysError (EIO and the like).
   */
  writeBack(off: bigint, len: bigint): void {
    if (this.#pages.size === 0) return;
    const size = this.backing.size();
    const end = off + len < size ? off + len : size;
    const first = Number(off / PAGE_SIZE);
    const last = Number((end + PAGE_SIZE - 1n) / PAGE_SIZE);
    // Few pages are cached next to a wide range (a whole mapping): walk the smaller.
    const indexes = last - first > this.#pages.size
      ? [...this.#pages.keys()].filter((i) => i >= first && i < last).sort((a, b) => a - b)
      : Array.from({ length: last - first }, (_, k) => first + k);
    for (const i of indexes) {
      const p = this.#pages.get(i);
      if (p === undefined) continue;
      const at = BigInt(i) * PAGE_SIZE;
      const n = Number(end - at < PAGE_SIZE ? end - at : PAGE_SIZE);
      if (n <= 0) continue;
      const data = this.mf.slice(p, n)! as Uint8Array<ArrayBuffer>;
      let done = 0;
      while (done < n) {
        const w = this.backing.writeAt(at + BigInt(done), data.subarray(done));
        if (w <= 0) throw new SysError(Errno.EIO);
        done += w;
      }
    }
  }

  /**
   * The file was cut to `size`: what the cached pages hold beyond it reads as zeroes, as a file
   * grown again would (the pages stay: mappings still map them).
   */
  truncate(size: bigint): void {
    for (const [i, p] of this.#pages) {
      const at = BigInt(i) * PAGE_SIZE;
      if (at >= size) this.mf.zero(p, PAGE);
      else if (at + PAGE_SIZE > size) {
        const keep = Number(size - at);
        this.mf.zero(p + BigInt(keep), PAGE - keep);
      }
    }
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
    for (const p of this.#pages.values()) this.mf.free(p, PAGE_SIZE);
    this.#pages.clear();
    this.onEmpty();
  }
}

/**
 * The Mappable of a file cached by a PageCache made on demand: `cache()` gives the file's cache
 * (making it), `current()` the one it has, if any; `readAt` reads the file itself.
 */
export function cachedMappable(
  cache: () => PageCache,
  current: () => PageCache | undefined,
  readAt: (off: bigint, dst: Uint8Array<ArrayBuffer>) => number,
  size: () => bigint,
): Mappable {
  return {
    page: (index, allocate) =>
      allocate ? cache().page(index, true) : current()?.page(index, false) ?? null,
    populate: (first, count) => cache().populate(first, count),
    pageCount: () => Number((size() + PAGE_SIZE - 1n) / PAGE_SIZE),
    readAt,
    writeBack: (off, len) => current()?.writeBack(off, len),
    incRef: () => cache().incRef(),
    decRef: () => current()?.decRef(),
  };
}
