/**
 * The container lifecycle shared by the commands: create (spawn gofer and boot, wait for the
 * sandbox to be ready), the live status (asked of the boot process), and delete (destroy the
 * sandbox, reap its processes, remove the state).
 *
 * @module
 */

import { join, resolve } from "../path.ts";
import { removeFilestores } from "../gofer/filestore.ts";
import { CONFINE_FLAG, confinedCommand } from "./confine_argv.ts";
import { closeFd, HostError, pipe, socketpair, strerror } from "../host/libc.ts";
import { openAt } from "../host/fsops.ts";
import { hostKill, spawn, waitpid } from "../host/spawn.ts";
import { AT_FDCWD, O_CLOEXEC, O_RDONLY, O_RDWR } from "../abi/linux/file.ts";
import { log } from "../log.ts";
import {
  control,
  ControlError,
  type ControlReplies,
  ControlUnavailable,
  EXIT_FILE,
  EXIT_RECORD_MAX,
  sendFds,
  STDIO_SOCKET,
} from "../boot/control.ts";
import { Cgroup, defaultCgroupsPath } from "./cgroup.ts";
import { openConsole } from "./console.ts";
import { CliError, type Context } from "./command.ts";
import { selfArgv } from "./reexec.ts";
import { denoDir, readOnlyDenoDirArgv, warmRoleCache } from "./deno_cache.ts";
import { geteuid } from "../host/namespace.ts";
import { loadSpec } from "./spec.ts";
import { type HookState, hookStateOf, parseHooks, runHooks } from "./hooks.ts";
import { isHostNetworkNamespace, takeOverInterfacesAt, toWire } from "../boot/network.ts";
import { endProcesses, identify, sameProcess, spareUsable, takeSpare } from "./spare.ts";
import { firstChild, procStat } from "./proc.ts";
import {
  type ContainerState,
  newState,
  openExitRecord,
  type ProcessId,
  StateError,
  type Status,
  writeFileAtomic,
} from "./state.ts";

const SOCK_STREAM = 1;
const WNOHANG = 1;
const SIGKILL = 9;

/** How long create waits for the sandbox to report that it is ready. */
const READY_TIMEOUT_MS = 120_000;

/** Options of create (and run). */
export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
}

/** Whether `pid` is a live process (not gone, not a zombie). */
export function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== "Z" && state !== "X";
}

/** Whether `pid` is still the process we started: its argv contains all of `words`. */
function processMatches(pid: number, words: string[]): boolean {
  try {
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return words.every((w) => argv.includes(w));
  } catch {
    return false;
  }
}

/** The child that nsinit process `pid` started (it exists once the sandbox is ready). */
function forkedChild(pid: number): number {
  const child = firstChild(pid);
  if (!child) throw new CliError(`sandbox process ${pid} has no child`);
  return child;
}

/** Reaps `pid` if it is our child and has exited; harmless otherwise. */
function reap(pid: number): void {
  try {
    waitpid(pid, WNOHANG);
  } catch { /* not our child, or already reaped */ }
}

/** Kills `pid` with SIGKILL if it is still ours, then waits (bounded) for it to go. */
async function killAndWait(pid: number, words: string[], graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (processAlive(pid) && Date.now() < deadline) {
    reap(pid);
    await new Promise((r) => setTimeout(r, 10));
  }
  if (processAlive(pid) && processMatches(pid, words)) {
    log.debug(`killing leftover process ${pid}`);
    hostKill(pid, SIGKILL);
    for (let i = 0; i < 200 && processAlive(pid); i++) {
      reap(pid);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  reap(pid);
}

/** /dev/null opened read-write (close-on-exec), for the stdio of processes we start. */
export function openDevNull(): number {
  try {
    return openAt(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
  } catch (e) {
    throw new CliError("cannot open /dev/null", { cause: e });
  }
}

/** Reads a readiness line from the pipe; what came before EOF (maybe "") at EOF or timeout. */
export async function readReady(
  fd: number,
  timeoutMs: number,
  onTimeout: () => void,
): Promise<string> {
  // An FsFile on the same pipe reads on a runtime thread, so the timer below can fire.
  const file = await Deno.open(`/proc/self/fd/${fd}`, { read: true });
  const timer = setTimeout(onTimeout, timeoutMs);
  try {
    const dec = new TextDecoder();
    let text = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await file.read(buf);
      if (n === null) return text;
      text += dec.decode(buf.subarray(0, n), { stream: true });
      if (text.includes("\n")) return text.slice(0, text.indexOf("\n"));
    }
  } finally {
    clearTimeout(timer);
    file.close();
  }
}

/** The argv words that identify the boot and gofer processes of container `id`. */
function bootWords(id: string): string[] {
  return ["boot", id];
}
function goferWords(bundle: string): string[] {
  return ["gofer", bundle];
}

/**
 * Creates container `id` from `opts.bundle`: validates the spec, reserves the id, starts the gofer
 * and the boot process, and waits until the sandbox has loaded the executable. On any failure
 * nothing is left behind: processes are killed and the state directory removed.
 */
export async function createContainer(
  ctx: Context,
  id: string,
  opts: CreateOptions,
): Promise<ContainerState> {
  const bundle = resolve(opts.bundle);
  const spec = loadSpec(bundle);
  // Checked before anything is made: a broken hook leaves nothing behind.
  const hooks = parseHooks(spec.hooks);
  const { store, global } = ctx;
  // Without linux.cgroupsPath the sandbox still gets a cgroup of its own, if it can (cgroup.ts).
  const cgroupsPath = spec.linux?.cgroupsPath || defaultCgroupsPath(id);
  const cgroup = Cgroup.of(cgroupsPath);
  // As root the roles see Deno's cache read-only (deno_cache.ts); the CLI fills it for them.
  const cacheDir = geteuid() === 0 ? denoDir() : null;
  const role = (argv: string[]) => cacheDir ? readOnlyDenoDirArgv(cacheDir, argv) : argv;
  using lock = await store.reserve({
    ...newState(id, bundle, spec.annotations ?? {}),
    // Kept for start and delete, which must not depend on the bundle being unchanged.
    ...(Object.keys(hooks).length ? { hooks } : {}),
  });
  void lock;
  let goferPid = 0;
  let bootPid = 0;
  // Set once the prestart hooks began: a create failing from then on runs the poststop hooks
  // (runtime-spec lifecycle: a failed prestart continues at the container's destruction).
  let hookState: HookState | null = null;
  const fds: number[] = [];
  let leaveCgroup: (() => void) | null = null;
  try {
    const taken = spareUsable(ctx, spec, opts) ? await takeSpare(ctx, id, bundle, spec) : null;
    if (taken) {
      const state: ContainerState = {
        ...store.read(id),
        status: "created",
        pid: taken.pid,
        goferPid: taken.goferPid,
        nsinit: taken.nsinit,
        spareProcs: taken.procs,
        ...(taken.cgroupsPath ? { cgroupsPath: taken.cgroupsPath } : {}),
      };
      store.write(state);
      return state;
    }
    if (cacheDir) await warmRoleCache(cacheDir);
    if (cgroup) {
      // This thread enters the container's cgroup while it starts gofer and boot, so that
      // they (and the stubs the boot starts) are born there: nothing runs outside it first.
      if (spec.linux?.cgroupsPath) {
        leaveCgroup = enterCgroup(cgroup);
        store.write({ ...store.read(id), cgroupsPath });
      } else {
        try {
          leaveCgroup = enterCgroup(cgroup);
        } catch (e) {
          // Only a scheduling aid: the sandbox starts without one where cgroups are read-only.
          log.debug("create: no cgroup of its own", { error: (e as Error).message });
          await cgroup.remove();
        }
        if (leaveCgroup) store.write({ ...store.read(id), cgroupsPath });
      }
    }
    const [goferEnd, bootEnd] = socketpair(SOCK_STREAM, O_CLOEXEC);
    fds.push(goferEnd, bootEnd);
    const [readyRead, readyWrite] = pipe(O_CLOEXEC);
    fds.push(readyRead, readyWrite);
    const devNull = openDevNull();
    fds.push(devNull);
    // process.terminal: the sandbox's stdio is a host terminal whose master the caller gets.
    const consoleFd = spec.process?.terminal && opts.consoleSocket
      ? openConsole(opts.consoleSocket)
      : -1;
    if (consoleFd >= 0) fds.push(consoleFd);

    // As root, the gofer starts in its own namespaces (gofer/confine.ts).
    const gofer = confinedCommand(
      role(selfArgv("gofer", [
        "--bundle",
        bundle,
        "--sock-fd",
        "3",
        "--id",
        id,
        ...global.passOn,
      ])),
      [[0, devNull], [1, devNull], [2, devNull], [3, goferEnd]],
    );
    goferPid = spawn({
      ...gofer,
      closeOthers: true,
      setsid: true,
      cwd: "/",
    });
    // --network=sandbox: the boot takes over the interfaces of the network namespace the spec
    // names (boot/network.ts); it is opened here, where the spec's path (often /proc/<pid>/...)
    // still resolves, and passed as descriptor 5.
    const netNsFd = global.network === "sandbox"
      ? openNetworkNamespace(spec.linux?.namespaces)
      : -1;
    if (netNsFd >= 0) fds.push(netNsFd);
    const netNs: [number, number][] = netNsFd >= 0 ? [[5, netNsFd]] : [];
    // Written by the boot's nsinit when the boot ends, never by the Sentry (host/nsinit.ts).
    const exitRecord = openExitRecord(store.dir(id));
    fds.push(exitRecord);
    // As root, the Sentry too starts in its own namespaces (boot/boot.ts confineBoot). In its
    // PID namespace it can see, trace and signal only its own stubs; when it ends, they end.
    const boot = confinedCommand(
      role(selfArgv("boot", [
        "--bundle",
        bundle,
        "--id",
        id,
        "--root",
        store.root,
        "--gofer-fd",
        "3",
        "--ready-fd",
        "4",
        ...(consoleFd >= 0 ? ["--terminal"] : []),
        ...(netNsFd >= 0 ? ["--net-ns-fd", "5"] : []),
        ...global.passOn.filter((f) => !f.startsWith("--root=")),
      ])),
      consoleFd >= 0
        ? [[0, consoleFd], [1, consoleFd], [2, consoleFd], [3, bootEnd], [4, readyWrite], ...netNs]
        : [[3, bootEnd], [4, readyWrite], ...netNs],
      { pid: true, net: global.network !== "host" },
      exitRecord,
    );
    bootPid = spawn({
      ...boot,
      closeOthers: true,
      setsid: true,
      cwd: "/",
    });
    log.phase("create: gofer and boot spawned", { goferPid, bootPid });
    leaveCgroup?.();
    leaveCgroup = null;
    // Recorded at once, so that `delete --force` can clean up after a create that was killed.
    const nsinit = boot.argv.includes(CONFINE_FLAG) ? identify(bootPid) : null;
    store.write({ ...store.read(id), pid: bootPid, goferPid, ...(nsinit ? { nsinit } : {}) });
    for (const fd of fds) if (fd !== readyRead) closeFd(fd);
    fds.length = 0;
    fds.push(readyRead);

    let timedOut = false;
    const line = await readReady(readyRead, READY_TIMEOUT_MS, () => {
      timedOut = true;
      hostKill(bootPid, SIGKILL);
    });
    let ready: { ok: boolean; error?: string; errno?: number };
    try {
      ready = JSON.parse(line);
    } catch {
      ready = {
        ok: false,
        error: timedOut
          ? `sandbox did not become ready within ${READY_TIMEOUT_MS / 1000}s`
          : "sandbox process exited before it was ready" + (line ? `: ${line}` : ""),
      };
    }
    if (!ready.ok) {
      // With the C library's text of the errno, as runc's messages carry it: Docker reads
      // "no such file or directory" as exit status 127 and "permission denied" as 126.
      const text = ready.errno ? `: ${strerror(ready.errno).toLowerCase()}` : "";
      throw new CliError(`creating container "${id}": ${ready.error}${text}`);
    }
    log.phase("create: sandbox ready");

    // Under nsinit the sandbox is nsinit's child: that process, as in runsc, is the state's pid
    // (`kill` of it still ends nsinit, which waits for it and dies the same way).
    const sandboxPid = boot.argv.includes(CONFINE_FLAG) ? forkedChild(bootPid) : bootPid;
    store.write({ ...store.read(id), pid: sandboxPid, goferPid });
    if (hooks.prestart?.length || hooks.createRuntime?.length || hooks.createContainer?.length) {
      // As runc: the hooks run while the create is not done ("creating"), with the pid.
      hookState = hookStateOf(store.read(id), "creating");
      await runHooks("prestart", hooks, hookState);
      await runHooks("createRuntime", hooks, hookState);
      await runHooks("createContainer", hooks, hookState);
      // The hooks may have moved interfaces into the sandbox's new network namespace
      // (Docker's libnetwork-setkey): the sandbox takes them over, its packet sockets made here.
      if (global.network === "sandbox" && netNsFd < 0) {
        await handOverInterfaces(join(store.root, id), sandboxPid);
      }
    }
    const state: ContainerState = { ...store.read(id), status: "created" };
    store.write(state);
    // The pid-file names our direct child (unshare's process when confined): once this command
    // exits, the caller (containerd's shim, a subreaper) adopts it, and it exits exactly when
    // init does, with init's status (boot/boot.ts).
    if (opts.pidFile) writeFileAtomic(resolve(opts.pidFile), String(bootPid));
    return state;
  } catch (e) {
    leaveCgroup?.();
    // A spare taken before the failure is recorded only in the state about to go: end it too.
    let spareProcs: readonly ProcessId[] | undefined;
    try {
      spareProcs = store.read(id).spareProcs;
    } catch {
      // No state: nothing was taken.
    }
    if (spareProcs) await endProcesses(spareProcs);
    if (bootPid) await killAndWait(bootPid, bootWords(id), 0);
    if (goferPid) await killAndWait(goferPid, goferWords(bundle), 0);
    for (const err of removeFilestores(bundle, id)) log.warning(err);
    await cgroup?.remove();
    store.remove(id);
    if (hookState) await runHooks("poststop", hooks, hookStateOf(hookState, "stopped"));
    if (e instanceof HostError) throw new CliError(`creating container "${id}": ${e.message}`);
    throw e;
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}

/**
 * Takes over the Ethernet interfaces of the sandbox's network namespace (boot/network.ts)
 * and sends them, packet sockets included, to the sandbox before it starts.
 */
async function handOverInterfaces(dir: string, sandboxPid: number): Promise<void> {
  const taken = takeOverInterfacesAt(`/proc/${sandboxPid}/ns/net`, log);
  if (taken.length === 0) return;
  const fds = taken.map((t) => t.fd);
  try {
    const token = `net-${crypto.randomUUID()}`;
    sendFds(join(dir, STDIO_SOCKET), token, fds);
    await control(join(dir, "ctl.sock"), { cmd: "network", token, interfaces: toWire(taken) });
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}

/**
 * The network namespace the spec names by path, opened close-on-exec, for --network=sandbox to
 * take its interfaces over; -1 when it names none. Then the sandbox gets a new, empty namespace
 * (loopback only, plus what prestart hooks move in), as gVisor's runsc does; runc would share
 * the caller's, but taking that one over would take the host's own interfaces away from it
 * (--network=host is the way to the host's network). For the same reason a path naming the
 * caller's or the host's namespace is refused. A path that cannot be opened is the user's error.
 */
function openNetworkNamespace(namespaces: { type: string; path?: string }[] | undefined): number {
  const entry = namespaces?.find((n) => n.type === "network");
  if (!entry) {
    log.info("the spec names no network namespace: the sandbox gets a new, empty one");
  }
  const path = entry?.path;
  if (!path) return -1;
  let fd: number;
  try {
    fd = openAt(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    throw new CliError(`cannot open network namespace ${JSON.stringify(path)}: ${e.message}`);
  }
  if (isHostNetworkNamespace(fd)) {
    closeFd(fd);
    throw new CliError(
      `network namespace ${JSON.stringify(path)} is the host's: --network=sandbox would take ` +
        "its interfaces away from the host (use --network=host to share the host's network)",
    );
  }
  return fd;
}

/**
 * Moves the thread that spawns the sandbox into `cg` (Cgroup.joinThread); returns what moves it
 * back. Only root can; as another user the sandbox stays in the caller's cgroup.
 */
function enterCgroup(cg: Cgroup): (() => void) | null {
  if (Deno.uid() !== 0) return null;
  const mine = Deno.readTextFileSync("/proc/thread-self/cgroup");
  const leave = () => {
    try {
      Cgroup.restoreThread(mine);
    } catch (e) {
      log.warning(`cannot leave the container's cgroup: ${(e as Error).message}`);
    }
  };
  try {
    cg.joinThread();
  } catch (e) {
    // Out of the hierarchies joined before the failure, or removing them would wait on us.
    leave();
    throw e;
  }
  return leave;
}

/** The container's cgroup as its state records it. */
export function cgroupOf(st: ContainerState): Cgroup | null {
  return Cgroup.of(st.cgroupsPath);
}

/** A container's status as the running sandbox reports it. */
export interface LiveStatus {
  status: Status;
  exitStatus?: number;
}

/**
 * Init's exit status as the boot's nsinit recorded it once the boot had ended as init did
 * (host/nsinit.ts; unconfined, the boot records it itself), or undefined when none did (its
 * nsinit killed from the host, or not ended yet).
 */
export function recordedExitStatus(ctx: Context, id: string): number | undefined {
  const path = join(ctx.store.dir(id), EXIT_FILE);
  let text: string;
  try {
    // Read as if hostile all the same (an unconfined Sentry writes it, and a record left by an
    // older runtime was the Sentry's): its size is checked before anything is read, and no more
    // than a record's length is read.
    using f = Deno.openSync(path, { read: true });
    const st = f.statSync();
    if (!st.isFile || st.size > EXIT_RECORD_MAX) {
      log.warning(`exit record "${path}" is not a record: ignored`);
      return undefined;
    }
    const buf = new Uint8Array(EXIT_RECORD_MAX);
    let n = 0;
    for (let r; n < buf.length && (r = f.readSync(buf.subarray(n))) !== null;) n += r;
    text = new TextDecoder().decode(buf.subarray(0, n));
  } catch {
    return undefined;
  }
  const m = /^(\d{1,3})\n$/.exec(text);
  if (!m || Number(m[1]) > 255) {
    if (text !== "") log.warning(`exit record "${path}" is not a status: ignored`);
    return undefined;
  }
  return Number(m[1]);
}

/** Asks the sandbox for the container's status; a sandbox that is gone means `stopped`. */
export async function liveStatus(
  ctx: Context,
  st: ContainerState,
  timeoutMs?: number,
): Promise<LiveStatus> {
  if (st.status === "creating") {
    return { status: processAlive(st.pid) || st.pid === 0 ? "creating" : "stopped" };
  }
  // A frozen Sentry cannot answer; its processes being there is the answer.
  if (st.status === "paused" && cgroupOf(st)?.frozen()) {
    return { status: processAlive(st.pid) ? "paused" : "stopped" };
  }
  try {
    const r: ControlReplies["state"] = await control(ctx.store.socketPath(st.id), {
      cmd: "state",
    }, { timeoutMs });
    return r;
  } catch (e) {
    if (e instanceof ControlUnavailable) {
      const exitStatus = recordedExitStatus(ctx, st.id);
      return exitStatus === undefined ? { status: "stopped" } : { status: "stopped", exitStatus };
    }
    throw e;
  }
}

/** Throws when container `id` is paused (frozen): its Sentry cannot answer until resumed. */
export function refuseIfPaused(ctx: Context, id: string): void {
  let st: ContainerState | undefined;
  try {
    st = ctx.store.read(id);
  } catch { /* the caller reports what is wrong */ }
  if (st?.status === "paused" && cgroupOf(st)?.frozen()) {
    throw new CliError(`container "${id}" is paused`);
  }
}

/** Sends a control request, turning an unreachable sandbox into "not running". */
export async function request<
  C extends "start" | "signal" | "wait" | "ps" | "exec" | "waitpid" | "update",
>(
  ctx: Context,
  id: string,
  req: Parameters<typeof control<C>>[1],
  opts: { timeoutMs?: number } = {},
): Promise<ControlReplies[C]> {
  // A frozen Sentry answers nothing until resumed: only waits may wait for that.
  const cmd = (req as { cmd: string }).cmd;
  if (cmd !== "wait" && cmd !== "waitpid") refuseIfPaused(ctx, id);
  try {
    return await control<C>(ctx.store.socketPath(id), req, opts);
  } catch (e) {
    if (e instanceof ControlUnavailable) {
      throw new CliError(`container "${id}" is not running`, { cause: e });
    }
    if (e instanceof ControlError) {
      throw new CliError(`container "${id}": ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** How long a waiter gives the boot's nsinit to write the exit record once the socket is gone. */
const RECORD_WAIT_MS = 30_000;

/**
 * recordedExitStatus once the record is written: the boot's socket goes before the boot ends,
 * and its nsinit writes the record only then, so an empty record is waited for (bounded) while
 * that nsinit lives.
 */
async function awaitExitRecord(ctx: Context, id: string): Promise<number | undefined> {
  let nsinit: ProcessId | undefined;
  try {
    nsinit = ctx.store.read(id).nsinit;
  } catch { /* no state: nothing to wait for */ }
  const path = join(ctx.store.dir(id), EXIT_FILE);
  const empty = () => {
    try {
      return Deno.lstatSync(path).size === 0;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + RECORD_WAIT_MS;
  while (nsinit && empty() && sameProcess(nsinit) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  return recordedExitStatus(ctx, id);
}

/**
 * Waits for init of container `id` to exit and returns its exit status; once the sandbox has
 * ended, the status recorded is the answer.
 */
export async function waitExit(ctx: Context, id: string): Promise<number> {
  try {
    return (await request(ctx, id, { cmd: "wait" })).exitStatus;
  } catch (e) {
    const recorded = e instanceof CliError && e.cause instanceof ControlUnavailable
      ? await awaitExitRecord(ctx, id)
      : undefined;
    if (recorded === undefined) throw e;
    return recorded;
  }
}

/** How long `delete --force` waits for another command's hold on the container lock. */
const FORCE_LOCK_WAIT_MS = 2000;
/** How long `delete --force` waits for killed processes to be gone. */
const FORCE_KILL_WAIT_MS = 5000;

/**
 * Deletes container `id`. A running container is refused unless `force`, which kills it first
 * (forceDelete). Destroys the sandbox, makes sure boot and gofer are gone, and removes the state.
 */
export async function deleteContainer(ctx: Context, id: string, force: boolean): Promise<void> {
  if (force) return await forceDelete(ctx, id);
  const { store } = ctx;
  using lock = await store.lock(id);
  void lock;
  const st = store.read(id);
  const { status } = await liveStatus(ctx, st);
  if (status === "running" || status === "paused") {
    throw new CliError(`cannot delete container "${id}" that is not stopped: ${status}`);
  }
  if (status === "creating" && processAlive(st.pid)) {
    throw new CliError(`cannot delete container "${id}" that is still being created`);
  }
  // A confined sandbox that is not running has nothing left to do: it ends at once with its
  // namespaces. Another one is asked to destroy itself, then whatever is left is found and killed.
  if (st.spareProcs) {
    // Begun as a spare: its argv names no container; its recorded processes are the sandbox.
    await endProcesses(st.spareProcs);
  } else if (!(await endSandboxNamespaces(id, store.root, st.bundle, [st.pid, st.goferPid]))) {
    try {
      // A wedged sandbox gets a few seconds; then its process is killed below.
      await control(store.socketPath(id), { cmd: "destroy" }, { timeoutMs: 5000 });
    } catch (e) {
      if (!(e instanceof ControlUnavailable)) {
        log.warning(`destroy ${id}: ${(e as Error).message}`);
      }
    }
    if (st.pid) await killAndWait(st.pid, bootWords(id), 5000);
    if (st.goferPid) await killAndWait(st.goferPid, goferWords(st.bundle), 1000);
    await killSandboxProcesses(ctx, st.id, st.bundle, [st.pid, st.goferPid], cgroupOf(st));
  }
  log.phase("delete: processes gone");
  // The overlay's `self` filestores are the container's; they go with it.
  for (const err of removeFilestores(st.bundle, id)) log.warning(err);
  await cgroupOf(st)?.remove();
  store.remove(id);
  log.phase("delete: removed");
  // After the container is gone, before delete returns (runtime-spec lifecycle step 13).
  if (st.hooks) await runHooks("poststop", st.hooks, hookStateOf(st, "stopped"));
}

/**
 * `delete --force`: kills every host process of container `id` and removes its state, whatever
 * the sandbox is doing (stopped, busy, deadlocked, socket gone) and however far create got. The
 * sandbox is never asked: a Sentry that does not answer must not stop the kill. Every wait is
 * bounded.
 */
async function forceDelete(ctx: Context, id: string): Promise<void> {
  const { store } = ctx;
  let dirExists = true;
  try {
    Deno.statSync(store.dir(id));
  } catch {
    dirExists = false;
  }
  if (!dirExists) throw new StateError(`container "${id}" does not exist`, "notfound");
  const lock = await lockWithin(ctx, id, FORCE_LOCK_WAIT_MS);
  let st: ContainerState | undefined;
  try {
    try {
      st = store.read(id);
    } catch (e) {
      // A create killed before it wrote the state: what runs is found by its argv alone.
      log.debug(`delete --force ${id}: ${(e as Error).message}`);
    }
    const bundle = st?.bundle;
    const cg = st ? cgroupOf(st) : null;
    await killSandboxProcesses(
      ctx,
      id,
      bundle,
      [st?.pid ?? 0, st?.goferPid ?? 0],
      cg,
      st?.spareProcs,
    );
    log.phase("delete: processes gone");
    if (bundle) { for (const err of removeFilestores(bundle, id)) log.warning(err); }
    await cg?.remove();
    store.remove(id);
    log.phase("delete: removed");
  } finally {
    lock?.release();
  }
  if (st?.hooks) await runHooks("poststop", st.hooks, hookStateOf(st, "stopped"));
}

/** Whether `pid` is the first process (pid 1) of a PID namespace of its own. */
function namespaceInit(pid: number): boolean {
  try {
    const nspid = /^NSpid:\s+(.*)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    const ids = nspid?.[1].trim().split(/\s+/) ?? [];
    return ids.length > 1 && ids.at(-1) === "1";
  } catch {
    return false;
  }
}

/**
 * The fast way to end a confined sandbox: when the recorded boot is its PID namespace's init and
 * the recorded gofer's nsinit has its own init below it, SIGKILL both inits. The kernel then
 * kills everything else in their namespaces (the stubs) and lets an init become a zombie only
 * once they are all gone, so a zombie init means a sandbox without processes, and no scan of
 * /proc is needed. Returns false, having done nothing, when the processes are not so (not
 * root, or a create that did not get that far): the caller then finds them by scanning.
 */
async function endSandboxNamespaces(
  id: string,
  root: string,
  bundle: string | undefined,
  [boot, gofer]: number[],
): Promise<boolean> {
  if (!(boot > 0 && gofer > 0)) return false;
  const argvOf = (pid: number) => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    } catch {
      return [];
    }
  };
  let goferInit = 0;
  try {
    goferInit = forkedChild(gofer);
  } catch {
    return false;
  }
  const ours = (pid: number, role: string) => {
    const argv = argvOf(pid);
    return argv.includes(role) && hasFlag(argv, "--id", id) &&
      (bundle === undefined || hasFlag(argv, "--bundle", bundle)) &&
      (role !== "boot" || hasFlag(argv, "--root", root));
  };
  if (
    !namespaceInit(boot) || !namespaceInit(goferInit) || !ours(boot, "boot") ||
    !ours(goferInit, "gofer")
  ) return false;
  // The nsinit parents go first: one that saw its child killed would say so on the
  // container's stderr. (They are reaped here when they are ours: `run`.)
  const parents = [gofer, ...parentsOf(boot).filter((p) => ours(p, "boot"))];
  const all = [...parents, boot, goferInit];
  for (const pid of all) {
    log.debug(`delete ${id}: killing ${pid}`);
    hostKill(pid, SIGKILL);
  }
  const deadline = Date.now() + FORCE_KILL_WAIT_MS;
  while (all.some(processAlive) && Date.now() < deadline) {
    for (const pid of all) reap(pid);
    await new Promise((r) => setTimeout(r, 1));
  }
  for (const pid of all) reap(pid);
  return !all.some(processAlive);
}

/** The parent of `pid` (as a one-element list), or none when it is gone. */
function parentsOf(pid: number): number[] {
  const f = procStat(pid);
  return f ? [Number(f[1])] : [];
}

/** SIGKILLs every host process of container `id` (sandboxProcesses); waits, bounded, for them. */
export async function killSandboxProcesses(
  ctx: Context,
  id: string,
  bundle: string | undefined,
  recorded: number[],
  cgroup: Cgroup | null = null,
  spareProcs?: readonly ProcessId[],
): Promise<void> {
  // Thawed first: frozen processes die only once thawed, and reading a frozen process's
  // /proc/<pid>/cmdline (sandboxProcesses) can wait as long as it stays frozen.
  if (cgroup?.frozen()) {
    for (const pid of cgroup.pids()) hostKill(pid, SIGKILL);
    await cgroup.freeze(false).catch((e) => log.warning(`delete ${id}: ${e.message}`));
  }
  if (spareProcs) return await endProcesses(spareProcs);
  if (await endSandboxNamespaces(id, ctx.store.root, bundle, recorded)) return;
  const pids = sandboxProcesses(id, ctx.store.root, bundle, recorded);
  for (const pid of pids) {
    log.debug(`delete ${id}: killing ${pid}`);
    try {
      hostKill(pid, SIGKILL);
    } catch { /* gone already */ }
  }
  const deadline = Date.now() + FORCE_KILL_WAIT_MS;
  while (pids.some(processAlive) && Date.now() < deadline) {
    for (const pid of pids) reap(pid);
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const pid of pids) reap(pid);
  const left = pids.filter(processAlive);
  if (left.length) log.warning(`delete ${id}: still running after SIGKILL: ${left}`);
}

/**
 * The container's lock if it can be had within `ms`, else null: another command stuck on a
 * wedged sandbox holds it, and force goes ahead without it.
 */
async function lockWithin(ctx: Context, id: string, ms: number) {
  const pending = ctx.store.lock(id);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
  try {
    const got = await Promise.race([pending, timeout]);
    if (got === null) {
      log.warning(`delete --force ${id}: lock held by another command; going ahead`);
      // Given back at once should it come later.
      pending.then((l) => l.release(), () => {});
    }
    return got;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** One host process as /proc shows it. */
/** A host process as /proc shows it. */
export interface HostProcess {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** The state letter of /proc/[pid]/stat (R, S, T, Z, ...). */
  state: string;
  argv: string[];
  /** The executable (/proc/[pid]/exe), "" when unreadable. */
  exe: string;
}

/**
 * Whether p is a ptrace stub: its executable is the Sentry's memfd; one not yet taken over
 * still shows the argv it was started with (a taken-over stub's argv is unreadable).
 */
export function isStub(p: { argv: string[]; exe: string }): boolean {
  return p.argv[0] === "runsc-stub" || p.exe.startsWith("/memfd:runsc-stub");
}

/** Every host process (those that vanish while read are left out). */
export function hostProcesses(): HostProcess[] {
  const out: HostProcess[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^[0-9]+$/.test(e.name)) continue;
    try {
      const f = procStat(e.name);
      if (!f) continue;
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      let exe = "";
      try {
        exe = Deno.readLinkSync(`/proc/${e.name}/exe`);
      } catch { /* a kernel thread, or gone */ }
      out.push({
        exe,
        pid: Number(e.name),
        ppid: Number(f[1]),
        pgrp: Number(f[2]),
        session: Number(f[3]),
        state: f[0],
        argv,
      });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** Whether `argv` holds `flag value` (as two words or as `flag=value`). */
function hasFlag(argv: string[], flag: string, value: string): boolean {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag && argv[i + 1] === value) return true;
    if (argv[i] === `${flag}=${value}`) return true;
  }
  return false;
}

/**
 * The host processes of container `id` under state root `root`: boot and gofer (found by their
 * recorded pids when their argv still names the container, and by argv when the create that
 * started them died before recording them) and everything in their sessions (they are started
 * with setsid): the stubs, and the real boot or gofer below an nsinit parent.
 */
export function sandboxProcesses(
  id: string,
  root: string,
  bundle: string | undefined,
  recorded: number[],
): number[] {
  const procs = hostProcesses();
  const self = Deno.pid;
  const ours = (p: HostProcess) => {
    if (!hasFlag(p.argv, "--id", id)) return false;
    if (bundle !== undefined && !hasFlag(p.argv, "--bundle", bundle)) return false;
    const isBoot = p.argv.includes("boot");
    const isGofer = p.argv.includes("gofer");
    if (!isBoot && !isGofer) return false;
    // The same id under another --root is another container; only boot always names its root.
    return !isBoot || hasFlag(p.argv, "--root", root);
  };
  const sessions = new Set<number>();
  for (const p of procs) {
    if (p.pid === self || !ours(p)) continue;
    sessions.add(p.session);
  }
  // A recorded pid leads its session (setsid) when that session still holds a process of this
  // container, or, the leader gone, only stubs: a stub that its Sentry never got to trace (it
  // died first) has no EXITKILL to end it. A session keeps its id from being reused.
  for (const pid of recorded) {
    if (pid <= 0) continue;
    const members = procs.filter((p) => p.session === pid);
    const leaderGone = !members.some((p) => p.pid === pid);
    if (
      members.some(ours) ||
      (leaderGone && members.length > 0 && members.every(isStub))
    ) sessions.add(pid);
  }
  // Never our own session: that would kill the caller (a create that never got to setsid).
  const mine = procs.find((p) => p.pid === self)?.session;
  if (mine !== undefined) sessions.delete(mine);
  return procs.filter((p) =>
    p.pid !== self && (sessions.has(p.session) || (ours(p) && p.session !== mine))
  ).map((p) => p.pid);
}
