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
  encodeSigInfoInto,
  SA,
  type SigAction,
  type SigInfo,
  SS_AUTODISARM,
  SS_DISABLE,
  SS_ONSTACK,
  UNBLOCKABLE,
} from "./signal.ts";
import type { Task } from "./task.ts";
import type { FpLayout } from "../../platform/platform.ts";
import {
  FP_XSTATE_MAGIC1,
  FP_XSTATE_MAGIC2,
  Fpstate64,
  FpxSwBytes,
  FXSAVE_SIZE,
  FXSAVE_SW_BYTES as SW_RESERVED,
  RtSigframe,
  UC_FP_XSTATE,
  UC_SIGCONTEXT_SS,
  UC_STRICT_RESTORE_SS,
  Ucontext,
  X86_TRAP_PF,
  XsaveHeader,
} from "../../abi/linux/sigframe.ts";

const REDZONE = 128n;
const FRAME_SIZE = RtSigframe.size;
const UC_OFF = RtSigframe.offsetOf("uc");
const INFO_OFF = RtSigframe.offsetOf("info");
const MXCSR = Fpstate64.offsetOf("mxcsr");
const MXCSR_MASK = Fpstate64.offsetOf("mxcsrMask");
/** The MXCSR bits taken as valid when the state reports no mask: every x86-64 CPU's 16. */
const MXCSR_DEFAULT_MASK = 0xffff;
/** The XSAVE header after the FXSAVE image: XSTATE_BV, XCOMP_BV, then reserved bytes. */
const XSTATE_BV = FXSAVE_SIZE + XsaveHeader.offsetOf("xfeatures");
const XSAVE_HEADER_END = FXSAVE_SIZE + XsaveHeader.size;
const XFEATURE_MASK_FPSSE = 3n;
/** Fields of the software bytes that sigreturn reads. */
const SW_MAGIC1 = SW_RESERVED + FpxSwBytes.offsetOf("magic1");
const SW_XFEATURES = SW_RESERVED + FpxSwBytes.offsetOf("xfeatures");
/** The flags a signal handler may change on return (FIX_EFLAGS). */
const FIX_EFLAGS = 0x50dd5n;
const USER_CS = 0x33n;
const USER_SS = 0x2bn;

// Deliveries and sigreturns build and read frames in buffers made once: they run without a
// pause from start to end on the Sentry's one thread, and an allocation per signal (native
// memory for the buffer, the collector's work to free it) cost more than the rest of it.
/** The frame as setupSignalFrame writes it to the stack. */
const frameBuf = new Uint8Array(FRAME_SIZE);
/** The ucontext that restoreSignalFrame reads. */
const ucBuf = new Uint8Array(Ucontext.size);
/** The FPU area that restoreSignalFrame reads, grown to the largest seen. */
let fpBuf = new Uint8Array(FXSAVE_SIZE);
/**
 * FP_XSTATE_MAGIC2, read or written after the area. Its DataView is made once: a DataView
 * of a small new array moves that array's bytes to native memory, which cost microseconds.
 */
const magic2Buf = new Uint8Array(4);
const magic2View = new DataView(magic2Buf.buffer);

/** `len` bytes of scratch for the FPU area. */
function fpScratch(len: number): Uint8Array<ArrayBuffer> {
  if (fpBuf.length < len) fpBuf = new Uint8Array(len);
  return fpBuf.subarray(0, len);
}

/** Fills `dst` from application memory at `addr`. Throws SysError(EFAULT) as copyIn does. */
function copyInto(t: Task, addr: bigint, dst: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  if (t.mm.copyInUpTo(addr, dst) < dst.length) throw new SysError(Errno.EFAULT);
  return dst;
}

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

  const b = frameBuf.fill(0);
  RtSigframe.encodeInto(b, 0, {
    pretcode: action.restorer,
    uc: {
      flags: BigInt(UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (xstate ? UC_FP_XSTATE : 0)),
      stack: {
        sp: alt.sp,
        flags: alt.size === 0n
          ? SS_DISABLE
          : (wasOnAlt ? SS_ONSTACK : 0) | (alt.flags & SS_AUTODISARM),
        size: alt.size,
      },
      mcontext: {
        gregs: SIGCONTEXT_REGS.map((r) => regs.r[r]),
        cs: Number(regs.r[R.cs] & 0xffffn),
        ss: Number(regs.r[R.ss] & 0xffffn),
        // A fault's address is reported as a page fault's (cr2), as Linux does.
        trapno: info.addr === undefined ? undefined : X86_TRAP_PF,
        cr2: info.addr,
        oldmask: oldMask & 0xffffffffn,
        fpstate: fpAddr,
      },
      sigmask: oldMask,
    },
  });
  encodeSigInfoInto(b, INFO_OFF, info);

  if (xstate) {
    // The platform's software bytes start with the features the area covers; the frame's
    // say what kind of area this is. Like Linux, the frame always marks x87 and SSE state
    // present, so that a handler that edits only the legacy image has its edits restored.
    const fv = new DataView(fp.buffer, fp.byteOffset, fp.length);
    const xfeatures = fv.getBigUint64(SW_RESERVED, true);
    fv.setBigUint64(XSTATE_BV, fv.getBigUint64(XSTATE_BV, true) | XFEATURE_MASK_FPSSE, true);
    fp.fill(0, SW_RESERVED, FXSAVE_SIZE);
    FpxSwBytes.encodeInto(fp, SW_RESERVED, {
      magic1: FP_XSTATE_MAGIC1,
      extendedSize: fp.length + 4,
      xfeatures,
      xstateSize: fp.length,
    });
    magic2View.setUint32(0, FP_XSTATE_MAGIC2, true);
    t.mm.copyOut(fpAddr + BigInt(fp.length), magic2Buf);
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
  const u = Ucontext.decode(copyInto(t, uc, ucBuf));
  const mc = u.mcontext;
  const eflags = regs.r[R.eflags];
  SIGCONTEXT_REGS.forEach((r, i) => (regs.r[r] = mc.gregs[i]));
  regs.r[R.eflags] = (eflags & ~FIX_EFLAGS) | (regs.r[R.eflags] & FIX_EFLAGS);
  regs.r[R.cs] = USER_CS;
  regs.r[R.ss] = USER_SS;
  t.setSignalMask(u.sigmask & ~UNBLOCKABLE);
  const ss = u.stack;
  if (!onAltStack(t, regs.rsp)) {
    t.altStack = ss.flags & SS_DISABLE
      ? { sp: 0n, flags: SS_DISABLE, size: 0n }
      : { sp: ss.sp, flags: ss.flags & SS_AUTODISARM, size: ss.size };
  }
  if (mc.fpstate !== 0n) t.ctx.setFpState(readFpState(t, mc.fpstate));
  return regs.r[R.rax];
}

/** The layout of FPU state `cur` (Context.fpState). */
function layoutOf(cur: Uint8Array<ArrayBuffer>): FpLayout {
  const v = new DataView(cur.buffer, cur.byteOffset, cur.length);
  return {
    size: cur.length,
    features: cur.length > FXSAVE_SIZE ? v.getBigUint64(SW_RESERVED, true) : 0n,
    mxcsrMask: v.getUint32(MXCSR_MASK, true),
  };
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
  const { size, features, mxcsrMask: mask } = t.ctx.fpLayout?.() ?? layoutOf(t.ctx.fpState());
  // Every byte is read once (the FXSAVE image first, the rest after it): another thread may
  // change the frame meanwhile, and what was checked must be what reaches the platform.
  const area = fpScratch(Math.max(size, FXSAVE_SIZE));
  const fx = copyInto(t, addr, area.subarray(0, FXSAVE_SIZE));
  const v = new DataView(fx.buffer, fx.byteOffset, FXSAVE_SIZE);
  const mxcsrMask = mask || MXCSR_DEFAULT_MASK;
  if (v.getUint32(MXCSR, true) & ~mxcsrMask) throw new SysError(Errno.EFAULT);
  if (size <= FXSAVE_SIZE) return fx;
  let restore = XFEATURE_MASK_FPSSE;
  const av = new DataView(area.buffer, area.byteOffset, size);
  const m2 = av.getUint32(SW_MAGIC1, true) === FP_XSTATE_MAGIC1
    ? (copyInto(t, addr + BigInt(size), magic2Buf), magic2View.getUint32(0, true))
    : 0;
  if (m2 === FP_XSTATE_MAGIC2) {
    copyInto(t, addr + BigInt(FXSAVE_SIZE), area.subarray(FXSAVE_SIZE));
    restore = av.getBigUint64(SW_XFEATURES, true) & features;
    // XSTATE_BV names only enabled features; XCOMP_BV and the reserved rest of the header
    // are zero in the standard format.
    if (av.getBigUint64(XSTATE_BV, true) & ~features) throw new SysError(Errno.EFAULT);
    for (let o = XSTATE_BV + 8; o < XSAVE_HEADER_END; o += 4) {
      if (av.getUint32(o, true) !== 0) throw new SysError(Errno.EFAULT);
    }
  } else {
    // Only the legacy image is restored (as FXRSTOR would); everything else is reset.
    area.fill(0, FXSAVE_SIZE);
    av.setBigUint64(XSTATE_BV, XFEATURE_MASK_FPSSE, true);
  }
  av.setBigUint64(XSTATE_BV, av.getBigUint64(XSTATE_BV, true) & restore, true);
  // Give the platform back the software bytes it expects: the task's features first.
  area.fill(0, SW_RESERVED, FXSAVE_SIZE);
  av.setBigUint64(SW_RESERVED, features, true);
  return area;
}
