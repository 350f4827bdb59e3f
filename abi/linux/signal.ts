/**
 * Linux signal numbers, names and default actions (signal(7)).
 *
 * @module
 */

import { i32, i64, struct, u16, u32, u64 } from "./layout.ts";

export const SIG = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  PWR: 30,
  SYS: 31,
} as const;

export const SIGRTMIN = 32;
export const NSIG = 64;

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(SIG).map(([k, v]) => [v, `SIG${k}`]),
);

/** "SIGTERM", or "SIGRT<n>" for real-time signals. */
export function signalName(n: number): string {
  return NAMES[n] ?? (n >= SIGRTMIN && n <= NSIG ? `SIGRT${n - SIGRTMIN}` : `signal ${n}`);
}

export type DefaultAction = "term" | "core" | "ignore" | "stop" | "continue";

/** The action taken for a signal with SIG_DFL disposition. */
export function defaultAction(n: number): DefaultAction {
  switch (n) {
    case SIG.QUIT:
    case SIG.ILL:
    case SIG.TRAP:
    case SIG.ABRT:
    case SIG.BUS:
    case SIG.FPE:
    case SIG.SEGV:
    case SIG.XCPU:
    case SIG.XFSZ:
    case SIG.SYS:
      return "core";
    case SIG.CHLD:
    case SIG.URG:
    case SIG.WINCH:
      return "ignore";
    case SIG.STOP:
    case SIG.TSTP:
    case SIG.TTIN:
    case SIG.TTOU:
      return "stop";
    case SIG.CONT:
      return "continue";
    default:
      return "term";
  }
}

/** sigev_notify: how a timer's expiry is told (sigevent(7)). */
export const SIGEV_SIGNAL = 0;
export const SIGEV_NONE = 1;
export const SIGEV_THREAD = 2;
export const SIGEV_THREAD_ID = 4;

/**
 * struct sigevent (64 bytes): sigev_value, sigev_signo, sigev_notify, then a union of which
 * only SIGEV_THREAD_ID's thread id is read here.
 */
export const Sigevent = struct("sigevent", 64, {
  value: [0, u64],
  signo: [8, i32],
  notify: [12, i32],
  tid: [16, i32],
});

export const SIG_DFL = 0n;
export const SIG_IGN = 1n;

/** sa_flags. */
export const SA = {
  NOCLDSTOP: 0x1n,
  NOCLDWAIT: 0x2n,
  SIGINFO: 0x4n,
  RESTORER: 0x04000000n,
  ONSTACK: 0x08000000n,
  RESTART: 0x10000000n,
  NODEFER: 0x40000000n,
  RESETHAND: 0x80000000n,
} as const;

/** si_code values. */
export const SI = {
  USER: 0,
  KERNEL: 0x80,
  QUEUE: -1,
  TIMER: -2,
  TKILL: -6,
} as const;

/** SIGCHLD's si_code values. */
/** si_code values of SIGBUS. */
export const BUS = { ADRALN: 1, ADRERR: 2, OBJERR: 3 };
export const CLD = { EXITED: 1, KILLED: 2, DUMPED: 3, TRAPPED: 4, STOPPED: 5, CONTINUED: 6 };

/** ss_flags of stack_t. */
export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const SS_AUTODISARM = 1 << 31;

/** struct sigaction as rt_sigaction(2) passes it (the kernel's, with a 64-bit mask). */
export const Sigaction = struct("sigaction", 32, {
  handler: [0, u64],
  flags: [8, u64],
  restorer: [16, u64],
  mask: [24, u64],
});

/** stack_t (sigaltstack(2)). */
export const StackT = struct("stack_t", 24, { sp: [0, u64], flags: [8, i32], size: [16, u64] });

/** sizeof(siginfo_t). */
export const SIGINFO_SIZE = 128;

/**
 * siginfo_t is a header and a union chosen by signal and si_code; each member the Sentry
 * writes is a layout of its own, all sharing the header.
 */
const SIGINFO_HEAD = { signo: [0, i32], errno: [4, i32], code: [8, i32] } as const;

/** siginfo_t from kill(2), sigqueue(3), POSIX timers (pid: the timer id, uid: overruns). */
export const SiginfoKill = struct("siginfo_t (kill)", SIGINFO_SIZE, {
  ...SIGINFO_HEAD,
  pid: [16, i32],
  uid: [20, u32],
  value: [24, u64],
});

/** siginfo_t of SIGCHLD. */
export const SiginfoChld = struct("siginfo_t (sigchld)", SIGINFO_SIZE, {
  ...SIGINFO_HEAD,
  pid: [16, i32],
  uid: [20, u32],
  status: [24, i32],
  utime: [32, i64],
  stime: [40, i64],
});

/** siginfo_t of a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP). */
export const SiginfoFault = struct("siginfo_t (fault)", SIGINFO_SIZE, {
  ...SIGINFO_HEAD,
  addr: [16, u64],
});

/** siginfo_t of SIGPOLL/SIGIO and F_SETSIG signals (dnotify, O_ASYNC): the band and the fd. */
export const SiginfoPoll = struct("siginfo_t (poll)", SIGINFO_SIZE, {
  ...SIGINFO_HEAD,
  band: [16, i64],
  fd: [24, i32],
});

/** struct signalfd_siginfo (128 bytes), what a read of a signalfd returns. */
export const SignalfdSiginfo = struct("signalfd_siginfo", 128, {
  signo: [0, u32],
  errno: [4, i32],
  code: [8, i32],
  pid: [12, u32],
  uid: [16, u32],
  fd: [20, i32],
  tid: [24, u32],
  band: [28, u32],
  overrun: [32, u32],
  trapno: [36, u32],
  status: [40, i32],
  int: [44, i32],
  ptr: [48, u64],
  utime: [56, u64],
  stime: [64, u64],
  addr: [72, u64],
  addrLsb: [80, u16],
});
