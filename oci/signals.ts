/**
 * Linux signal names and numbers (x86-64) for `runsc kill`.
 *
 * @module
 */

import { SIG } from "../abi/linux/signal.ts";

/**
 * Signal numbers by name, without the SIG prefix: the kernel's names and the aliases that
 * kill(1) accepts.
 */
export const SIGNALS: Readonly<Record<string, number>> = {
  ...SIG,
  IOT: SIG.ABRT,
  CLD: SIG.CHLD,
  POLL: SIG.IO,
};

/**
 * Parses a signal given as a name (`KILL`, `SIGKILL`, `kill`), a number (`9`), or
 * `RTMIN+n`/`RTMAX-n`. Returns null when it is not a signal.
 */
export function parseSignal(s: string): number | null {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= 64 ? n : null;
  }
  const name = s.toUpperCase().replace(/^SIG/, "");
  if (name in SIGNALS) return SIGNALS[name];
  const rt = /^RTM(IN|AX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const n = (rt[1] === "IN" ? 34 : 64) + Number(rt[2] ?? 0);
    return n >= 34 && n <= 64 ? n : null;
  }
  return null;
}
