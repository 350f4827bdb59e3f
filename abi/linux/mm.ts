/**
 * The Linux memory ABI on x86-64: the page size, mmap(2)'s protections and flags. The Sentry,
 * the platforms and the host helpers that map code pages all speak it, so each takes its
 * values from here.
 *
 * @module
 */

/** log2 of the page size. */
export const PAGE_SHIFT = 12;
/** The page size in bytes (x86-64's base page). */
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const PROT_GROWSDOWN = 0x01000000;
export const PROT_GROWSUP = 0x02000000;
/** Accepted by mprotect(2) (and ignored) on x86-64. */
export const PROT_SEM = 0x8;

export const MAP_SHARED = 0x1;
export const MAP_PRIVATE = 0x2;
export const MAP_SHARED_VALIDATE = 0x3;
export const MAP_TYPE = 0xf;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_GROWSDOWN = 0x100;
export const MAP_NORESERVE = 0x4000;
export const MAP_FIXED_NOREPLACE = 0x100000;
/**
 * The flags every mmap(2) knows (Linux's LEGACY_MAP_MASK): MAP_SHARED_VALIDATE refuses others
 * (EOPNOTSUPP) that the file does not support, and no file here supports any (MAP_SYNC).
 */
export const LEGACY_MAP_MASK = 0x1 | 0x2 | 0x10 | 0x20 | 0x800 | 0x1000 | 0x4000000 | 0x100 |
  0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x40000;

/** The end of the user address range on x86-64 with 4-level paging (TASK_SIZE). */
export const TASK_SIZE = 0x7fff_ffff_f000n;
