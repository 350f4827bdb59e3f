/**
 * The platform interface (DESIGN.md): a platform only executes application code. The Sentry
 * owns all application memory (the memory file) and every scheduling decision.
 *
 * One deliberate difference from DESIGN.md's sketch: `Context.switch` returns a Promise. The
 * Sentry runs on one JavaScript thread that also serves the control socket and host I/O, so a
 * platform must be able to wait for the application without blocking that thread. Platforms
 * resolve synchronously-completed switches without a thread hop (see ptrace/context.ts).
 *
 * @module
 */

import type { Registers } from "./registers.ts";

/** Page protections, as PROT_* in Linux. */
export { PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from "../abi/linux/mm.ts";

/** Why the application stopped running. */
export type SwitchResult =
  /** The application made a system call; the registers hold its number and arguments. */
  | { kind: "syscall" }
  /** A memory fault at `addr`; `access` is PROT_* of the attempted access where known. */
  | { kind: "fault"; signo: number; code: number; addr: bigint; access: number }
  /** A synchronous signal raised by an instruction (SIGILL, SIGFPE, SIGTRAP...). */
  | { kind: "signal"; signo: number; code: number; addr: bigint }
  /** Context.interrupt() was called, or the host asked the task to stop. */
  | { kind: "interrupted" }
  /** The platform lost the context (its host thread died); the task cannot continue. */
  | { kind: "lost"; reason: string };

export interface Platform {
  readonly name: string;
  /** The highest application address plus one. */
  readonly maxUserAddress: bigint;
  /**
   * The XSAVE features the application may use without asking, as ARCH_GET_XCOMP_SUPP
   * reports them: none that Linux gives only on request (AMX tiles), which no platform
   * offers. Absent: x87 and SSE.
   */
  readonly xfeatures?: bigint;
  /** A new, empty address space; one per mm. */
  newAddressSpace(): AddressSpace;
  /** A new execution context; one per task. */
  newContext(): Context;
  /** Releases everything the platform holds. */
  release(): void;
}

export interface AddressSpace {
  /**
   * Maps [fileOffset, fileOffset+length) of the memory file at addr with prot, replacing
   * whatever was mapped there. addr, length and fileOffset are page-aligned.
   */
  mapFile(addr: bigint, length: bigint, fileOffset: bigint, prot: number): void;
  /** Removes any mapping in [addr, addr+length). */
  unmap(addr: bigint, length: bigint): void;
  /**
   * Makes changes queued by mapFile and unmap take effect now, for the threads of the address
   * space that are running meanwhile (a platform that applies them at once has none).
   */
  flush?(): void;
  release(): void;
}

/** The shape of a task's FPU state (Context.fpState), without its values. */
export interface FpLayout {
  /** Its length in bytes: 512 for an FXSAVE image, more for an XSAVE area. */
  readonly size: number;
  /** The features the software bytes of an XSAVE area name (0 for an FXSAVE image). */
  readonly features: bigint;
  /** The FXSAVE image's MXCSR_MASK: the MXCSR bits the CPU accepts (0: not reported). */
  readonly mxcsrMask: number;
}

export interface Context {
  /** Runs regs in as until something needs the Sentry; regs are updated in place. */
  switch(as: AddressSpace, regs: Registers): Promise<SwitchResult>;
  /** Makes a running or future switch return "interrupted" as soon as possible. */
  interrupt(): void;
  /**
   * The task's floating-point, SSE and AVX state, for signal frames and fork: an XSAVE area in
   * the standard (non-compacted) format, or just its first 512 bytes (the FXSAVE image) on a
   * platform that keeps no more. Valid between switches. The bytes are the caller's to change,
   * but may be the context's own buffer, reused by its next fpState call: a caller that keeps
   * them copies them (a signal is delivered in a few microseconds; an allocation per delivery
   * cost more than that).
   */
  fpState(): Uint8Array<ArrayBuffer>;
  /**
   * What fpState would return but its values, where the platform knows it without reading
   * the state (sigreturn needs no more); null or absent otherwise.
   */
  fpLayout?(): FpLayout | null;
  /**
   * Replaces the state (a full XSAVE area or an FXSAVE image); applied before the next switch.
   * The context copies `state`: the caller may reuse it at once.
   */
  setFpState(state: Uint8Array<ArrayBuffer>): void;
  /**
   * CPU time the task's code has used so far, in nanoseconds (for getrusage and times); after
   * release, the final figure, at no further cost.
   */
  cpuTime(): { user: bigint; sys: bigint };
  release(): void;
}
