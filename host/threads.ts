/**
 * Capabilities on every thread of this process.
 *
 * Linux keeps capabilities and no_new_privs per thread: capset(2) and PR_CAPBSET_DROP change the
 * calling thread only, and Deno has started several threads (V8 platform workers, tokio) before
 * any of our code runs. A process that needs capabilities to set itself up (mounts, pivot_root)
 * and not afterwards must drop them on each of those threads, as glibc does for setuid(2): it
 * sends each thread a signal whose handler makes the calls on that thread.
 *
 * The handler cannot be JavaScript (it runs on threads that have no isolate), so it is a few
 * bytes of machine code in a page of our own, mapped read+exec after it is written: a list of
 * prctl(PR_CAPBSET_DROP, c), prctl(PR_SET_NO_NEW_PRIVS, 1) and capset(). The JavaScript thread
 * then reads every thread's /proc status and fails unless each shows exactly the sets asked for;
 * it repeats until a pass finds no thread it had not confined (a thread created meanwhile by a
 * confined thread inherits its sets; one created by an unconfined thread is signalled next pass).
 *
 * @module
 */

import { HostError, rawSyscall } from "./libc.ts";
import { CAP_LAST_CAP } from "./namespace.ts";
import { SYS } from "../abi/linux/syscalls.ts";
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PAGE_SIZE as PAGE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../abi/linux/mm.ts";
import { SA } from "../abi/linux/signal.ts";
import { _LINUX_CAPABILITY_VERSION_3 } from "../abi/linux/capability.ts";

const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const LINUX_CAPABILITY_VERSION_3 = _LINUX_CAPABILITY_VERSION_3;
const SA_RESTORER = Number(SA.RESTORER);
const SA_RESTART = Number(SA.RESTART);
/**
 * The signal used: a real-time one that neither glibc (32, 33), Deno nor V8 uses; its handler
 * is ours only for the duration of the call, and the previous one is put back.
 */
const SIGNAL = 62;

/** The capability sets one thread shows in /proc/<pid>/task/<tid>/status. */
export interface ThreadCreds {
  tid: number;
  capEff: bigint;
  capPrm: bigint;
  capInh: bigint;
  capBnd: bigint;
  capAmb: bigint;
  noNewPrivs: number;
  seccomp: number;
}

/** Reads the credentials of every thread of `pid` (this process by default). */
export function threadCreds(pid: number | "self" = "self"): ThreadCreds[] {
  const out: ThreadCreds[] = [];
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/status`);
    } catch {
      continue; // the thread ended
    }
    const field = (name: string) => text.match(new RegExp(`^${name}:\\s*(\\S+)`, "m"))?.[1];
    const hex = (name: string) => BigInt(`0x${field(name) ?? "ffffffffffffffff"}`);
    out.push({
      tid: Number(e.name),
      capEff: hex("CapEff"),
      capPrm: hex("CapPrm"),
      capInh: hex("CapInh"),
      capBnd: hex("CapBnd"),
      capAmb: hex("CapAmb"),
      noNewPrivs: Number(field("NoNewPrivs") ?? -1),
      seccomp: Number(field("Seccomp") ?? -1),
    });
  }
  return out;
}

/** The mask of capabilities `caps` (numbers from linux/capability.h). */
export function capMask(caps: readonly number[]): bigint {
  let m = 0n;
  for (const c of caps) m |= 1n << BigInt(c);
  return m;
}

/** Appends little-endian bytes of `v` (`n` bytes). */
function le(out: number[], v: bigint | number, n: number): void {
  let x = BigInt(v);
  for (let i = 0; i < n; i++, x >>= 8n) out.push(Number(x & 0xffn));
}

/** Appends `mov edi, v`, `mov esi, v`, `mov eax, v` and `syscall` to machine code. */
function asm(c: number[]) {
  return {
    movEdi: (v: number) => (c.push(0xbf), le(c, v, 4)),
    movEsi: (v: number) => (c.push(0xbe), le(c, v, 4)),
    movEax: (v: number) => (c.push(0xb8), le(c, v, 4)),
    syscall: () => c.push(0x0f, 0x05),
  };
}

/**
 * The handler's machine code: drop every capability not in `mask` from the bounding set, set
 * no_new_privs, then capset (header and data at `hdr`, `data`). It clobbers only registers the
 * kernel restores at rt_sigreturn; it calls nothing, so the stack's alignment does not matter.
 */
function capsCode(mask: bigint, hdr: bigint, data: bigint): number[] {
  const c: number[] = [];
  const { movEdi, movEsi, movEax, syscall } = asm(c);
  for (let cap = 0; cap <= CAP_LAST_CAP; cap++) {
    if (mask & (1n << BigInt(cap))) continue;
    movEdi(PR_CAPBSET_DROP), movEsi(cap), movEax(SYS.prctl), syscall();
  }
  c.push(...noNewPrivsCode());
  c.push(0x48, 0xbf), le(c, hdr, 8); // movabs rdi, hdr
  c.push(0x48, 0xbe), le(c, data, 8); // movabs rsi, data
  movEax(SYS.capset), syscall();
  return c;
}

/** prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0). */
function noNewPrivsCode(): number[] {
  const c: number[] = [];
  const { movEdi, movEsi, movEax, syscall } = asm(c);
  // PR_SET_NO_NEW_PRIVS insists that arguments 3-5 be zero.
  c.push(0x31, 0xd2); // xor edx, edx
  c.push(0x45, 0x31, 0xd2); // xor r10d, r10d
  c.push(0x45, 0x31, 0xc0); // xor r8d, r8d
  movEdi(PR_SET_NO_NEW_PRIVS), movEsi(1), movEax(SYS.prctl), syscall();
  return c;
}

/** The most threads whose result the landlock handler records (its table's slots). */
const RECORD_SLOTS = 256;

/**
 * The handler's machine code for Landlock: set no_new_privs (landlock_restrict_self wants it
 * of a thread without CAP_SYS_ADMIN), call landlock_restrict_self(rulesetFd, 0), and record
 * the thread's id and the call's result in the table at `table`: a counter (u64), then slots
 * of {tid: i32, result: i32}. The JavaScript side reads the table: Linux shows a thread's
 * Landlock domain nowhere in /proc.
 */
function landlockCode(rulesetFd: number, table: bigint): number[] {
  const c = noNewPrivsCode();
  const { movEdi, movEax, syscall } = asm(c);
  movEdi(rulesetFd), c.push(0x31, 0xf6), movEax(SYS.landlock_restrict_self), syscall(); // xor esi,esi
  c.push(0x41, 0x89, 0xc0); // mov r8d, eax: the result
  movEax(SYS.gettid), syscall();
  c.push(0xb9), le(c, 1, 4); // mov ecx, 1
  c.push(0x48, 0xba), le(c, table, 8); // movabs rdx, table
  c.push(0xf0, 0x0f, 0xc1, 0x0a); // lock xadd [rdx], ecx: ecx = this thread's slot
  c.push(0x81, 0xe1), le(c, RECORD_SLOTS - 1, 4); // and ecx, RECORD_SLOTS - 1
  c.push(0x89, 0x44, 0xca, 0x08); // mov [rdx + rcx*8 + 8], eax: the tid
  c.push(0x44, 0x89, 0x44, 0xca, 0x0c); // mov [rdx + rcx*8 + 12], r8d: the result
  return c;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Runs machine code on every thread of this process, from a signal handler: `code` is given
 * the address of a read+write data page (which `init` fills first) and returns the handler's
 * body. `done` says whether a thread shows the outcome; threads are signalled (each once)
 * until a pass finds every thread done. Throws HostError naming `what` otherwise.
 */
function onEveryThread(
  what: string,
  code: (data: bigint) => number[],
  init: (data: DataView) => void,
  done: (t: ThreadCreds, data: DataView) => boolean,
): void {
  const pid = Number(rawSyscall(SYS.getpid));
  // Page 0: code (read+exec); page 1: the handler's data (read+write).
  const base = rawSyscall(
    SYS.mmap,
    0n,
    BigInt(2 * PAGE),
    BigInt(PROT_READ | PROT_WRITE),
    BigInt(MAP_PRIVATE | MAP_ANONYMOUS),
    -1n,
    0n,
  );
  if (base < 0n) throw new HostError(`mmap of the ${what} handler`, Number(-base));
  const restorer: number[] = [];
  restorer.push(0xb8), le(restorer, SYS.rt_sigreturn, 4), restorer.push(0x0f, 0x05);
  const handler = [...restorer, ...code(base + BigInt(PAGE)), 0xc3]; // ret
  if (handler.length > PAGE) throw new RangeError(`threads: ${what} handler exceeds a page`);
  // SAFETY: `base` is a fresh private mapping of two pages, read+write, that only this
  // function knows; we write within it before making the first page read+exec.
  const view = new Deno.UnsafePointerView(Deno.UnsafePointer.create(base)!);
  const bytes = new Uint8Array(view.getArrayBuffer(2 * PAGE));
  bytes.set(handler);
  const dv = new DataView(bytes.buffer, PAGE);
  init(dv);
  const prot = rawSyscall(SYS.mprotect, base, BigInt(PAGE), BigInt(PROT_READ | PROT_EXEC));
  if (prot < 0n) throw new HostError(`mprotect of the ${what} handler`, Number(-prot));

  // struct kernel_sigaction { handler; flags; restorer; mask }
  const act = new BigUint64Array([
    base + BigInt(restorer.length),
    BigInt(SA_RESTORER | SA_RESTART),
    base,
    0xffff_ffff_ffff_ffffn, // block every signal while the handler runs
  ]);
  const old = new BigUint64Array(4);
  // SAFETY: act and old stay referenced until the synchronous rt_sigaction below returns.
  const ptr = (a: BigUint64Array<ArrayBuffer>) =>
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)));
  const r = rawSyscall(SYS.rt_sigaction, BigInt(SIGNAL), ptr(act), ptr(old), 8n);
  if (r < 0n) throw new HostError("rt_sigaction", Number(-r));
  try {
    const signalled = new Set<number>();
    const deadline = Date.now() + 5000;
    for (;;) {
      const threads = threadCreds();
      const pending = threads.filter((t) => !done(t, dv));
      if (pending.length === 0) break;
      if (Date.now() > deadline) {
        throw new HostError(`threads ${pending.map((t) => t.tid).join(", ")}: ${what}`, 0);
      }
      for (const t of pending) {
        if (signalled.has(t.tid)) continue;
        signalled.add(t.tid);
        const k = rawSyscall(SYS.tgkill, BigInt(pid), BigInt(t.tid), BigInt(SIGNAL));
        // ESRCH: the thread ended meanwhile.
        if (k < 0n && k !== -3n) throw new HostError(`tgkill thread ${t.tid}`, Number(-k));
      }
      sleep(1);
    }
  } finally {
    // Put the previous handler back; a late signal would otherwise run unmapped code.
    rawSyscall(SYS.rt_sigaction, BigInt(SIGNAL), ptr(old), 0n, 8n);
    void act, old;
  }
  // The code page stays mapped: a signal queued to a thread but not yet delivered when the
  // old handler was restored is then handled by the old handler, never by freed memory; the
  // two pages are the whole cost.
}

/**
 * Reduces every thread of this process to the capabilities in `keep` (effective and permitted;
 * the bounding set too, so that no exec regains the others; inheritable and ambient empty) and
 * sets no_new_privs on each. Throws HostError unless every thread then shows exactly that.
 */
export function limitCapabilitiesEverywhere(keep: readonly number[]): void {
  const mask = capMask(keep);
  // The data page holds the capset header (16 bytes) and data.
  onEveryThread(
    "drop capabilities",
    (page) => capsCode(mask, page, page + 16n),
    (dv) => {
      dv.setUint32(0, LINUX_CAPABILITY_VERSION_3, true);
      dv.setUint32(4, 0, true); // pid 0: the calling thread
      const lo = Number(mask & 0xffff_ffffn), hi = Number(mask >> 32n);
      [lo, lo, 0, hi, hi, 0].forEach((w, i) => dv.setUint32(16 + 4 * i, w, true));
    },
    (t) =>
      t.capEff === mask && t.capPrm === mask && t.capBnd === mask && t.capInh === 0n &&
      t.capAmb === 0n && t.noNewPrivs === 1,
  );
}

/**
 * Enforces the Landlock ruleset `rulesetFd` on every thread of this process
 * (landlock_restrict_self applies to the calling thread only, and no flag of this kernel's
 * Landlock makes it apply to all), setting no_new_privs on each. Threads and processes made
 * afterwards inherit the domain. Throws HostError if a thread's landlock_restrict_self failed.
 */
export function landlockEverywhere(rulesetFd: number): void {
  let failed: { tid: number; errno: number } | undefined;
  onEveryThread(
    "landlock_restrict_self",
    (page) => landlockCode(rulesetFd, page),
    (dv) => dv.setBigUint64(0, 0n, true),
    (t, dv) => {
      const n = Number(dv.getBigUint64(0, true));
      // Past the table, slots were written over: no record can be trusted.
      if (n > RECORD_SLOTS) throw new HostError(`landlock: more than ${RECORD_SLOTS} threads`, 0);
      for (let i = 0; i < n; i++) {
        if (dv.getInt32(8 + 8 * i, true) !== t.tid) continue;
        const r = dv.getInt32(12 + 8 * i, true);
        if (r < 0) failed ??= { tid: t.tid, errno: -r };
        return true;
      }
      return false;
    },
  );
  if (failed) {
    throw new HostError(`landlock_restrict_self on thread ${failed.tid}`, failed.errno);
  }
}
