/**
 * Credentials: get/set of real, effective and saved user and group ids, supplementary
 * groups, fs ids, and capabilities: CAP_SETUID and CAP_SETGID decide who may take any id,
 * and a change of user ids transforms the capability sets as Linux does (task_creds.ts).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import { CAP, CAP_FULL_SET, capable, capsOnSetuid } from "../kernel/task_creds.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { array, decodeValue, encodeValue, u32 } from "../../abi/linux/layout.ts";
import {
  _LINUX_CAPABILITY_VERSION_1,
  _LINUX_CAPABILITY_VERSION_2,
  _LINUX_CAPABILITY_VERSION_3,
  CapUserData,
  CapUserHeader,
} from "../../abi/linux/capability.ts";

const NGROUPS_MAX = 65536;
const UNCHANGED = -1;

/** Whether t may set user ids (user) or group ids freely. */
function privileged(t: Task, user: boolean): boolean {
  return capable(t, user ? CAP.SETUID : CAP.SETGID);
}

/** Implements Linux syscall setuid(2). */
function setuid(t: Task): number {
  const uid = argInt(t, 0);
  const tg = t.tg;
  if (uid < 0) throw new SysError(Errno.EINVAL);
  const old: [number, number, number] = [tg.uid, tg.euid, tg.suid];
  if (privileged(t, true)) {
    tg.uid = tg.euid = tg.suid = uid;
  } else if (uid === tg.uid || uid === tg.suid) {
    tg.euid = uid;
  } else {
    throw new SysError(Errno.EPERM);
  }
  capsOnSetuid(tg, old);
  return 0;
}

/** Implements Linux syscall setgid(2). */
function setgid(t: Task): number {
  const gid = argInt(t, 0);
  const tg = t.tg;
  if (gid < 0) throw new SysError(Errno.EINVAL);
  if (privileged(t, false)) {
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
    if (id !== UNCHANGED && !privileged(t, user) && !cur.includes(id)) {
      throw new SysError(Errno.EPERM);
    }
  }
  const next = cur.map((c, i) => (ids[i] === UNCHANGED ? c : ids[i]));
  if (user) {
    [tg.uid, tg.euid, tg.suid] = next;
    capsOnSetuid(tg, cur as [number, number, number]);
  } else [tg.gid, tg.egid, tg.sgid] = next;
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
  t.mm.copyOut(argPtr(t, 1), encodeValue(array(u32, groups.length), groups));
  return groups.length;
}

/** Implements Linux syscall setgroups(2). */
function setgroups(t: Task): number {
  const n = argInt(t, 0);
  if (n < 0 || n > NGROUPS_MAX) throw new SysError(Errno.EINVAL);
  if (!privileged(t, false)) throw new SysError(Errno.EPERM);
  t.tg.groups = decodeValue(array(u32, n), t.mm.copyIn(argPtr(t, 1), n * 4));
  return 0;
}

const CAP_V1 = _LINUX_CAPABILITY_VERSION_1;
const CAP_V3 = _LINUX_CAPABILITY_VERSION_3;
const CAP_VERSIONS = new Set([CAP_V1, _LINUX_CAPABILITY_VERSION_2, CAP_V3]);

/**
 * Reads capget/capset's header: the number of 32-bit words per set the version uses and the
 * target pid. An unknown version gets the preferred one written back and EINVAL (none when
 * the data pointer is null, the way programs probe for it).
 */
function capHeader(t: Task, data: bigint): { words: number; pid: number } | null {
  const hdr = argPtr(t, 0);
  const { version, pid } = CapUserHeader.decode(t.mm.copyIn(hdr, CapUserHeader.size));
  if (!CAP_VERSIONS.has(version)) {
    t.mm.writeU32(hdr, CAP_V3);
    if (data === 0n) return null;
    throw new SysError(Errno.EINVAL);
  }
  if (pid < 0) throw new SysError(Errno.EINVAL);
  return { words: version === CAP_V1 ? 1 : 2, pid };
}

/** Implements Linux syscall capget(2). */
function capget(t: Task): number {
  const data = argPtr(t, 1);
  const h = capHeader(t, data);
  if (h === null) return 0;
  let tg: ThreadGroup = t.tg;
  if (h.pid !== 0 && h.pid !== t.tid) {
    const other = t.kernel.tasks.get(h.pid);
    if (!other) throw new SysError(Errno.ESRCH);
    tg = other.tg;
  }
  if (data === 0n) return 0;
  const b = new Uint8Array(CapUserData.size * h.words);
  const c = tg.caps;
  for (let w = 0; w < h.words; w++) {
    const part = (v: bigint) => Number((v >> BigInt(32 * w)) & 0xffffffffn);
    CapUserData.encodeInto(b, w * CapUserData.size, {
      effective: part(c.effective),
      permitted: part(c.permitted),
      inheritable: part(c.inheritable),
    });
  }
  t.mm.copyOut(data, b);
  return 0;
}

/**
 * Implements Linux syscall capset(2), for the calling thread's process only: permitted may
 * only shrink, effective stays within permitted, inheritable within the bounding set and
 * (without CAP_SETPCAP) within the old inheritable and permitted sets. Ambient bits leave
 * with the permitted or inheritable bit they need.
 */
function capset(t: Task): number {
  const h = capHeader(t, argPtr(t, 1));
  if (h === null) throw new SysError(Errno.EINVAL); // an unknown version: nothing to set
  if (h.pid !== 0 && h.pid !== t.tid) throw new SysError(Errno.EPERM);
  const raw = t.mm.copyIn(argPtr(t, 1), CapUserData.size * h.words);
  const words = Array.from(
    { length: h.words },
    (_, w) => CapUserData.decode(raw, w * CapUserData.size),
  );
  const read = (set: "effective" | "permitted" | "inheritable") => {
    let r = 0n;
    words.forEach((d, w) => (r |= BigInt(d[set]) << BigInt(32 * w)));
    return r & CAP_FULL_SET;
  };
  const effective = read("effective");
  const permitted = read("permitted");
  const inheritable = read("inheritable");
  const c = t.tg.caps;
  if (!capable(t, CAP.SETPCAP) && (inheritable & ~(c.inheritable | c.permitted))) {
    throw new SysError(Errno.EPERM);
  }
  if (inheritable & ~(c.inheritable | c.bounding)) throw new SysError(Errno.EPERM);
  if (permitted & ~c.permitted) throw new SysError(Errno.EPERM);
  if (effective & ~permitted) throw new SysError(Errno.EPERM);
  t.tg.caps = {
    ...c,
    effective,
    permitted,
    inheritable,
    ambient: c.ambient & permitted & inheritable,
  };
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
  capset: { handler: capset, args: ["x", "x"] },
};
