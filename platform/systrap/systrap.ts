/**
 * The Systrap platform: application code runs in stub processes as on ptrace, but each
 * application thread runs under a seccomp filter that turns every system call into SIGSYS,
 * served in the stub by a handler that hands the call to the Sentry through shared memory
 * (stub.ts, context.ts): no ptrace stop and no host context switch to the tracer per call.
 *
 * @module
 */

import type { MemoryFile } from "../../sentry/mm/memory_file.ts";
import type { AddressSpace, Context, Platform } from "../platform.ts";
import { stubExecutable, Subprocess } from "../ptrace/subprocess.ts";
import { Waiter } from "../ptrace/waiter.ts";
import { StubSpaces } from "../ptrace/spaces.ts";
import { closeFd } from "../../host/libc.ts";
import { SystrapSpace } from "./address_space.ts";
import { SystrapContext } from "./context.ts";
import { SYSTRAP_MAX_USER_ADDRESS, systrapStubImage } from "./stub.ts";

/**
 * Why Systrap cannot run on this host, or null. It needs seccomp filters with
 * SECCOMP_RET_TRAP (checked when the first stub confines itself) and the FSGSBASE
 * instructions, with which the handler saves and restores a thread's FS and GS bases.
 */
export function systrapUnavailable(): string | null {
  let cpuinfo = "";
  try {
    cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  } catch (e) {
    return `cannot read /proc/cpuinfo: ${e instanceof Error ? e.message : e}`;
  }
  if (!/^flags\s*:.*\bfsgsbase\b/m.test(cpuinfo)) {
    return "the CPU or kernel does not offer FSGSBASE (Linux 5.9 or later on a CPU with it)";
  }
  let status = "";
  try {
    status = Deno.readTextFileSync("/proc/self/status");
  } catch {
    return null;
  }
  if (!/^Seccomp:/m.test(status)) return "the kernel has no seccomp (CONFIG_SECCOMP_FILTER)";
  return null;
}

let probed: string | null | undefined;

/**
 * Why Systrap cannot run here, or null, learnt once by starting it on `mf`: the checks of
 * systrapUnavailable, then a stub under its trap filter and a first thread set up (what a
 * host can refuse: seccomp of either filter, the signal handlers, the alternate stack).
 */
export function probeSystrap(mf: MemoryFile): string | null {
  if (probed !== undefined) return probed;
  try {
    new SystrapPlatform(mf).release();
    probed = null;
  } catch (e) {
    probed = e instanceof Error ? e.message : String(e);
  }
  return probed;
}

/** How long the first stub thread may take to park before Systrap is declared unusable. */
const FIRST_THREAD_MS = 2000;

/** Implements Platform with seccomp traps. */
export class SystrapPlatform implements Platform {
  readonly name = "systrap";
  readonly maxUserAddress = SYSTRAP_MAX_USER_ADDRESS;
  readonly waiter = new Waiter();
  readonly stubExecFd: number;
  readonly memoryFd: number;
  readonly stubPageOffset: bigint;
  #spaces = new StubSpaces((spare) => {
    const s = new SystrapSpace(this, this.mf);
    if (!spare) return s;
    try {
      s.prepareThread();
    } catch (e) {
      s.release();
      throw e;
    }
    return s;
  });

  constructor(readonly mf: MemoryFile) {
    const why = systrapUnavailable();
    if (why) throw new Error(why);
    const image = systrapStubImage();
    this.stubExecFd = stubExecutable(image);
    this.memoryFd = mf.fd;
    this.stubPageOffset = mf.allocate(4096n);
    mf.write(this.stubPageOffset, image);
    try {
      this.#spaces.setSpare(this.#firstSpace());
    } catch (e) {
      this.release();
      throw e;
    }
  }

  /**
   * The first address space, made now with its thread parked: what proves that this host
   * runs Systrap (the stub's trap filter, then the thread's own set-up), so that a host
   * that refuses any of it is told at once, with the reason, rather than at the first task.
   */
  #firstSpace(): SystrapSpace {
    let s: SystrapSpace;
    try {
      s = new SystrapSpace(this, this.mf);
    } catch (e) {
      // Its entry code installs the process filter (SECCOMP_RET_TRAP) and exits if refused.
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`systrap: the stub did not start under its trap filter: ${why}`);
    }
    try {
      const t = s.newStubThread();
      const end = performance.now() + FIRST_THREAD_MS;
      while (!s.doorbell.waitBriefly(t, 10_000_000n)) {
        if (!s.alive(t) || performance.now() > end) {
          throw new Error(
            `systrap: the first stub thread: ${
              s.setupFailure(t) ?? "it did not reach its handler"
            }`,
          );
        }
      }
      s.releaseStubThread(t, t.times);
      return s;
    } catch (e) {
      s.release();
      throw e;
    }
  }

  /**
   * Implements Platform.newAddressSpace: the spare address space (a stub with one thread
   * parked in its handler, made while the Sentry was idle), or a new one (StubSpaces).
   */
  newAddressSpace(): AddressSpace {
    return this.#spaces.take();
  }

  /** Called by a stub when it is released. */
  forget(s: SystrapSpace): void {
    this.#spaces.forget(s);
  }

  /** Implements Platform.newContext. */
  newContext(): Context {
    return new SystrapContext();
  }

  #released = false;

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#spaces.release();
    Subprocess.releaseTemplate(this);
    closeFd(this.stubExecFd);
  }
}
