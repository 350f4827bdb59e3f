/**
 * The ptrace platform: application code runs in stub processes under PTRACE_SYSEMU, so every
 * system call stops and is served by the Sentry; no application system call reaches the host.
 *
 * @module
 */

import type { MemoryFile } from "../../sentry/mm/memory_file.ts";
import type { AddressSpace, Context, Platform } from "../platform.ts";
import { PtraceContext } from "./context.ts";
import { STUB_ADDR, stubImage } from "./stub.ts";
import { stubExecutable, Subprocess } from "./subprocess.ts";
import { Waiter } from "./waiter.ts";
import { closeFd } from "../../host/libc.ts";

/** Implements Platform with ptrace. */
export class PtracePlatform implements Platform {
  readonly name = "ptrace";
  readonly maxUserAddress = STUB_ADDR;
  readonly waiter = new Waiter();
  readonly stubExecFd: number;
  readonly memoryFd: number;
  readonly stubPageOffset: bigint;
  #spaces = new Set<Subprocess>();

  constructor(mf: MemoryFile) {
    const image = stubImage();
    this.stubExecFd = stubExecutable(image);
    this.memoryFd = mf.fd;
    this.stubPageOffset = mf.allocate(4096n);
    mf.write(this.stubPageOffset, image);
  }

  /** Implements Platform.newAddressSpace: spawns and attaches a stub. */
  newAddressSpace(): AddressSpace {
    const s = new Subprocess(this);
    this.#spaces.add(s);
    return s;
  }

  /** Implements Platform.newContext. */
  newContext(): Context {
    return new PtraceContext(this.waiter);
  }

  release(): void {
    for (const s of this.#spaces) s.release();
    this.#spaces.clear();
    closeFd(this.stubExecFd);
  }
}
