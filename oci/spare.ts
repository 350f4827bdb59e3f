/**
 * Spare sandboxes (`runsc --spare`): a boot and a gofer started ahead of time under `--root`,
 * in their namespaces, the boot confined as usual (the gofer confines itself when taken, as it
 * does once it has its bundle), holding nothing of any container, that the next `create` takes
 * instead of starting its own. Taking one costs a few messages instead of two Deno start-ups,
 * the Sentry's loading and the platform's set-up. Spares start niced and compiled eagerly, and
 * get their creator's priority when taken.
 *
 * A spare lives in `<root>/+spare-<hex>` (a name no container id can have: `list`, `state` and
 * `delete` never see it): its control and stdio sockets, its exit-status file (its boot's nsinit
 * writes it), the gofer's take socket, `spawned.json` (its nsinit processes, by pid and start
 * time, written as each is spawned) and `spare.json` (the global flags and program it was
 * started with and those two processes). It is offered by the symbolic link
 * `<root>/+spare.<hex>`, made once it is recorded; `--spare-count` (default 1) are kept, made by
 * one process at a time per root (under `+spare-making`). A create claims one by renaming its
 * link away (to `+spare-claim-<its pid>-<start>-<hex>`), so two creates never take the same
 * one. A spare nobody takes ends itself after SPARE_IDLE_MS; a create that claims it then finds
 * it gone, ends it and tries the next, and the next command that counts the spares (create,
 * run, spare) removes what it left (pruneSpares).
 *
 * At take time the gofer gets the bundle and id (it then opens the root and mounts and confines
 * itself, as a gofer started for that container would), and the boot gets the spec and the
 * caller's stdio (it then builds the kernel, mounts and init). Before that neither has opened
 * anything of a container, and a spare serves one container only.
 *
 * Off by default, and never used where runc's contract is observable: with `--pid-file` the
 * caller (containerd's shim) must be the sandbox's ancestor to reap it, and a spare was started
 * by an earlier CLI; with `--console-socket`, a cgroup or namespaces to join (a path in
 * linux.namespaces) the sandbox would have to be born elsewhere. Those creates start a sandbox
 * of their own, as without the flag; so does one whose bundle the spare's mount namespace does
 * not see as the caller does (sameView).
 *
 * @module
 */

import { basename, join, resolve } from "../path.ts";
import { log } from "../log.ts";
import { closeFd, socketpair, strerror } from "../host/libc.ts";
import { fstat, openAt, openAt2, tryFlock } from "../host/fsops.ts";
import { hostKill, spawn, waitpid } from "../host/spawn.ts";
import {
  AT_FDCWD,
  LOCK_EX,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
} from "../abi/linux/file.ts";
import { geteuid } from "../host/namespace.ts";
import { setThreadNice, threadNice } from "../host/priority.ts";
import {
  control,
  ControlUnavailable,
  EXIT_FILE,
  sendStdio,
  STDIO_SOCKET,
} from "../boot/control.ts";
import { CliError, type Context } from "./command.ts";
import { confinedCommand } from "./confine_argv.ts";
import { selfArgv, selfCliArgv } from "./reexec.ts";
import { denoDir, readOnlyDenoDirArgv, warmRoleCache } from "./deno_cache.ts";
import { loadSpec, rootfsPath, type Spec } from "./spec.ts";
import { openExitRecord, type ProcessId, writeFileAtomic } from "./state.ts";
import type { HookKind } from "./hooks.ts";
import { firstChild, procStat } from "./proc.ts";
import { GOFER_SPARE_SOCKET, type GoferTakeReply } from "./spare_dir.ts";
import { Cgroup } from "./cgroup.ts";

/** The hooks that run before create returns (or as start begins): a spare's are past. */
const CREATE_HOOKS: readonly HookKind[] = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
];

/** A spare's directory, `+spare-<hex>`. */
const SPARE_DIR_RE = /^\+spare-[0-9a-f]{8}$/;
/**
 * A spare's directory while its maker locks it (makeOne), before it takes its name: a directory
 * named SPARE_DIR_RE has been locked since it had that name.
 */
const SPARE_NEW_RE = /^\+spare-new-[0-9a-f]{8}$/;
/** An offered spare: a symbolic link `+spare.<hex>` to its directory. */
const OFFER_RE = /^\+spare\.[0-9a-f]{8}$/;
/** Held (a directory) while a CLI makes a spare, so that only one is made at a time. */
const SPARE_MAKING = "+spare-making";
const RECORD = "spare.json";
/**
 * The processes a maker has spawned for a spare so far, rewritten as each is spawned: a maker
 * that dies before RECORD leaves them named, for pruneSpares and `--stop` to end.
 */
const SPAWNED = "spawned.json";
/** A claim link (takeSpare), `+spare-claim-<pid>-<start>-<hex>`: its claimer by pid and start. */
const CLAIM_RE = /^\+spare-claim-(\d+)-(\d+)-[0-9a-f]{8}$/;
/** A claim link left this long (by its ctime: set when it was renamed from the offer) is stale. */
const STALE_CLAIM_MS = 30_000;
const SOCK_STREAM = 1;
const SIGKILL = 9;
const WNOHANG = 1;
/** A `+spare-making` older than this was left by a CLI that died while making it. */
const STALE_MAKING_MS = 30_000;
/** The nice value a spare starts with (see spawnSpare). */
const SPARE_NICE = 10;
/** How long a create waits for a spare that is still starting before it starts its own. */
const READY_WAIT_MS = 10_000;
/** sun_path's limit: the spare's sockets must be reachable by their path. */
const UNIX_PATH_MAX = 107;

/** What `spare.json` records. */
interface SpareRecord {
  /** The global flags handed to boot and gofer: a spare serves only creates with the same. */
  flags: string[];
  /** The program that runs it (programStamp): one installed since is not this one. */
  program: string;
  /** The nsinit processes (boot's, then gofer's) as spawned. */
  boot: ProcessId;
  gofer: ProcessId;
  /** The cgroup they were born in (spareCgroup), when they could be. */
  cgroupsPath?: string;
}

/** What create records of a sandbox taken from a spare. */
export interface TakenSpare {
  /** The boot (the sandbox's init in its PID namespace), as create's pid. */
  pid: number;
  /** The gofer's nsinit, as create's goferPid. */
  goferPid: number;
  /** The boot's nsinit, which writes the exit record. */
  nsinit: ProcessId;
  /** Every host process of the sandbox, nsinit parents first. */
  procs: ProcessId[];
  /** Its cgroup, the container's from now on (delete removes it). */
  cgroupsPath?: string;
}

/** The start time of `pid` (field 22 of /proc/<pid>/stat), or null when it is gone. */
export function startTime(pid: number): number | null {
  const f = procStat(pid);
  return !f || f[0] === "Z" || f[0] === "X" ? null : Number(f[19]);
}

/** `pid` as a ProcessId, or null when it is gone. */
export function identify(pid: number): ProcessId | null {
  const start = startTime(pid);
  return start === null ? null : { pid, start };
}

/** Whether `p` is still the process recorded (not exited, its pid not reused). */
export function sameProcess(p: ProcessId): boolean {
  return p.pid > 0 && startTime(p.pid) === p.start;
}

/**
 * SIGKILLs each recorded process that is still itself (nsinit parents first, so that none
 * reports its child's death), then waits, bounded, for them to be gone. Killing the boot, its
 * PID namespace's init, ends its stubs with it.
 */
export async function endProcesses(procs: readonly ProcessId[], waitMs = 5000): Promise<void> {
  const live = procs.filter(sameProcess);
  for (const p of live) hostKill(p.pid, SIGKILL);
  const deadline = Date.now() + waitMs;
  while (live.some(sameProcess) && Date.now() < deadline) {
    for (const p of live) {
      try {
        waitpid(p.pid, WNOHANG);
      } catch { /* not our child */ }
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * Whether this create may take a spare: asked for, as root (confined spares only), and none of
 * what makes runc's process tree or the caller's cgroup observable (see the module comment).
 */
export function spareUsable(
  ctx: Context,
  spec: Spec,
  opts: { pidFile?: string; consoleSocket?: string },
): boolean {
  return ctx.global.spare && geteuid() === 0 && !opts.pidFile && !opts.consoleSocket &&
    !spec.process?.terminal && !spec.linux?.cgroupsPath &&
    // The hooks that run while a sandbox is created (prestart: after its namespaces exist,
    // before the application): a spare's creation is past, so a spec with any of them gets its
    // own sandbox. poststart and poststop run after start and at delete, spare or not.
    !CREATE_HOOKS.some((k) => {
      const h: unknown = spec.hooks?.[k];
      return Array.isArray(h) && h.length > 0;
    }) &&
    // Namespaces to join are given at a sandbox's start, which a spare's was before this spec.
    !spec.linux?.namespaces?.some((n) => n.path) &&
    new TextEncoder().encode(join(ctx.store.root, "+spare-01234567", GOFER_SPARE_SOCKET)).length <=
      UNIX_PATH_MAX;
}

/**
 * Whether every host path the container's gofer opens (the bundle, its root, its bind mounts'
 * sources) is the same file in the spare gofer's mount namespace as here: that namespace was
 * copied when the spare started, and a mount made since (containerd mounts the root just before
 * create) is not in it.
 */
function sameView(goferPid: number, bundle: string, spec: Spec): boolean {
  const paths = [bundle, rootfsPath(spec, bundle)];
  for (const m of spec.mounts ?? []) {
    const o = m.options ?? [];
    if (m.source && (m.type === "bind" || o.includes("bind") || o.includes("rbind"))) {
      paths.push(resolve(bundle, m.source));
    }
  }
  // Resolved in the gofer's root: through /proc/<pid>/root a path's absolute symbolic links
  // would resolve against this process's root and mounts instead.
  let root: number;
  try {
    root = openAt(AT_FDCWD, `/proc/${goferPid}/root`, O_PATH | O_DIRECTORY | O_CLOEXEC);
  } catch {
    return false;
  }
  try {
    return paths.every((p) => {
      let fd = -1;
      try {
        const here = Deno.statSync(p);
        fd = openAt2(root, p, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        const there = fstat(fd);
        return BigInt(here.dev) === BigInt(there.dev) &&
          BigInt(here.ino ?? -1) === BigInt(there.ino);
      } catch {
        return false;
      } finally {
        if (fd >= 0) closeFd(fd);
      }
    });
  } finally {
    closeFd(root);
  }
}

/** Removes a spare's directory and cgroup and ends its processes. */
async function discard(dir: string, procs: ProcessId[]): Promise<void> {
  await endProcesses(procs, 1000);
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* gone */ }
  await spareCgroup(dir)?.remove(SPARE_CGROUP_WAIT_MS);
}

/**
 * The cgroup a spare's gofer and boot are born in, named after its directory (whoever removes
 * the one removes the other): as for a create without linux.cgroupsPath (cgroup.ts), it makes
 * them one task group, so that a Gofer round trip is not a hand-off between two autogroups.
 */
function spareCgroup(dir: string): Cgroup | null {
  return Cgroup.of(`/runsc-ts-${basename(dir).replace(/^\+/, "")}`);
}

/**
 * How long removing an ended spare's cgroup waits for its dead processes to be reaped: their
 * parent is whoever adopted them, and a create waiting on it is a create delayed.
 */
const SPARE_CGROUP_WAIT_MS = 1000;

/**
 * Takes the spare under `--root` for container `id`, whose state directory exists (reserved):
 * returns its processes, or null when there is none fit to take (then nothing changed). Throws
 * CliError when the container itself cannot start (its executable is missing...), as create
 * would.
 */
export async function takeSpare(
  ctx: Context,
  id: string,
  bundle: string,
  spec: Spec,
): Promise<TakenSpare | null> {
  const root = ctx.store.root;
  // Those ready first (one made since a burst of creates began may still be starting), each
  // group in a random order, so that creates at once mostly claim different ones.
  const ready = (offer: string) => {
    try {
      const target = Deno.readLinkSync(join(root, offer));
      return SPARE_DIR_RE.test(target) && listening(join(root, target));
    } catch {
      return false;
    }
  };
  const me = identify(Deno.pid);
  const claimer = me ? `${me.pid}-${me.start}` : `${Deno.pid}-0`;
  const offers = offered(root).map((o) => ({ o, ready: ready(o), r: Math.random() }))
    .sort((a, b) => Number(b.ready) - Number(a.ready) || a.r - b.r).map((x) => x.o);
  for (const offer of offers) {
    // Claimed by moving its link away: of two creates, one only gets it. Named for this
    // process, so that pruneSpares can tell a claim whose create died from one in progress.
    const claim = join(root, `+spare-claim-${claimer}-${crypto.randomUUID().slice(0, 8)}`);
    let dir: string;
    try {
      Deno.renameSync(join(root, offer), claim);
      const target = Deno.readLinkSync(claim);
      Deno.removeSync(claim);
      // A spare's own directory in this root, named as spawnSpare names it: a link leading
      // anywhere else (`../x/+spare-...`, an absolute path) is not followed.
      if (!SPARE_DIR_RE.test(target)) continue;
      dir = join(root, target);
      if (!Deno.lstatSync(dir).isDirectory) continue;
    } catch {
      continue; // another create took it
    }
    const taken = await takeClaimed(ctx, id, bundle, spec, dir);
    if (taken) return taken;
  }
  return null;
}

/**
 * Takes the spare in `dir`, claimed by this create: as takeSpare, null when it is not fit (it is
 * then ended).
 */
async function takeClaimed(
  ctx: Context,
  id: string,
  bundle: string,
  spec: Spec,
  dir: string,
): Promise<TakenSpare | null> {
  let rec: SpareRecord;
  try {
    rec = JSON.parse(Deno.readTextFileSync(join(dir, RECORD)));
  } catch {
    log.debug("spare: not fit for this create: no record; discarded", { dir });
    await discard(dir, []);
    return null;
  }
  // One still starting is further on than a sandbox started now would be: it is waited for,
  // at its creator's priority from now on (it started niced: spawnSpare).
  // Only the recorded processes that are still themselves (pid and start time) lead to their
  // children: a pid reused since names someone else's process, which is neither reniced nor
  // ended here.
  const nice = threadNice() ?? 0;
  const childOfLive = (p: ProcessId) => sameProcess(p) ? firstChild(p.pid) : 0;
  renice([childOfLive(rec.boot), childOfLive(rec.gofer)].filter((p) => p > 0), nice);
  const ready = await readyWithin(dir, [rec.boot, rec.gofer], READY_WAIT_MS);
  const boot = identify(childOfLive(rec.boot));
  const gofer = identify(childOfLive(rec.gofer));
  const procs = [rec.boot, rec.gofer, ...(boot ? [boot] : []), ...(gofer ? [gofer] : [])];
  const unfit = !ready
    ? "not ready in time, or ended"
    : !boot || !gofer || !sameProcess(rec.boot) || !sameProcess(rec.gofer)
    ? "a process ended"
    : JSON.stringify(rec.flags) !== JSON.stringify(ctx.global.passOn)
    ? "other flags"
    : rec.program !== programStamp()
    ? "another program"
    : !sameView(gofer.pid, bundle, spec)
    ? "its mount namespace sees the bundle otherwise"
    : "";
  if (unfit || !boot || !gofer) {
    log.debug(`spare: not fit for this create: ${unfit}; discarded`, { dir });
    await discard(dir, procs);
    return null;
  }
  // Again, with the threads and stubs made since.
  renice([boot.pid, gofer.pid, ...threadChildren(boot.pid)], nice);
  // Recorded before the take: `delete --force` of a create killed from here on ends them.
  ctx.store.write({ ...ctx.store.read(id), spareProcs: procs });
  log.phase("create: spare claimed");
  let conn: Deno.UnixConn | undefined;
  try {
    conn = await Deno.connect({ transport: "unix", path: join(dir, GOFER_SPARE_SOCKET) });
    await conn.write(new TextEncoder().encode(JSON.stringify({ bundle, id }) + "\n"));
    const token = crypto.randomUUID();
    sendStdio(join(dir, STDIO_SOCKET), token);
    const r = await control(join(dir, "ctl.sock"), {
      cmd: "take",
      id,
      spec,
      stdioToken: token,
    });
    const goferReply = await readLine(conn);
    if (r.error !== undefined) {
      const text = r.errno ? `: ${strerror(r.errno).toLowerCase()}` : "";
      throw new CliError(`creating container "${id}": ${r.error}${text}`);
    }
    if (!goferReply?.ok) {
      throw new CliError(
        `creating container "${id}": ${goferReply?.error ?? "the gofer did not answer"}`,
      );
    }
  } catch (e) {
    await discard(dir, procs);
    // A spare that died before answering: this create starts a sandbox of its own.
    if (e instanceof ControlUnavailable || e instanceof Deno.errors.NotFound) {
      log.debug(`spare: take failed: ${(e as Error).message}; discarded`, { dir });
      const { spareProcs: _, ...st } = ctx.store.read(id);
      ctx.store.write(st);
      return null;
    }
    throw e;
  } finally {
    conn?.close();
  }
  // The sockets and the exit record are the container's now (renamed: the boot holds the
  // sockets open, its nsinit the record).
  for (const f of ["ctl.sock", STDIO_SOCKET, EXIT_FILE]) {
    Deno.renameSync(join(dir, f), join(ctx.store.dir(id), f));
  }
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* another command's pruneSpares removes it as it removes one its maker left */ }
  log.phase("create: spare taken");
  return {
    pid: boot.pid,
    goferPid: rec.gofer.pid,
    nsinit: rec.boot,
    procs,
    ...(rec.cgroupsPath ? { cgroupsPath: rec.cgroupsPath } : {}),
  };
}

/**
 * Waits until the spare's boot and gofer listen on their sockets in `dir` (the boot binds its own
 * once its platform is ready), while `procs` live; false when they died or `ms` passed.
 */
async function readyWithin(dir: string, procs: ProcessId[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (listening(dir)) return true;
    if (!procs.every(sameProcess) || Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Whether the spare in `dir` has bound all its sockets (it has, once it is ready). */
function listening(dir: string): boolean {
  return [GOFER_SPARE_SOCKET, "ctl.sock", STDIO_SOCKET].every((f) => {
    try {
      return Deno.lstatSync(join(dir, f)).isSocket;
    } catch {
      return false;
    }
  });
}

/** Waits (bounded) until the spare in `dir` listens or was taken; false when it died. */
async function readyOrTaken(dir: string, procs: ProcessId[]): Promise<boolean> {
  const deadline = Date.now() + READY_WAIT_MS;
  for (;;) {
    try {
      if (Deno.lstatSync(join(dir, "ctl.sock")).isSocket) return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        try {
          Deno.statSync(dir);
        } catch {
          return true; // taken (its directory is removed once its sockets moved)
        }
      }
    }
    if (!procs.every(sameProcess) || Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The children of every thread of `pid` (the boot's stubs: a platform thread spawns them). */
function threadChildren(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const kids = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
        if (kids) out.push(...kids.split(" ").map(Number));
      } catch { /* the thread ended */ }
    }
  } catch { /* gone: the take fails later */ }
  return out;
}

/** Gives every thread of each of `pids` the nice value `nice`. */
function renice(pids: number[], nice: number): void {
  for (const pid of pids) {
    try {
      for (const t of Deno.readDirSync(`/proc/${pid}/task`)) setThreadNice(Number(t.name), nice);
    } catch { /* gone */ }
  }
}

/**
 * What names the program a spare runs: the executable and the script (the bundle, main.ts), with
 * their modification times, so that a spare started before an upgrade is not taken after it
 * (its take protocol may differ). From source, a change in another module goes unseen.
 */
function programStamp(): string {
  const argv = selfArgv("boot", []);
  const files = [argv[0], ...argv.filter((a) => a.endsWith(".js") || a.endsWith(".ts"))];
  return JSON.stringify(files.map((f) => {
    try {
      return [f, Deno.statSync(f).mtime?.getTime() ?? 0];
    } catch {
      return [f, 0];
    }
  }));
}

/** Reads one JSON line (the gofer's answer); null at EOF. */
async function readLine(conn: Deno.Conn): Promise<GoferTakeReply | null> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) return null;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  try {
    return JSON.parse(text.slice(0, text.indexOf("\n")));
  } catch {
    return null;
  }
}

/**
 * Has spares made under `--root` when `--spare` asks for them, a create with `opts` could take
 * one, fewer than `--spare-count` are offered and none are being made: by `runsc spare`
 * (makeSpare) in a process of its own, niced and detached, so that this command, whose caller
 * is waiting, spends a spawn on it and no more.
 */
export async function requestSpare(
  ctx: Context,
  opts: { bundle: string; pidFile?: string; consoleSocket?: string },
): Promise<void> {
  if (!ctx.global.spare || geteuid() !== 0) return;
  // Only for creates like this one could take it: a shim's (--pid-file) never would.
  try {
    if (!spareUsable(ctx, loadSpec(resolve(opts.bundle)), opts)) return;
  } catch {
    return;
  }
  const root = ctx.store.root;
  await pruneSpares(root);
  if (offered(root).length >= ctx.global.spareCount) return;
  let nul: number;
  try {
    nul = openAt(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
  } catch {
    return;
  }
  // Reserved here, not by the process started: of many commands ending at once, one starts it.
  if (!reserveMaking(root)) {
    closeFd(nul);
    return;
  }
  const nice = threadNice() ?? 0;
  setThreadNice(0, Math.max(nice, SPARE_NICE));
  try {
    const argv = selfCliArgv([
      ...ctx.global.passOn,
      `--spare-count=${ctx.global.spareCount}`,
      "spare",
      "--reserved",
    ]);
    spawn({
      path: argv[0],
      argv,
      fds: [[0, nul], [1, nul], [2, nul]],
      closeOthers: true,
      setsid: true,
      cwd: "/",
    });
    log.debug("spare: requested");
  } catch (e) {
    log.debug(`spare: not requested: ${(e as Error).message}`);
    try {
      Deno.removeSync(join(root, SPARE_MAKING));
    } catch { /* gone */ }
  } finally {
    setThreadNice(0, nice);
    closeFd(nul);
  }
}

/** The links of the spares offered under `root`. */
function offered(root: string): string[] {
  try {
    return [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => OFFER_RE.test(n));
  } catch {
    return [];
  }
}

/**
 * Removes what ended spares left under `root`: a spare that ended by itself (its idle timeout)
 * or was killed leaves its directory and offer link, which would count as offered until a
 * create claimed it; a maker that died before recording its spare leaves a directory that no
 * record names, and maybe processes that SPAWNED names (ended here); a create that died while
 * claiming leaves a claim link (removed, and the spare it names, which nobody can claim now,
 * ended). A live spare, and a directory its maker still holds locked, are left alone.
 */
async function pruneSpares(root: string): Promise<void> {
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(root)].map((e) => e.name);
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(root, name);
    if (name.startsWith("+spare-claim-")) {
      await pruneClaim(root, name);
      continue;
    }
    if (SPARE_NEW_RE.test(name)) {
      // Not named as a spare yet: nothing runs for it, and the maker fails at its rename.
      if (!lockedByMaker(dir)) removeDir(dir, STALE_MAKING_MS);
      continue;
    }
    if (!SPARE_DIR_RE.test(name)) continue;
    const rec = readRecord(dir);
    if (rec === undefined) {
      // Locked from before it had this name until recorded: a free lock and no record mean the
      // maker died first (its record is read again under the lock, in case it just finished).
      const fd = openDirLocked(dir);
      if (fd === null) continue;
      try {
        if (readRecord(dir) === undefined) {
          await endProcesses(readSpawned(dir), 1000);
          removeDir(dir, 0);
          await spareCgroup(dir)?.remove(SPARE_CGROUP_WAIT_MS);
        }
      } finally {
        closeFd(fd);
      }
      continue;
    }
    if (sameProcess(rec.boot) && sameProcess(rec.gofer)) continue;
    log.debug("spare: ended untaken; removed", { dir });
    try {
      Deno.removeSync(join(root, `+spare.${name.slice("+spare-".length)}`));
    } catch { /* claimed by a create, or never offered */ }
    await discard(dir, [rec.boot, rec.gofer]);
  }
}

/**
 * Removes claim link `name` under `root` when its create died (its claimer is not itself any
 * more) or it is older than STALE_CLAIM_MS, and ends the spare it names: unoffered, nobody
 * else can claim it.
 */
async function pruneClaim(root: string, name: string): Promise<void> {
  const path = join(root, name);
  const m = CLAIM_RE.exec(name);
  try {
    const st = Deno.lstatSync(path);
    const age = Date.now() - (st.ctime?.getTime() ?? 0);
    const claimerGone = m !== null && !sameProcess({ pid: Number(m[1]), start: Number(m[2]) });
    if (!st.isSymlink || (!claimerGone && age < STALE_CLAIM_MS)) return;
    const target = Deno.readLinkSync(path);
    Deno.removeSync(path);
    log.debug("spare: a claim its create left (died or stalled); removed", { claim: name, target });
    if (!SPARE_DIR_RE.test(target)) return;
    const dir = join(root, target);
    const rec = readRecord(dir);
    await discard(dir, rec ? [rec.boot, rec.gofer] : readSpawned(dir));
  } catch { /* removed meanwhile */ }
}

/** The processes SPAWNED names in a spare's directory (none when unreadable or malformed). */
function readSpawned(dir: string): ProcessId[] {
  try {
    const list: unknown = JSON.parse(Deno.readTextFileSync(join(dir, SPAWNED)));
    if (!Array.isArray(list)) return [];
    return list.filter((p): p is ProcessId =>
      Number.isSafeInteger(p?.pid) && p.pid > 0 && Number.isSafeInteger(p?.start)
    );
  } catch {
    return [];
  }
}

/** The record in a spare's directory; undefined when there is none (yet) or it is unreadable. */
function readRecord(dir: string): SpareRecord | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(join(dir, RECORD)));
  } catch {
    return undefined;
  }
}

/** `dir` opened and locked (its maker's lock), or null when its maker holds it or it is gone. */
function openDirLocked(dir: string): number | null {
  let fd: number;
  try {
    fd = openAt(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } catch {
    return null;
  }
  try {
    if (tryFlock(fd, LOCK_EX)) return fd;
  } catch { /* treated as held */ }
  closeFd(fd);
  return null;
}

/** Whether a maker holds the lock of `dir`. */
function lockedByMaker(dir: string): boolean {
  const fd = openDirLocked(dir);
  if (fd === null) return true;
  closeFd(fd);
  return false;
}

/** Removes `dir` when it is at least `minAgeMs` old. */
function removeDir(dir: string, minAgeMs: number): void {
  try {
    const age = Date.now() - (Deno.lstatSync(dir).mtime?.getTime() ?? 0);
    if (age < minAgeMs) return;
    log.debug("spare: left by a maker that died; removed", { dir });
    Deno.removeSync(dir, { recursive: true });
  } catch { /* removed meanwhile */ }
}

/**
 * Makes `+spare-making` (atomically: one maker at a time per root), replacing one left by a
 * maker that died; false when another holds it.
 */
function reserveMaking(root: string): boolean {
  const making = join(root, SPARE_MAKING);
  try {
    Deno.mkdirSync(making, { mode: 0o700 });
    return true;
  } catch {
    try {
      const age = Date.now() - (Deno.statSync(making).mtime?.getTime() ?? 0);
      if (age < STALE_MAKING_MS) return false;
      Deno.removeSync(making, { recursive: true });
      Deno.mkdirSync(making, { mode: 0o700 });
      return true;
    } catch {
      return false;
    }
  }
}

/** Ends every spare under `root`, taken by nobody (`runsc spare --stop`). */
export async function endSpares(root: string): Promise<void> {
  // One being made is recorded within moments: waited for (bounded), so that it ends too.
  for (let i = 0; i < 1000; i++) {
    try {
      Deno.lstatSync(join(root, SPARE_MAKING));
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const offer of offered(root)) {
    try {
      Deno.removeSync(join(root, offer));
    } catch { /* taken meanwhile */ }
  }
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => SPARE_DIR_RE.test(n));
  } catch { /* no root */ }
  for (const name of names) {
    const dir = join(root, name);
    const rec = readRecord(dir);
    // Recorded by nobody yet: its maker ends it, or pruneSpares removes it if the maker died.
    if (rec) await discard(dir, [rec.boot, rec.gofer]);
  }
  await pruneSpares(root);
}

/**
 * Makes spares under `--root` until `--spare-count` are offered, unless another process is
 * making them (`runsc spare`): spawns each one's gofer and boot and offers it once recorded.
 * `reserved`: the caller made `+spare-making` for this process (requestSpare). The spares'
 * processes run on by themselves: this returns without waiting for them to be ready.
 */
export async function makeSpare(ctx: Context, reserved = false): Promise<void> {
  if (geteuid() !== 0) throw new CliError("spare sandboxes need root (they are confined)");
  const root = ctx.store.root;
  const want = ctx.global.spareCount;
  await pruneSpares(root);
  if (!reserved && (offered(root).length >= want || !reserveMaking(root))) return;
  try {
    for (let n = offered(root).length; n < want; n++) {
      // One at a time, each ready before the next: a pool refilled after a burst of creates
      // takes the CPU a little at a time, not all at once while the burst's containers run.
      const made = await makeOne(ctx);
      if (!made || !(await readyOrTaken(made.dir, made.procs))) break;
    }
  } finally {
    try {
      Deno.removeSync(join(root, SPARE_MAKING));
    } catch { /* removed as stale by another CLI */ }
  }
}

/** Makes and offers one spare; returns its directory and processes, or null. */
async function makeOne(ctx: Context): Promise<{ dir: string; procs: ProcessId[] } | null> {
  // Its files stay in this directory from birth to take: the boot opens them by path.
  const hex = crypto.randomUUID().slice(0, 8);
  const dir = join(ctx.store.root, `+spare-${hex}`);
  const procs: ProcessId[] = [];
  // Locked until recorded, from before it has its name: a `+spare-<hex>` without a record
  // whose lock is free was left by a maker that died (pruneSpares). The lock is this
  // process's (O_CLOEXEC: the spare's processes do not inherit it).
  const fresh = join(ctx.store.root, `+spare-new-${hex}`);
  let lock = -1;
  try {
    Deno.mkdirSync(fresh, { mode: 0o700 });
    lock = openDirLocked(fresh) ?? -1;
    if (lock < 0) throw new Error(`cannot lock ${fresh}`);
    Deno.renameSync(fresh, dir);
    log.phase("spare: spawning");
    const rec = await spawnSpare(ctx, dir, procs);
    log.phase("spare: spawned");
    Deno.writeTextFileSync(join(dir, RECORD), JSON.stringify(rec));
    // Offered only now, whole.
    Deno.symlinkSync(`+spare-${hex}`, join(ctx.store.root, `+spare.${hex}`));
    log.phase("spare: started", { boot: rec.boot.pid, gofer: rec.gofer.pid });
    return { dir, procs };
  } catch (e) {
    log.debug(`spare: not started: ${(e as Error).message}`);
    await discard(dir, procs);
    try {
      Deno.removeSync(fresh);
    } catch { /* renamed, or never made */ }
    return null;
  } finally {
    if (lock >= 0) closeFd(lock);
  }
}

/** Moves this thread back to the cgroups `mine` (/proc/thread-self/cgroup) names. */
function leaveSpareCgroup(mine: string): void {
  try {
    Cgroup.restoreThread(mine);
  } catch (e) {
    log.warning(`spare: cannot leave the spare's cgroup: ${(e as Error).message}`);
  }
}

/** Adds `pid`, just spawned for the spare in `dir`, to `procs` and SPAWNED; returns its id. */
function recordSpawned(dir: string, procs: ProcessId[], pid: number): ProcessId {
  const p = identify(pid);
  if (!p) throw new Error("a spare's process ended at once");
  procs.push(p);
  writeFileAtomic(join(dir, SPAWNED), JSON.stringify(procs));
  return p;
}

/**
 * Spawns a spare's gofer and boot with their sockets in `dir`; returns what to record. Each is
 * added to `procs` and SPAWNED as soon as it is spawned, so that neither outlives a failure or
 * this process's death unnamed.
 */
async function spawnSpare(ctx: Context, dir: string, procs: ProcessId[]): Promise<SpareRecord> {
  const { global } = ctx;
  const cacheDir = denoDir();
  if (cacheDir) await warmRoleCache(cacheDir);
  // Compiled eagerly (from source or the bundle; a compiled binary takes no V8 flags): what the
  // take runs for the first time is bytecode already, which took 5-10 ms off a take here, for
  // ~14 MB more per process and CPU spent while the spare is idle.
  const eager = (argv: string[]) =>
    argv[1] === "run" ? [argv[0], "run", "--v8-flags=--no-lazy", ...argv.slice(2)] : argv;
  const role = (argv: string[]) =>
    cacheDir ? readOnlyDenoDirArgv(cacheDir, eager(argv)) : eager(argv);
  const [goferEnd, bootEnd] = socketpair(SOCK_STREAM, O_CLOEXEC);
  // Spawned from this thread at SPARE_NICE, which they inherit: a spare's start-up yields the
  // CPU to the containers that run meanwhile. This thread gets its own value back after.
  const nice = threadNice() ?? 0;
  setThreadNice(0, Math.max(nice, SPARE_NICE));
  // And in the spare's cgroup, which this thread leaves after.
  const cgroup = spareCgroup(dir);
  const mine = Deno.readTextFileSync("/proc/thread-self/cgroup");
  let joined = false;
  try {
    cgroup?.joinThread();
    joined = cgroup !== null;
  } catch (e) {
    log.debug("spare: no cgroup of its own", { error: (e as Error).message });
    leaveSpareCgroup(mine);
  }
  let nul = -1;
  let exitRecord = -1;
  try {
    nul = openAt(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
    exitRecord = openExitRecord(dir);
    const gofer = confinedCommand(
      role(selfArgv("gofer", [
        "--sock-fd",
        "3",
        "--spare-sock",
        join(dir, GOFER_SPARE_SOCKET),
        ...global.passOn,
      ])),
      [[0, nul], [1, nul], [2, nul], [3, goferEnd]],
    );
    const g = recordSpawned(
      dir,
      procs,
      spawn({ ...gofer, closeOthers: true, setsid: true, cwd: "/" }),
    );
    const boot = confinedCommand(
      role(selfArgv("boot", [
        "--spare-dir",
        dir,
        "--root",
        ctx.store.root,
        "--gofer-fd",
        "3",
        ...global.passOn.filter((f) => !f.startsWith("--root=")),
      ])),
      [[0, nul], [1, nul], [2, nul], [3, bootEnd]],
      { pid: true, net: global.network !== "host" },
      exitRecord,
    );
    const b = recordSpawned(
      dir,
      procs,
      spawn({ ...boot, closeOthers: true, setsid: true, cwd: "/" }),
    );
    return {
      flags: global.passOn,
      program: programStamp(),
      boot: b,
      gofer: g,
      ...(joined ? { cgroupsPath: `/${cgroup!.rel}` } : {}),
    };
  } finally {
    if (joined) leaveSpareCgroup(mine);
    setThreadNice(0, nice);
    closeFd(goferEnd);
    closeFd(bootEnd);
    if (nul >= 0) closeFd(nul);
    if (exitRecord >= 0) closeFd(exitRecord);
  }
}
