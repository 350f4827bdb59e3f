/**
 * The headers of the tiny static x86-64 executables we generate in memory (the ptrace stub,
 * nsinit): one ELF header and one PT_LOAD program header per segment, written at the start of
 * an image whose code and data the caller places after them.
 *
 * @module
 */

/** sizeof(Elf64_Ehdr). */
export const EHDR_SIZE = 64;
/** sizeof(Elf64_Phdr). */
export const PHDR_SIZE = 56;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

const ET_EXEC = 2;
const EM_X86_64 = 62;
const EV_CURRENT = 1;
const PT_LOAD = 1;

/** One loaded segment: file bytes [offset, offset+length) at vaddr, mapped with PF_* flags. */
export interface LoadSegment {
  offset: number;
  vaddr: bigint;
  length: number;
  flags: number;
}

/** Bytes the headers take for `segments` program headers: where the caller's code may start. */
export function elfHeadersSize(segments: number): number {
  return EHDR_SIZE + segments * PHDR_SIZE;
}

/**
 * Writes the ELF header and the PT_LOAD headers into `image` (which must be large enough to hold
 * every segment's file bytes). Segments load page-aligned, file size equal to memory size.
 */
export function writeElfHeaders(image: Uint8Array, entry: bigint, segments: LoadSegment[]): void {
  if (image.length < elfHeadersSize(segments.length)) throw new Error("ELF image too small");
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  image.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]); // ELF64, little-endian, version 1, SysV ABI
  v.setUint16(16, ET_EXEC, true);
  v.setUint16(18, EM_X86_64, true);
  v.setUint32(20, EV_CURRENT, true);
  v.setBigUint64(24, entry, true);
  v.setBigUint64(32, BigInt(EHDR_SIZE), true); // e_phoff: right after this header
  v.setUint16(52, EHDR_SIZE, true);
  v.setUint16(54, PHDR_SIZE, true);
  v.setUint16(56, segments.length, true);
  v.setUint16(58, 64, true); // e_shentsize, with no section headers
  segments.forEach((s, i) => {
    if (s.offset + s.length > image.length) throw new Error("ELF segment beyond the image");
    const p = EHDR_SIZE + i * PHDR_SIZE;
    v.setUint32(p, PT_LOAD, true);
    v.setUint32(p + 4, s.flags, true);
    v.setBigUint64(p + 8, BigInt(s.offset), true);
    v.setBigUint64(p + 16, s.vaddr, true);
    v.setBigUint64(p + 24, s.vaddr, true); // p_paddr, unused
    v.setBigUint64(p + 32, BigInt(s.length), true); // p_filesz
    v.setBigUint64(p + 40, BigInt(s.length), true); // p_memsz
    v.setBigUint64(p + 48, 0x1000n, true);
  });
}
