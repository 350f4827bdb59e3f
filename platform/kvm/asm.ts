/**
 * A small x86-64 assembler: the instructions the guest's own code (ring0.ts) and the host's
 * vCPU runner threads (runner.ts) are made of, and nothing more.
 *
 * Memory operands are either rip-relative (`target` is an offset in the code being
 * assembled, whose first byte sits at `origin`) or a base register plus a 32-bit
 * displacement.
 *
 * @module
 */

/** x86 register numbers. */
export const REG = {
  rax: 0,
  rcx: 1,
  rdx: 2,
  rbx: 3,
  rsp: 4,
  rbp: 5,
  rsi: 6,
  rdi: 7,
  r8: 8,
  r9: 9,
  r10: 10,
  r11: 11,
  r12: 12,
  r13: 13,
  r14: 14,
  r15: 15,
} as const;

/** Condition codes for jcc. */
export const CC = { e: 0x4, ne: 0x5 } as const;

/** A jump target, placed with bind(). */
export interface Label {
  at: number;
  fixups: number[];
}

export class Asm {
  readonly b: number[] = [];
  constructor(readonly origin: number) {}

  get pc(): number {
    return this.origin + this.b.length;
  }
  #u32(v: number): void {
    this.b.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  /** A REX prefix for reg (ModRM.reg) and base (ModRM.rm), when one is needed. */
  #rex(w: boolean, reg: number, base: number): void {
    const rex = 0x40 | (w ? 8 : 0) | (reg >= 8 ? 4 : 0) | (base >= 8 ? 1 : 0);
    if (rex !== 0x40) this.b.push(rex);
  }
  /** op reg, [rip + (target - end of instruction)] */
  #ripRel(op: number, reg: number, target: number, trailing = 0): void {
    this.b.push(0x48 | (reg >= 8 ? 4 : 0), op, 0x05 | ((reg & 7) << 3));
    this.#u32(target - (this.pc + 4 + trailing));
  }
  /** ModRM (and SIB) for [base + disp32], with `reg` in the reg field. */
  #based(reg: number, base: number, disp: number): void {
    this.b.push(0x80 | ((reg & 7) << 3) | (base & 7));
    if ((base & 7) === REG.rsp) this.b.push(0x24);
    this.#u32(disp);
  }
  /** op reg, [base + disp] with the operand size w (64) or not (32), opcode bytes ops. */
  #mem(w: boolean, ops: number[], reg: number, base: number, disp: number): void {
    this.#rex(w, reg, base);
    this.b.push(...ops);
    this.#based(reg, base, disp);
  }

  /** mov [target], reg (rip-relative, 64-bit) */
  store(target: number, reg: number): void {
    this.#ripRel(0x89, reg, target);
  }
  /** mov reg, [target] (rip-relative, 64-bit) */
  load(reg: number, target: number): void {
    this.#ripRel(0x8b, reg, target);
  }
  /** lea reg, [target] (rip-relative) */
  lea(reg: number, target: number): void {
    this.#ripRel(0x8d, reg, target);
  }
  /** mov [target], al (rip-relative) */
  storeAl(target: number): void {
    this.b.push(0x88, 0x05);
    this.#u32(target - (this.pc + 4));
  }
  /** jmp [target] (rip-relative) */
  jmpIndirect(target: number): void {
    this.b.push(0xff, 0x25);
    this.#u32(target - (this.pc + 4));
  }

  /** mov dst, src (64-bit) */
  movRR(dst: number, src: number): void {
    this.#rex(true, src, dst);
    this.b.push(0x89, 0xc0 | ((src & 7) << 3) | (dst & 7));
  }
  /** mov reg, [base + disp] (64-bit) */
  load64(reg: number, base: number, disp: number): void {
    this.#mem(true, [0x8b], reg, base, disp);
  }
  /** mov reg, [base + disp] (32-bit, zero-extended) */
  load32(reg: number, base: number, disp: number): void {
    this.#mem(false, [0x8b], reg, base, disp);
  }
  /** mov [base + disp], reg (64-bit) */
  store64(base: number, disp: number, reg: number): void {
    this.#mem(true, [0x89], reg, base, disp);
  }
  /** mov [base + disp], reg (32-bit) */
  store32(base: number, disp: number, reg: number): void {
    this.#mem(false, [0x89], reg, base, disp);
  }
  /** mov dword [base + disp], imm */
  store32Imm(base: number, disp: number, imm: number): void {
    this.#mem(false, [0xc7], 0, base, disp);
    this.#u32(imm);
  }
  /** lea reg, [base + disp] */
  leaBased(reg: number, base: number, disp: number): void {
    this.#mem(true, [0x8d], reg, base, disp);
  }
  /** xchg [base + disp], reg (32-bit; locked by the CPU) */
  xchg32(base: number, disp: number, reg: number): void {
    this.#mem(false, [0x87], reg, base, disp);
  }
  /** lock xadd [base + disp], reg (32-bit) */
  lockXadd32(base: number, disp: number, reg: number): void {
    this.b.push(0xf0);
    this.#mem(false, [0x0f, 0xc1], reg, base, disp);
  }
  /** mov reg, imm (32-bit, zero-extended) */
  movImm32(reg: number, imm: number): void {
    this.#rex(false, 0, reg);
    this.b.push(0xb8 | (reg & 7));
    this.#u32(imm);
  }
  /** xor reg, reg (32-bit): zero */
  zero(reg: number): void {
    this.#rex(false, reg, reg);
    this.b.push(0x31, 0xc0 | ((reg & 7) << 3) | (reg & 7));
  }
  /** cmp reg, imm (64-bit, imm sign-extended from 32 bits) */
  cmpImm(reg: number, imm: number): void {
    this.#rex(true, 0, reg);
    this.b.push(0x81, 0xf8 | (reg & 7));
    this.#u32(imm);
  }
  /** test reg, reg (32-bit) */
  test32(reg: number): void {
    this.#rex(false, reg, reg);
    this.b.push(0x85, 0xc0 | ((reg & 7) << 3) | (reg & 7));
  }
  syscall(): void {
    this.b.push(0x0f, 0x05);
  }

  label(): Label {
    return { at: -1, fixups: [] };
  }
  /** Places l at the current position and resolves the jumps already made to it. */
  bind(l: Label): void {
    l.at = this.pc;
    for (const f of l.fixups) this.#patch(f, l.at);
  }
  #patch(at: number, target: number): void {
    const rel = target - (at + 4);
    const i = at - this.origin;
    this.b[i] = rel & 0xff;
    this.b[i + 1] = (rel >>> 8) & 0xff;
    this.b[i + 2] = (rel >>> 16) & 0xff;
    this.b[i + 3] = (rel >>> 24) & 0xff;
  }
  #rel32(l: Label): void {
    const at = this.pc;
    this.#u32(0);
    if (l.at >= 0) this.#patch(at, l.at);
    else l.fixups.push(at);
  }
  jmp(l: Label): void {
    this.b.push(0xe9);
    this.#rel32(l);
  }
  jcc(cc: number, l: Label): void {
    this.b.push(0x0f, 0x80 | cc);
    this.#rel32(l);
  }

  pushImm8(v: number): void {
    this.b.push(0x6a, v & 0xff);
  }
  popfq(): void {
    this.b.push(0x9d);
  }
  /** Fills with int3 up to off (relative to origin's frame: an absolute pc). */
  padTo(off: number): void {
    if (this.pc > off) throw new Error(`asm: code overflows into 0x${off.toString(16)}`);
    while (this.pc < off) this.b.push(0xcc);
  }
}
