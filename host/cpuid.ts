/**
 * The host CPU's CPUID, for what no system call tells: where each XSAVE state component sits
 * in the standard-format area (leaf 0xd), which the ptrace platform needs to give a signal
 * frame the size Linux gives it.
 *
 * CPUID is an unprivileged instruction with no library wrapper, so a 27-byte routine is
 * placed in a page of its own, made read-and-execute (never writable and executable at once),
 * called through FFI and unmapped again. Its code is constant; nothing from the application
 * reaches it.
 *
 * @module
 */

import { libc, rawSyscall } from "./libc.ts";
import { SYS } from "../abi/linux/syscalls.ts";
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../abi/linux/mm.ts";

const PAGE = BigInt(PAGE_SIZE);

/**
 * void cpuid(u32 leaf rdi, u32 subleaf rsi, u32 out[4] rdx): eax, ebx, ecx, edx to out.
 * rbx is callee-saved in the SysV ABI, so it is kept on the stack.
 */
// deno-fmt-ignore
const CODE = new Uint8Array([
  0x53, //                  push rbx
  0x89, 0xf8, //            mov eax, edi
  0x89, 0xf1, //            mov ecx, esi
  0x49, 0x89, 0xd0, //      mov r8, rdx
  0x0f, 0xa2, //            cpuid
  0x41, 0x89, 0x00, //      mov [r8], eax
  0x41, 0x89, 0x58, 0x04, // mov [r8+4], ebx
  0x41, 0x89, 0x48, 0x08, // mov [r8+8], ecx
  0x41, 0x89, 0x50, 0x0c, // mov [r8+12], edx
  0x5b, //                  pop rbx
  0xc3, //                  ret
]);

/**
 * Runs CPUID for each [leaf, subleaf] and returns [eax, ebx, ecx, edx] for each, or null when
 * the routine cannot be mapped.
 */
export function cpuid(queries: [number, number][]): Uint32Array[] | null {
  const p = libc.symbols.mmap(
    null,
    PAGE,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS,
    -1,
    0n,
  );
  if (p === null || Deno.UnsafePointer.value(p) === 0xffff_ffff_ffff_ffffn) return null;
  try {
    // SAFETY: p is a fresh private mapping of PAGE bytes, larger than CODE, and stays mapped
    // until the finally below; the view is dropped before that.
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, CODE.length)).set(CODE);
    const addr = BigInt(Deno.UnsafePointer.value(p));
    if (rawSyscall(SYS.mprotect, addr, PAGE, BigInt(PROT_READ | PROT_EXEC)) < 0n) return null;
    // SAFETY: the page holds exactly CODE, which matches this signature and writes 16 bytes
    // to the buffer it is given.
    const def = { parameters: ["u32", "u32", "buffer"], result: "void" } as const;
    const fn = new Deno.UnsafeFnPointer(p as Deno.PointerObject<typeof def>, def);
    return queries.map(([leaf, sub]) => {
      const out = new Uint32Array(4);
      fn.call(leaf, sub, out);
      return out;
    });
  } finally {
    libc.symbols.munmap(p, PAGE);
  }
}

/** XCR0 bits whose state Linux gives a process only on request (ARCH_REQ_XCOMP_PERM): AMX tiles. */
export const XFEATURE_MASK_USER_DYNAMIC = 1n << 18n;

/**
 * The size of the standard-format XSAVE area that holds the components in `features` (at
 * least the legacy area and the header), from CPUID leaf 0xd; null when CPUID cannot be run.
 */
export function xsaveSizeFor(features: bigint): number | null {
  const bits: number[] = [];
  for (let i = 2; i < 63; i++) if ((features >> BigInt(i)) & 1n) bits.push(i);
  const r = cpuid(bits.map((i) => [0xd, i]));
  if (!r) return null;
  // eax: the component's size, ebx: its offset in the standard format.
  return r.reduce((end, [size, offset]) => Math.max(end, offset + size), 512 + 64);
}

const ARCH_GET_XCOMP_SUPP = 0x1021;

/**
 * The XSAVE features this host's kernel supports for user space (ARCH_GET_XCOMP_SUPP), or x87
 * and SSE where it cannot say. Made before the Sentry's seccomp filter, which has no
 * arch_prctl.
 */
export function hostXfeatures(): bigint {
  const out = new BigUint64Array(1);
  // SAFETY: `out` stays referenced until the call returns, which is when the kernel is done
  // writing its 8 bytes.
  const p = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out)));
  return rawSyscall(SYS.arch_prctl, BigInt(ARCH_GET_XCOMP_SUPP), p) === 0n ? out[0] : 3n;
}
