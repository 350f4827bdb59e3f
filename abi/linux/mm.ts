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

export const MAP_SHARED = 0x1;
export const MAP_PRIVATE = 0x2;
export const MAP_SHARED_VALIDATE = 0x3;
export const MAP_TYPE = 0xf;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_GROWSDOWN = 0x100;
export const MAP_NORESERVE = 0x4000;
export const MAP_FIXED_NOREPLACE = 0x100000;
