/**
 * /dev/kvm: the ioctls, struct layouts and host signal plumbing the KVM platform uses.
 *
 * Numbers and layouts are those of Linux's x86-64 KVM API (include/uapi/linux/kvm.h and the
 * x86 asm/kvm.h), written out here from the documented ABI.
 *
 * Every vCPU ioctl is made synchronously, KVM_RUN on the JavaScript thread or on a vCPU runner
 * thread (platform/kvm/runner.ts); see platform/kvm/context.ts for why KVM_RUN is never a
 * nonblocking call, and how a host timer signal keeps the JavaScript thread responsive while
 * guest code runs on it.
 *
 * @module
 */

import { cstr, dlopenLazy, errno, HostError, rawSyscall } from "./libc.ts";
import { SYS } from "../abi/linux/syscalls.ts";
import { O_CLOEXEC, O_RDWR } from "../abi/linux/file.ts";
import { SIGEV_THREAD_ID, Sigevent } from "../abi/linux/signal.ts";
import { CLOCK_MONOTONIC } from "../abi/linux/time.ts";

// SAFETY: ioctl(2) is variadic (fd, request, ...); the x86-64 SysV ABI passes the one variadic
// integer or pointer argument in rdx like a fixed one, so each declaration below hands the
// kernel exactly the third argument it reads. Buffers passed are sized for the struct the
// request names (checked by the callers through the *_SIZE constants).
const lib = dlopenLazy("libc.so.6", {
  ioctl_int: { name: "ioctl", parameters: ["i32", "usize", "usize"], result: "i32" },
  ioctl_buf: { name: "ioctl", parameters: ["i32", "usize", "buffer"], result: "i32" },
  // KVM_RUN on a runtime thread. Not used by the platform (see platform/kvm/context.ts); kept
  // for the measurement in bench/platform_bench.ts that chose the synchronous call.
  ioctl_int_async: {
    name: "ioctl",
    parameters: ["i32", "usize", "usize"],
    result: "i32",
    nonblocking: true,
  },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  pthread_sigmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  // A futex wait on a runtime thread: how the event loop hears that a vCPU runner thread
  // finished (platform/kvm/runner.ts).
  futex_wait_async: {
    name: "syscall",
    parameters: ["i64", "u64", "i64", "i64", "i64"],
    result: "i64",
    nonblocking: true,
  },
  pthread_create: { parameters: ["buffer", "pointer", "pointer", "pointer"], result: "i32" },
  pthread_detach: { parameters: ["u64"], result: "i32" },
});

const sym = lib.symbols;

/** ioctl request numbers (_IO/_IOR/_IOW/_IOWR of type 0xAE). */
export const KVM = {
  GET_API_VERSION: 0xae00,
  CREATE_VM: 0xae01,
  CHECK_EXTENSION: 0xae03,
  GET_VCPU_MMAP_SIZE: 0xae04,
  GET_SUPPORTED_CPUID: 0xc008ae05,
  CREATE_VCPU: 0xae41,
  SET_USER_MEMORY_REGION: 0x4020ae46,
  RUN: 0xae80,
  GET_REGS: 0x8090ae81,
  SET_REGS: 0x4090ae82,
  GET_SREGS: 0x8138ae83,
  SET_SREGS: 0x4138ae84,
  SET_MSRS: 0x4008ae89,
  SET_SIGNAL_MASK: 0x4004ae8b,
  SET_CPUID2: 0x4008ae90,
  GET_XSAVE: 0x9000aea4,
  SET_XSAVE: 0x5000aea5,
  GET_XCRS: 0x8188aea6,
  SET_XCRS: 0x4188aea7,
} as const;

export const KVM_API_VERSION = 12;
const RUN_REQUEST = BigInt(KVM.RUN);
export const KVM_CAP_MAX_VCPUS = 66;

/** kvm_run.exit_reason values. */
export const EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  INTERNAL_ERROR: 17,
} as const;

/** Offsets in struct kvm_run. */
export const RUN = { immediateExit: 1, exitReason: 8, union: 32 } as const;

/** struct kvm_regs: 18 u64 in this order. */
export const KREG = {
  rax: 0,
  rbx: 1,
  rcx: 2,
  rdx: 3,
  rsi: 4,
  rdi: 5,
  rsp: 6,
  rbp: 7,
  r8: 8,
  r9: 9,
  r10: 10,
  r11: 11,
  r12: 12,
  r13: 13,
  r14: 14,
  r15: 15,
  rip: 16,
  rflags: 17,
} as const;
export const REGS_SIZE = 18 * 8;

/** struct kvm_sregs: eight 24-byte kvm_segments, two dtables, control registers. */
export const SREGS = {
  cs: 0,
  ds: 24,
  es: 48,
  fs: 72,
  gs: 96,
  ss: 120,
  tr: 144,
  ldt: 168,
  gdt: 192,
  idt: 208,
  cr0: 224,
  cr2: 232,
  cr3: 240,
  cr4: 248,
  cr8: 256,
  efer: 264,
  apicBase: 272,
} as const;
export const SREGS_SIZE = 312;
export const XSAVE_SIZE = 4096;
export const XCRS_SIZE = 392;
export const CPUID_ENTRY_SIZE = 40;

/** A segment as struct kvm_segment describes it. */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  unusable?: number;
}

/** Writes a kvm_segment at off. */
export function putSegment(v: DataView, off: number, s: Segment): void {
  v.setBigUint64(off, s.base, true);
  v.setUint32(off + 8, s.limit, true);
  v.setUint16(off + 12, s.selector, true);
  const f = [s.type, s.present, s.dpl, s.db, s.s, s.l, s.g, 0, s.unusable ?? 0, 0];
  for (let i = 0; i < f.length; i++) v.setUint8(off + 14 + i, f[i]);
}

/** Writes a kvm_dtable (GDT or IDT register) at off. */
export function putDtable(v: DataView, off: number, base: bigint, limit: number): void {
  v.setBigUint64(off, base, true);
  v.setUint16(off + 8, limit, true);
}

/** A failed KVM call: its message names the request. */
export class KvmError extends HostError {
  constructor(op: string, errnum: number) {
    super(`kvm: ${op}`, errnum);
  }
  override get name(): string {
    return "KvmError";
  }
}

/** Opens the KVM device read-write; throws KvmError naming the path. */
export function openKvm(path: string): number {
  const fd = sym.open(cstr(path), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) throw new KvmError(`open ${path}`, errno());
  return fd;
}

/** ioctl with an integer argument; returns the non-negative result or throws. */
export function ioctl(fd: number, req: number, arg: number | bigint, what: string): number {
  const r = sym.ioctl_int(fd, BigInt(req), BigInt(arg));
  if (r < 0) throw new KvmError(what, errno());
  return r;
}

/** ioctl with a buffer argument; returns the non-negative result or throws. */
export function ioctlBuf(
  fd: number,
  req: number,
  buf: Uint8Array<ArrayBuffer>,
  what: string,
): number {
  const r = sym.ioctl_buf(fd, BigInt(req), buf);
  if (r < 0) throw new KvmError(what, errno());
  return r;
}

/**
 * KVM_RUN on the calling thread: 0, or -errno (EINTR when a signal kicked the vCPU out).
 * The hot path: no allocation, no exception.
 */
export function kvmRun(vcpuFd: number): number {
  const r = sym.ioctl_int(vcpuFd, RUN_REQUEST, 0n);
  return r < 0 ? -errno() : r;
}

/** KVM_RUN on a runtime thread (for measurement only): 0 or -1. */
export function kvmRunAsync(vcpuFd: number): Promise<number> {
  return sym.ioctl_int_async(vcpuFd, RUN_REQUEST, 0n);
}

/**
 * Starts a detached host thread at `code` (machine code taking one argument, `arg`, in rdi,
 * and never returning: it ends with the exit system call).
 */
export function startThread(code: Deno.PointerObject, arg: bigint): void {
  const id = new BigUint64Array(1);
  // SAFETY: code points at a sealed mapping (host/mman.ts sealCode) holding a complete routine
  // that follows the start-routine ABI, never unmapped while a thread may run it; arg is the
  // address of memory the caller keeps mapped for the thread's whole life (a runner's block),
  // and is only ever read by that routine, never dereferenced here.
  const r = sym.pthread_create(
    new Uint8Array(id.buffer),
    null,
    code,
    Deno.UnsafePointer.create(arg),
  );
  if (r !== 0) throw new KvmError("pthread_create", r);
  sym.pthread_detach(id[0]);
}

// Host signals.

const SIG_BLOCK = 0;

/** A kernel sigset_t (64 bits) with the given signals. */
export function sigset(...signos: number[]): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(8);
  let m = 0n;
  for (const s of signos) m |= 1n << BigInt(s - 1);
  new DataView(b.buffer).setBigUint64(0, m, true);
  return b;
}

/**
 * Blocks signo in the calling thread and returns the thread's mask from before, as a kernel
 * sigset_t (glibc's sigset_t is larger; its first 8 bytes are the kernel's).
 */
export function blockSignal(signo: number): Uint8Array<ArrayBuffer> {
  const set = new Uint8Array(128);
  set.set(sigset(signo));
  const old = new Uint8Array(128);
  const r = sym.pthread_sigmask(SIG_BLOCK, set, old);
  if (r !== 0) throw new KvmError("pthread_sigmask", r);
  return old.slice(0, 8);
}

/** Takes signo if it is pending for this thread (it must be blocked); never waits. */
export function takePendingSignal(signo: number, scratch: Uint8Array<ArrayBuffer>): boolean {
  // scratch: 8 bytes of sigset + 16 of a zero timespec.
  scratch.fill(0);
  scratch.set(sigset(signo));
  // SAFETY: scratch is alive across the call and holds the sigset (8 bytes) and the zero
  // timespec (16 bytes) the kernel reads; no siginfo pointer is passed.
  const sp = Deno.UnsafePointer.value(Deno.UnsafePointer.of(scratch));
  const r = rawSyscall(SYS.rt_sigtimedwait, BigInt(sp), 0n, BigInt(sp) + 8n, 8n);
  return r === BigInt(signo);
}

/** The calling thread's id. */
export function gettid(): number {
  return Number(rawSyscall(SYS.gettid));
}

/**
 * A periodic POSIX timer that sends signo to thread tid every periodNs; returns its id.
 */
export function threadTimer(signo: number, tid: number, periodNs: bigint): number {
  const ev = Sigevent.encode({ signo, notify: SIGEV_THREAD_ID, tid });
  const id = new Int32Array(1);
  // SAFETY: ev (a 64-byte struct sigevent) and id (the timer_t the kernel writes) outlive the
  // synchronous call; likewise spec (a struct itimerspec) below.
  const r = rawSyscall(
    SYS.timer_create,
    BigInt(CLOCK_MONOTONIC),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(ev))),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(id))),
  );
  if (r < 0n) throw new KvmError("timer_create", Number(-r));
  const spec = new BigInt64Array([0n, periodNs, 0n, periodNs]); // interval, value
  const s = rawSyscall(
    SYS.timer_settime,
    BigInt(id[0]),
    0n,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(spec))),
    0n,
  );
  if (s < 0n) throw new KvmError("timer_settime", Number(-s));
  return id[0];
}

export function deleteTimer(id: number): void {
  rawSyscall(SYS.timer_delete, BigInt(id));
}

const FUTEX_WAKE = 1;
const FUTEX_WAKE_PRIVATE = FUTEX_WAKE | 128;

/**
 * Wakes the threads waiting (FUTEX_WAIT_PRIVATE) on the 32-bit word at address; `shared`:
 * those of other processes waiting on the same page of a shared mapping (FUTEX_WAIT).
 */
export function futexWake(address: bigint, shared = false): void {
  rawSyscall(SYS.futex, address, BigInt(shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE), 0x7fff_ffffn);
}

/**
 * Resolves once the 32-bit word at address no longer holds `expected` and a waker called
 * futexWake (or at once if it already differs). `shared`: a word of a shared mapping that
 * another process wakes (FUTEX_WAIT, not private); `timeoutNs`: resolves after that long at
 * the latest.
 */
export async function futexWaitAsync(
  address: bigint,
  expected: number,
  opts: { shared?: boolean; timeoutNs?: bigint } = {},
): Promise<bigint> {
  const FUTEX_WAIT_PRIVATE = 128;
  let timeout: BigInt64Array<ArrayBuffer> | null = null;
  if (opts.timeoutNs !== undefined) {
    timeout = new BigInt64Array([opts.timeoutNs / 1_000_000_000n, opts.timeoutNs % 1_000_000_000n]);
  }
  // SAFETY: `timeout` stays referenced until the call returns (awaited below); the kernel reads
  // it once at the start of the wait.
  const r = await sym.futex_wait_async(
    BigInt(SYS.futex),
    address,
    BigInt(opts.shared ? 0 : FUTEX_WAIT_PRIVATE),
    BigInt(expected),
    timeout ? BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(timeout))) : 0n,
  );
  void timeout;
  return r;
}

const syncTimeout = new BigInt64Array(2);

/**
 * Waits on this thread, at most `timeoutNs`, while the 32-bit word at address of a shared
 * mapping (FUTEX_WAIT, not private) holds `expected`; returns the raw result (0, or -errno:
 * EAGAIN when it already differs, ETIMEDOUT). For waits known to be short: it blocks the
 * JavaScript thread.
 */
export function futexWaitShared(address: bigint, expected: number, timeoutNs: bigint): bigint {
  syncTimeout[0] = timeoutNs / 1_000_000_000n;
  syncTimeout[1] = timeoutNs % 1_000_000_000n;
  // SAFETY: syncTimeout is a module-level array, alive for the whole call.
  const ts = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(syncTimeout)));
  return rawSyscall(SYS.futex, address, 0n, BigInt(expected), ts);
}

/** Sends signo to thread tid of this process. */
export function tgkill(tid: number, signo: number): void {
  rawSyscall(SYS.tgkill, BigInt(Deno.pid), BigInt(tid), BigInt(signo));
}
