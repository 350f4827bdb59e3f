/**
 * Signal state: dispositions (shared by threads created with CLONE_SIGHAND), pending queues,
 * masks and siginfo, as Linux keeps them in sighand_struct, signal_struct and task_struct.
 *
 * @module
 */

import { NSIG, SIG, SIGRTMIN } from "../../abi/linux/signal.ts";

export const SIG_DFL = 0n;
export const SIG_IGN = 1n;

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
export const CLD = { EXITED: 1, KILLED: 2, DUMPED: 3, TRAPPED: 4, STOPPED: 5, CONTINUED: 6 };

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
}

export const SIGINFO_SIZE = 128;

/** Encodes siginfo_t (x86-64 layout). */
export function encodeSigInfo(i: SigInfo): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(SIGINFO_SIZE);
  const v = new DataView(b.buffer);
  v.setInt32(0, i.signo, true);
  v.setInt32(4, i.errno, true);
  v.setInt32(8, i.code, true);
  if (i.addr !== undefined) {
    v.setBigUint64(16, i.addr, true);
  } else {
    v.setInt32(16, i.pid ?? 0, true);
    v.setUint32(20, i.uid ?? 0, true);
    if (i.status !== undefined) v.setInt32(24, i.status, true);
    else if (i.value !== undefined) v.setBigUint64(24, i.value, true);
  }
  return b;
}

/** Decodes siginfo_t as rt_sigqueueinfo passes it. */
export function decodeSigInfo(b: Uint8Array<ArrayBuffer>): SigInfo {
  const v = new DataView(b.buffer, b.byteOffset);
  return {
    signo: v.getInt32(0, true),
    errno: v.getInt32(4, true),
    code: v.getInt32(8, true),
    pid: v.getInt32(16, true),
    uid: v.getUint32(20, true),
    value: v.getBigUint64(24, true),
  };
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
export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const SS_AUTODISARM = 1 << 31;
