/**
 * I/O sequences (gVisor's usermem.IOSequence): the bytes of a read or write as a cursor over
 * either application memory (an iovec array) or a Sentry buffer, so that a file can copy
 * straight between its own storage and application memory, with no buffer per call.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { MemoryManager } from "./mm.ts";

/**
 * A cursor over the bytes of one read or write. Both copies advance it and return how many
 * bytes they moved: fewer than asked means the sequence ended or, for application memory, a
 * fault stopped it (then `faulted` is set and the caller reports EFAULT if it moved nothing).
 */
export interface IoSequence {
  /** Bytes left. */
  readonly remaining: number;
  /** Whether a copy stopped at memory that is not mapped with the access it needs. */
  readonly faulted: boolean;
  /** Copies src into the sequence (the data a read returns). */
  copyOut(src: Uint8Array): number;
  /** Copies from the sequence into dst (the data a write takes). */
  copyIn(dst: Uint8Array): number;
}

/** An IoSequence over a Sentry buffer (splice, sendfile and files read for the kernel). */
export class BufferIo implements IoSequence {
  #pos = 0;
  readonly faulted = false;

  constructor(readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.#pos;
  }

  copyOut(src: Uint8Array): number {
    const n = Math.min(src.length, this.remaining);
    this.buf.set(n === src.length ? src : src.subarray(0, n), this.#pos);
    this.#pos += n;
    return n;
  }

  copyIn(dst: Uint8Array): number {
    const n = Math.min(dst.length, this.remaining);
    dst.set(this.buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return n;
  }
}

/**
 * An IoSequence over application memory: iovecs ([base, length] pairs, already checked with
 * access_ok) walked in order through the memory file.
 */
export class UserIo implements IoSequence {
  #i = 0;
  /** Bytes of iovs[#i] already done. */
  #off = 0;
  #remaining: number;
  #faulted = false;

  constructor(readonly mm: MemoryManager, readonly iovs: readonly [bigint, number][]) {
    let total = 0;
    for (const [, len] of iovs) total += len;
    this.#remaining = total;
  }

  get remaining(): number {
    return this.#remaining;
  }
  get faulted(): boolean {
    return this.#faulted;
  }

  copyOut(src: Uint8Array): number {
    return this.#copy(src, true);
  }

  copyIn(dst: Uint8Array): number {
    return this.#copy(dst, false);
  }

  #copy(buf: Uint8Array, out: boolean): number {
    let done = 0;
    while (done < buf.length && this.#remaining > 0 && !this.#faulted) {
      const [base, len] = this.iovs[this.#i];
      const n = Math.min(len - this.#off, buf.length - done);
      if (n > 0) {
        const addr = base + BigInt(this.#off);
        const piece = buf.subarray(done, done + n);
        const m = out ? this.mm.copyOutUpTo(addr, piece) : this.mm.copyInUpTo(addr, piece);
        done += m;
        this.#off += m;
        this.#remaining -= m;
        if (m < n) {
          this.#faulted = true;
          break;
        }
      }
      if (this.#off === len) {
        this.#i++;
        this.#off = 0;
      }
    }
    return done;
  }
}

/**
 * The result of a transfer: what it moved, or EFAULT when a fault stopped it before it moved
 * anything (Linux reports a partial transfer rather than the fault).
 */
export function doneOrFault(io: IoSequence, done: number): number {
  if (done === 0 && io.faulted) throw new SysError(Errno.EFAULT);
  return done;
}
