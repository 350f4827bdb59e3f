/**
 * The Systrap stub: the ptrace platform's stub image (its wait loop, injection point and
 * batch loop are what platform/ptrace/subprocess.ts drives) with a different seccomp filter
 * and, after it, the code that serves application threads without ptrace.
 *
 * Two filters:
 * - the process filter (STUB_FILTER), installed by the stub's entry code and inherited by
 *   every thread: the ptrace stub's calls (its clone of a thread with CLONE_UNTRACED: a new
 *   thread sets itself up with no tracer) plus what that set-up needs; anything else raises
 *   SIGSYS (SECCOMP_RET_TRAP) instead of killing the stub;
 * - the thread filter (THREAD_FILTER), which each application thread installs on itself
 *   before it first runs application code: only futex (wait or wake), sched_yield, exit (of
 *   the thread) and rt_sigreturn, each only from the one `syscall` instruction of the handler
 *   that makes it. Every other call, from anywhere, raises SIGSYS. Filters stack and the strictest answer wins, so an
 *   application thread can make nothing else whatever it jumps to with whatever registers.
 *   The control thread never runs application code and keeps the process filter alone.
 *
 * The handler (for SIGSYS, the faults and PREEMPT_SIGNAL) runs on the thread's alternate
 * stack, inside the thread's region (REGION bytes, REGION-aligned, so the region is the stack
 * pointer rounded down). It saves the signal, the siginfo and ucontext pointers and the FS/GS
 * bases in the region's control words, marks the thread stopped, rings the address space's
 * doorbell (a counter the Sentry sleeps on), spins, then sleeps on the state word until the
 * Sentry says run; it then loads the FS/GS bases and returns through rt_sigreturn, which
 * takes the registers the Sentry wrote into the signal frame. Everything it touches is
 * writable by the application: the Sentry validates what it reads (context.ts), and nothing
 * there can make the stub run a call the thread filter does not allow.
 *
 * @module
 */

import { buildFilter, SeccompRet, type SyscallRule } from "../../host/seccomp.ts";
import { SYS } from "../../abi/linux/syscalls.ts";
import { Asm, CC, REG } from "../kvm/asm.ts";
import {
  FORK_CLONE_FLAGS,
  INITIAL_WAIT_ADDR,
  STUB_ADDR,
  STUB_RULES,
  stubFilter,
  stubImage,
  THREAD_CLONE_FLAGS,
  WAIT_OFFSET,
} from "../ptrace/stub.ts";

/** Bytes of one thread's region: a control page, then its alternate signal stack. */
export const REGION = 0x10000;
/** The region area: region 0 holds the doorbell, thread i uses region i + 1. */
export const AREA_BASE = 0x7ffe_0000_0000n;
/** Regions that fit below the stub's page. */
export const MAX_REGIONS = Number((STUB_ADDR - AREA_BASE) / BigInt(REGION));
/** Systrap's highest application address plus one. */
export const SYSTRAP_MAX_USER_ADDRESS = AREA_BASE;
/** Where the doorbell words live in every stub. */
export const DOORBELL_ADDR = AREA_BASE;

/** Offsets in a region's control page. */
export const CTL = {
  /** The futex word: RUNNING, STOPPED or RUN. */
  state: 0,
  /** Set while the handler sleeps on `state`. */
  sleeping: 4,
  signo: 8,
  siginfo: 16,
  ucontext: 24,
  fsBase: 32,
  gsBase: 40,
  /** The stack_t that the thread's set-up passes to sigaltstack. */
  altstack: 48,
  /** The set-up step that failed (SETUP_STEP), and its result. */
  setupStep: 72,
  setupResult: 80,
} as const;

/** The steps of a thread's set-up, as CTL.setupStep names a failed one. */
export const SETUP_STEP = { sigaction: 1, sigaltstack: 20, seccomp: 21 } as const;

/** What set-up step `n` (CTL.setupStep) is, for an error message. */
export function setupStepName(n: number): string {
  if (n === SETUP_STEP.sigaltstack) return "sigaltstack";
  if (n === SETUP_STEP.seccomp) return "seccomp of the thread's trap filter";
  const sig = HANDLED_SIGNALS[n - SETUP_STEP.sigaction];
  return sig === undefined ? `step ${n}` : `rt_sigaction of signal ${sig}`;
}
/** Where the alternate stack starts in a region. */
export const ALTSTACK_OFFSET = 4096;

/** Values of the state word. */
export const STATE = { running: 0, stopped: 1, run: 2, exit: 3 } as const;

/** Offsets of the doorbell words: a counter each stop increments, and the Sentry's flag. */
export const BELL = { count: 0, armed: 4 } as const;

/** The host signal that preempts a thread running application code. */
export const PREEMPT_SIGNAL = 12; // SIGUSR2
/** Signals whose handler is the stub's. */
export const HANDLED_SIGNALS = [4, 5, 7, 8, 11, 31, PREEMPT_SIGNAL]; // ILL TRAP BUS FPE SEGV SYS

const FUTEX_WAIT = 0, FUTEX_WAKE = 1;
const SECCOMP_SET_MODE_FILTER = 1;
const SA_SIGINFO = 4, SA_ONSTACK = 0x0800_0000, SA_RESTORER = 0x0400_0000;
/**
 * How the handler waits for the Sentry: a few pause loops, then sched_yield calls, then it
 * sleeps. Yielding rather than spinning measured best on 2 busy CPUs (bench/platform_bench.ts:
 * 4-6 us a round trip where pause spins of 2000 took 8-30 us): the Sentry is often waiting for
 * the very CPU the stub thread holds, and on an idle CPU sched_yield returns at once. The
 * yields last about as long as the Sentry takes to serve a call while it serves others too:
 * with 30 of them a third of the resumes of a TCP stream between two processes had to wake a
 * sleeping stub thread (a futex wake and a cross-CPU wake-up each), with 200 a tenth, which
 * took the 1-byte round trip from ~205 to ~120 us.
 */
const HANDLER_SPIN = 4;
const HANDLER_YIELDS = 200;

// Layout of the page (offsets). Everything up to PROCESS_FILTER is the ptrace stub's image.
const CODE_OFFSET = 0x800;
const SIGACTION_OFFSET = 0xc00;
const THREAD_FPROG_OFFSET = SIGACTION_OFFSET + 32;
const THREAD_FILTER_OFFSET = THREAD_FPROG_OFFSET + 16;

const at = (off: number) => STUB_ADDR + BigInt(off);

/** The size of the kernel's sigset_t, for rt_sigaction. */
export const SIGSET_SIZE = 8n;
/** The control thread's clone of an application thread: untraced, so no stop of its own. */
export const SYSTRAP_CLONE_FLAGS = THREAD_CLONE_FLAGS | 0x0080_0000; // CLONE_UNTRACED

/** Where the pieces of code are, as absolute addresses once the stub is relocated. */
export interface StubCode {
  bytes: number[];
  handler: bigint;
  restorer: bigint;
  /**
   * The control thread's clone of an application thread (rbx = the thread's region): it
   * stops at an int3 with the result in rax; the thread sets itself up and parks in the
   * handler, or leaves CTL.setupStep and CTL.setupResult and ends.
   */
  cloneAt: bigint;
  /** Addresses right after each allowed `syscall` (what the filter sees as the IP). */
  wakeIp: bigint;
  yieldIp: bigint;
  exitIp: bigint;
  waitIp: bigint;
  sigreturnIp: bigint;
}

/** Raw bytes the small assembler has no method for. */
function raw(a: Asm, ...bytes: number[]): void {
  a.b.push(...bytes);
}

function assemble(): StubCode {
  // Addresses below 2^47 are exact as numbers.
  const origin = Number(at(CODE_OFFSET));
  const a = new Asm(origin);
  const { rax, rcx, rdx, rbx, rbp, rsi, rdi, r10, r12 } = REG;
  const abs = (pc: number) => BigInt(pc);

  const handler = a.pc;
  a.movRR(rbx, REG.rsp);
  raw(a, 0x48, 0x81, 0xe3, ...u32(-REGION)); // and rbx, -REGION
  a.store64(rbx, CTL.signo, rdi);
  a.store64(rbx, CTL.siginfo, rsi);
  a.store64(rbx, CTL.ucontext, rdx);
  raw(a, 0xf3, 0x48, 0x0f, 0xae, 0xc0); // rdfsbase rax
  a.store64(rbx, CTL.fsBase, rax);
  raw(a, 0xf3, 0x48, 0x0f, 0xae, 0xc8); // rdgsbase rax
  a.store64(rbx, CTL.gsBase, rax);
  a.movImm32(rax, STATE.stopped);
  a.xchg32(rbx, CTL.state, rax);
  // The doorbell: count the stop, and wake the Sentry if it armed the bell.
  raw(a, 0x48, 0xbd, ...u64(DOORBELL_ADDR)); // movabs rbp, DOORBELL_ADDR
  a.movImm32(rax, 1);
  a.lockXadd32(rbp, BELL.count, rax);
  a.zero(rax);
  a.xchg32(rbp, BELL.armed, rax);
  a.test32(rax);
  const wait = a.label();
  a.jcc(CC.e, wait);
  a.movRR(rdi, rbp);
  a.movImm32(rsi, FUTEX_WAKE);
  a.movImm32(rdx, 0x7fff_ffff);
  a.movImm32(rax, SYS.futex);
  a.syscall();
  const wakeIp = a.pc;

  a.bind(wait);
  const spin = a.label(), go = a.label(), yieldLoop = a.label(), quit = a.label();
  a.movImm32(rcx, HANDLER_SPIN);
  a.bind(spin);
  a.load32(rax, rbx, CTL.state);
  a.cmpImm(rax, STATE.run);
  a.jcc(CC.e, go);
  a.cmpImm(rax, STATE.exit);
  a.jcc(CC.e, quit);
  raw(a, 0xf3, 0x90); // pause
  raw(a, 0xff, 0xc9); // dec ecx
  a.jcc(CC.ne, spin);
  // Then give the CPU up a few times: the Sentry may be waiting for this very CPU.
  a.movImm32(r12, HANDLER_YIELDS);
  a.bind(yieldLoop);
  a.load32(rax, rbx, CTL.state);
  a.cmpImm(rax, STATE.run);
  a.jcc(CC.e, go);
  a.cmpImm(rax, STATE.exit);
  a.jcc(CC.e, quit);
  a.movImm32(rax, SYS.sched_yield);
  a.syscall();
  const yieldIp = a.pc;
  raw(a, 0x41, 0xff, 0xcc); // dec r12d
  a.jcc(CC.ne, yieldLoop);
  a.movImm32(rax, 1);
  a.xchg32(rbx, CTL.sleeping, rax);
  a.load32(rax, rbx, CTL.state);
  a.cmpImm(rax, STATE.run);
  a.jcc(CC.e, go);
  a.cmpImm(rax, STATE.exit);
  a.jcc(CC.e, quit);
  a.movRR(rdi, rbx);
  a.movImm32(rsi, FUTEX_WAIT);
  a.movImm32(rdx, STATE.stopped);
  a.zero(r10);
  a.movImm32(rax, SYS.futex);
  a.syscall();
  const waitIp = a.pc;
  a.jmp(wait);

  a.bind(go);
  a.zero(rax);
  a.store32(rbx, CTL.sleeping, rax);
  a.load64(rax, rbx, CTL.fsBase);
  raw(a, 0xf3, 0x48, 0x0f, 0xae, 0xd0); // wrfsbase rax
  a.load64(rax, rbx, CTL.gsBase);
  raw(a, 0xf3, 0x48, 0x0f, 0xae, 0xd8); // wrgsbase rax
  a.store32Imm(rbx, CTL.state, STATE.running);
  raw(a, 0xc3); // ret, into the restorer

  // A thread the Sentry no longer needs ends here (only this thread, not its process).
  a.bind(quit);
  a.zero(rdi);
  a.movImm32(rax, SYS.exit);
  a.syscall();
  const exitIp = a.pc;
  raw(a, 0x0f, 0x0b); // ud2

  const restorer = a.pc;
  a.movImm32(rax, SYS.rt_sigreturn);
  a.syscall();
  const sigreturnIp = a.pc;
  raw(a, 0x0f, 0x0b); // ud2

  // Where the control thread clones an application thread (rbx = its region). The parent
  // stops at the int3 with the result; the child, untraced, goes on to its set-up.
  const cloneAt = a.pc;
  const init = a.label();
  a.syscall();
  a.test32(rax);
  a.jcc(CC.e, init);
  raw(a, 0xcc); // int3

  // The thread's set-up, with no tracer: the handler for every handled signal (the same for
  // every thread, so set again harmlessly), its alternate stack, then its filter. A failure
  // leaves which step and its result in the region and ends the thread before it has run
  // anything else; the Sentry only reports them (a thread that never parks is lost anyway).
  const fail = a.label();
  a.bind(init);
  const step = (n: number) => {
    a.syscall();
    a.movImm32(r12, n);
    a.test32(rax);
    a.jcc(CC.ne, fail);
  };
  HANDLED_SIGNALS.forEach((sig, i) => {
    a.movImm32(rdi, sig);
    raw(a, 0x48, 0xbe, ...u64(at(SIGACTION_OFFSET))); // movabs rsi, SIGACTION
    a.zero(rdx);
    a.movImm32(r10, Number(SIGSET_SIZE));
    a.movImm32(rax, SYS.rt_sigaction);
    step(SETUP_STEP.sigaction + i);
  });
  a.leaBased(rdi, rbx, CTL.altstack);
  a.zero(rsi);
  a.movImm32(rax, SYS.sigaltstack);
  step(SETUP_STEP.sigaltstack);
  a.movImm32(rdi, SECCOMP_SET_MODE_FILTER);
  a.zero(rsi);
  raw(a, 0x48, 0xba, ...u64(at(THREAD_FPROG_OFFSET))); // movabs rdx, THREAD_FPROG
  a.movImm32(rax, SYS.seccomp);
  step(SETUP_STEP.seccomp);
  const park = a.label();
  a.bind(park);
  // A trapped call: the thread's first stop, where it waits for its first switch.
  a.movImm32(rax, SYS.getpid);
  a.syscall();
  a.jmp(park);
  a.bind(fail);
  a.store64(rbx, CTL.setupStep, r12);
  a.store64(rbx, CTL.setupResult, rax);
  a.zero(rdi);
  a.movImm32(rax, SYS.exit);
  a.syscall();
  raw(a, 0x0f, 0x0b); // ud2
  a.padTo(origin + (SIGACTION_OFFSET - CODE_OFFSET));
  return {
    bytes: a.b,
    handler: abs(handler),
    restorer: abs(restorer),
    cloneAt: abs(cloneAt),
    wakeIp: abs(wakeIp),
    yieldIp: abs(yieldIp),
    exitIp: abs(exitIp),
    waitIp: abs(waitIp),
    sigreturnIp: abs(sigreturnIp),
  };
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function u64(v: bigint): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return [...b];
}

/** The code, assembled once. */
export const CODE: StubCode = assemble();

/**
 * The process filter: the ptrace stub's calls, and those that a thread's set-up and the
 * handler make. seccomp is allowed only to install THREAD_FILTER on the calling thread.
 */
export function processFilter(): Uint8Array<ArrayBuffer> {
  const rules: SyscallRule[] = [
    // The ptrace stub's calls, but its clone of a thread is an untraced one here.
    ...STUB_RULES.filter((r) => r.nr !== SYS.clone),
    {
      nr: SYS.clone,
      when: [
        [{ arg: 0, value: BigInt(SYSTRAP_CLONE_FLAGS) }],
        [{ arg: 0, value: BigInt(FORK_CLONE_FLAGS) }],
      ],
    },
    { nr: SYS.rt_sigaction },
    { nr: SYS.sigaltstack },
    {
      nr: SYS.seccomp,
      when: [[
        { arg: 0, value: BigInt(SECCOMP_SET_MODE_FILTER) },
        { arg: 1, value: 0n },
        { arg: 2, value: at(THREAD_FPROG_OFFSET) },
      ]],
    },
    {
      nr: SYS.futex,
      when: [[{ arg: 1, value: BigInt(FUTEX_WAIT) }], [{ arg: 1, value: BigInt(FUTEX_WAKE) }]],
    },
    { nr: SYS.rt_sigreturn },
    { nr: SYS.sched_yield },
  ];
  return buildFilter({
    rules,
    defaultAction: SeccompRet.TRAP,
    vsyscallAction: SeccompRet.TRAP,
  });
}

/** The thread filter (see the module comment). */
export function threadFilter(): Uint8Array<ArrayBuffer> {
  const ip = (v: bigint) => ({ arg: "ip" as const, value: v });
  return buildFilter({
    rules: [
      {
        nr: SYS.futex,
        when: [
          [ip(CODE.waitIp), { arg: 1, value: BigInt(FUTEX_WAIT) }],
          [ip(CODE.wakeIp), { arg: 1, value: BigInt(FUTEX_WAKE) }],
        ],
      },
      { nr: SYS.rt_sigreturn, when: [[ip(CODE.sigreturnIp)]] },
      { nr: SYS.sched_yield, when: [[ip(CODE.yieldIp)]] },
      { nr: SYS.exit, when: [[ip(CODE.exitIp)]] },
    ],
    defaultAction: SeccompRet.TRAP,
    vsyscallAction: SeccompRet.TRAP,
  });
}

/** The address of the stub's struct sigaction for every handled signal. */
export const SIGACTION_ADDR = at(SIGACTION_OFFSET);

/**
 * The Systrap stub's image: the ptrace stub's, with the process filter in place of its own,
 * then the code, the sigaction and the thread filter at fixed offsets of the same page.
 * Throws if the ptrace image is not laid out as expected (its filter last, after the fprog
 * that points at it).
 */
export function systrapStubImage(): Uint8Array<ArrayBuffer> {
  const base = stubImage();
  const old = stubFilter();
  const loadAddr = INITIAL_WAIT_ADDR - BigInt(WAIT_OFFSET);
  const filterOff = base.length - old.length;
  const fprogOff = filterOff - 16;
  const bv = new DataView(base.buffer);
  if (
    bv.getUint16(fprogOff, true) !== old.length / 8 ||
    bv.getBigUint64(fprogOff + 8, true) !== loadAddr + BigInt(filterOff)
  ) {
    throw new Error("systrap: the ptrace stub image is not laid out as expected");
  }
  const pf = processFilter();
  const tf = threadFilter();
  if (filterOff + pf.length > CODE_OFFSET) throw new Error("systrap: process filter too long");
  const size = THREAD_FILTER_OFFSET + tf.length;
  if (size > 4096) throw new Error(`systrap: stub image of ${size} bytes`);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set(base.subarray(0, filterOff));
  b.set(pf, filterOff);
  v.setUint16(fprogOff, pf.length / 8, true);
  // The program header's file and memory sizes (PT_LOAD at offset 64).
  v.setBigUint64(64 + 32, BigInt(size), true);
  v.setBigUint64(64 + 40, BigInt(size), true);
  b.set(CODE.bytes, CODE_OFFSET);
  // struct sigaction (kernel): handler, flags, restorer, mask. Every signal is blocked while
  // the handler runs; the mask the application runs with is the frame's, which the Sentry
  // writes.
  v.setBigUint64(SIGACTION_OFFSET, CODE.handler, true);
  v.setBigUint64(SIGACTION_OFFSET + 8, BigInt(SA_SIGINFO | SA_ONSTACK | SA_RESTORER), true);
  v.setBigUint64(SIGACTION_OFFSET + 16, CODE.restorer, true);
  v.setBigUint64(SIGACTION_OFFSET + 24, 0xffff_ffff_ffff_ffffn, true);
  v.setUint16(THREAD_FPROG_OFFSET, tf.length / 8, true);
  v.setBigUint64(THREAD_FPROG_OFFSET + 8, at(THREAD_FILTER_OFFSET), true);
  b.set(tf, THREAD_FILTER_OFFSET);
  return b;
}
