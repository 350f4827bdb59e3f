/**
 * prctl(2) and personality(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { CAP, CAP_LAST_CAP, capable, capBit, SECBIT, SECBIT_ALL } from "../kernel/task_creds.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { encodeBytes } from "../../host/utf8b.ts";

const PR = {
  SET_PDEATHSIG: 1,
  GET_PDEATHSIG: 2,
  GET_DUMPABLE: 3,
  SET_DUMPABLE: 4,
  GET_KEEPCAPS: 7,
  SET_KEEPCAPS: 8,
  SET_NAME: 15,
  GET_SECUREBITS: 27,
  SET_SECUREBITS: 28,
  GET_NAME: 16,
  GET_SECCOMP: 21,
  SET_SECCOMP: 22,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  GET_TIMERSLACK: 30,
  SET_TIMERSLACK: 29,
  SET_MM: 35,
  SET_CHILD_SUBREAPER: 36,
  GET_CHILD_SUBREAPER: 37,
  SET_NO_NEW_PRIVS: 38,
  GET_NO_NEW_PRIVS: 39,
  GET_TID_ADDRESS: 40,
  SET_THP_DISABLE: 41,
  GET_THP_DISABLE: 42,
  CAP_AMBIENT: 47,
} as const;
const TASK_COMM_LEN = 16;

/** Implements Linux syscall prctl(2) for the options programs and runtimes use. */
function prctl(t: Task): number {
  const option = argInt(t, 0);
  const arg2 = argPtr(t, 1);
  const tg = t.tg;
  switch (option) {
    case PR.SET_PDEATHSIG: {
      const sig = Number(arg2);
      if (sig < 0 || sig > 64) throw new SysError(Errno.EINVAL);
      tg.pdeathSignal = sig;
      return 0;
    }
    case PR.GET_PDEATHSIG:
      t.mm.writeU32(arg2, tg.pdeathSignal);
      return 0;
    case PR.GET_DUMPABLE:
      return tg.dumpable;
    case PR.SET_DUMPABLE:
      if (arg2 > 1n) throw new SysError(Errno.EINVAL);
      tg.dumpable = Number(arg2);
      return 0;
    case PR.GET_KEEPCAPS:
      return tg.keepCaps || (tg.securebits & SECBIT.KEEP_CAPS) ? 1 : 0;
    case PR.SET_KEEPCAPS:
      if (arg2 > 1n) throw new SysError(Errno.EINVAL);
      if (tg.securebits & SECBIT.KEEP_CAPS_LOCKED) throw new SysError(Errno.EPERM);
      tg.keepCaps = arg2 === 1n;
      if (tg.keepCaps) tg.securebits |= SECBIT.KEEP_CAPS;
      else tg.securebits &= ~SECBIT.KEEP_CAPS;
      return 0;
    case PR.GET_SECUREBITS:
      return tg.securebits;
    case PR.SET_SECUREBITS: {
      const bits = Number(arg2);
      if (arg2 > BigInt(SECBIT_ALL)) throw new SysError(Errno.EINVAL);
      // A locked bit keeps its value; only CAP_SETPCAP changes any.
      const locked = (tg.securebits >> 1) & 0x55;
      if (((bits ^ tg.securebits) & locked) || !capable(t, CAP.SETPCAP)) {
        throw new SysError(Errno.EPERM);
      }
      tg.securebits = bits;
      tg.keepCaps = (bits & SECBIT.KEEP_CAPS) !== 0;
      return 0;
    }
    case PR.SET_NAME: {
      const name = t.mm.copyInString(arg2, TASK_COMM_LEN).slice(0, TASK_COMM_LEN - 1);
      t.name = name;
      if (t.tid === tg.pid) tg.comm = name;
      return 0;
    }
    case PR.GET_NAME: {
      const b = new Uint8Array(TASK_COMM_LEN);
      b.set(encodeBytes(t.name || tg.comm).subarray(0, TASK_COMM_LEN - 1));
      t.mm.copyOut(arg2, b);
      return 0;
    }
    case PR.GET_SECCOMP:
      return 0;
    case PR.SET_SECCOMP:
      // Seccomp filters inside the sandbox are not offered yet.
      throw new SysError(Errno.EINVAL);
    case PR.CAPBSET_READ:
      if (arg2 > BigInt(CAP_LAST_CAP)) throw new SysError(Errno.EINVAL);
      return tg.caps.bounding & capBit(Number(arg2)) ? 1 : 0;
    case PR.CAPBSET_DROP:
      if (arg2 > BigInt(CAP_LAST_CAP)) throw new SysError(Errno.EINVAL);
      if (!capable(t, CAP.SETPCAP)) throw new SysError(Errno.EPERM);
      tg.caps = { ...tg.caps, bounding: tg.caps.bounding & ~capBit(Number(arg2)) };
      return 0;
    case PR.GET_TIMERSLACK:
      return 50000;
    case PR.SET_TIMERSLACK:
      return 0;
    case PR.SET_CHILD_SUBREAPER:
      tg.subreaper = arg2 !== 0n;
      return 0;
    case PR.GET_CHILD_SUBREAPER:
      t.mm.writeU32(arg2, tg.subreaper ? 1 : 0);
      return 0;
    case PR.SET_NO_NEW_PRIVS:
      if (arg2 !== 1n || argPtr(t, 2) || argPtr(t, 3) || argPtr(t, 4)) {
        throw new SysError(Errno.EINVAL);
      }
      tg.noNewPrivs = true;
      return 0;
    case PR.GET_NO_NEW_PRIVS:
      return tg.noNewPrivs ? 1 : 0;
    case PR.GET_TID_ADDRESS:
      t.mm.writeU64(arg2, t.clearChildTid);
      return 0;
    case PR.SET_THP_DISABLE:
    case PR.GET_THP_DISABLE:
      return 0;
    case PR.SET_MM:
      throw new SysError(capable(t, CAP.SYS_RESOURCE) ? Errno.EINVAL : Errno.EPERM);
    case PR.CAP_AMBIENT:
      return capAmbient(t, Number(arg2), argPtr(t, 2), argPtr(t, 3) | argPtr(t, 4));
    default:
      throw new SysError(Errno.EINVAL);
  }
}

const PR_CAP_AMBIENT = { IS_SET: 1, RAISE: 2, LOWER: 3, CLEAR_ALL: 4 } as const;

/** prctl(PR_CAP_AMBIENT): a capability may be raised only if permitted and inheritable. */
function capAmbient(t: Task, op: number, arg3: bigint, rest: bigint): number {
  const tg = t.tg;
  const c = tg.caps;
  if (op === PR_CAP_AMBIENT.CLEAR_ALL) {
    if (arg3 || rest) throw new SysError(Errno.EINVAL);
    tg.caps = { ...c, ambient: 0n };
    return 0;
  }
  if (rest || arg3 > BigInt(CAP_LAST_CAP)) throw new SysError(Errno.EINVAL);
  const bit = capBit(Number(arg3));
  switch (op) {
    case PR_CAP_AMBIENT.IS_SET:
      return c.ambient & bit ? 1 : 0;
    case PR_CAP_AMBIENT.RAISE:
      if (!(c.permitted & bit) || !(c.inheritable & bit)) throw new SysError(Errno.EPERM);
      if (tg.securebits & SECBIT.NO_CAP_AMBIENT_RAISE) throw new SysError(Errno.EPERM);
      tg.caps = { ...c, ambient: c.ambient | bit };
      return 0;
    case PR_CAP_AMBIENT.LOWER:
      tg.caps = { ...c, ambient: c.ambient & ~bit };
      return 0;
    default:
      throw new SysError(Errno.EINVAL);
  }
}

const PER_LINUX = 0;
/** Flags that change nothing here but that programs set (ADDR_NO_RANDOMIZE etc.). */
const ALLOWED_FLAGS = 0x0040000 | 0x0200000 | 0x0400000 | 0x1000000 | 0x8000000;

/** Implements Linux syscall personality(2): only the Linux personality. */
function personality(t: Task): number {
  const p = argInt(t, 0);
  const old = t.tg.personality;
  if (p === -1) return old;
  if ((p & 0xff) !== PER_LINUX || (p & ~0xff & ~ALLOWED_FLAGS) !== 0) {
    throw new SysError(Errno.EINVAL);
  }
  t.tg.personality = p;
  return old;
}

export const syscalls: Record<string, SyscallDef> = {
  prctl: {
    handler: prctl,
    support: "partial",
    note: "names, PDEATHSIG, NO_NEW_PRIVS, DUMPABLE, SUBREAPER, KEEPCAPS, SECUREBITS, " +
      "capability bounding and ambient sets; no seccomp",
    args: ["d", "x", "x", "x", "x"],
  },
  personality: { handler: personality, args: ["x"] },
};
