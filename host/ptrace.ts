/**
 * ptrace(2) and the related host calls used by the ptrace platform.
 *
 * Every request must be made from the thread that attached to the tracee (DESIGN.md), so none
 * of these symbols is `nonblocking`: they run on the JavaScript thread, which is the tracer.
 *
 * @module
 */

import { dlopenLazy, errno, HostError } from "./libc.ts";

// SAFETY: glibc's ptrace is variadic (request, pid, addr, data). The x86-64 SysV ABI passes
// integer variadic arguments in rdi, rsi, rdx, rcx like fixed ones, so declaring four fixed
// 64-bit parameters gives the callee exactly the values it reads with va_arg. PEEK requests,
// whose glibc wrapper semantics differ from the raw call, are never used.
const lib = dlopenLazy("libc.so.6", {
  ptrace: { parameters: ["i64", "i64", "u64", "u64"], result: "i64" },
  ptrace_buf: { name: "ptrace", parameters: ["i64", "i64", "u64", "buffer"], result: "i64" },
  tgkill: { parameters: ["i32", "i32", "i32"], result: "i32" },
});

export const PTRACE = {
  TRACEME: 0,
  CONT: 7,
  KILL: 8,
  SINGLESTEP: 9,
  GETREGS: 12,
  SETREGS: 13,
  GETFPREGS: 14,
  SETFPREGS: 15,
  ATTACH: 16,
  DETACH: 17,
  SYSCALL: 24,
  SYSEMU: 31,
  SETOPTIONS: 0x4200,
  GETEVENTMSG: 0x4201,
  GETSIGINFO: 0x4202,
  SETSIGINFO: 0x4203,
  GETREGSET: 0x4204,
  SETREGSET: 0x4205,
  SEIZE: 0x4206,
  INTERRUPT: 0x4207,
  LISTEN: 0x4208,
} as const;

export const PTRACE_O = {
  TRACESYSGOOD: 1,
  TRACEFORK: 2,
  TRACEVFORK: 4,
  TRACECLONE: 8,
  TRACEEXEC: 0x10,
  TRACEEXIT: 0x40,
  EXITKILL: 0x100000,
} as const;

export const PTRACE_EVENT = { FORK: 1, CLONE: 3, EXIT: 6, STOP: 128 } as const;

/** ptrace with an integer data argument; throws HostError on failure. */
export function ptrace(req: number, pid: number, addr = 0n, data = 0n): void {
  const r = lib.symbols.ptrace(BigInt(req), BigInt(pid), addr, data);
  if (r === -1n) throw new HostError(`ptrace ${req} pid ${pid}`, errno());
}

/** ptrace with a buffer as data (GETREGS, SETREGS, GETSIGINFO...); throws HostError. */
export function ptraceBuf(req: number, pid: number, buf: Uint8Array<ArrayBuffer>, addr = 0n): void {
  const r = lib.symbols.ptrace_buf(BigInt(req), BigInt(pid), addr, buf);
  if (r === -1n) throw new HostError(`ptrace ${req} pid ${pid}`, errno());
}

/** ptrace returning the raw result (-1 on failure) for hot paths that handle errors. */
export function ptraceRaw(req: number, pid: number, addr: bigint, data: bigint): number {
  return Number(lib.symbols.ptrace(BigInt(req), BigInt(pid), addr, data));
}

/**
 * PTRACE_GETREGSET or PTRACE_SETREGSET of regset `nt` (NT_X86_XSTATE...) to or from `buf`,
 * through the iovec the kernel wants; returns the bytes moved. Throws HostError.
 */
export function ptraceRegset(
  req: number,
  pid: number,
  nt: bigint,
  buf: Uint8Array<ArrayBuffer>,
): number {
  const iov = new BigUint64Array(2);
  // SAFETY: buf stays referenced until this synchronous call returns, and the kernel reads or
  // writes at most iov[1] bytes of it, its own length.
  iov[0] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
  iov[1] = BigInt(buf.length);
  ptraceBuf(req, pid, new Uint8Array(iov.buffer), nt);
  return Number(iov[1]);
}

export function tgkill(tgid: number, tid: number, sig: number): boolean {
  return lib.symbols.tgkill(tgid, tid, sig) === 0;
}
