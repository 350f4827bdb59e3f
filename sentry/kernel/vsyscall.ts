/**
 * The legacy vsyscall page (0xffffffffff600000): old static binaries call gettimeofday, time
 * and getcpu at fixed addresses there, with no `syscall` instruction. The host kernel would
 * serve them itself, so no platform may let them reach it: the ptrace platform's stub filter
 * turns them into a SIGSYS stop, and under KVM the instruction fetch faults in the guest. Both
 * come back as a fault at the entry's address with rip there and the return address at [rsp],
 * and the task serves the call here, as Linux's vsyscall emulation does: the call runs in the
 * Sentry (so with its clock, and through --strace), its results go to the pointer arguments,
 * and a `ret` is emulated; a pointer that cannot be written gives SIGSEGV at that pointer and
 * the call does not return.
 *
 * @module
 */

import { R } from "../../platform/registers.ts";
import type { SwitchResult } from "../../platform/platform.ts";
import { Errno } from "../../abi/linux/errno.ts";
import { SYS, SYSCALL_NAMES } from "../../abi/linux/syscalls.ts";
import type { Task } from "./task.ts";
import { SIG } from "../../abi/linux/signal.ts";

/** Where the page is. */
export const VSYSCALL_ADDR = 0xffff_ffff_ff60_0000n;
/** The entries, 1 KiB apart, and the system call each stands for. */
const ENTRIES = new Map<bigint, number>([
  [VSYSCALL_ADDR, SYS.gettimeofday],
  [VSYSCALL_ADDR + 0x400n, SYS.time],
  [VSYSCALL_ADDR + 0x800n, SYS.getcpu],
]);
const SEGV_MAPERR = 1;
const SI_KERNEL = 0x80;

/** True if `r` is an entry into the vsyscall page that the Sentry must serve. */
export function isVsyscallCall(r: SwitchResult, rip: bigint): boolean {
  return r.kind === "fault" && r.addr === rip && ENTRIES.has(rip);
}

/**
 * Serves the vsyscall entry at t's rip (precondition: isVsyscallCall). Every outcome the
 * application can cause (a bad stack, bad pointers) is a signal to it, never an error here.
 */
export async function emulateVsyscall(t: Task): Promise<void> {
  const regs = t.regs;
  const nr = ENTRIES.get(regs.rip)!;
  let caller: bigint;
  try {
    caller = t.mm.readU64(regs.rsp);
  } catch {
    // Linux: a stack it cannot read the return address from is a SIGSEGV.
    t.forceSignal({ signo: SIG.SEGV, errno: 0, code: SI_KERNEL, addr: 0n });
    return;
  }
  const entryRip = regs.rip;
  regs.r[R.orig_rax] = BigInt(nr);
  t.kernel.log.debug(`tid ${t.tid}: vsyscall ${SYSCALL_NAMES[nr]} served by the Sentry`);
  const waiting = t.kernel.syscalls.dispatch(t);
  if (waiting) await waiting;
  regs.r[R.orig_rax] = 0xffff_ffff_ffff_ffffn;
  const ret = BigInt.asIntN(64, regs.r[R.rax]);
  if (ret === -BigInt(Errno.EFAULT)) {
    // The first pointer argument that was given, as Linux's check of each one finds it.
    const bad = [regs.arg(0), regs.arg(1)].find((p) => p !== 0n) ?? 0n;
    regs.rip = entryRip;
    t.forceSignal({ signo: SIG.SEGV, errno: 0, code: SEGV_MAPERR, addr: bad });
    return;
  }
  regs.rip = caller;
  regs.rsp = regs.rsp + 8n;
}
