/**
 * The container's host cgroup (the spec's linux.cgroupsPath), as runc keeps it: every host
 * process of the sandbox (boot, gofer, stubs) lives in it, so that containerd's shim, which
 * finds the cgroup from the pid-file's process, reads the container's CPU, memory and task
 * counts there (`docker stats`), and `pause` freezes the whole sandbox with the freezer.
 *
 * Limits are not written here: the Sentry enforces linux.resources.memory and pids on the
 * application (sentry/kernel), and a host limit would count the Sentry's own memory and
 * threads, which the application does not see.
 *
 * cgroup v1 (a hierarchy per controller) and v2 (one unified tree) are both handled.
 *
 * @module
 */

import { join } from "../path.ts";
import { log } from "../log.ts";

const ROOT = "/sys/fs/cgroup";
/** v1 hierarchies we join: accounting and the freezer (cpuset needs its cpus/mems set first). */
const V1_CONTROLLERS = ["memory", "pids", "freezer", "cpu", "cpuacct", "blkio"];

/**
 * How long removal retries a busy cgroup (20 ms apart): its dead processes must be reaped first,
 * by a parent that may be a shim on a loaded host (3 s was seen to be too short at load ~20).
 */
const REMOVE_WAIT_MS = 15_000;

/** A cgroup failure, quoting the file it concerns. */
export class CgroupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CgroupError";
  }
}

function isV2(): boolean {
  try {
    Deno.statSync(join(ROOT, "cgroup.controllers"));
    return true;
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The cgroup path relative to each hierarchy: a systemd-style `slice:prefix:name` becomes
 * `slice/prefix-name.scope` as runc's systemd driver names it; a relative path stays under
 * the root.
 */
export function cgroupRelPath(cgroupsPath: string): string {
  const parts = cgroupsPath.split(":");
  if (parts.length === 3 && !cgroupsPath.startsWith("/")) {
    const [slice, prefix, name] = parts;
    return join(slice || "system.slice", `${prefix}-${name}.scope`);
  }
  return cgroupsPath.replace(/^\/+/, "");
}

/**
 * The cgroup a container gets when its spec names none, as gVisor's runsc gives one too. Its
 * point is scheduling: the gofer and the boot are started in sessions of their own, and with
 * the kernel's autogroups (sched_autogroup_enabled) each session is a task group of its own,
 * so every Gofer round trip was a hand-off between two groups, each woken behind the other
 * groups runnable on a busy host's CPUs (measured on 2 loaded CPUs: a WalkStat round trip of
 * 80 us within one group, 230 us across two; bench/lisafs_rt.ts). A common cgroup makes them
 * one task group (autogroups apply only outside cgroups). A random part keeps two containers
 * of the same id under different --root apart; the state records the path for delete.
 */
export function defaultCgroupsPath(id: string): string {
  const nonce = crypto.getRandomValues(new Uint8Array(4));
  return `/runsc-ts-${id}-${[...nonce].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Moves the calling thread (v1: `tasks`, 0 naming it) or, on v2, this process into `dir`. */
function moveHere(dir: string, v2: boolean): void {
  if (v2) Deno.writeTextFileSync(join(dir, "cgroup.procs"), `${Deno.pid}\n`);
  else Deno.writeTextFileSync(join(dir, "tasks"), "0\n");
}

/** A container's cgroup directories. */
export class Cgroup {
  private constructor(readonly rel: string, readonly v2: boolean) {}

  /** The cgroup of `cgroupsPath`, or null when the spec names none (or the root). */
  static of(cgroupsPath: string | undefined): Cgroup | null {
    if (!cgroupsPath) return null;
    const rel = cgroupRelPath(cgroupsPath);
    if (rel.split("/").includes("..")) {
      throw new CgroupError(
        `linux.cgroupsPath ${JSON.stringify(cgroupsPath)} leaves the hierarchy`,
      );
    }
    if (rel === "") return null;
    return new Cgroup(rel, isV2());
  }

  /** Every directory of this cgroup (one per v1 hierarchy present; one for v2). */
  dirs(): string[] {
    if (this.v2) return [join(ROOT, this.rel)];
    return V1_CONTROLLERS.filter((c) => exists(join(ROOT, c))).map((c) => join(ROOT, c, this.rel));
  }

  private dir(controller: string): string | null {
    if (this.v2) return join(ROOT, this.rel);
    const d = join(ROOT, controller, this.rel);
    return exists(d) ? d : null;
  }

  /**
   * Creates the directories and moves the calling thread into each, so that the processes it
   * then spawns are born there. A thread alone, not its whole process: moving a process takes
   * the kernel's global lock on every thread group, whose first taker waits for an RCU grace
   * period (5-15 ms a move here, on every create), while the calling thread moves on its own
   * in 0.1 ms. v2 moves whole processes only (outside threaded subtrees): there it moves this
   * process.
   */
  joinThread(): void {
    for (const d of this.dirs()) {
      try {
        Deno.mkdirSync(d, { recursive: true });
        moveHere(d, this.v2);
      } catch (e) {
        throw new CgroupError(`cannot join cgroup ${d}: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  /** Freezes (pause) or thaws (resume) every process of the cgroup; waits until done. */
  async freeze(frozen: boolean): Promise<void> {
    const d = this.dir("freezer");
    if (!d) throw new CgroupError(`no freezer cgroup for ${this.rel}`);
    const file = join(d, this.v2 ? "cgroup.freeze" : "freezer.state");
    const want = this.v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
    try {
      for (let i = 0; i < 500; i++) {
        Deno.writeTextFileSync(file, want);
        const now = this.v2
          ? /^frozen 1$/m.test(Deno.readTextFileSync(join(d, "cgroup.events"))) === frozen
          : Deno.readTextFileSync(file).trim() === want;
        if (now) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    } catch (e) {
      throw new CgroupError(`cannot write ${file}: ${(e as Error).message}`, { cause: e });
    }
    throw new CgroupError(`${file} did not become ${want}`);
  }

  /** The host pids in the cgroup (its freezer hierarchy on v1, which every process joins). */
  pids(): number[] {
    const d = this.dir("freezer") ?? this.dir("pids");
    if (!d) return [];
    try {
      return Deno.readTextFileSync(join(d, "cgroup.procs")).split("\n").filter((l) => l)
        .map(Number);
    } catch {
      return [];
    }
  }

  /** Whether the cgroup is frozen now. */
  frozen(): boolean {
    const d = this.dir("freezer");
    if (!d) return false;
    try {
      if (this.v2) return /^frozen 1$/m.test(Deno.readTextFileSync(join(d, "cgroup.events")));
      return Deno.readTextFileSync(join(d, "freezer.state")).trim() !== "THAWED";
    } catch {
      return false;
    }
  }

  /** A counter file of `controller` as a number (0 when absent). */
  private num(controller: string, file: string): number {
    const d = this.dir(controller);
    if (!d) return 0;
    try {
      return Number(Deno.readTextFileSync(join(d, file)).trim().split(/\s+/)[0]) || 0;
    } catch {
      return 0;
    }
  }

  /** `key value` lines of a stat file. */
  private kv(controller: string, file: string): Record<string, number> {
    const d = this.dir(controller);
    const out: Record<string, number> = {};
    if (!d) return out;
    try {
      for (const line of Deno.readTextFileSync(join(d, file)).split("\n")) {
        const [k, v] = line.split(" ");
        if (k && v !== undefined) out[k] = Number(v);
      }
    } catch { /* absent */ }
    return out;
  }

  /** Statistics in the shape of runc's `events --stats` data (types.Stats). */
  stats(): Record<string, unknown> {
    if (this.v2) {
      const cpu = this.kv("", "cpu.stat");
      const mem = this.kv("", "memory.stat");
      return {
        cpu: {
          usage: {
            total: (cpu.usage_usec ?? 0) * 1000,
            kernel: (cpu.system_usec ?? 0) * 1000,
            user: (cpu.user_usec ?? 0) * 1000,
          },
          throttling: {},
        },
        memory: {
          usage: { usage: this.num("", "memory.current"), limit: 0 },
          swap: { usage: this.num("", "memory.swap.current") },
          cache: mem.file ?? 0,
          raw: mem,
        },
        pids: { current: this.num("", "pids.current") },
        blkio: {},
      };
    }
    const cpuacct = "cpuacct";
    const cpuStat = this.kv(cpuacct, "cpuacct.stat");
    const percpu = (() => {
      const d = this.dir(cpuacct);
      try {
        return d
          ? Deno.readTextFileSync(join(d, "cpuacct.usage_percpu")).trim().split(/\s+/).map(
            Number,
          )
          : [];
      } catch {
        return [];
      }
    })();
    const ticks = 1e9 / 100; // USER_HZ
    const mem = this.kv("memory", "memory.stat");
    return {
      cpu: {
        usage: {
          total: this.num(cpuacct, "cpuacct.usage"),
          percpu,
          kernel: (cpuStat.system ?? 0) * ticks,
          user: (cpuStat.user ?? 0) * ticks,
        },
        throttling: {},
      },
      memory: {
        usage: {
          usage: this.num("memory", "memory.usage_in_bytes"),
          max: this.num("memory", "memory.max_usage_in_bytes"),
          failcnt: this.num("memory", "memory.failcnt"),
          limit: this.num("memory", "memory.limit_in_bytes"),
        },
        cache: mem.cache ?? 0,
        raw: mem,
      },
      pids: { current: this.num("pids", "pids.current") },
      blkio: {},
    };
  }

  /**
   * Moves the calling thread (the process on v2; see joinThread) back to the cgroups
   * `threadSelfCgroup` (the text of /proc/thread-self/cgroup read before it moved) names.
   */
  static restoreThread(threadSelfCgroup: string): void {
    const v2 = isV2();
    for (const line of threadSelfCgroup.split("\n")) {
      const m = /^\d+:([^:]*):(.*)$/.exec(line);
      if (!m) continue;
      const [, controllers, path] = m;
      const hierarchy = controllers === "" ? "" : controllers.replace(/^name=/, "");
      if ((hierarchy === "") !== v2) continue;
      const dir = join(ROOT, hierarchy, path);
      if (!exists(join(dir, "cgroup.procs"))) continue;
      moveHere(dir, v2);
    }
  }

  /**
   * Removes the directories (they must be empty of processes), retrying for up to `waitMs`
   * while they are busy; failures are logged.
   */
  async remove(waitMs = REMOVE_WAIT_MS): Promise<void> {
    for (const d of this.dirs()) {
      // Busy while a dead process of it is not yet reaped (by its parent, maybe the caller's
      // shim, at the same moment): given a moment.
      const deadline = Date.now() + waitMs;
      for (;;) {
        try {
          Deno.removeSync(d);
        } catch (e) {
          // Deno gives rmdir's EBUSY no class of its own: only its message names it.
          const busy = e instanceof Deno.errors.Busy || /\(os error 16\)/.test(String(e));
          if (busy && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          if (!(e instanceof Deno.errors.NotFound)) log.warning(`cannot remove cgroup ${d}: ${e}`);
        }
        break;
      }
    }
  }
}
