/**
 * ELF64 executable loading into a MemoryManager: the PT_LOAD segments, the program break, and
 * what the auxiliary vector needs (AT_PHDR, AT_ENTRY...).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "../../platform/platform.ts";
import { ELF_ET_DYN_BASE, type MemoryManager } from "../mm/mm.ts";
import { PAGE_SIZE, pageRoundDown, pageRoundUp } from "../mm/memory_file.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  EI_CLASS,
  EI_DATA,
  Elf64Ehdr,
  Elf64Phdr,
  ELFCLASS64,
  ELFDATA2LSB,
  EM_X86_64,
  ET_DYN,
  ET_EXEC,
  PF_R,
  PF_W,
  PF_X,
  PT_INTERP,
  PT_LOAD,
  PT_PHDR,
} from "../../abi/linux/elf.ts";

/** Reads bytes of the executable: (buffer, file offset) -> bytes read. */
export type ReadAt = (buf: Uint8Array<ArrayBuffer>, offset: number) => number;

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
  memsz: bigint;
}

/** An executable's headers, parsed but not loaded. */
export interface ElfInfo {
  type: number;
  entry: bigint;
  phoff: number;
  phentsize: number;
  phdrs: ProgramHeader[];
  interp: string | null;
}

/** What loading produced. */
export interface LoadedElf {
  /** Load bias added to every vaddr (0 for ET_EXEC). */
  bias: bigint;
  entry: bigint;
  /** Address of the program headers in memory (AT_PHDR). */
  phdr: bigint;
  phent: number;
  phnum: number;
  /** First address past the highest segment: the initial program break. */
  end: bigint;
  interp: string | null;
}

/** A file that is not a loadable ELF for this machine: exec fails with ENOEXEC. */
function noexec(why: string): SysError {
  return new SysError(Errno.ENOEXEC, `not an x86-64 ELF executable: ${why}`);
}

function readExact(read: ReadAt, offset: number, len: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const n = read(b.subarray(done) as Uint8Array<ArrayBuffer>, offset + done);
    if (n <= 0) throw noexec("file is truncated");
    done += n;
  }
  return b;
}

/** Parses the ELF header and program headers. Throws SysError(ENOEXEC) with the reason. */
export function parseElf(read: ReadAt): ElfInfo {
  let hdr: Uint8Array<ArrayBuffer>;
  try {
    hdr = readExact(read, 0, Elf64Ehdr.size);
  } catch {
    throw noexec("file is too short");
  }
  if (hdr[0] !== 0x7f || hdr[1] !== 0x45 || hdr[2] !== 0x4c || hdr[3] !== 0x46) {
    throw noexec("bad magic");
  }
  if (hdr[EI_CLASS] !== ELFCLASS64) throw noexec("not 64-bit");
  if (hdr[EI_DATA] !== ELFDATA2LSB) throw noexec("not little-endian");
  const eh = Elf64Ehdr.decode(hdr);
  const type = eh.type;
  if (type !== ET_EXEC && type !== ET_DYN) throw noexec(`ELF type ${type} is not executable`);
  if (eh.machine !== EM_X86_64) throw noexec("machine is not x86-64");
  const entry = eh.entry;
  const phoff = Number(eh.phoff);
  const phentsize = eh.phentsize;
  const phnum = eh.phnum;
  if (phentsize !== Elf64Phdr.size || phnum === 0 || phnum > 128) {
    throw noexec("bad program headers");
  }
  const ph = readExact(read, phoff, phnum * phentsize);
  const phdrs: ProgramHeader[] = Elf64Phdr.decodeArray(ph, phnum).map((p) => ({
    type: p.type,
    flags: p.flags,
    offset: Number(p.offset),
    vaddr: p.vaddr,
    filesz: Number(p.filesz),
    memsz: p.memsz,
  }));
  let interp: string | null = null;
  const pi = phdrs.find((p) => p.type === PT_INTERP);
  if (pi) {
    if (pi.filesz > 4096 || pi.filesz < 2) throw noexec("bad PT_INTERP");
    const b = readExact(read, pi.offset, pi.filesz);
    interp = new TextDecoder().decode(b.subarray(0, b.indexOf(0) >= 0 ? b.indexOf(0) : b.length));
  }
  if (!phdrs.some((p) => p.type === PT_LOAD)) throw noexec("no loadable segments");
  return { type, entry, phoff, phentsize, phdrs, interp };
}

/** Bytes spanned by the PT_LOAD segments, page-aligned: what an ET_DYN object needs free. */
export function elfSpan(elf: ElfInfo): bigint {
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD);
  let lo = loads[0].vaddr;
  let hi = 0n;
  for (const p of loads) {
    if (p.vaddr < lo) lo = p.vaddr;
    if (p.vaddr + p.memsz > hi) hi = p.vaddr + p.memsz;
  }
  return pageRoundUp(hi) - pageRoundDown(lo);
}

function protOf(flags: number): number {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
    (flags & PF_X ? PROT_EXEC : 0);
}

/**
 * Maps the PT_LOAD segments of `elf` into mm. ET_DYN objects are placed at `dynBase`.
 * Pages shared by two segments get the union of their protections, as on Linux.
 */
export function loadElf(
  mm: MemoryManager,
  elf: ElfInfo,
  read: ReadAt,
  dynBase = ELF_ET_DYN_BASE,
): LoadedElf {
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD).sort((a, b) =>
    a.vaddr < b.vaddr ? -1 : 1
  );
  const bias = elf.type === ET_DYN ? dynBase - pageRoundDown(loads[0].vaddr) : 0n;
  const lo = pageRoundDown(loads[0].vaddr) + bias;
  const hi = pageRoundUp(loads.reduce((m, p) => {
    const e = p.vaddr + p.memsz;
    return e > m ? e : m;
  }, 0n)) + bias;
  if (!mm.validRange(lo, hi)) throw noexec("segments outside the address space");
  for (const p of loads) {
    if (BigInt(p.filesz) > p.memsz) throw noexec("segment file size exceeds memory size");
  }

  // One writable mapping for the whole image first, so that contents can be copied in, then
  // each page range gets its final protections.
  mm.mapAnonymous(lo, hi - lo, PROT_READ | PROT_WRITE);
  for (const p of loads) {
    if (p.filesz === 0) continue;
    // Read the file straight into the new image's memory.
    const got = mm.fillDirect(
      p.vaddr + bias,
      p.filesz,
      (view, done) => read(view, p.offset + done),
    );
    if (got < p.filesz) throw noexec("file is truncated");
  }
  // Final protections: page ranges with the union of the segments that touch them; gaps
  // between segments become inaccessible.
  const ranges: { s: bigint; e: bigint; prot: number }[] = [];
  for (const p of loads) {
    const s = pageRoundDown(p.vaddr) + bias;
    const e = pageRoundUp(p.vaddr + p.memsz) + bias;
    const last = ranges[ranges.length - 1];
    if (last && s < last.e) {
      // The shared page takes both protections.
      const shared = last.e;
      ranges.push({ s: shared - PAGE_SIZE, e: shared, prot: last.prot | protOf(p.flags) });
      last.e = shared - PAGE_SIZE;
      if (shared < e) ranges.push({ s: shared, e, prot: protOf(p.flags) });
    } else {
      if (last && s > last.e) ranges.push({ s: last.e, e: s, prot: 0 });
      ranges.push({ s, e, prot: protOf(p.flags) });
    }
  }
  for (const r of ranges) {
    if (r.e > r.s && r.prot !== (PROT_READ | PROT_WRITE)) mm.protect(r.s, r.e, r.prot);
  }
  for (const v of mm.vmas) if (v.start >= lo && v.end <= hi) v.name = "[exe]";

  let phdr = 0n;
  const pp = elf.phdrs.find((p) => p.type === PT_PHDR);
  if (pp) {
    phdr = pp.vaddr + bias;
  } else {
    const holder = loads.find((p) => elf.phoff >= p.offset && elf.phoff < p.offset + p.filesz);
    if (holder) phdr = holder.vaddr + BigInt(elf.phoff - holder.offset) + bias;
  }
  return {
    bias,
    entry: elf.entry + bias,
    phdr,
    phent: elf.phentsize,
    phnum: elf.phdrs.length,
    end: hi,
    interp: elf.interp,
  };
}
