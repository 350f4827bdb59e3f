import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { parseElf, type ReadAt } from "./elf.ts";

/** A file of the given bytes, read as the loader reads an executable. */
function file(b: Uint8Array): ReadAt {
  return (buf, offset) => {
    const n = Math.max(0, Math.min(buf.length, b.length - offset));
    buf.set(b.subarray(offset, offset + n));
    return n;
  };
}

/** An ELF64 x86-64 executable header and one PT_LOAD program header, as a linker writes them. */
function elf(patch: (v: DataView) => void = () => {}): Uint8Array {
  const b = new Uint8Array(64 + 56);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 62, true); // EM_X86_64
  v.setBigUint64(24, 0x401000n, true); // e_entry
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setUint16(54, 56, true); // e_phentsize
  v.setUint16(56, 1, true); // e_phnum
  v.setUint32(64, 1, true); // PT_LOAD
  v.setUint32(68, 5, true); // PF_R | PF_X
  v.setBigUint64(64 + 8, 0n, true); // p_offset
  v.setBigUint64(64 + 16, 0x400000n, true); // p_vaddr
  v.setBigUint64(64 + 32, 120n, true); // p_filesz
  v.setBigUint64(64 + 40, 0x2000n, true); // p_memsz
  patch(v);
  return b;
}

Deno.test("parseElf() reads the header and program headers at their ELF64 offsets", () => {
  const info = parseElf(file(elf()));
  assertEquals(
    { type: info.type, entry: info.entry, phoff: info.phoff, phentsize: info.phentsize },
    { type: 2, entry: 0x401000n, phoff: 64, phentsize: 56 },
  );
  assertEquals(info.phdrs, [
    { type: 1, flags: 5, offset: 0, vaddr: 0x400000n, filesz: 120, memsz: 0x2000n },
  ]);
  assertEquals(info.interp, null);
});

Deno.test("parseElf() refuses what is not an x86-64 ELF64 executable with ENOEXEC", () => {
  const enoexec = (b: Uint8Array, why: RegExp) =>
    throws(() => parseElf(file(b)), (e: unknown) => {
      return e instanceof SysError && e.errno === Errno.ENOEXEC && why.test(String(e.message));
    });
  enoexec(new Uint8Array(10), /too short/);
  enoexec(elf((v) => v.setUint8(4, 1)), /not 64-bit/);
  enoexec(elf((v) => v.setUint16(16, 1, true)), /not executable/);
  enoexec(elf((v) => v.setUint16(18, 3, true)), /not x86-64/);
  enoexec(elf((v) => v.setUint16(54, 32, true)), /bad program headers/);
  enoexec(elf((v) => v.setUint32(64, 4, true)), /no loadable segments/);
});
