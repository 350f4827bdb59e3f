/**
 * The container lifecycle shared by the commands: create (spawn gofer and boot, wait for the
 * sandbox to be ready), the live status (asked of the boot process), and delete (destroy the
 * sandbox, reap its processes, remove the state).
 *
 * @module
 */

import { resolve } from "node:path";
import { CONFINE_FLAG, confinedArgv } from "../gofer/confine.ts";
import { removeFilestores } from "../gofer/filestore.ts";
import { closeFd, cstr, HostError, libc, pipe, socketpair } from "../host/libc.ts";
import { hostKill, spawn, waitpid } from "../host/spawn.ts";
import { AT_FDCWD, O_CLOEXEC, O_RDWR } from "../host/fcntl.ts";
import { log } from "../log.ts";
import {
  control,
  ControlError,
  type ControlReplies,
  ControlUnavailable,
} from "../sentry/control.ts";
import { CliError, type Context } from "./command.ts";
import { selfArgv } from "./reexec.ts";
import { loadSpec } from "./spec.ts";
import { type ContainerState, newState, type Status, writeFileAtomic } from "./state.ts";

const SOCK_STREAM = 1;
const WNOHANG = 1;
const SIGKILL = 9;
/** sun_path holds 108 bytes including the terminating NUL. */
const UNIX_PATH_MAX = 107;

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
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
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

/** The child that `unshare --fork` process `pid` started (it exists once the sandbox is ready). */
function forkedChild(pid: number): number {
  const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
  if (!kids) throw new CliError(`sandbox process ${pid} has no child`);
  return Number(kids.split(" ")[0]);
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

function openDevNull(): number {
  const fd = libc.symbols.openat(AT_FDCWD, cstr("/dev/null"), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) throw new CliError("cannot open /dev/null");
  return fd;
}

/** Reads the boot process's readiness line from the pipe, or null at EOF or timeout. */
async function readReady(fd: number, timeoutMs: number, onTimeout: () => void): Promise<string> {
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
  const { store, global } = ctx;
  if (spec.process?.terminal && opts.consoleSocket) {
    // The caller would wait forever for a pty master on the socket.
    throw new CliError(
      `creating container "${id}": process.terminal with --console-socket is not supported yet`,
    );
  }
  const sockPath = store.socketPath(id);
  if (new TextEncoder().encode(sockPath).length > UNIX_PATH_MAX) {
    throw new CliError(
      `control socket path ${sockPath} is longer than ${UNIX_PATH_MAX} bytes; use a shorter --root or id`,
    );
  }
  using lock = await store.reserve(newState(id, bundle, spec.annotations ?? {}));
  void lock;
  let goferPid = 0;
  let bootPid = 0;
  const fds: number[] = [];
  try {
    const [goferEnd, bootEnd] = socketpair(SOCK_STREAM, O_CLOEXEC);
    fds.push(goferEnd, bootEnd);
    const [readyRead, readyWrite] = pipe(O_CLOEXEC);
    fds.push(readyRead, readyWrite);
    const devNull = openDevNull();
    fds.push(devNull);

    // As root, the gofer starts in its own namespaces (gofer/confine.ts).
    const goferArgv = confinedArgv(selfArgv("gofer", [
      "--bundle",
      bundle,
      "--sock-fd",
      "3",
      "--id",
      id,
      ...global.passOn,
    ]));
    goferPid = spawn({
      path: goferArgv[0],
      argv: goferArgv,
      fds: [[0, devNull], [1, devNull], [2, devNull], [3, goferEnd]],
      setsid: true,
      cwd: "/",
    });
    // As root, the Sentry too starts in its own namespaces (sentry/boot.ts confineBoot). In its
    // PID namespace it can see, trace and signal only its own stubs; when it ends, they end.
    const bootArgv = confinedArgv(
      selfArgv("boot", [
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
        ...global.passOn.filter((f) => !f.startsWith("--root=")),
      ]),
      { pid: true, net: global.network !== "host" },
    );
    bootPid = spawn({
      path: bootArgv[0],
      argv: bootArgv,
      fds: [[3, bootEnd], [4, readyWrite]],
      setsid: true,
      cwd: "/",
    });
    log.debug(`started gofer ${goferPid} and boot ${bootPid}`, { id });
    // Recorded at once, so that `delete --force` can clean up after a create that was killed.
    store.write({ ...store.read(id), pid: bootPid, goferPid });
    for (const fd of [goferEnd, bootEnd, readyWrite, devNull]) closeFd(fd);
    fds.length = 0;
    fds.push(readyRead);

    let timedOut = false;
    const line = await readReady(readyRead, READY_TIMEOUT_MS, () => {
      timedOut = true;
      hostKill(bootPid, SIGKILL);
    });
    let ready: { ok: boolean; error?: string };
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
    if (!ready.ok) throw new CliError(`creating container "${id}": ${ready.error}`);

    // Under `unshare --fork` the sandbox is unshare's child: that process, as in runsc, is the
    // state's pid (`kill` of it still ends unshare, which waits for it).
    const sandboxPid = bootArgv.includes(CONFINE_FLAG) ? forkedChild(bootPid) : bootPid;
    const state: ContainerState = {
      ...store.read(id),
      status: "created",
      pid: sandboxPid,
      goferPid,
    };
    store.write(state);
    if (opts.pidFile) writeFileAtomic(resolve(opts.pidFile), String(sandboxPid));
    return state;
  } catch (e) {
    if (bootPid) await killAndWait(bootPid, bootWords(id), 0);
    if (goferPid) await killAndWait(goferPid, goferWords(bundle), 0);
    for (const err of removeFilestores(bundle, id)) log.warning(err);
    store.remove(id);
    if (e instanceof HostError) throw new CliError(`creating container "${id}": ${e.message}`);
    throw e;
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}

/** A container's status as the running sandbox reports it. */
export interface LiveStatus {
  status: Status;
  exitStatus?: number;
}

/** Asks the sandbox for the container's status; a sandbox that is gone means `stopped`. */
export async function liveStatus(ctx: Context, st: ContainerState): Promise<LiveStatus> {
  if (st.status === "creating") {
    return { status: processAlive(st.pid) || st.pid === 0 ? "creating" : "stopped" };
  }
  try {
    const r: ControlReplies["state"] = await control(ctx.store.socketPath(st.id), {
      cmd: "state",
    });
    return r;
  } catch (e) {
    if (e instanceof ControlUnavailable) return { status: "stopped" };
    throw e;
  }
}

/** Sends a control request, turning an unreachable sandbox into "not running". */
export async function request<
  C extends "start" | "signal" | "wait" | "ps" | "exec" | "waitpid",
>(
  ctx: Context,
  id: string,
  req: Parameters<typeof control<C>>[1],
): Promise<ControlReplies[C]> {
  try {
    return await control<C>(ctx.store.socketPath(id), req);
  } catch (e) {
    if (e instanceof ControlUnavailable) {
      throw new CliError(`container "${id}" is not running`, { cause: e });
    }
    if (e instanceof ControlError) throw new CliError(`container "${id}": ${e.message}`);
    throw e;
  }
}

/**
 * Deletes container `id`. A running container is refused unless `force`, which kills it first.
 * Destroys the sandbox, makes sure boot and gofer are gone, and removes the state.
 */
export async function deleteContainer(ctx: Context, id: string, force: boolean): Promise<void> {
  const { store } = ctx;
  using lock = await store.lock(id);
  void lock;
  const st = store.read(id);
  const { status } = await liveStatus(ctx, st);
  if (status === "running" && !force) {
    throw new CliError(`cannot delete container "${id}" that is not stopped: ${status}`);
  }
  if (status === "creating" && !force && processAlive(st.pid)) {
    throw new CliError(`cannot delete container "${id}" that is still being created`);
  }
  const sock = store.socketPath(id);
  if (status === "running") {
    try {
      await control(sock, { cmd: "signal", signo: SIGKILL, all: true }, { timeoutMs: 5000 });
    } catch { /* it may have stopped meanwhile */ }
  }
  try {
    // A wedged sandbox gets a few seconds; then its process is killed below.
    await control(sock, { cmd: "destroy" }, { timeoutMs: 5000 });
  } catch (e) {
    if (!(e instanceof ControlUnavailable)) log.warning(`destroy ${id}: ${(e as Error).message}`);
  }
  if (st.pid) await killAndWait(st.pid, bootWords(id), 5000);
  if (st.goferPid) await killAndWait(st.goferPid, goferWords(st.bundle), 1000);
  // The overlay's `self` filestores are the container's; they go with it.
  for (const err of removeFilestores(st.bundle, id)) log.warning(err);
  store.remove(id);
}
