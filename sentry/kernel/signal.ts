/**
 * Signal state: dispositions (shared by threads created with CLONE_SIGHAND), pending queues,
 * masks and siginfo, as Linux keeps them in sighand_struct, signal_struct and task_struct.
 *
 * @module
 */

import {
  CLD,
  NSIG,
  SA,
  SI,
  SIG,
  SIG_DFL,
  SIG_IGN,
  SIGINFO_SIZE,
  SiginfoChld,
  SiginfoFault,
  SiginfoKill,
  SiginfoPoll,
  SIGRTMIN,
  SS_AUTODISARM,
  SS_DISABLE,
  SS_ONSTACK,
} from "../../abi/linux/signal.ts";

export { CLD, SA, SI, SIG_DFL, SIG_IGN, SIGINFO_SIZE, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK };

/** A mask bit for signal n (1-based), as in sigset_t. */
export function sigbit(n: number): bigint {
  return 1n << BigInt(n - 1);
}

/** SIGKILL and SIGSTOP can be neither blocked, caught nor ignored. */
export const UNBLOCKABLE = sigbit(SIG.KILL) | sigbit(SIG.STOP);

/** struct sigaction as the kernel keeps it. */
export interface SigAction {
  handler: bigint;
  flags: bigint;
  restorer: bigint;
  mask: bigint;
}

/** Dispositions of all signals; shared between threads (CLONE_SIGHAND). */
export class SignalHandlers {
  readonly actions: SigAction[] = [];
  constructor() {
    for (let i = 0; i <= NSIG; i++) {
      this.actions.push({ handler: SIG_DFL, flags: 0n, restorer: 0n, mask: 0n });
    }
  }

  /** A copy, for fork without CLONE_SIGHAND. */
  fork(): SignalHandlers {
    const h = new SignalHandlers();
    this.actions.forEach((a, i) => (h.actions[i] = { ...a }));
    return h;
  }

  /** execve resets caught signals to the default; ignored ones stay ignored. */
  resetForExec(): void {
    for (const a of this.actions) {
      if (a.handler !== SIG_IGN) a.handler = SIG_DFL;
      a.flags = 0n;
      a.restorer = 0n;
      a.mask = 0n;
    }
  }
}

/** siginfo_t, kept decoded. */
export interface SigInfo {
  signo: number;
  errno: number;
  code: number;
  /** Sender pid (kill, sigqueue, SIGCHLD) or timer id. */
  pid?: number;
  uid?: number;
  /** SIGCHLD: exit code or signal. */
  status?: number;
  /** Faults: the address. */
  addr?: bigint;
  /** sigqueue / timers: the value. */
  value?: bigint;
  /** SIGPOLL-style (F_SETSIG): the poll events (si_band) and the descriptor (si_fd). */
  band?: bigint;
  fd?: number;
}

/** Encodes siginfo_t, choosing the union's member by what the signal carries. */
export function encodeSigInfo(i: SigInfo): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(SIGINFO_SIZE);
  encodeSigInfoInto(b, 0, i);
  return b;
}

/**
 * Writes siginfo_t at byte `off` of b, as encodeSigInfo encodes it. Precondition: those
 * SIGINFO_SIZE bytes are zero (the fields a member leaves out are).
 */
export function encodeSigInfoInto(b: Uint8Array, off: number, i: SigInfo): void {
  const head = { signo: i.signo, errno: i.errno, code: i.code };
  if (i.addr !== undefined) return SiginfoFault.encodeInto(b, off, { ...head, addr: i.addr });
  if (i.band !== undefined) {
    return SiginfoPoll.encodeInto(b, off, { ...head, band: i.band, fd: i.fd ?? 0 });
  }
  const from = { ...head, pid: i.pid ?? 0, uid: i.uid ?? 0 };
  if (i.status !== undefined) return SiginfoChld.encodeInto(b, off, { ...from, status: i.status });
  SiginfoKill.encodeInto(b, off, {
    ...from,
    value: i.value === undefined ? undefined : BigInt.asUintN(64, i.value),
  });
}

/** Decodes siginfo_t as rt_sigqueueinfo passes it. */
export function decodeSigInfo(b: Uint8Array<ArrayBuffer>): SigInfo {
  const { signo, errno, code, pid, uid, value } = SiginfoKill.decode(b);
  return { signo, errno, code, pid, uid, value };
}

/**
 * Most real-time signals one queue holds whatever RLIMIT_SIGPENDING says: a raised limit
 * must not let one process grow the Sentry without bound.
 */
export const MAX_QUEUED_SIGNALS = 65536;

/** Pending signals: one slot per standard signal, a queue per real-time signal. */
export class PendingSignals {
  #queues = new Map<number, SigInfo[]>();
  /** Real-time signal instances queued, against the RLIMIT_SIGPENDING bound. */
  #rtQueued = 0;
  /** Bit set of signals with something queued. */
  mask = 0n;

  /** Whether `limit` real-time signals are queued already (sigqueue then fails, EAGAIN). */
  full(limit: number): boolean {
    return this.#rtQueued >= limit;
  }

  /**
   * Queues info; a standard signal already pending is not queued twice, and a real-time one
   * is dropped once `limit` are queued (each instance is Sentry memory the sender grows).
   */
  enqueue(info: SigInfo, limit = MAX_QUEUED_SIGNALS): boolean {
    const q = this.#queues.get(info.signo);
    if (q && q.length > 0 && info.signo < SIGRTMIN) return false;
    if (info.signo >= SIGRTMIN) {
      if (this.full(Math.min(limit, MAX_QUEUED_SIGNALS))) return false;
      this.#rtQueued++;
    }
    if (q) q.push(info);
    else this.#queues.set(info.signo, [info]);
    this.mask |= sigbit(info.signo);
    return true;
  }

  /** Removes and returns the lowest pending signal not in `blocked`. */
  dequeue(blocked: bigint): SigInfo | null {
    const ready = this.mask & ~blocked;
    if (ready === 0n) return null;
    // Synchronous-ish priority as Linux: the lowest number first.
    let n = 1;
    while (!(ready & sigbit(n))) n++;
    return this.take(n);
  }

  /** Removes and returns the first queued instance of signal n. */
  take(n: number): SigInfo | null {
    const q = this.#queues.get(n);
    if (!q || q.length === 0) return null;
    const info = q.shift()!;
    if (n >= SIGRTMIN) this.#rtQueued--;
    if (q.length === 0) this.mask &= ~sigbit(n);
    return info;
  }

  /** Drops every pending instance of signal n. */
  discard(n: number): void {
    if (n >= SIGRTMIN) this.#rtQueued -= this.#queues.get(n)?.length ?? 0;
    this.#queues.delete(n);
    this.mask &= ~sigbit(n);
  }

  clear(): void {
    this.#queues.clear();
    this.#rtQueued = 0;
    this.mask = 0n;
  }
}

/** stack_t for sigaltstack. */
export interface SignalStack {
  sp: bigint;
  flags: number;
  size: bigint;
}
