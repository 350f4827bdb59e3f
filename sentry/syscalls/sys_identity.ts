/**
 * Credentials: get/set of real, effective and saved user and group ids, supplementary
 * groups, fs ids, and capabilities. An effective uid of 0 holds every capability (the
 * container's root), as with gVisor's default capability set for root.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "./errors.ts";
import type { SyscallDef } from "./table.ts";

const NGROUPS_MAX = 65536;
const UNCHANGED = -1;

function privileged(tg: ThreadGroup): boolean {
  return tg.euid === 0;
}

/** Implements Linux syscall setuid(2). */
function setuid(t: Task): number {
  const uid = argInt(t, 0);
  const tg = t.tg;
  if (uid < 0) throw new SysError(Errno.EINVAL);
  if (privileged(tg)) {
    tg.uid = tg.euid = tg.suid = uid;
  } else if (uid === tg.uid || uid === tg.suid) {
    tg.euid = uid;
  } else {
    throw new SysError(Errno.EPERM);
  }
  return 0;
}

/** Implements Linux syscall setgid(2). */
function setgid(t: Task): number {
  const gid = argInt(t, 0);
  const tg = t.tg;
  if (gid < 0) throw new SysError(Errno.EINVAL);
  if (privileged(tg)) {
    tg.gid = tg.egid = tg.sgid = gid;
  } else if (gid === tg.gid || gid === tg.sgid) {
    tg.egid = gid;
  } else {
    throw new SysError(Errno.EPERM);
  }
  return 0;
}

/** setresuid/setresgid: each id may become any of the current three unless privileged. */
function setres(t: Task, ids: number[], user: boolean): number {
  const tg = t.tg;
  const cur = user ? [tg.uid, tg.euid, tg.suid] : [tg.gid, tg.egid, tg.sgid];
  for (const id of ids) {
    if (id !== UNCHANGED && id < 0) throw new SysError(Errno.EINVAL);
    if (id !== UNCHANGED && !privileged(tg) && !cur.includes(id)) {
      throw new SysError(Errno.EPERM);
    }
  }
  const next = cur.map((c, i) => (ids[i] === UNCHANGED ? c : ids[i]));
  if (user) [tg.uid, tg.euid, tg.suid] = next;
  else [tg.gid, tg.egid, tg.sgid] = next;
  return 0;
}

/** setreuid/setregid: the saved id follows the effective one when the real one changes. */
function setre(t: Task, r: number, e: number, user: boolean): number {
  const tg = t.tg;
  const real = user ? tg.uid : tg.gid;
  const eff = user ? tg.euid : tg.egid;
  const saved = r !== UNCHANGED || (e !== UNCHANGED && e !== real)
    ? (e === UNCHANGED ? eff : e)
    : UNCHANGED;
  return setres(t, [r, e, saved], user);
}

function getres(t: Task, ids: number[]): number {
  for (let i = 0; i < 3; i++) t.mm.writeU32(argPtr(t, i), ids[i]);
  return 0;
}

/** Implements Linux syscall getgroups(2). */
function getgroups(t: Task): number {
  const n = argInt(t, 0);
  const groups = t.tg.groups;
  if (n < 0) throw new SysError(Errno.EINVAL);
  if (n === 0) return groups.length;
  if (n < groups.length) throw new SysError(Errno.EINVAL);
  const b = new Uint8Array(groups.length * 4);
  const v = new DataView(b.buffer);
  groups.forEach((g, i) => v.setUint32(i * 4, g, true));
  t.mm.copyOut(argPtr(t, 1), b);
  return groups.length;
}

/** Implements Linux syscall setgroups(2). */
function setgroups(t: Task): number {
  const n = argInt(t, 0);
  if (n < 0 || n > NGROUPS_MAX) throw new SysError(Errno.EINVAL);
  if (!privileged(t.tg)) throw new SysError(Errno.EPERM);
  const v = new DataView(t.mm.copyIn(argPtr(t, 1), n * 4).buffer);
  t.tg.groups = Array.from({ length: n }, (_, i) => v.getUint32(i * 4, true));
  return 0;
}

const CAP_VERSIONS = new Set([0x19980330, 0x20071026, 0x20080522]);
/** All capabilities up to CAP_CHECKPOINT_RESTORE (40). */
const CAP_ALL_LO = 0xffffffff;
const CAP_ALL_HI = 0x1ff;

/** Implements Linux syscall capget(2). */
function capget(t: Task): number {
  const hdr = argPtr(t, 0);
  const data = argPtr(t, 1);
  const v = new DataView(t.mm.copyIn(hdr, 8).buffer);
  const version = v.getUint32(0, true);
  if (!CAP_VERSIONS.has(version)) {
    t.mm.writeU32(hdr, 0x20080522);
    if (data === 0n) return 0;
    throw new SysError(Errno.EINVAL);
  }
  if (data === 0n) return 0;
  const words = version === 0x19980330 ? 1 : 2;
  const b = new Uint8Array(12 * words);
  const o = new DataView(b.buffer);
  if (privileged(t.tg)) {
    for (let w = 0; w < words; w++) {
      const bits = w === 0 ? CAP_ALL_LO : CAP_ALL_HI;
      o.setUint32(w * 12, bits, true); // effective
      o.setUint32(w * 12 + 4, bits, true); // permitted
    }
  }
  t.mm.copyOut(data, b);
  return 0;
}

/** Implements Linux syscall capset(2): root may keep what it has; nobody gains. */
function capset(t: Task): number {
  const v = new DataView(t.mm.copyIn(argPtr(t, 0), 8).buffer);
  if (!CAP_VERSIONS.has(v.getUint32(0, true))) throw new SysError(Errno.EINVAL);
  const pid = v.getInt32(4, true);
  if (pid !== 0 && pid !== t.tid) throw new SysError(Errno.EPERM);
  t.mm.copyIn(argPtr(t, 1), 12);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  getuid: { handler: (t: Task) => t.tg.uid, args: [] },
  geteuid: { handler: (t: Task) => t.tg.euid, args: [] },
  getgid: { handler: (t: Task) => t.tg.gid, args: [] },
  getegid: { handler: (t: Task) => t.tg.egid, args: [] },
  setuid: { handler: setuid, args: ["d"] },
  setgid: { handler: setgid, args: ["d"] },
  setreuid: { handler: (t: Task) => setre(t, argInt(t, 0), argInt(t, 1), true), args: ["d", "d"] },
  setregid: { handler: (t: Task) => setre(t, argInt(t, 0), argInt(t, 1), false), args: ["d", "d"] },
  setresuid: {
    handler: (t: Task) => setres(t, [argInt(t, 0), argInt(t, 1), argInt(t, 2)], true),
    args: ["d", "d", "d"],
  },
  setresgid: {
    handler: (t: Task) => setres(t, [argInt(t, 0), argInt(t, 1), argInt(t, 2)], false),
    args: ["d", "d", "d"],
  },
  getresuid: {
    handler: (t: Task) => getres(t, [t.tg.uid, t.tg.euid, t.tg.suid]),
    args: ["x", "x", "x"],
  },
  getresgid: {
    handler: (t: Task) => getres(t, [t.tg.gid, t.tg.egid, t.tg.sgid]),
    args: ["x", "x", "x"],
  },
  getgroups: { handler: getgroups, args: ["d", "x"] },
  setgroups: { handler: setgroups, args: ["d", "x"] },
  // The filesystem ids follow the effective ones here; setting them reports the old value.
  setfsuid: {
    handler: (t: Task) => t.tg.euid,
    support: "partial",
    note: "fs ids follow effective ids",
    args: ["d"],
  },
  setfsgid: {
    handler: (t: Task) => t.tg.egid,
    support: "partial",
    note: "fs ids follow effective ids",
    args: ["d"],
  },
  capget: { handler: capget, args: ["x", "x"] },
  capset: {
    handler: capset,
    support: "partial",
    note: "capability sets cannot change",
    args: ["x", "x"],
  },
};
