/**
 * Process creation through posix_spawn(3).
 *
 * Deno.Command is not used for the sandbox's own processes: it cannot pass extra file
 * descriptors, and its child reaper may consume wait statuses that belong to ptrace (DESIGN.md).
 *
 * @module
 */

import { check, cstr, errno, HostError, libc } from "./libc.ts";

const sym = libc.symbols;

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;

/** Where to put descriptors in the child: child fd -> parent fd. */
export type FdMap = ReadonlyArray<readonly [child: number, parent: number]>;

export interface SpawnOptions {
  /** Absolute path of the executable. */
  path: string;
  /** argv, including argv[0]. */
  argv: readonly string[];
  /** Environment as `KEY=VALUE`; defaults to this process's environment. */
  env?: readonly string[];
  /**
   * Descriptors the child gets besides 0, 1 and 2 (which it inherits unless remapped here).
   * Every other descriptor of ours is close-on-exec and so not inherited.
   */
  fds?: FdMap;
  /**
   * Close in the child every descriptor above the highest one `fds` maps (or above 2): ours are
   * close-on-exec, but those our caller left inheritable (a shell's, containerd's) would
   * otherwise reach a confined process as writable host files. Costs close_range in the child.
   */
  closeOthers?: boolean;
  /** Start the child in a new session (setsid), detached from our terminal and job control. */
  setsid?: boolean;
  /** Working directory of the child. */
  cwd?: string;
  /**
   * The child gets the descriptors in `fds` and nothing else: not 0, 1 and 2, and not one of
   * ours that lacks close-on-exec (a descriptor received from another process may).
   */
  onlyFds?: boolean;
}

/** A NULL-terminated char*[] that keeps its strings alive as long as it is referenced. */
class CStringArray {
  readonly strings: Uint8Array<ArrayBuffer>[];
  readonly pointers: BigUint64Array<ArrayBuffer>;
  constructor(items: readonly string[]) {
    this.strings = items.map(cstr);
    this.pointers = new BigUint64Array(items.length + 1);
    this.strings.forEach((s, i) => {
      // SAFETY: `s` is referenced by this.strings for as long as the array is alive, so the
      // address stays valid for the posix_spawn call that reads it.
      this.pointers[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)));
    });
  }
  get buffer(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.pointers.buffer);
  }
}

function sigset(signals: number[]): Uint8Array<ArrayBuffer> {
  const set = new Uint8Array(128);
  for (const s of signals) set[(s - 1) >> 3] |= 1 << ((s - 1) & 7);
  return set;
}

const F_GETFD = 1;
const F_DUPFD_CLOEXEC = 1030;
const FD_CLOEXEC = 1;

/** Our descriptors that a child would inherit across execve: those without close-on-exec. */
function inheritedFds(): number[] {
  const fds: number[] = [];
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    const fd = Number(e.name);
    const flags = sym.fcntl(fd, F_GETFD, 0n);
    if (flags >= 0 && (flags & FD_CLOEXEC) === 0) fds.push(fd);
  }
  return fds;
}

/** Spawns a process; returns its pid. Throws HostError when it cannot be started. */
export function spawn(opts: SpawnOptions): number {
  const actions = new Uint8Array(256); // posix_spawn_file_actions_t is 80 bytes on glibc
  const attr = new Uint8Array(512); // posix_spawnattr_t is 336 bytes on glibc
  check("posix_spawn_file_actions_init", -(sym.posix_spawn_file_actions_init(actions) !== 0));
  check("posix_spawnattr_init", -(sym.posix_spawnattr_init(attr) !== 0));
  const fds = opts.fds ?? [];
  // Each source is first copied, close-on-exec, above every descriptor the child is given: a
  // dup2 into a child's number then never overwrites a source a later one still reads, and
  // the copies go at exec. (The lowest free numbers there, never a fixed high one: a caller's
  // low RLIMIT_NOFILE, `ulimit -n 256`, would refuse that.)
  const above = Math.max(2, ...fds.map(([child]) => child)) + 1;
  const scratch: number[] = [];
  try {
    for (const [, parent] of fds) {
      const copy = sym.fcntl(parent, F_DUPFD_CLOEXEC, BigInt(above)) as number;
      if (copy < 0) throw new HostError(`fcntl F_DUPFD_CLOEXEC ${parent}`, errno());
      scratch.push(copy);
    }
    fds.forEach(([child], i) => sym.posix_spawn_file_actions_adddup2(actions, scratch[i], child));
    if (opts.onlyFds) {
      // Close-on-exec descriptors go at exec; close every other one but those mapped. (Not
      // closefrom: the executable itself may be one of ours, /proc/self/fd/N.)
      const kept = new Set(fds.map(([child]) => child));
      for (const fd of inheritedFds()) {
        if (!kept.has(fd)) sym.posix_spawn_file_actions_addclose(actions, fd);
      }
    }
    if (opts.closeOthers) {
      const highest = Math.max(2, ...fds.map(([child]) => child));
      // Descriptors below `highest` that `fds` leaves out are closed one by one (an fd that is
      // not open is no error for posix_spawn's close action in glibc).
      for (let fd = 3; fd < highest; fd++) {
        if (!fds.some(([child]) => child === fd)) {
          sym.posix_spawn_file_actions_addclose(actions, fd);
        }
      }
      check(
        "posix_spawn_file_actions_addclosefrom_np",
        -(sym.posix_spawn_file_actions_addclosefrom_np(actions, highest + 1) !== 0),
      );
    }
    const cwd = opts.cwd === undefined ? undefined : cstr(opts.cwd);
    if (cwd) sym.posix_spawn_file_actions_addchdir_np(actions, cwd);

    // The runtime ignores SIGPIPE and may block signals on this thread; the child must start
    // with default dispositions and an empty mask, as after a shell's fork.
    let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (opts.setsid) flags |= POSIX_SPAWN_SETSID;
    sym.posix_spawnattr_setflags(attr, flags);
    sym.posix_spawnattr_setsigmask(attr, sigset([]));
    const defaults: number[] = [];
    for (let s = 1; s < 32; s++) if (s !== 9 && s !== 19) defaults.push(s);
    sym.posix_spawnattr_setsigdefault(attr, sigset(defaults));

    const argv = new CStringArray(opts.argv);
    const env = new CStringArray(
      opts.env ?? Object.entries(Deno.env.toObject()).map(([k, v]) => `${k}=${v}`),
    );
    const pid = new Int32Array(1);
    const err = sym.posix_spawn(
      new Uint8Array(pid.buffer),
      cstr(opts.path),
      actions,
      attr,
      argv.buffer,
      env.buffer,
    );
    if (err !== 0) throw new HostError(`posix_spawn ${opts.path}`, err);
    return pid[0];
  } finally {
    for (const fd of scratch) sym.close(fd);
    sym.posix_spawn_file_actions_destroy(actions);
    sym.posix_spawnattr_destroy(attr);
  }
}

/** Decoded wait status. */
export interface WaitStatus {
  pid: number;
  raw: number;
}

export const W = {
  exited: (s: number) => (s & 0x7f) === 0,
  exitCode: (s: number) => (s >> 8) & 0xff,
  signaled: (s: number) => (s & 0x7f) !== 0 && (s & 0x7f) !== 0x7f,
  termSig: (s: number) => s & 0x7f,
  stopped: (s: number) => (s & 0xff) === 0x7f,
  stopSig: (s: number) => (s >> 8) & 0xff,
  /** The ptrace event in a stop status (status >> 16). */
  event: (s: number) => s >>> 16,
};

/** waitpid(2), blocking this thread. Returns null for WNOHANG with nothing to report. */
export function waitpid(pid: number, options: number): WaitStatus | null {
  const st = new Int32Array(1);
  for (;;) {
    const r = sym.waitpid(pid, new Uint8Array(st.buffer), options);
    if (r > 0) return { pid: r, raw: st[0] };
    if (r === 0) return null;
    const e = errno();
    if (e !== 4) throw new HostError(`waitpid ${pid}`, e);
  }
}

/** waitpid(2) on a runtime thread, leaving the event loop free. */
export async function waitpidAsync(pid: number, options: number): Promise<WaitStatus> {
  const st = new Int32Array(1);
  for (;;) {
    const r = await sym.waitpid_async(pid, new Uint8Array(st.buffer), options);
    if (r > 0) return { pid: r, raw: st[0] };
    // errno belongs to the runtime thread that made the call and cannot be read here; the
    // only failures waitpid has for a pid of ours are EINTR (retry) and ECHILD (gone).
    if (r === -1) {
      const alive = sym.kill(pid, 0) === 0;
      if (!alive) throw new HostError(`waitpid ${pid}`, 10 /* ECHILD */);
    }
  }
}

/**
 * waitid(2) on a runtime thread, leaving the event loop free; fills `siginfo` (128 bytes).
 * Returns 0, or -1 (that thread's errno cannot be read here). With WNOWAIT it only peeks:
 * the status stays to be taken by waitpid on the JavaScript thread.
 */
export function waitidAsync(
  idtype: number,
  id: number,
  siginfo: Uint8Array<ArrayBuffer>,
  options: number,
): Promise<number> {
  // SAFETY: Deno keeps siginfo alive and unmoved until the promise settles.
  return sym.waitid_async(idtype, id, siginfo, options);
}

const PR_SET_CHILD_SUBREAPER = 36;

/**
 * Makes this process adopt its orphaned descendants (PR_SET_CHILD_SUBREAPER), as containerd's
 * shim does, or stop adopting them; throws HostError.
 */
export function setChildSubreaper(on: boolean): void {
  check(
    "prctl PR_SET_CHILD_SUBREAPER",
    sym.prctl(PR_SET_CHILD_SUBREAPER, on ? 1n : 0n, 0n, 0n, 0n),
  );
}

/** Sends a host signal; returns false if the process is gone. */
export function hostKill(pid: number, sig: number): boolean {
  return sym.kill(pid, sig) === 0;
}
