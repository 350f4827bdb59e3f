/**
 * The ELF64 structs the loader reads from an executable (elf(5)) and the auxiliary vector's
 * entries it writes, on x86-64.
 *
 * @module
 */

import { bytes, struct, u16, u32, u64 } from "./layout.ts";

export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;
export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_PHDR = 6;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** The index of e_ident's bytes the loader checks. */
export const EI_CLASS = 4;
export const EI_DATA = 5;

/** Elf64_Ehdr. */
export const Elf64Ehdr = struct("Elf64_Ehdr", 64, {
  ident: [0, bytes(16)],
  type: [16, u16],
  machine: [18, u16],
  version: [20, u32],
  entry: [24, u64],
  phoff: [32, u64],
  shoff: [40, u64],
  flags: [48, u32],
  ehsize: [52, u16],
  phentsize: [54, u16],
  phnum: [56, u16],
  shentsize: [58, u16],
  shnum: [60, u16],
  shstrndx: [62, u16],
});

/** Elf64_Phdr. */
export const Elf64Phdr = struct("Elf64_Phdr", 56, {
  type: [0, u32],
  flags: [4, u32],
  offset: [8, u64],
  vaddr: [16, u64],
  paddr: [24, u64],
  filesz: [32, u64],
  memsz: [40, u64],
  align: [48, u64],
});

/** One auxiliary vector entry (Elf64_auxv_t). */
export const Elf64Auxv = struct("Elf64_auxv_t", 16, { type: [0, u64], val: [8, u64] });

/** Auxiliary vector entry types (AT_* of getauxval(3)). */
export const AT = {
  NULL: 0,
  PHDR: 3,
  PHENT: 4,
  PHNUM: 5,
  PAGESZ: 6,
  BASE: 7,
  FLAGS: 8,
  ENTRY: 9,
  UID: 11,
  EUID: 12,
  GID: 13,
  EGID: 14,
  PLATFORM: 15,
  HWCAP: 16,
  CLKTCK: 17,
  SECURE: 23,
  RANDOM: 25,
  HWCAP2: 26,
  EXECFN: 31,
  SYSINFO_EHDR: 33,
  MINSIGSTKSZ: 51,
} as const;
