/**
 * Linux signal numbers, names and default actions (signal(7)).
 *
 * @module
 */

import { i32, struct, u64 } from "./layout.ts";

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
