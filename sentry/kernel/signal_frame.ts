/**
 * The x86-64 signal frame (struct rt_sigframe): what a handler receives on its stack, and
 * what rt_sigreturn(2) restores from.
 *
 * Layout: pretcode (8) | ucontext (304: flags, link, stack_t, sigcontext, sigmask) |
 * siginfo (128); the FPU state sits below the red zone, 64-byte aligned, and sigcontext.fpstate
 * points at it. With a whole XSAVE area (AVX and beyond) it is marked as Linux marks it: the
 * software bytes of the FXSAVE image carry FP_XSTATE_MAGIC1 and the sizes, FP_XSTATE_MAGIC2
 * follows the area, and uc_flags has UC_FP_XSTATE.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { R, SIGCONTEXT_REGS } from "../../platform/registers.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  encodeSigInfo,
  SA,
  type SigAction,
  type SigInfo,
  SIGINFO_SIZE,
  SS_AUTODISARM,
  SS_DISABLE,
  SS_ONSTACK,
  UNBLOCKABLE,
} from "./signal.ts";
import type { Task } from "./task.ts";

const REDZONE = 128n;
const FXSAVE_SIZE = 512;
const UCONTEXT_SIZE = 304;
const FRAME_SIZE = 8 + UCONTEXT_SIZE + SIGINFO_SIZE;
const UC_OFF = 8;
const MCONTEXT_OFF = UC_OFF + 40;
const SIGMASK_OFF = UC_OFF + 296;
const INFO_OFF = UC_OFF + UCONTEXT_SIZE;
const UC_FP_XSTATE = 1;
const UC_SIGCONTEXT_SS = 2;
const FP_XSTATE_MAGIC1 = 0x46505853;
const FP_XSTATE_MAGIC2 = 0x46505845;
/** Offset of the software-reserved bytes in the FXSAVE image. */
const SW_RESERVED = 464;
/** Offsets of MXCSR and MXCSR_MASK in the FXSAVE image. */
const MXCSR = 24;
const MXCSR_MASK = 28;
/** The MXCSR bits taken as valid when the state reports no mask: every x86-64 CPU's 16. */
const MXCSR_DEFAULT_MASK = 0xffff;
/** The XSAVE header: XSTATE_BV, XCOMP_BV, then reserved bytes up to its end. */
const XSTATE_BV = 512;
const XSAVE_HEADER_END = 576;
const XFEATURE_MASK_FPSSE = 3n;
const UC_STRICT_RESTORE_SS = 4;
/** The flags a signal handler may change on return (FIX_EFLAGS). */
const FIX_EFLAGS = 0x50dd5n;
const USER_CS = 0x33n;
const USER_SS = 0x2bn;

/** True if sp lies on the task's alternate signal stack. */
export function onAltStack(t: Task, sp: bigint): boolean {
  const s = t.altStack;
  return s.size > 0n && sp > s.sp && sp - s.sp <= s.size;
}

/**
 * Builds the frame for `info` on the task's stack and points the registers at the handler.
 * `oldMask` is the mask to restore on sigreturn. Throws SysError(EFAULT) when the stack is not
 * writable; the caller then forces SIGSEGV, as Linux does.
 */
export function setupSignalFrame(t: Task, info: SigInfo, action: SigAction, oldMask: bigint) {
  const regs = t.regs;
  if (!(action.flags & SA.RESTORER)) throw new SysError(Errno.EFAULT);
  let sp = regs.rsp - REDZONE;
  const alt = t.altStack;
  const wasOnAlt = onAltStack(t, regs.rsp);
  if ((action.flags & SA.ONSTACK) && alt.size > 0n && !wasOnAlt) {
    sp = alt.sp + alt.size;
  }
  const fp = t.ctx.fpState();
  const xstate = fp.length > FXSAVE_SIZE;
  sp = (sp - BigInt(fp.length + (xstate ? 4 : 0))) & ~63n;
  const fpAddr = sp;
  const frame = ((sp - BigInt(FRAME_SIZE)) & ~15n) - 8n;

  const b = new Uint8Array(FRAME_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, action.restorer, true);
  v.setBigUint64(
    UC_OFF,
    BigInt(UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (xstate ? UC_FP_XSTATE : 0)),
    true,
  );
  v.setBigUint64(UC_OFF + 16, alt.sp, true);
  v.setInt32(
    UC_OFF + 24,
    alt.size === 0n ? SS_DISABLE : (wasOnAlt ? SS_ONSTACK : 0) | (alt.flags & SS_AUTODISARM),
    true,
  );
  v.setBigUint64(UC_OFF + 32, alt.size, true);
  SIGCONTEXT_REGS.forEach((r, i) => v.setBigUint64(MCONTEXT_OFF + i * 8, regs.r[r], true));
  v.setUint16(MCONTEXT_OFF + 144, Number(regs.r[R.cs]), true);
  v.setUint16(MCONTEXT_OFF + 150, Number(regs.r[R.ss]), true);
  if (info.addr !== undefined) {
    v.setBigUint64(MCONTEXT_OFF + 160, 14n, true); // trapno: page fault
    v.setBigUint64(MCONTEXT_OFF + 176, info.addr, true); // cr2
  }
  v.setBigUint64(MCONTEXT_OFF + 168, oldMask & 0xffffffffn, true); // oldmask
  v.setBigUint64(MCONTEXT_OFF + 184, fpAddr, true);
  v.setBigUint64(SIGMASK_OFF, oldMask, true);
  b.set(encodeSigInfo(info), INFO_OFF);

  if (xstate) {
    // The platform's software bytes start with the features the area covers; the frame's
    // say what kind of area this is. Like Linux, the frame always marks x87 and SSE state
    // present, so that a handler that edits only the legacy image has its edits restored.
    const fv = new DataView(fp.buffer);
    const xfeatures = fv.getBigUint64(SW_RESERVED, true);
    fv.setBigUint64(XSTATE_BV, fv.getBigUint64(XSTATE_BV, true) | XFEATURE_MASK_FPSSE, true);
    fp.fill(0, SW_RESERVED, FXSAVE_SIZE);
    fv.setUint32(SW_RESERVED, FP_XSTATE_MAGIC1, true);
    fv.setUint32(SW_RESERVED + 4, fp.length + 4, true);
    fv.setBigUint64(SW_RESERVED + 8, xfeatures, true);
    fv.setUint32(SW_RESERVED + 16, fp.length, true);
    const m2 = new Uint8Array(4);
    new DataView(m2.buffer).setUint32(0, FP_XSTATE_MAGIC2, true);
    t.mm.copyOut(fpAddr + BigInt(fp.length), m2);
  }
  t.mm.copyOut(fpAddr, fp);
  t.mm.copyOut(frame, b);
  if (alt.flags & SS_AUTODISARM) t.altStack = { sp: 0n, flags: SS_DISABLE, size: 0n };

  regs.r[R.rdi] = BigInt(info.signo);
  regs.r[R.rsi] = frame + BigInt(INFO_OFF);
  regs.r[R.rdx] = frame + BigInt(UC_OFF);
  regs.r[R.rax] = 0n;
  regs.rsp = frame;
  regs.rip = action.handler;
  regs.r[R.cs] = USER_CS;
  regs.r[R.ss] = USER_SS;
  // The handler starts with the direction and trap flags clear, as the ABI requires.
  regs.r[R.eflags] &= ~(0x400n | 0x100n | 0x40000n);
}

/**
 * Implements the heart of rt_sigreturn(2): restores registers, mask, alternate stack and FPU
 * state from the frame whose ucontext is at rsp. Returns the restored rax.
 */
export function restoreSignalFrame(t: Task): bigint {
  const regs = t.regs;
  const uc = regs.rsp;
  const b = t.mm.copyIn(uc, UCONTEXT_SIZE);
  const v = new DataView(b.buffer);
  const mc = MCONTEXT_OFF - UC_OFF;
  const eflags = regs.r[R.eflags];
  SIGCONTEXT_REGS.forEach((r, i) => (regs.r[r] = v.getBigUint64(mc + i * 8, true)));
  regs.r[R.eflags] = (eflags & ~FIX_EFLAGS) | (regs.r[R.eflags] & FIX_EFLAGS);
  regs.r[R.cs] = USER_CS;
  regs.r[R.ss] = USER_SS;
  t.setSignalMask(v.getBigUint64(SIGMASK_OFF - UC_OFF, true) & ~UNBLOCKABLE);
  const ssSp = v.getBigUint64(16, true);
  const ssFlags = v.getInt32(24, true);
  const ssSize = v.getBigUint64(32, true);
  if (!onAltStack(t, regs.rsp)) {
    t.altStack = ssFlags & SS_DISABLE
      ? { sp: 0n, flags: SS_DISABLE, size: 0n }
      : { sp: ssSp, flags: ssFlags & SS_AUTODISARM, size: ssSize };
  }
  const fp = v.getBigUint64(mc + 184, true);
  if (fp !== 0n) t.ctx.setFpState(readFpState(t, fp));
  return regs.r[R.rax];
}

/**
 * The FPU state a frame holds, as Linux's sigreturn reads it: the whole area (the size the
 * task's own state has, never one the frame claims) when FP_XSTATE_MAGIC1 is in the software
 * bytes and FP_XSTATE_MAGIC2 right after the area, else only the FXSAVE image. Components the
 * frame does not restore (its xfeatures or XSTATE_BV leave them out) go back to their initial
 * state, as XRSTOR leaves them. What XRSTOR would fault on (reserved MXCSR bits, features
 * not enabled, a compacted or non-zero reserved header) fails the sigreturn, as on Linux,
 * rather than reaching the platform.
 */
function readFpState(t: Task, addr: bigint): Uint8Array<ArrayBuffer> {
  const cur = t.ctx.fpState();
  const cv = new DataView(cur.buffer);
  const fx = t.mm.copyIn(addr, FXSAVE_SIZE);
  const v = new DataView(fx.buffer);
  const mxcsrMask = cv.getUint32(MXCSR_MASK, true) || MXCSR_DEFAULT_MASK;
  if (v.getUint32(MXCSR, true) & ~mxcsrMask) throw new SysError(Errno.EFAULT);
  const size = cur.length;
  if (size <= FXSAVE_SIZE) return fx;
  const features = cv.getBigUint64(SW_RESERVED, true);
  let area: Uint8Array<ArrayBuffer>;
  let restore = XFEATURE_MASK_FPSSE;
  const m2 = v.getUint32(SW_RESERVED, true) === FP_XSTATE_MAGIC1
    ? new DataView(t.mm.copyIn(addr + BigInt(size), 4).buffer).getUint32(0, true)
    : 0;
  if (m2 === FP_XSTATE_MAGIC2) {
    area = t.mm.copyIn(addr, size);
    restore = new DataView(area.buffer).getBigUint64(SW_RESERVED + 8, true) & features;
    // XSTATE_BV names only enabled features; XCOMP_BV and the reserved rest of the header
    // are zero in the standard format.
    if (
      new DataView(area.buffer).getBigUint64(XSTATE_BV, true) & ~features ||
      area.subarray(XSTATE_BV + 8, XSAVE_HEADER_END).some((b) => b !== 0)
    ) {
      throw new SysError(Errno.EFAULT);
    }
  } else {
    // Only the legacy image is restored (as FXRSTOR would); everything else is reset.
    area = new Uint8Array(size);
    area.set(fx);
    new DataView(area.buffer).setBigUint64(XSTATE_BV, XFEATURE_MASK_FPSSE, true);
  }
  const av = new DataView(area.buffer);
  av.setBigUint64(XSTATE_BV, av.getBigUint64(XSTATE_BV, true) & restore, true);
  // Give the platform back the software bytes it expects: the task's features first.
  area.fill(0, SW_RESERVED, FXSAVE_SIZE);
  av.setBigUint64(SW_RESERVED, features, true);
  return area;
}
