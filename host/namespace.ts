/**
 * Mounts, pivot_root and capabilities, for confining the Gofer: mount(2), umount2(2),
 * pivot_root(2), capget/capset(2) and the bounding set, and the namespace links of a process.
 *
 * Deno runs several threads (V8 workers, tokio). Mounts and pivot_root act on the mount
 * namespace, which every thread shares, and chdir on the fs_struct, which they share too;
 * but capabilities are per thread: capset and PR_CAPBSET_DROP change the calling thread (the
 * JavaScript thread, where every request is served) and no other. The comments at the call
 * sites say what that leaves.
 *
 * @module
 */

import { cstr, dlopenLazy, errno, HostError, rawSyscall } from "./libc.ts";
import { SYS } from "../abi/linux/syscalls.ts";
import { AT_EMPTY_PATH, AT_FDCWD, AT_RECURSIVE } from "../abi/linux/file.ts";
import { _LINUX_CAPABILITY_VERSION_3 } from "../abi/linux/capability.ts";

// SAFETY: glibc's exact signatures on x86-64; string arguments are NUL-terminated buffers the
// caller keeps alive for the call, and null pointers are passed where mount(2) allows them.
const nsLib = dlopenLazy("libc.so.6", {
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  geteuid: { parameters: [], result: "u32" },
});
const ns = nsLib.symbols;

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MNT_DETACH = 0x2;

const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const LINUX_CAPABILITY_VERSION_3 = _LINUX_CAPABILITY_VERSION_3;
/** CAP_LAST_CAP on current kernels (CAP_CHECKPOINT_RESTORE). */
export const CAP_LAST_CAP = 40;

/** Capability numbers (linux/capability.h) the Gofer may keep. */
export const Cap = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  FSETID: 4,
  SETGID: 6,
  SETUID: 7,
  NET_BIND_SERVICE: 10,
  SYS_CHROOT: 18,
} as const;

function orNull(s: string | null): Uint8Array<ArrayBuffer> | null {
  return s === null ? null : cstr(s);
}

/** mount(2). `source`, `fstype` and `data` may be null. */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  if (ns.mount(orNull(source), cstr(target), orNull(fstype), BigInt(flags), orNull(data)) !== 0) {
    throw new HostError(`mount ${JSON.stringify(source)} on ${JSON.stringify(target)}`, errno());
  }
}

/** umount2(2). */
export function umount2(target: string, flags: number): void {
  if (ns.umount2(cstr(target), flags) !== 0) {
    throw new HostError(`umount2 ${JSON.stringify(target)}`, errno());
  }
}

/** pivot_root(2). */
export function pivotRoot(newRoot: string, putOld: string): void {
  const a = cstr(newRoot), b = cstr(putOld);
  const addr = (x: Uint8Array<ArrayBuffer>) =>
    // SAFETY: `a` and `b` stay referenced until the syscall returns.
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(x)));
  const r = rawSyscall(SYS.pivot_root, addr(a), addr(b));
  void a, b;
  if (r < 0n) throw new HostError(`pivot_root ${JSON.stringify(newRoot)}`, Number(-r));
}

const OPEN_TREE_CLONE = 1n;
const OPEN_TREE_CLOEXEC = 0o2000000n;
const AT_EMPTY_PATH_N = BigInt(AT_EMPTY_PATH);
const AT_RECURSIVE_N = BigInt(AT_RECURSIVE);
const AT_FDCWD_N = BigInt(AT_FDCWD);
const MOVE_MOUNT_F_EMPTY_PATH = 0x4n;

/**
 * open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at `fd` (and, if
 * recursive, of everything mounted below it), as it is now. Returns the new mount's fd.
 */
export function cloneMountTree(fd: number, recursive: boolean): number {
  const empty = cstr("");
  // SAFETY: `empty` stays referenced until the syscall returns.
  const r = rawSyscall(
    SYS.open_tree,
    BigInt(fd),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(empty))),
    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH_N | (recursive ? AT_RECURSIVE_N : 0n),
  );
  if (r < 0n) throw new HostError(`open_tree of fd ${fd}`, Number(-r));
  return Number(r);
}

/** move_mount(2) of the detached mount `treeFd` onto `target`. */
export function attachMountTree(treeFd: number, target: string): void {
  const empty = cstr("");
  const to = cstr(target);
  // SAFETY: `empty` and `to` stay referenced until the syscall returns.
  const ptr = (x: Uint8Array<ArrayBuffer>) =>
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(x)));
  const r = rawSyscall(
    SYS.move_mount,
    BigInt(treeFd),
    ptr(empty),
    AT_FDCWD_N,
    ptr(to),
    MOVE_MOUNT_F_EMPTY_PATH,
  );
  if (r < 0n) throw new HostError(`move_mount onto ${JSON.stringify(target)}`, Number(-r));
}

/** The effective uid of this process. */
export function geteuid(): number {
  return ns.geteuid();
}

function setres(nr: number, name: string, id: number): void {
  const keep = -1n;
  const r = rawSyscall(nr, keep, BigInt(id), keep);
  if (r < 0n) throw new HostError(`${name} ${id}`, Number(-r));
}

/**
 * Sets the calling thread's effective uid, leaving its real and saved ids. A raw system call:
 * glibc's setresuid would change every thread of the process. Throws HostError.
 */
export function setThreadEuid(uid: number): void {
  setres(SYS.setresuid, "setresuid", uid);
}

/** Sets the calling thread's effective gid, as setThreadEuid does the uid. */
export function setThreadEgid(gid: number): void {
  setres(SYS.setresgid, "setresgid", gid);
}

/** The calling thread's capability sets, as 64-bit masks. */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

function capHeader(): Uint8Array<ArrayBuffer> {
  const h = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
  return new Uint8Array(h.buffer);
}

function capCall(nr: number, data: Uint32Array<ArrayBuffer>): void {
  const h = capHeader();
  const d = new Uint8Array(data.buffer);
  // SAFETY: header (8 bytes) and two __user_cap_data_struct (24 bytes) stay referenced here.
  const r = rawSyscall(
    nr,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(h))),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(d))),
  );
  void h, d;
  if (r < 0n) throw new HostError(nr === SYS.capget ? "capget" : "capset", Number(-r));
}

/** capget(2) of the calling thread. */
export function capGet(): CapSets {
  const d = new Uint32Array(6);
  capCall(SYS.capget, d);
  const join = (lo: number, hi: number) => (BigInt(d[hi]) << 32n) | BigInt(d[lo]);
  return { effective: join(0, 3), permitted: join(1, 4), inheritable: join(2, 5) };
}

/**
 * Reduces the calling thread to the capabilities in `keep`: drops every other one from the
 * bounding set (so that no exec can regain it), sets no_new_privs, then sets effective and
 * permitted to `keep` and inheritable to none.
 */
export function limitCapabilities(keep: readonly number[]): void {
  let mask = 0n;
  for (const c of keep) mask |= 1n << BigInt(c);
  for (let c = 0; c <= CAP_LAST_CAP; c++) {
    if (mask & (1n << BigInt(c))) continue;
    // EINVAL: a capability this kernel does not know.
    if (ns.prctl(PR_CAPBSET_DROP, BigInt(c), 0n, 0n, 0n) !== 0 && errno() !== 22) {
      throw new HostError(`prctl PR_CAPBSET_DROP ${c}`, errno());
    }
  }
  if (ns.prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n) !== 0) {
    throw new HostError("prctl PR_SET_NO_NEW_PRIVS", errno());
  }
  const lo = Number(mask & 0xffffffffn), hi = Number(mask >> 32n);
  capCall(SYS.capset, new Uint32Array([lo, lo, 0, hi, hi, 0]));
}

/** The namespace links (`/proc/<pid>/ns/<kind>`) of a process, e.g. `mnt:[4026531841]`. */
export function namespaces(pid: number | "self"): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of ["mnt", "ipc", "uts", "net", "pid", "pid_for_children", "user"]) {
    try {
      out[kind] = Deno.readLinkSync(`/proc/${pid}/ns/${kind}`);
    } catch { /* not available */ }
  }
  return out;
}

/**
 * Makes an empty tmpfs this process's root: mounts it on `staging` (which must exist), adds a
 * procfs of this process's PID namespace at /proc, pivots into it and detaches the old root, so
 * that no thread of the process can reach anything of the host's tree by path any more
 * (descriptors opened before stay valid). `populate` runs inside the staging directory before
 * the pivot, to add what the caller needs. The root is remounted read-only.
 *
 * Preconditions: a private mount namespace of this process's own (mounts would otherwise show
 * in the host's) and CAP_SYS_ADMIN on the calling thread.
 */
export function pivotIntoEmptyRoot(staging: string, populate?: (dir: string) => void): void {
  mount(null, "/", null, MS_REC | MS_PRIVATE);
  mount("runsc-root", staging, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
  populate?.(staging);
  Deno.mkdirSync(`${staging}/proc`);
  mount("proc", `${staging}/proc`, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the
  // tmpfs as the only tree this process (every thread of it) can reach.
  Deno.chdir(staging);
  pivotRoot(".", ".");
  umount2(".", MNT_DETACH);
  Deno.chdir("/");
  mount(null, "/", null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
}
