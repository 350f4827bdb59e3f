/**
 * seccomp(2) filters: a small description of which host system calls a process of ours may
 * make (with conditions on their arguments), compiled to classic BPF, and the call that
 * installs it.
 *
 * Every host process of the sandbox runs under one: the stubs (whose filter only matters for
 * the calls the Sentry makes them run, since the application's calls stop in PTRACE_SYSEMU
 * before seccomp is consulted), the Sentry and the Gofer. A filter here is deny-by-default:
 * a rule lists a call that is allowed, and anything unlisted gets `defaultAction`.
 *
 * The program checks the architecture first (an x86-64 filter says nothing about the i386 or
 * x32 numbering, so other ABIs are killed), then, optionally, gives calls made from the legacy
 * vsyscall page an action of their own, then matches the call number against each rule.
 *
 * @module
 */

import { errno, HostError, libc, rawSyscall } from "./libc.ts";
import { SYS } from "../abi/linux/syscalls.ts";

/** What a filter answers (SECCOMP_RET_*; the low 16 bits carry data, e.g. an errno). */
export const SeccompRet = {
  KILL_PROCESS: 0x8000_0000,
  KILL_THREAD: 0x0000_0000,
  TRAP: 0x0003_0000,
  ERRNO: 0x0005_0000,
  USER_NOTIF: 0x7fc0_0000,
  TRACE: 0x7ff0_0000,
  LOG: 0x7ffc_0000,
  ALLOW: 0x7fff_0000,
} as const;

/** SECCOMP_RET_ERRNO with `e` as the errno the call returns. */
export function retErrno(e: number): number {
  return SeccompRet.ERRNO | (e & 0xffff);
}

/**
 * A condition on one argument: `(arg & mask) == value`; with `arg: "ip"`, on the address of
 * the instruction after the `syscall` (what a filter can tell about where a call came from).
 */
export interface ArgCheck {
  /** Argument index, 0-5, or "ip". */
  arg: number | "ip";
  value: bigint;
  /** Bits compared; all 64 by default. */
  mask?: bigint;
}

/** One allowed (or specially treated) system call. */
export interface SyscallRule {
  nr: number;
  /**
   * Alternatives, each a list of checks that must all hold; the rule matches if any
   * alternative does. Absent or empty: the call matches whatever its arguments.
   */
  when?: ArgCheck[][];
  /** What a match answers; ALLOW by default. A call that matches no alternative falls through. */
  action?: number;
}

/** A whole filter. */
export interface FilterSpec {
  rules: readonly SyscallRule[];
  /** The answer for anything no rule matches. */
  defaultAction: number;
  /**
   * The answer for any call made from the legacy vsyscall page (0xffffffffff600000), which
   * the host kernel emulates without the `syscall` instruction and so without ptrace's
   * SYSEMU stop; absent: such calls are matched like any other.
   */
  vsyscallAction?: number;
}

/** The host ABI the filter is written for. */
const AUDIT_ARCH_X86_64 = 0xc000_003e;
/** Calls numbered from here are the x32 ABI's. */
const X32_SYSCALL_BIT = 0x4000_0000;
const VSYSCALL_ADDR = 0xffff_ffff_ff60_0000n;

// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_IP = 8;
const OFF_ARGS = 16;

// Classic BPF opcodes (linux/bpf_common.h).
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JA = 0x05;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_ALU_AND_K = 0x54;
const BPF_RET_K = 0x06;
/** The kernel's BPF_MAXINSNS. */
const MAX_INSNS = 4096;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const stmt = (code: number, k: number): Insn => ({ code, jt: 0, jf: 0, k: k >>> 0 });
const jump = (code: number, k: number, jt: number, jf: number): Insn => ({
  code,
  jt,
  jf,
  k: k >>> 0,
});

/**
 * One alternative of a rule: its checks, then `ret action`. A failing check jumps past the
 * return, to whatever the caller puts next (the next alternative, or the default).
 */
function alternative(checks: readonly ArgCheck[], action: number): Insn[] {
  const insns: Insn[] = [];
  for (const c of checks) {
    if (c.arg !== "ip" && (!Number.isInteger(c.arg) || c.arg < 0 || c.arg > 5)) {
      throw new RangeError(`seccomp: argument index ${c.arg} out of range`);
    }
    const at = c.arg === "ip" ? OFF_IP : OFF_ARGS + 8 * c.arg;
    const mask = c.mask ?? 0xffff_ffff_ffff_ffffn;
    for (const half of [1, 0]) {
      const m = Number((mask >> BigInt(32 * half)) & 0xffff_ffffn);
      const v = Number((c.value >> BigInt(32 * half)) & 0xffff_ffffn);
      if (m === 0) continue;
      if ((v & ~m) !== 0) throw new RangeError("seccomp: check value has bits outside its mask");
      insns.push(stmt(BPF_LD_W_ABS, at + 4 * half));
      if (m !== 0xffff_ffff) insns.push(stmt(BPF_ALU_AND_K, m));
      insns.push(jump(BPF_JMP_JEQ_K, v, 0, 0));
    }
  }
  insns.push(stmt(BPF_RET_K, action));
  const after = insns.length;
  insns.forEach((ins, i) => {
    if (ins.code !== BPF_JMP_JEQ_K) return;
    ins.jf = after - (i + 1);
    if (ins.jf > 255) throw new RangeError("seccomp: rule has too many checks");
  });
  return insns;
}

/** Compiles `spec` to a classic BPF program: `struct sock_filter[]` bytes. */
export function buildFilter(spec: FilterSpec): Uint8Array<ArrayBuffer> {
  const head: Insn[] = [
    stmt(BPF_LD_W_ABS, OFF_ARCH),
    jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    stmt(BPF_RET_K, SeccompRet.KILL_PROCESS),
  ];
  if (spec.vsyscallAction !== undefined) {
    // The vsyscall page is the top 4 KiB below 2^64 - 8 MiB + 6 MiB: its upper word is all
    // ones and its lower word at least 0xff600000 (nothing above it is mappable).
    head.push(
      stmt(BPF_LD_W_ABS, OFF_IP + 4),
      jump(BPF_JMP_JEQ_K, Number(VSYSCALL_ADDR >> 32n), 0, 3),
      stmt(BPF_LD_W_ABS, OFF_IP),
      jump(BPF_JMP_JGE_K, Number(VSYSCALL_ADDR & 0xffff_ffffn), 0, 1),
      stmt(BPF_RET_K, spec.vsyscallAction),
    );
  }
  head.push(
    stmt(BPF_LD_W_ABS, OFF_NR),
    jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
    stmt(BPF_RET_K, SeccompRet.KILL_PROCESS),
  );
  // Dispatch: per rule `jeq nr; ja block` so that every conditional jump stays short; blocks
  // follow the default return. Rules for one number are grouped in order.
  const byNr = new Map<number, SyscallRule[]>();
  for (const r of spec.rules) {
    if (!Number.isInteger(r.nr) || r.nr < 0 || r.nr >= X32_SYSCALL_BIT) {
      throw new RangeError(`seccomp: bad system call number ${r.nr}`);
    }
    byNr.set(r.nr, [...(byNr.get(r.nr) ?? []), r]);
  }
  const blocks: Insn[][] = [];
  for (const rules of byNr.values()) {
    const block: Insn[] = [];
    let unconditional = false;
    for (const r of rules) {
      const action = r.action ?? SeccompRet.ALLOW;
      const alts = r.when && r.when.length > 0 ? r.when : [[]];
      for (const alt of alts) {
        block.push(...alternative(alt, action));
        if (alt.length === 0) unconditional = true;
      }
      if (unconditional) break;
    }
    // Nothing matched: reload nothing, just answer the default.
    if (!unconditional) block.push(stmt(BPF_RET_K, spec.defaultAction));
    blocks.push(block);
  }
  const dispatchLen = blocks.length * 2 + 1;
  const prog: Insn[] = [...head];
  let blockStart = dispatchLen; // relative to the start of the dispatch
  const nrs = [...byNr.keys()];
  nrs.forEach((nr, i) => {
    prog.push(jump(BPF_JMP_JEQ_K, nr, 0, 1));
    const at = i * 2 + 1; // position of the `ja` within the dispatch
    prog.push(stmt(BPF_JMP_JA, blockStart - (at + 1)));
    blockStart += blocks[i].length;
  });
  prog.push(stmt(BPF_RET_K, spec.defaultAction));
  for (const b of blocks) prog.push(...b);
  if (prog.length > MAX_INSNS) {
    throw new RangeError(`seccomp: filter of ${prog.length} instructions is too long`);
  }
  const out = new Uint8Array(prog.length * 8);
  const v = new DataView(out.buffer);
  prog.forEach((ins, i) => {
    v.setUint16(i * 8, ins.code, true);
    v.setUint8(i * 8 + 2, ins.jt);
    v.setUint8(i * 8 + 3, ins.jf);
    v.setUint32(i * 8 + 4, ins.k, true);
  });
  return out;
}

const SECCOMP_SET_MODE_FILTER = 1;
/** Apply to every thread of the process, not only the caller. */
export const SECCOMP_FILTER_FLAG_TSYNC = 1;
/** Log every action but ALLOW (to the audit log / kernel log). */
export const SECCOMP_FILTER_FLAG_LOG = 2;
const PR_SET_NO_NEW_PRIVS = 38;

/**
 * Installs `filter` (from buildFilter) on the calling thread, or with TSYNC on every thread of
 * the process, after setting no_new_privs (which TSYNC also gives the other threads). Throws
 * HostError if the kernel refuses, or if TSYNC could not include some thread.
 */
export function installFilter(filter: Uint8Array<ArrayBuffer>, flags = 0): void {
  if (
    libc.symbols.syscall(BigInt(SYS.prctl), BigInt(PR_SET_NO_NEW_PRIVS), 1n, 0n, 0n, 0n, 0n) !== 0n
  ) {
    throw new HostError("prctl PR_SET_NO_NEW_PRIVS", errno());
  }
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  const fprog = new BigUint64Array(2);
  fprog[0] = BigInt(filter.length / 8);
  // SAFETY: `filter` and `fprog` stay referenced until the syscall returns; the kernel copies
  // the program before returning.
  fprog[1] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(filter)));
  const r = rawSyscall(
    SYS.seccomp,
    BigInt(SECCOMP_SET_MODE_FILTER),
    BigInt(flags),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(fprog))),
  );
  void filter, fprog;
  if (r < 0n) throw new HostError("seccomp SET_MODE_FILTER", Number(-r));
  if (r > 0n) throw new HostError(`seccomp TSYNC: thread ${r} could not be synchronised`, 0);
}

/** The `Seccomp`, `NoNewPrivs` and `CapEff` lines of /proc/<pid>[/task/<tid>]/status. */
export function confinementOf(
  pid: number | "self",
  tid?: number,
): { seccomp: number; noNewPrivs: number; capEff: bigint } | null {
  const path = tid === undefined ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return null;
  }
  const field = (name: string) => text.match(new RegExp(`^${name}:\\s*(\\S+)`, "m"))?.[1];
  return {
    seccomp: Number(field("Seccomp") ?? -1),
    noNewPrivs: Number(field("NoNewPrivs") ?? -1),
    capEff: BigInt(`0x${field("CapEff") ?? "0"}`),
  };
}
