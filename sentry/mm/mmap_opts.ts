/**
 * What a mapping is made of, as gVisor's memmap package describes it: the options mmap(2)
 * decodes (MMapOpts), and what a file offers to be mapped (Mappable). The syscall builds the
 * options, the file configures them (FileDescription.configureMMap: it checks the access and
 * provides the Mappable), and the memory manager places the mapping (MemoryManager.mmap).
 *
 * @module
 */

/**
 * A file's pages as mappings see them: pages of the memory file (tmpfs, a Gofer file's page
 * cache), and, for pages it does not hold, the file's data to copy from.
 */
export interface Mappable {
  /**
   * The memory-file offset of page `index` of the file. With `allocate`, a missing page is
   * made (filled from the file); without, a missing page is null (a hole, or data not cached).
   */
  page(index: number, allocate: boolean): bigint | null;
  /**
   * The pages of [first, first+count), made where missing, as runs in order that cover the
   * range: what page() gives page by page, for a large mapping in few steps and few VMAs.
   */
  pages?(first: number, count: number): PageRun[];
  /**
   * Without making any: the runs of [first, first+count) the file has pages for. What lies
   * between is a hole that a shared mapping maps when it is first touched (pages() makes it
   * then), so mapping a sparse file costs what it holds. Absent: every page is made when
   * mapped.
   */
  present?(first: number, count: number): PageRun[];
  /**
   * How many pages a touch in a hole makes at once (with present): 1 where the pages made are
   * counted against a limit the application can see (a tmpfs size), more to spare faults (and
   * as read-ahead, for a file whose data is read from elsewhere).
   */
  holePages?: number;
  /**
   * Reads file bytes at `off` that page() does not hold (a host file's data); returns the
   * bytes read, short at the end of the file. Absent: such pages are holes (zeroes).
   */
  readAt?(off: bigint, dst: Uint8Array<ArrayBuffer>): number;
  /**
   * Writes the pages held for [off, off+len) back to where the file lives (msync, munmap).
   * `leaving`: a mapping whose reference goes next asks; when it holds the last one, nothing is
   * written now, as decRef writes everything. Throws SysError when the file cannot be written.
   */
  writeBack?(off: bigint, len: bigint, leaving?: boolean): void;
  /** A mapping starts using the pages (one call per VMA that maps any). */
  incRef?(): void;
  /** A mapping stopped using them: the last one lets the pages go (written back first). */
  decRef?(): void;
  /**
   * The file's size now. Pages wholly past it are mapped nowhere: a touch raises SIGBUS, or
   * maps the page once the file has grown to hold it. Absent: the mapping is all backed.
   */
  size?(): bigint;
  /** The address spaces mapping the file's pages (the same object for every Mappable of it). */
  mappers?: FileMappers;
}

/** What FileMappers tells an address space (MemoryManager) that maps a file's pages. */
export interface FileMapper {
  /**
   * The file was cut: its pages from `firstPage` on must be mapped no more (a touch raises
   * SIGBUS), before they are zeroed or freed.
   */
  fileShrunk(mappers: FileMappers, firstPage: number): void;
}

/**
 * The address spaces that map a file (Linux's i_mmap of an address_space): truncation must
 * take the pages it cuts out of every mapping at once, or stores there would land in pages the
 * file no longer has and reach it again if it grows.
 */
export class FileMappers {
  /** Each address space with how many of its VMAs map the file. */
  readonly #spaces = new Map<FileMapper, number>();

  add(s: FileMapper): void {
    this.#spaces.set(s, (this.#spaces.get(s) ?? 0) + 1);
  }

  remove(s: FileMapper): void {
    const n = (this.#spaces.get(s) ?? 0) - 1;
    if (n > 0) this.#spaces.set(s, n);
    else this.#spaces.delete(s);
  }

  /** The file now ends at `size`: no mapping keeps a page wholly past it. */
  shrunk(size: bigint, pageSize: bigint): void {
    const first = Number((size + pageSize - 1n) / pageSize);
    for (const s of [...this.#spaces.keys()]) s.fileShrunk(this, first);
  }
}

/** Pages [index, index+count) of a file, at [off, off+count pages) of the memory file. */
export interface PageRun {
  index: number;
  count: number;
  off: bigint;
}

/** mmap(2)'s request, decoded (gVisor's memmap.MMapOpts). */
export interface MMapOpts {
  /** Bytes, page-aligned and non-zero. */
  length: bigint;
  /** The file offset of the first byte (page-aligned); 0 for anonymous memory. */
  offset: bigint;
  /** Where: the address for `fixed`, else a hint (0: none). */
  addr: bigint;
  /** MAP_FIXED or MAP_FIXED_NOREPLACE: the mapping goes at addr or fails. */
  fixed: boolean;
  /** MAP_FIXED_NOREPLACE: fail with EEXIST rather than replace what is mapped at addr. */
  noReplace: boolean;
  /** PROT_* the mapping starts with. */
  perms: number;
  /** PROT_* mprotect may ever grant (a file's access mode bounds shared mappings). */
  maxPerms: number;
  /** MAP_PRIVATE: stores are the mapping's own (copy-on-write of the file's pages). */
  private: boolean;
  /** MAP_GROWSDOWN. */
  growsDown: boolean;
  /** The file's pages; absent for anonymous memory (configureMMap sets it). */
  mappable?: Mappable;
  /** /proc/<pid>/maps' name for the mapping (the file's path). */
  name: string;
}
