/**
 * x86-64 general registers in the layout of Linux's struct user_regs_struct, which is what
 * PTRACE_GETREGS/SETREGS transfer, so the ptrace platform moves them without conversion.
 *
 * @module
 */

/** Indices into Registers.r (struct user_regs_struct order). */
export const R = {
  r15: 0,
  r14: 1,
  r13: 2,
  r12: 3,
  rbp: 4,
  rbx: 5,
  r11: 6,
  r10: 7,
  r9: 8,
  r8: 9,
  rax: 10,
  rcx: 11,
  rdx: 12,
  rsi: 13,
  rdi: 14,
  orig_rax: 15,
  rip: 16,
  cs: 17,
  eflags: 18,
  rsp: 19,
  ss: 20,
  fs_base: 21,
  gs_base: 22,
  ds: 23,
  es: 24,
  fs: 25,
  gs: 26,
} as const;

export const USER_REGS_SIZE = 27 * 8;

/** A task's register file. */
export class Registers {
  readonly r: BigUint64Array<ArrayBuffer> = new BigUint64Array(27);
  /** The same bytes, for passing to the host. */
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(this.r.buffer);

  /** System call number (valid at a syscall stop). */
  get sysno(): number {
    return Number(this.r[R.orig_rax]);
  }
  /** System call argument i (0..5), in the syscall ABI's register order. */
  arg(i: number): bigint {
    return this.r[ARG_REGS[i]];
  }
  setReturn(v: bigint): void {
    this.r[R.rax] = BigInt.asUintN(64, v);
  }
  get rip(): bigint {
    return this.r[R.rip];
  }
  set rip(v: bigint) {
    this.r[R.rip] = v;
  }
  get rsp(): bigint {
    return this.r[R.rsp];
  }
  set rsp(v: bigint) {
    this.r[R.rsp] = v;
  }
  copyFrom(o: Registers): void {
    this.r.set(o.r);
  }
}

const ARG_REGS = [R.rdi, R.rsi, R.rdx, R.r10, R.r8, R.r9];

/**
 * struct sigcontext's general registers (the signal frame's machine context, from r8 to
 * eflags), in its order, as indices into Registers.r.
 */
export const SIGCONTEXT_REGS: readonly number[] = [
  R.r8,
  R.r9,
  R.r10,
  R.r11,
  R.r12,
  R.r13,
  R.r14,
  R.r15,
  R.rdi,
  R.rsi,
  R.rbp,
  R.rbx,
  R.rdx,
  R.rax,
  R.rcx,
  R.rsp,
  R.rip,
  R.eflags,
];
