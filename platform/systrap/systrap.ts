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
import { stubExecutable } from "../ptrace/subprocess.ts";
import { Waiter } from "../ptrace/waiter.ts";
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

/** Implements Platform with seccomp traps. */
export class SystrapPlatform implements Platform {
  readonly name = "systrap";
  readonly maxUserAddress = SYSTRAP_MAX_USER_ADDRESS;
  readonly waiter = new Waiter();
  readonly stubExecFd: number;
  readonly memoryFd: number;
  readonly stubPageOffset: bigint;
  #spaces = new Set<SystrapSpace>();
  #released = false;

  constructor(readonly mf: MemoryFile) {
    const why = systrapUnavailable();
    if (why) throw new Error(why);
    const image = systrapStubImage();
    this.stubExecFd = stubExecutable(image);
    this.memoryFd = mf.fd;
    this.stubPageOffset = mf.allocate(4096n);
    mf.write(this.stubPageOffset, image);
  }

  /**
   * Implements Platform.newAddressSpace: takes the spare address space (a stub with one
   * thread parked in its handler, made while the Sentry was idle) and has the next one made
   * once the current work yields, so that fork and exec rarely wait for a stub to start.
   */
  newAddressSpace(): AddressSpace {
    const s = this.#spare ?? new SystrapSpace(this, this.mf);
    this.#spare = null;
    this.#spaces.add(s);
    this.#prepareSpare();
    return s;
  }

  #spare: SystrapSpace | null = null;
  #spareTimer: ReturnType<typeof setTimeout> | undefined;

  #prepareSpare(): void {
    if (this.#spareTimer !== undefined || this.#released) return;
    this.#spareTimer = setTimeout(() => {
      this.#spareTimer = undefined;
      if (this.#released || this.#spare) return;
      try {
        const s = new SystrapSpace(this, this.mf);
        s.prepareThread();
        this.#spare = s;
      } catch {
        // Made on demand next time.
      }
    }, 0);
  }

  /** Called by a stub when it is released. */
  forget(s: SystrapSpace): void {
    this.#spaces.delete(s);
  }

  /** Implements Platform.newContext. */
  newContext(): Context {
    return new SystrapContext();
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#spareTimer !== undefined) clearTimeout(this.#spareTimer);
    const all = [...this.#spaces];
    if (this.#spare) all.push(this.#spare);
    this.#spare = null;
    for (const s of all) s.release();
    for (const s of all) s.reap();
    this.#spaces.clear();
    closeFd(this.stubExecFd);
  }
}
