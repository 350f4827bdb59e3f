/**
 * vCPU runner threads: host threads that make KVM_RUN for vCPUs, so that several tasks run
 * guest code at once while the JavaScript thread goes on serving the Sentry.
 *
 * Why host threads of our own rather than Web Workers or nonblocking FFI calls: a runner
 * must sit in KVM_RUN for as long as the guest computes, be woken in microseconds, and be
 * kicked out of the guest by a signal to its thread. A Worker is a whole JavaScript isolate
 * per vCPU; a nonblocking FFI call borrows a runtime thread whose identity we cannot know to
 * signal it. So each runner is a pthread running a few dozen instructions assembled here
 * (asm.ts), which loop: wait on a futex for a run request, KVM_RUN, publish the result,
 * tell the JavaScript thread.
 *
 * Telling the JavaScript thread takes one of two ways, by where it is:
 * - inside KVM_RUN itself (context.ts runs one vCPU inline, the fast path for a task that
 *   makes many system calls): the runner signals it with KICK_SIGNAL, which ends its
 *   KVM_RUN with EINTR within microseconds;
 * - anywhere else: a futex wait made on a runtime thread (futexWaitAsync) returns and its
 *   promise resolves on the event loop. That costs tens of microseconds here, which is why
 *   the inline path exists at all.
 *
 * Both sides follow a store-then-load protocol on two words (JS_IN_RUN, DONE_COUNT), each
 * store being a locked instruction, so that no exit is ever missed: either the runner sees
 * the JavaScript thread inside KVM_RUN and signals it, or the JavaScript thread sees the
 * count moved before it enters.
 *
 * Memory: one anonymous mapping holds the shared words, then one 64-byte block per vCPU;
 * another holds the code, sealed read-only and executable once written.
 *
 * @module
 */

import { futexWaitAsync, futexWake, gettid, KVM, startThread, tgkill } from "../../host/kvm.ts";
import { address, mapAnonymous, sealCode, view } from "../../host/mman.ts";
import { Asm, CC, REG } from "./asm.ts";
import { SYS } from "../../abi/linux/syscalls.ts";
import { PAGE_SIZE as PAGE } from "../../abi/linux/mm.ts";

/** At most this many runners (vCPUs); their blocks fill the rest of the mapping. */
export const MAX_RUNNERS = 4096;
const BLOCK = 64;
/** How often finished runs are looked for besides the watcher's futex wait. */
const WATCH_POLL_MS = 10;
const SHARED_SIZE = 128;
const DATA_SIZE = BigInt(SHARED_SIZE + MAX_RUNNERS * BLOCK);

/** Offsets of the shared words. */
const S = {
  jsInRun: 0,
  jsTid: 4,
  armed: 8,
  pid: 12,
  kickSignal: 20,
  doneCount: 24,
  kickSet: 32,
  zeroTimespec: 40,
  fullSet: 56,
} as const;

/** Offsets in a runner's block. */
const B = { state: 0, tid: 4, fd: 8, result: 16, shared: 24 } as const;

/** A runner's state word. */
const STATE = { idle: 0, run: 1, running: 2, done: 3, quit: 4 } as const;

const SIG_SETMASK = 2;
const FUTEX_WAIT_PRIVATE = 128, FUTEX_WAKE_PRIVATE = 129;
const EINTR = 4, EBADF = 9;

/**
 * The runner's code. rdi (then rbx) is its block; rbp the shared words. Every system call
 * clobbers only rax, rcx and r11.
 */
function assembleRunner(): Uint8Array<ArrayBuffer> {
  const a = new Asm(0);
  const { rax, rdx, rbx, rbp, rsi, rdi, r10 } = REG;
  const wait = a.label(), run = a.label(), quit = a.label(), done = a.label();
  const noKick = a.label();

  a.movRR(rbx, rdi);
  a.load64(rbp, rbx, B.shared);
  // No signal reaches a runner outside KVM_RUN (the vCPU's own mask applies inside): not a
  // process signal meant for the event loop, and a kick stays pending until KVM_RUN.
  a.movImm32(rdi, SIG_SETMASK);
  a.leaBased(rsi, rbp, S.fullSet);
  a.zero(rdx);
  a.movImm32(r10, 8);
  a.movImm32(rax, SYS.rt_sigprocmask);
  a.syscall();
  a.movImm32(rax, SYS.gettid);
  a.syscall();
  a.store32(rbx, B.tid, rax);

  a.bind(wait);
  a.load32(rax, rbx, B.state);
  a.cmpImm(rax, STATE.run);
  a.jcc(CC.e, run);
  a.cmpImm(rax, STATE.quit);
  a.jcc(CC.e, quit);
  // futex(&state, FUTEX_WAIT_PRIVATE, state seen, no timeout)
  a.movRR(rdx, rax);
  a.movRR(rdi, rbx);
  a.movImm32(rsi, FUTEX_WAIT_PRIVATE);
  a.zero(r10);
  a.movImm32(rax, SYS.futex);
  a.syscall();
  a.jmp(wait);

  a.bind(run);
  a.store32Imm(rbx, B.state, STATE.running);
  a.load64(rdi, rbx, B.fd);
  a.movImm32(rsi, KVM.RUN);
  a.zero(rdx);
  a.movImm32(rax, SYS.ioctl);
  a.syscall();
  a.store64(rbx, B.result, rax);
  a.cmpImm(rax, -EINTR);
  a.jcc(CC.ne, done);
  // A kick ended the run: take the signal so that it does not end the next one too.
  a.leaBased(rdi, rbp, S.kickSet);
  a.zero(rsi);
  a.leaBased(rdx, rbp, S.zeroTimespec);
  a.movImm32(r10, 8);
  a.movImm32(rax, SYS.rt_sigtimedwait);
  a.syscall();

  a.bind(done);
  a.store32Imm(rbx, B.state, STATE.done);
  a.movImm32(rax, 1);
  a.lockXadd32(rbp, S.doneCount, rax);
  // The JavaScript thread inside KVM_RUN: kick it out.
  a.load32(rax, rbp, S.jsInRun);
  a.test32(rax);
  a.jcc(CC.e, noKick);
  a.load32(rdi, rbp, S.pid);
  a.load32(rsi, rbp, S.jsTid);
  a.load32(rdx, rbp, S.kickSignal);
  a.movImm32(rax, SYS.tgkill);
  a.syscall();
  a.bind(noKick);
  // Someone waits on the count (futexWaitAsync): wake it, once per arming.
  a.zero(rax);
  a.xchg32(rbp, S.armed, rax);
  a.test32(rax);
  a.jcc(CC.e, wait);
  a.leaBased(rdi, rbp, S.doneCount);
  a.movImm32(rsi, FUTEX_WAKE_PRIVATE);
  a.movImm32(rdx, 0x7fff_ffff);
  a.movImm32(rax, SYS.futex);
  a.syscall();
  a.jmp(wait);

  a.bind(quit);
  a.zero(rdi);
  a.movImm32(rax, SYS.exit);
  a.syscall();
  return new Uint8Array(a.b);
}

interface Runner {
  readonly id: number;
  readonly block: bigint;
  /** The block as 32-bit words (state at 0, tid at 1). */
  readonly i32: Int32Array<ArrayBuffer>;
  readonly i64: BigInt64Array<ArrayBuffer>;
  /** Resolves the pending run() with KVM_RUN's return (0 or -errno). */
  resolve: ((r: number) => void) | null;
}

/** The runner threads of one machine. */
export class Runners {
  readonly #data: Deno.PointerObject;
  readonly #dataAddr: bigint;
  readonly #shared: Int32Array<ArrayBuffer>;
  readonly #code: Deno.PointerObject;
  readonly #runners = new Map<number, Runner>();
  /** Runners with a run in flight. */
  readonly #busy = new Set<Runner>();
  #seenDone = 0;
  #watching = false;
  #released = false;

  constructor(readonly kickSignal: number) {
    this.#data = mapAnonymous(DATA_SIZE);
    this.#dataAddr = address(this.#data);
    // The mapping is never unmapped (runner threads may use it until the process ends).
    const buf = view(this.#data, Number(DATA_SIZE)).buffer;
    this.#shared = new Int32Array(buf, 0, SHARED_SIZE / 4);
    const dv = new DataView(buf);
    dv.setInt32(S.jsTid, gettid(), true);
    dv.setInt32(S.pid, Deno.pid, true);
    dv.setInt32(S.kickSignal, kickSignal, true);
    dv.setBigUint64(S.kickSet, 1n << BigInt(kickSignal - 1), true);
    dv.setBigUint64(S.fullSet, 0xffff_ffff_ffff_ffffn, true);

    const code = assembleRunner();
    this.#code = mapAnonymous(BigInt(PAGE));
    view(this.#code, PAGE).set(code);
    sealCode(this.#code, BigInt(PAGE));
  }

  /** How many runs are in flight. */
  get busy(): number {
    return this.#busy.size;
  }

  #runner(id: number, fd: number): Runner {
    let r = this.#runners.get(id);
    if (r) return r;
    if (id >= MAX_RUNNERS) throw new Error(`kvm: more than ${MAX_RUNNERS} vCPUs`);
    const off = SHARED_SIZE + id * BLOCK;
    const buf = view(this.#data, BLOCK, off).buffer;
    r = {
      id,
      block: this.#dataAddr + BigInt(off),
      i32: new Int32Array(buf),
      i64: new BigInt64Array(buf),
      resolve: null,
    };
    r.i64[B.fd / 8] = BigInt(fd);
    r.i64[B.shared / 8] = this.#dataAddr;
    startThread(this.#code, r.block);
    this.#runners.set(id, r);
    return r;
  }

  /** Runs vCPU `id` (whose fd is `fd`) on its runner; resolves with KVM_RUN's return. */
  run(id: number, fd: number): Promise<number> {
    if (this.#released) return Promise.resolve(-EBADF);
    const r = this.#runner(id, fd);
    const done = new Promise<number>((resolve) => (r.resolve = resolve));
    this.#busy.add(r);
    Atomics.store(r.i32, B.state / 4, STATE.run);
    futexWake(r.block + BigInt(B.state));
    this.#watch();
    return done;
  }

  /**
   * Ends vCPU `id`'s KVM_RUN soon if a run is in flight (its promise then resolves with
   * -EINTR). A kick that arrives before KVM_RUN waits for it.
   */
  kick(id: number): void {
    const r = this.#runners.get(id);
    if (!r || !this.#busy.has(r)) return;
    const tid = this.#waitTid(r);
    tgkill(tid, this.kickSignal);
  }

  #waitTid(r: Runner): number {
    for (;;) {
      const tid = Atomics.load(r.i32, B.tid / 4);
      if (tid !== 0) return tid;
    }
  }

  #poll: ReturnType<typeof setInterval> | null = null;

  /** Collects finished runs every WATCH_POLL_MS while any is in flight (see #watch). */
  #startPoll(): void {
    if (this.#poll !== null) return;
    this.#poll = setInterval(() => {
      if (this.#busy.size === 0 || this.#released) {
        clearInterval(this.#poll!);
        this.#poll = null;
        return;
      }
      if (this.finished()) this.collect();
    }, WATCH_POLL_MS);
  }

  /** Whether some runner finished since the last collect(). */
  finished(): boolean {
    return Atomics.load(this.#shared, S.doneCount / 4) !== this.#seenDone;
  }

  /** Resolves the runs that finished. */
  collect(): void {
    this.#seenDone = Atomics.load(this.#shared, S.doneCount / 4);
    for (const r of this.#busy) {
      if (Atomics.load(r.i32, B.state / 4) !== STATE.done) continue;
      Atomics.store(r.i32, B.state / 4, STATE.idle);
      this.#busy.delete(r);
      const resolve = r.resolve!;
      r.resolve = null;
      resolve(Number(r.i64[B.result / 8]));
    }
  }

  /**
   * Called by the JavaScript thread before its own KVM_RUN: from here on a finishing runner
   * kicks it. False (and nothing to undo) when a runner already finished: collect first.
   */
  enterInline(): boolean {
    Atomics.exchange(this.#shared, S.jsInRun / 4, 1);
    if (!this.finished()) return true;
    Atomics.store(this.#shared, S.jsInRun / 4, 0);
    return false;
  }

  leaveInline(): void {
    Atomics.store(this.#shared, S.jsInRun / 4, 0);
  }

  /**
   * Waits on a runtime thread for finished runs while any is in flight. A safety net polls
   * beside it: under load, a finished run was once seen here only when something else ran
   * collect() (every runner done and armed consumed, yet the watcher's futex wait never came
   * back to JavaScript; sec_swap on an overlay root, about 1 run in 30), and the sandbox hung.
   */
  async #watch(): Promise<void> {
    this.#startPoll();
    if (this.#watching) return;
    this.#watching = true;
    const count = this.#dataAddr + BigInt(S.doneCount);
    try {
      while (this.#busy.size > 0 && !this.#released) {
        this.collect();
        if (this.#busy.size === 0) break;
        const seen = this.#seenDone;
        Atomics.exchange(this.#shared, S.armed / 4, 1);
        if (this.finished()) continue;
        await futexWaitAsync(count, seen);
      }
    } finally {
      this.#watching = false;
    }
  }

  /**
   * Stops every runner: runs in flight are kicked and waited for (briefly: a kicked vCPU
   * leaves the guest at once), then each thread exits.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#poll !== null) clearInterval(this.#poll);
    this.#poll = null;
    for (const r of this.#busy) this.kick(r.id);
    const deadline = performance.now() + 1000;
    for (const r of this.#busy) {
      while (Atomics.load(r.i32, B.state / 4) !== STATE.done && performance.now() < deadline) {
        // spin: the kicked runner is microseconds from done
      }
    }
    this.collect();
    for (const r of this.#runners.values()) {
      Atomics.store(r.i32, B.state / 4, STATE.quit);
      futexWake(r.block + BigInt(B.state));
    }
    // Wake the watcher, if waiting, so that its runtime thread is free.
    Atomics.add(this.#shared, S.doneCount / 4, 1);
    futexWake(this.#dataAddr + BigInt(S.doneCount));
    // The mappings stay: a runner may still be between its last instructions and exit.
  }
}
