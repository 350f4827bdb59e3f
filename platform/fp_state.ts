/**
 * What the ptrace and systrap contexts share about a task's FPU state: the offsets they read
 * in an FXSAVE image and its XSAVE header, the state a thread starts with, and the buffer
 * Context.fpState hands out.
 *
 * @module
 */

export const FXSAVE_SIZE = 512;
/**
 * Offset of the software-reserved bytes in the FXSAVE image: XCR0 in the regset's form, the
 * FP_XSTATE_MAGIC1 header in a signal frame's.
 */
export const SW_RESERVED = 464;
/** Offset of MXCSR_MASK in the FXSAVE image. */
export const MXCSR_MASK = 28;
/** Offset of the XSAVE header's XSTATE_BV. */
export const XSTATE_BV = 512;

/**
 * What a context's fpState returns, kept from one call to the next: a signal's delivery and
 * its sigreturn each read the state, and a new buffer each time cost more than the rest of the
 * signal. Valid until the next call (Context.fpState says so).
 */
export class FpOut {
  #buf: Uint8Array<ArrayBuffer> | null = null;

  /** The buffer as `len` bytes: the same one from one call to the next while the size holds. */
  sized(len: number): Uint8Array<ArrayBuffer> {
    if (this.#buf?.length !== len) this.#buf = new Uint8Array(len);
    return this.#buf;
  }

  /** The first `len` bytes of src, copied into the buffer. */
  copyOf(src: Uint8Array<ArrayBuffer>, len: number): Uint8Array<ArrayBuffer> {
    const out = this.sized(len);
    out.set(src.subarray(0, len));
    return out;
  }

  /** The state of a thread that never ran (x87 control word 0x37f, MXCSR 0x1f80), FXSAVE-sized. */
  initial(): Uint8Array<ArrayBuffer> {
    const b = this.sized(FXSAVE_SIZE).fill(0);
    const v = new DataView(b.buffer);
    v.setUint16(0, 0x37f, true);
    v.setUint32(24, 0x1f80, true);
    return b;
  }
}

/**
 * Makes `area`, an XSAVE image in the regset's form, one of a task that has only `features`:
 * XCR0 in its software bytes and XSTATE_BV cut to them.
 */
export function limitFeatures(area: Uint8Array<ArrayBuffer>, features: bigint): void {
  const v = new DataView(area.buffer, area.byteOffset, area.byteLength);
  v.setBigUint64(SW_RESERVED, features, true);
  v.setBigUint64(XSTATE_BV, v.getBigUint64(XSTATE_BV, true) & features, true);
}
