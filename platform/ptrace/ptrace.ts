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
import { StubSpaces } from "./spaces.ts";
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
  #spaces = new StubSpaces(() => new Subprocess(this));
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
   * Implements Platform.newAddressSpace: the spare stub, made while the Sentry was idle, or a
   * new one (StubSpaces).
   */
  newAddressSpace(): AddressSpace {
    return this.#spaces.take();
  }

  /** Called by a stub when it is released. */
  forget(s: Subprocess): void {
    this.#spaces.forget(s);
  }

  /** Implements Platform.newContext. */
  newContext(): Context {
    return new PtraceContext(this.waiter);
  }

  release(): void {
    this.#spaces.release();
    Subprocess.releaseTemplate(this);
    closeFd(this.stubExecFd);
  }
}
