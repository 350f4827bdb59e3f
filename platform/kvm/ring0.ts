/**
 * What the guest runs besides the application: code the Sentry assembles here, and the
 * descriptor tables (GDT, TSS, IDT) that route exceptions to it.
 *
 * System calls. On the KVM of these machines (kvm_pvm, see README.md) `syscall` from CPL3
 * jumps to LSTAR but stays at CPL3, and every vCPU ioctl costs about as much as a whole exit,
 * so registers must not move through KVM_GET_REGS/KVM_SET_REGS. LSTAR therefore points at a
 * trampoline that runs at CPL3 in each vCPU's user pages (userPages): it stores every
 * register into the save page next to it, then stores a byte to the page after, which maps a
 * guest physical address no memory backs: a KVM_EXIT_MMIO, with the store already done. The
 * Sentry reads the registers from the save page and writes the new ones there; the next
 * KVM_RUN resumes after the store, where the trampoline loads them back (rflags through
 * popfq with the save page as its stack) and jumps to the saved rip. One KVM_RUN per system
 * call, and the application's stack is never touched.
 *
 * Exceptions take the same way out. Every IDT gate names the user code segment and IST1,
 * whose stack is the top of the save page: an exception at CPL3 stays at CPL3 (no privilege
 * change), the CPU writes its frame there, and a stub in the trampoline page pushes the
 * vector (and a zero error code where the CPU pushes none), saves every register and leaves
 * with a store to the MMIO page's second word. CPL0 code is emulated instruction by
 * instruction on this host (README.md); running none at all made an exception's round trip
 * about half as long as through CPL0 stubs, and it needs no KVM_GET/SET_REGS: only a page
 * fault asks for CR2 (KVM_GET_SREGS), which CPL3 cannot read. The vCPU starts at CPL3 too,
 * in the trampoline's restore path, so the guest never runs at CPL0.
 *
 * Every vCPU has a region of REGION_SIZE bytes in the kernel half of every address space,
 * which the guest only reads while delivering an exception:
 *
 *   page 0  IDT
 *   page 1  GDT and TSS
 *
 * The trampoline's save page holds the application's registers in struct user_regs_struct
 * order, so it copies to and from Registers.r as one block, and at its top the exception
 * frame (EXC_FRAME). The application can write that page: it is its own (one per address
 * space and vCPU, address_space.ts), and nothing read from it is trusted beyond the task.
 *
 * @module
 */

import { R } from "../registers.ts";
import { Asm, REG } from "./asm.ts";
import { PAGE_SIZE as PAGE } from "../../abi/linux/mm.ts";
export { PAGE };

/** The first address of the upper (kernel) half. */
export const KERNEL_BASE = 0xffff_8000_0000_0000n;
/**
 * Application-visible pages of each vCPU, at the top of the lower half above every
 * application mapping (the platform's maxUserAddress): the syscall trampoline (LSTAR), its
 * register save page, and a page mapped to a guest physical address that no memory backs.
 */
export const USER_PAGES_BASE = 0x7fff_f000_0000n;
export const USER_PAGES_STRIDE = 3 * 4096;
/** Where the trampoline's store lands: outside the memory slot, so a KVM_EXIT_MMIO. */
export const MMIO_PHYS = 1n << 40n;
/** Where the exception path's store lands instead, so that the exit tells which it is. */
export const MMIO_EXCEPTION = MMIO_PHYS + 8n;
/** The user-visible pages of vCPU `id`: trampoline code, save page, MMIO page. */
export function userPages(id: number): bigint {
  return USER_PAGES_BASE + BigInt(id) * BigInt(USER_PAGES_STRIDE);
}
/** The kernel-half address of vCPU `id`'s region. */
export function regionBase(id: number): bigint {
  return KERNEL_BASE + BigInt(id + 1) * BigInt(REGION_SIZE);
}
export const REGION_SIZE = 2 * PAGE;
export const REGION_PAGES = 2;

/** Offsets within a region. */
export const OFF = {
  idt: 0,
  gdt: PAGE,
  tss: PAGE + 0x100,
} as const;

/**
 * The exception frame at the top of the save page, as indices of its 64-bit words: what the
 * CPU pushes (ss, rsp, rflags, cs, rip, the error code for some vectors) and the stub below.
 */
export const EXC_FRAME = {
  vector: 505,
  error: 506,
  rip: 507,
  cs: 508,
  rflags: 509,
  rsp: 510,
  ss: 511,
} as const;

export const VECTORS = 32;
const VECTOR_STRIDE = 16;
/** Vectors for which the CPU pushes an error code. */
const HAS_ERROR = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

/** GDT selectors, in the layout Linux uses so that user cs/ss are 0x33/0x2b as on the host. */
export const SEL = {
  kernelCs: 0x10,
  kernelDs: 0x18,
  user32Cs: 0x23,
  userDs: 0x2b,
  userCs: 0x33,
  tss: 0x40,
} as const;
const GDT_ENTRIES = 10;
export const GDT_LIMIT = GDT_ENTRIES * 8 - 1;
export const IDT_LIMIT = 256 * 16 - 1;
export const TSS_LIMIT = 0x67;

// Register numbers as x86 encodes them, by user_regs_struct index.
const ENCODING: Record<number, number> = {
  [R.r15]: REG.r15,
  [R.r14]: REG.r14,
  [R.r13]: REG.r13,
  [R.r12]: REG.r12,
  [R.rbp]: REG.rbp,
  [R.rbx]: REG.rbx,
  [R.r11]: REG.r11,
  [R.r10]: REG.r10,
  [R.r9]: REG.r9,
  [R.r8]: REG.r8,
  [R.rax]: REG.rax,
  [R.rcx]: REG.rcx,
  [R.rdx]: REG.rdx,
  [R.rsi]: REG.rsi,
  [R.rdi]: REG.rdi,
};
const RSP = REG.rsp;
/** The general registers other than rsp, rax last so that it can serve as scratch before. */
const GPRS = [
  R.r15,
  R.r14,
  R.r13,
  R.r12,
  R.rbp,
  R.rbx,
  R.r11,
  R.r10,
  R.r9,
  R.r8,
  R.rcx,
  R.rdx,
  R.rsi,
  R.rdi,
  R.rax,
];

/** Offsets in the trampoline code page. */
export interface TrampolineMap {
  bytes: Uint8Array<ArrayBuffer>;
  /** Where the restore path starts: rip once a system call's exit store is done. */
  exited: number;
  /** The end of the restore path. */
  restored: number;
  /** The first vector stub (VECTOR_STRIDE bytes each). */
  vectors: number;
  /** rip once an exception's exit store is done (a jump to `exited` follows). */
  excExited: number;
  /** The end of the code. */
  end: number;
}

/**
 * Assembles the trampoline page, run at CPL3 (see the module comment). The system call
 * entry (LSTAR): save every register to the save page, store to the MMIO page (the exit),
 * then load the registers the Sentry left in the save page, rflags through popfq with the
 * save page as a stack, and jump to the saved rip. The vector stubs: push the vector, save
 * every register but rsp (the frame has it), store to the MMIO page's second word, and go
 * on into the same restore path. Neither touches the application's stack.
 */
export function assembleTrampoline(): TrampolineMap {
  const a = new Asm(0);
  const slot = (i: number) => PAGE + i * 8;
  for (const r of GPRS) a.store(slot(r), ENCODING[r]);
  a.store(slot(R.rsp), RSP);
  a.storeAl(2 * PAGE);
  const exited = a.pc;
  const restore = a.label();
  a.bind(restore);
  a.lea(RSP, slot(R.eflags));
  a.popfq();
  a.load(RSP, slot(R.rsp));
  for (const r of GPRS) a.load(ENCODING[r], slot(r));
  a.jmpIndirect(slot(R.rip));
  const restored = a.pc;

  const common = a.label();
  const vectors = (a.pc + VECTOR_STRIDE - 1) & ~(VECTOR_STRIDE - 1);
  for (let v = 0; v < VECTORS; v++) {
    a.padTo(vectors + v * VECTOR_STRIDE);
    if (!HAS_ERROR.has(v)) a.pushImm8(0);
    a.pushImm8(v);
    a.jmp(common);
  }
  a.bind(common);
  for (const r of GPRS) a.store(slot(r), ENCODING[r]);
  a.storeAl(2 * PAGE + Number(MMIO_EXCEPTION - MMIO_PHYS));
  const excExited = a.pc;
  a.jmp(restore);
  const end = a.pc;
  if (end > PAGE) throw new Error("ring0: the trampoline overflows its page");
  return { bytes: new Uint8Array(a.b), exited, restored, vectors, excExited, end };
}

/** A code or data segment descriptor for long mode. */
function segment(code: boolean, dpl: number, long: boolean): bigint {
  // access byte: present, DPL, S (code/data), type (code: execute/read; data: read/write),
  // accessed. Limit 0xfffff with 4 KiB granularity; base 0.
  const type = code ? 0xb : 0x3;
  const access = 0x80 | (dpl << 5) | 0x10 | type;
  const flags = code && long ? 0xa : 0xc; // G + L for 64-bit code, G + D/B otherwise
  return 0xffffn | (BigInt(access) << 40n) | (0xfn << 48n) | (BigInt(flags) << 52n);
}

/**
 * Writes a vCPU's IDT, GDT and TSS into its region's pages (given as the bytes of pages 0
 * and 1); `region` is the region's guest virtual address, `user` the vCPU's user pages.
 */
export function writeTables(
  region: bigint,
  user: bigint,
  trampoline: TrampolineMap,
  idtPage: Uint8Array<ArrayBuffer>,
  dataPage: Uint8Array<ArrayBuffer>,
): void {
  const idt = new DataView(idtPage.buffer, idtPage.byteOffset, PAGE);
  idtPage.fill(0);
  for (let v = 0; v < VECTORS; v++) {
    const handler = user + BigInt(trampoline.vectors + v * VECTOR_STRIDE);
    const e = v * 16;
    idt.setUint16(e, Number(handler & 0xffffn), true);
    idt.setUint16(e + 2, SEL.userCs, true);
    idt.setUint8(e + 4, 1); // IST1: the top of the save page, whatever rsp held
    // Interrupt gate (0xe), present; DPL 3 for int3 (and into) so that user code may raise
    // them as on Linux, DPL 0 otherwise (an `int n` from user mode then is a #GP).
    const dpl = v === 3 || v === 4 ? 3 : 0;
    idt.setUint8(e + 5, 0x80 | (dpl << 5) | 0xe);
    idt.setUint16(e + 6, Number((handler >> 16n) & 0xffffn), true);
    idt.setUint32(e + 8, Number(handler >> 32n), true);
  }

  const d = new DataView(dataPage.buffer, dataPage.byteOffset, PAGE);
  dataPage.fill(0);
  const gdt = OFF.gdt - PAGE;
  d.setBigUint64(gdt + 2 * 8, segment(true, 0, true), true);
  d.setBigUint64(gdt + 3 * 8, segment(false, 0, false), true);
  d.setBigUint64(gdt + 4 * 8, segment(true, 3, false), true);
  d.setBigUint64(gdt + 5 * 8, segment(false, 3, false), true);
  d.setBigUint64(gdt + 6 * 8, segment(true, 3, true), true);
  // 64-bit TSS descriptor (16 bytes): available TSS (type 9), present.
  const tss = region + BigInt(OFF.tss);
  const lo = BigInt(TSS_LIMIT) | ((tss & 0xffffffn) << 16n) | (0x89n << 40n) |
    (((tss >> 24n) & 0xffn) << 56n);
  d.setBigUint64(gdt + 8 * 8, lo, true);
  d.setBigUint64(gdt + 9 * 8, tss >> 32n, true);

  const t = OFF.tss - PAGE;
  const stackTop = user + 2n * BigInt(PAGE); // the end of the save page
  d.setBigUint64(t + 4, stackTop, true); // RSP0 (never used: nothing enters CPL0)
  d.setBigUint64(t + 36, stackTop, true); // IST1
  d.setUint16(t + 102, 104, true); // I/O map base beyond the limit: no I/O bitmap
}
