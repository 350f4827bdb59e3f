/**
 * Capabilities: each process's five sets (bounding, effective, permitted, inheritable,
 * ambient), the one check every privileged operation makes (`capable`), and how execve and
 * the setuid family transform the sets, by Linux's rules (capabilities(7)). File capabilities
 * do not exist here: an executable is privileged only through the root rules. The sets live on
 * the thread group with the other credentials.
 *
 * @module
 */

import type { Task, ThreadGroup } from "./task.ts";

/** Capability numbers (linux/capability.h). */
export const CAP = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  LINUX_IMMUTABLE: 9,
  NET_BIND_SERVICE: 10,
  NET_BROADCAST: 11,
  NET_ADMIN: 12,
  NET_RAW: 13,
  IPC_LOCK: 14,
  IPC_OWNER: 15,
  SYS_MODULE: 16,
  SYS_RAWIO: 17,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_PACCT: 20,
  SYS_ADMIN: 21,
  SYS_BOOT: 22,
  SYS_NICE: 23,
  SYS_RESOURCE: 24,
  SYS_TIME: 25,
  SYS_TTY_CONFIG: 26,
  MKNOD: 27,
  LEASE: 28,
  AUDIT_WRITE: 29,
  AUDIT_CONTROL: 30,
  SETFCAP: 31,
  MAC_OVERRIDE: 32,
  MAC_ADMIN: 33,
  SYSLOG: 34,
  WAKE_ALARM: 35,
  BLOCK_SUSPEND: 36,
  AUDIT_READ: 37,
  PERFMON: 38,
  BPF: 39,
  CHECKPOINT_RESTORE: 40,
} as const;

/** The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap). */
export const CAP_LAST_CAP = 40;
/** Every capability. */
export const CAP_FULL_SET = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;

/** The bit of capability `cap` in a set. */
export function capBit(cap: number): bigint {
  return 1n << BigInt(cap);
}

/** The capability sets of a process. */
export interface CapSets {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

/** Root's sets when the spec says nothing: every capability, as before sets were kept. */
export function fullCaps(): CapSets {
  return {
    bounding: CAP_FULL_SET,
    effective: CAP_FULL_SET,
    permitted: CAP_FULL_SET,
    inheritable: 0n,
    ambient: 0n,
  };
}

/** securebits (prctl PR_SET_SECUREBITS), the ones with an effect here. */
export const SECBIT = {
  NOROOT: 1 << 0,
  NOROOT_LOCKED: 1 << 1,
  NO_SETUID_FIXUP: 1 << 2,
  NO_SETUID_FIXUP_LOCKED: 1 << 3,
  KEEP_CAPS: 1 << 4,
  KEEP_CAPS_LOCKED: 1 << 5,
  NO_CAP_AMBIENT_RAISE: 1 << 6,
  NO_CAP_AMBIENT_RAISE_LOCKED: 1 << 7,
} as const;
/** Every securebit Linux defines. */
export const SECBIT_ALL = 0xff;

/** Every capability's spec name (CAP_CHOWN ...), in number order. */
export function allCapabilityNames(): string[] {
  return Object.keys(CAP).map((n) => `CAP_${n}`);
}

/** A capability's number from its spec name (`CAP_CHOWN`), or undefined when unknown. */
export function capFromName(name: string): number | undefined {
  if (!name.startsWith("CAP_")) return undefined;
  const n = (CAP as Record<string, number>)[name.slice(4)];
  return n;
}

/** Whether the task holds `cap` in its effective set (Linux's capable() / ns_capable()). */
export function capable(t: Task, cap: number): boolean {
  return (t.tg.caps.effective & capBit(cap)) !== 0n;
}

/**
 * Whether `t` may inspect `target` as Linux's ptrace_may_access does with real credentials
 * (process_vm_readv, kcmp): its own thread group always; another when every real, effective
 * and saved uid and gid of the target is the caller's real one and the target is dumpable, or
 * with CAP_SYS_PTRACE.
 */
export function mayAccess(t: Task, target: ThreadGroup): boolean {
  if (target === t.tg) return true;
  if (capable(t, CAP.SYS_PTRACE)) return true;
  const g = t.tg;
  const sameUser = [target.uid, target.euid, target.suid].every((u) => u === g.uid) &&
    [target.gid, target.egid, target.sgid].every((x) => x === g.gid);
  return sameUser && target.dumpable === 1;
}

/**
 * The sets after execve of a file without capabilities and without set-id bits. Root (real or
 * effective uid 0, unless SECBIT_NOROOT) gets every capability of its bounding and inheritable
 * sets as permitted, and as effective when its effective uid is 0; everyone else keeps only
 * the ambient set, as permitted and effective. Ambient bits survive only inside the new
 * permitted and inheritable sets. KEEPCAPS ends at execve.
 */
export function capsOnExec(tg: ThreadGroup): void {
  const c = tg.caps;
  const root = (tg.securebits & SECBIT.NOROOT) === 0 && (tg.uid === 0 || tg.euid === 0);
  const ambient = c.ambient & c.permitted & c.inheritable;
  let permitted = ambient;
  let effective = ambient;
  if (root) {
    permitted = c.bounding | c.inheritable | ambient;
    if (tg.euid === 0) effective = permitted;
  }
  tg.caps = { ...c, permitted, effective, ambient };
  tg.securebits &= ~SECBIT.KEEP_CAPS;
  tg.keepCaps = false;
}

/**
 * The sets after a change of user ids (setuid, setreuid, setresuid), from the ids before:
 * leaving uid 0 in all three ids drops permitted and effective (unless KEEPCAPS) and ambient;
 * an effective uid that leaves 0 drops effective, one that becomes 0 gets the permitted set.
 */
export function capsOnSetuid(tg: ThreadGroup, old: [number, number, number]): void {
  if (tg.securebits & SECBIT.NO_SETUID_FIXUP) return;
  const c = { ...tg.caps };
  const [ruid, euid, suid] = old;
  const wasRoot = ruid === 0 || euid === 0 || suid === 0;
  if (wasRoot && tg.uid !== 0 && tg.euid !== 0 && tg.suid !== 0) {
    if (!tg.keepCaps && !(tg.securebits & SECBIT.KEEP_CAPS)) {
      c.permitted = 0n;
      c.effective = 0n;
    }
    c.ambient = 0n;
  }
  if (euid === 0 && tg.euid !== 0) c.effective = 0n;
  if (euid !== 0 && tg.euid === 0) c.effective = c.permitted;
  tg.caps = c;
}

/** /proc/[pid]/status's lines for the sets, each 16 hex digits. */
export function capStatusLines(tg: ThreadGroup): string {
  const hex = (v: bigint) => v.toString(16).padStart(16, "0");
  const c = tg.caps;
  return `CapInh:\t${hex(c.inheritable)}\nCapPrm:\t${hex(c.permitted)}\nCapEff:\t${
    hex(c.effective)
  }\nCapBnd:\t${hex(c.bounding)}\nCapAmb:\t${hex(c.ambient)}\n`;
}
