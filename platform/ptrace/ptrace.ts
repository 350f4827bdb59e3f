/**
 * The ptrace platform: application code runs in stub processes under PTRACE_SYSEMU, so every
 * system call stops and is served by the Sentry; no application system call reaches the host.
 *
 * @module
 */

import type { MemoryFile } from "../../sentry/mm/memory_file.ts";
import type { AddressSpace, Context, Platform } from "../platform.ts";
import { PtraceContext } from "./context.ts";
import { MAX_USER_ADDRESS, stubImage } from "./stub.ts";
import { stubExecutable, Subprocess } from "./subprocess.ts";
import { Waiter } from "./waiter.ts";
import { closeFd } from "../../host/libc.ts";
import { hostXfeatures, XFEATURE_MASK_USER_DYNAMIC } from "../../host/cpuid.ts";

/** Implements Platform with ptrace. */
export class PtracePlatform implements Platform {
  readonly name = "ptrace";
  /** Below the stub's page: the MemoryManager never lets the application map it or above. */
  readonly maxUserAddress = MAX_USER_ADDRESS;
  readonly waiter = new Waiter();
  readonly stubExecFd: number;
  readonly memoryFd: number;
  readonly stubPageOffset: bigint;
  #spaces = new Set<Subprocess>();
  /**
   * Implements Platform.xfeatures: what the host gives every process (its stubs included)
   * without a request. The stubs never ask for more, so AMX tiles are not offered.
   */
  readonly xfeatures = hostXfeatures() & ~XFEATURE_MASK_USER_DYNAMIC;

  constructor(mf: MemoryFile) {
    const image = stubImage();
    this.stubExecFd = stubExecutable(image);
    this.memoryFd = mf.fd;
    this.stubPageOffset = mf.allocate(4096n);
    mf.write(this.stubPageOffset, image);
    // Now, while this process may still execve: every stub is a fork of this one.
    Subprocess.template(this);
  }

  /**
   * Implements Platform.newAddressSpace: takes the spare stub, made while the Sentry was
   * idle, and has the next one made once the current work yields, so that fork and exec
   * rarely wait for a stub to start.
   */
  newAddressSpace(): AddressSpace {
    const s = this.#spare ?? new Subprocess(this);
    this.#spare = null;
    this.#spaces.add(s);
    this.#prepareSpare();
    return s;
  }

  #spare: Subprocess | null = null;
  #spareTimer: ReturnType<typeof setTimeout> | undefined;

  #prepareSpare(): void {
    if (this.#spareTimer !== undefined || this.#released) return;
    this.#spareTimer = setTimeout(() => {
      this.#spareTimer = undefined;
      if (this.#released || this.#spare) return;
      try {
        this.#spare = new Subprocess(this);
      } catch {
        // Made on demand next time.
      }
    }, 0);
  }

  /** Called by a stub when it is released. */
  forget(s: Subprocess): void {
    this.#spaces.delete(s);
  }

  /** Implements Platform.newContext. */
  newContext(): Context {
    return new PtraceContext(this.waiter);
  }

  #released = false;

  release(): void {
    this.#released = true;
    if (this.#spareTimer !== undefined) clearTimeout(this.#spareTimer);
    const all = [...this.#spaces];
    if (this.#spare) all.push(this.#spare);
    this.#spare = null;
    for (const s of all) s.release();
    for (const s of all) s.reap();
    this.#spaces.clear();
    Subprocess.releaseTemplate(this);
    closeFd(this.stubExecFd);
  }
}
