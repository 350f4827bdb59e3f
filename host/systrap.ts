/**
 * The host calls of the Systrap platform (platform/systrap/), its one FFI boundary: waiting for
 * and waking stub threads on futex words in the regions it shares with them, giving the CPU up
 * while it polls, and the Sentry's address of a region.
 *
 * The futex calls are the ones the KVM platform's runner threads use (host/kvm.ts), offered
 * here again so that the platform imports nothing of KVM's.
 *
 * @module
 */

import { libc } from "./libc.ts";

export { futexWaitAsync, futexWaitShared, futexWake } from "./kvm.ts";

/** sched_yield(2): lets a stub thread waiting for this CPU run while the Sentry polls. */
export function schedYield(): void {
  libc.symbols.sched_yield();
}

/**
 * The Sentry's address of `view`'s first byte, for futex calls on words inside it.
 * Precondition: `view` is of a mapping that outlives every use of the address (a region of
 * the memory file, which stays mapped as long as the MemoryFile lives); a JavaScript-owned
 * buffer could move or be freed.
 */
export function mappedAddress(view: Uint8Array<ArrayBuffer>): bigint {
  // SAFETY: per the precondition, the pointer stays valid; it is only handed to futex calls.
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(view)));
}
