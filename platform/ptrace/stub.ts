/**
 * The stub: a tiny static ELF whose bytes the Sentry holds (DESIGN.md). It is the host process
 * that an application address space lives in. It only ever runs code we put in it: a loop that
 * waits to be attached, and a `syscall; int3` pair at which the Sentry injects host system
 * calls that change the address space.
 *
 * @module
 */

/** Where the stub's code lives in the application's address space once it is relocated. */
export const STUB_ADDR = 0x7fff_ffff_e000n;
/**
 * The batch page, just below the code: a count and then records of seven words (syscall
 * number and six arguments; the result replaces the number), written by the Sentry through
 * the memory file and run by the stub's batch loop in one stop.
 */
export const DATA_ADDR = STUB_ADDR - 0x1000n;
/** Bytes of one batch record. */
export const BATCH_RECORD = 56;
/** Records that fit in the batch page after the count. */
export const BATCH_MAX = Math.floor((4096 - 8) / BATCH_RECORD);
/** Host TASK_SIZE on x86-64 with 4-level paging. */
export const TASK_SIZE = 0x7fff_ffff_f000n;
/** Where the host loads the stub ELF before relocation. */
const LOAD_ADDR = 0x1000_0000n;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const CODE_OFFSET = EHDR_SIZE + PHDR_SIZE;

function le64(v: bigint): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return [...b];
}

// The batch loop keeps its state in r12 (records left) and r13 (the next record), which
// `syscall` preserves (it clobbers only rax, rcx and r11).
const BATCH = [
  ...[0x49, 0xbd, ...le64(DATA_ADDR + 8n)], //   mov r13, DATA_ADDR+8
  ...[0x4d, 0x8b, 0x65, 0xf8], //                mov r12, [r13-8]
  // loop:
  ...[0x4d, 0x85, 0xe4], //                      test r12, r12
  ...[0x74, 0x2b], //                            jz done (+43)
  ...[0x49, 0x8b, 0x45, 0x00], //                mov rax, [r13]
  ...[0x49, 0x8b, 0x7d, 0x08], //                mov rdi, [r13+8]
  ...[0x49, 0x8b, 0x75, 0x10], //                mov rsi, [r13+16]
  ...[0x49, 0x8b, 0x55, 0x18], //                mov rdx, [r13+24]
  ...[0x4d, 0x8b, 0x55, 0x20], //                mov r10, [r13+32]
  ...[0x4d, 0x8b, 0x45, 0x28], //                mov r8, [r13+40]
  ...[0x4d, 0x8b, 0x4d, 0x30], //                mov r9, [r13+48]
  ...[0x0f, 0x05], //                            syscall
  ...[0x49, 0x89, 0x45, 0x00], //                mov [r13], rax
  ...[0x49, 0x83, 0xc5, 0x38], //                add r13, 56
  ...[0x49, 0xff, 0xcc], //                      dec r12
  ...[0xeb, 0xd0], //                            jmp loop (-48)
  // done:
  0xcc, //                                       int3
];

// wait:  mov eax, SYS_pause ; syscall ; jmp wait
// inject: syscall ; int3
// batch: (above)
const CODE = [0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7, 0x0f, 0x05, 0xcc, ...BATCH];
/** Offset of the injection `syscall` within the image (and within the relocated page). */
export const INJECT_OFFSET = CODE_OFFSET + 9;
/** Offset of the batch loop within the image (and within the relocated page). */
export const BATCH_OFFSET = CODE_OFFSET + 12;

/** The stub's ELF image; the same bytes are placed in the page mapped at STUB_ADDR. */
export function stubImage(): Uint8Array<ArrayBuffer> {
  const size = CODE_OFFSET + CODE.length;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]); // ELF64, little-endian, version 1, SysV
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 62, true); // EM_X86_64
  v.setUint32(20, 1, true);
  v.setBigUint64(24, LOAD_ADDR + BigInt(CODE_OFFSET), true); // e_entry
  v.setBigUint64(32, BigInt(EHDR_SIZE), true); // e_phoff
  v.setUint16(52, EHDR_SIZE, true);
  v.setUint16(54, PHDR_SIZE, true);
  v.setUint16(56, 1, true); // e_phnum
  v.setUint16(58, 64, true); // e_shentsize
  const p = EHDR_SIZE;
  v.setUint32(p, 1, true); // PT_LOAD
  v.setUint32(p + 4, 5, true); // PF_R | PF_X
  v.setBigUint64(p + 16, LOAD_ADDR, true); // p_vaddr
  v.setBigUint64(p + 24, LOAD_ADDR, true); // p_paddr
  v.setBigUint64(p + 32, BigInt(size), true); // p_filesz
  v.setBigUint64(p + 40, BigInt(size), true); // p_memsz
  v.setBigUint64(p + 48, 0x1000n, true); // p_align
  b.set(CODE, CODE_OFFSET);
  return b;
}

/** Address of the injection point before relocation. */
export const INITIAL_INJECT_ADDR = LOAD_ADDR + BigInt(INJECT_OFFSET);
