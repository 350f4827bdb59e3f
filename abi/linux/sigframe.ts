/**
 * The x86-64 signal frame: struct sigcontext, struct ucontext and struct rt_sigframe, and the
 * software bytes (struct _fpx_sw_bytes) an XSAVE area carries in its FXSAVE image.
 *
 * @module
 */

import { array, bytes, struct, u16, u32, u64 } from "./layout.ts";
import { SIGINFO_SIZE, StackT } from "./signal.ts";

/**
 * struct sigcontext: the general registers in the order platform/registers.ts's
 * SIGCONTEXT_REGS names them (r8 ... r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip,
 * eflags), then the segment selectors and the fault details.
 */
export const Sigcontext = struct("sigcontext", 256, {
  gregs: [0, array(u64, 18)],
  cs: [144, u16],
  gs: [146, u16],
  fs: [148, u16],
  ss: [150, u16],
  err: [152, u64],
  trapno: [160, u64],
  oldmask: [168, u64],
  cr2: [176, u64],
  fpstate: [184, u64],
});

/** struct ucontext (uc_sigmask is the kernel's 64-bit sigset_t). */
export const Ucontext = struct("ucontext", 304, {
  flags: [0, u64],
  link: [8, u64],
  stack: [16, StackT],
  mcontext: [40, Sigcontext],
  sigmask: [296, u64],
});

/** struct rt_sigframe: the return address a handler returns to, its ucontext and siginfo. */
export const RtSigframe = struct("rt_sigframe", 8 + 304 + SIGINFO_SIZE, {
  pretcode: [0, u64],
  uc: [8, Ucontext],
  info: [312, bytes(SIGINFO_SIZE)],
});

/** uc_flags. */
export const UC_FP_XSTATE = 1;
export const UC_SIGCONTEXT_SS = 2;
export const UC_STRICT_RESTORE_SS = 4;

/**
 * struct _fpstate_64: the FXSAVE image (x87, MXCSR, the XMM registers) a frame's fpstate points
 * at. An XSAVE area continues it: its header (struct _header) follows at FXSAVE_SIZE.
 */
export const Fpstate64 = struct("_fpstate_64", 512, {
  cwd: [0, u16],
  swd: [2, u16],
  twd: [4, u16],
  fop: [6, u16],
  rip: [8, u64],
  rdp: [16, u64],
  mxcsr: [24, u32],
  mxcsrMask: [28, u32],
  st: [32, bytes(128)],
  xmm: [160, bytes(256)],
  swReserved: [464, bytes(48)],
});

/** The XSAVE header (struct _header): which components the area holds, and its format. */
export const XsaveHeader = struct("_header", 64, {
  xfeatures: [0, u64],
  xcompBv: [8, u64],
  reserved: [16, bytes(48)],
});

/** struct _fpx_sw_bytes: in the FXSAVE image's software-reserved bytes, at FXSAVE_SW_BYTES. */
export const FpxSwBytes = struct("_fpx_sw_bytes", 48, {
  magic1: [0, u32],
  extendedSize: [4, u32],
  xfeatures: [8, u64],
  xstateSize: [16, u32],
});
/** The offset of the software-reserved bytes in the FXSAVE image. */
export const FXSAVE_SW_BYTES = 464;
export const FXSAVE_SIZE = 512;
export const FP_XSTATE_MAGIC1 = 0x46505853;
/** Follows an XSAVE area in a signal frame. */
export const FP_XSTATE_MAGIC2 = 0x46505845;

/** si_code/trapno of a page fault (X86_TRAP_PF). */
export const X86_TRAP_PF = 14n;
