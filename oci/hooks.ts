/**
 * OCI lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks"), run by the CLI in the
 * runtime's namespaces, each given the container's state as JSON on its stdin:
 *
 * - `create`: prestart, then createRuntime (status "creating"). One that fails, or outlives
 *   its timeout, fails the create; the sandbox is destroyed and the poststop hooks run.
 * - `start`: poststart once the program runs (status "running"); a failure is a warning.
 * - `delete`: poststop once the sandbox is gone (status "stopped"); a failure is a warning.
 *
 * createContainer and startContainer are to run in the container's namespaces with a path
 * resolved there: the container's namespaces are the Sentry's, and its root file system is
 * served by the Gofer, so no host program can be run in them without running a binary of the
 * container on the host outside the sandbox. They are skipped with a warning, as gVisor's runsc
 * skips them.
 *
 * As runc's, a hook without `env` gets the runtime's environment, and create's hooks run in
 * the bundle directory. Each hook runs in a session (and process group) of its own, so that a
 * timeout kills what it started too; its stdout and stderr go to memory files, read once it has exited, so that a
 * child it leaves behind cannot hold the caller up.
 *
 * @module
 */

import { closeFd, preadFd } from "../host/libc.ts";
import { lseek } from "../host/fsops.ts";
import { boundedMemfd, sealedMemfd } from "../host/mman.ts";
import { hostKill, spawn, W, waitpidAsync } from "../host/spawn.ts";
import { log } from "../log.ts";
import { CliError } from "./command.ts";

/** One hook of the spec (config.json `hooks.<kind>[i]`), checked by parseHooks. */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds, a positive integer. */
  timeout?: number;
}

/** The hook kinds of the spec, in lifecycle order. */
export const HOOK_KINDS = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const;
export type HookKind = typeof HOOK_KINDS[number];

/** The spec's hooks by kind; a kind the spec does not name is absent. */
export type Hooks = Partial<Record<HookKind, Hook[]>>;

/** The OCI state a hook reads on its stdin (runtime.md "State"). */
export interface HookState {
  ociVersion: string;
  id: string;
  status: "creating" | "created" | "running" | "stopped";
  /** Absent once stopped: there is no container process left to name. */
  pid?: number;
  bundle: string;
  annotations: Record<string, string>;
}

/**
 * The state a hook reads for container `st` in `status`: what `runsc state` prints, less this
 * runtime's own fields, and without a pid once stopped (runtime.md requires one only while
 * created or running).
 */
export function hookStateOf(
  st: Pick<HookState, "ociVersion" | "id" | "pid" | "bundle" | "annotations">,
  status: HookState["status"],
): HookState {
  return {
    ociVersion: st.ociVersion,
    id: st.id,
    status,
    ...(status === "stopped" || st.pid === undefined ? {} : { pid: st.pid }),
    bundle: st.bundle,
    annotations: st.annotations,
  };
}

/** A hook that failed where the lifecycle must stop (prestart, createRuntime). */
export class HookError extends CliError {
  constructor(message: string) {
    super(message);
    this.name = "HookError";
  }
}

/** The kinds whose failure is only a warning: the lifecycle goes on (lifecycle steps 9, 13). */
const WARN_ONLY: ReadonlySet<HookKind> = new Set(["poststart", "poststop"]);
/** The kinds run by create. */
const CREATE_TIME: ReadonlySet<HookKind> = new Set([
  "prestart",
  "createRuntime",
  "createContainer",
]);
/** The kinds that cannot be run in the sandbox's container namespaces (see the module doc). */
const SKIPPED: ReadonlySet<HookKind> = new Set(["createContainer", "startContainer"]);

/** How much of a hook's stderr an error message quotes (its end, where the reason usually is). */
const STDERR_QUOTED = 4096;
const SIGKILL = 9;
const SEEK_CUR = 1;
const TIMER_MAX_MS = 2 ** 31 - 1;
/** How much output of a hook is kept (stdout and stderr each); writes past it fail. */
const OUTPUT_MAX = 1 << 20;

/**
 * The spec's `hooks` checked, field by field: a broken config.json is refused at create with
 * the field named, before anything is made. Kinds this runtime does not know are left out.
 */
export function parseHooks(hooks: unknown): Hooks {
  if (hooks === undefined || hooks === null) return {};
  if (typeof hooks !== "object" || Array.isArray(hooks)) {
    throw new CliError("hooks must be an object");
  }
  const out: Hooks = {};
  for (const kind of HOOK_KINDS) {
    const list = (hooks as Record<string, unknown>)[kind];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new CliError(`hooks.${kind} must be an array`);
    out[kind] = list.map((h, i) => parseHook(h, `hooks.${kind}[${i}]`));
  }
  return out;
}

function parseHook(h: unknown, where: string): Hook {
  if (typeof h !== "object" || h === null || Array.isArray(h)) {
    throw new CliError(`${where} must be an object`);
  }
  const { path, args, env, timeout } = h as Record<string, unknown>;
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new CliError(`${where}.path must be an absolute path, got ${JSON.stringify(path)}`);
  }
  const strings = (v: unknown, field: string): string[] | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
      throw new CliError(`${where}.${field} must be an array of strings`);
    }
    // A NUL would cut the string short on its way to execve.
    if (v.some((s) => s.includes("\0"))) {
      throw new CliError(`${where}.${field} must not contain a NUL character`);
    }
    return v;
  };
  if (path.includes("\0")) throw new CliError(`${where}.path must not contain a NUL character`);
  const hook: Hook = { path };
  const a = strings(args, "args");
  if (a) hook.args = a;
  const e = strings(env, "env");
  if (e) hook.env = e;
  if (timeout !== undefined && timeout !== null) {
    if (typeof timeout !== "number" || !Number.isSafeInteger(timeout) || timeout <= 0) {
      throw new CliError(
        `${where}.timeout must be a positive whole number of seconds, got ${
          JSON.stringify(timeout)
        }`,
      );
    }
    hook.timeout = timeout;
  }
  return hook;
}

/**
 * Runs the `kind` hooks of `hooks` one after the other with `state` on their stdin. For
 * prestart and createRuntime the first failure is thrown (HookError); for poststart and
 * poststop each failure is a warning and the next hook runs.
 */
export async function runHooks(kind: HookKind, hooks: Hooks, state: HookState): Promise<void> {
  const list = hooks[kind] ?? [];
  if (list.length === 0) return;
  if (SKIPPED.has(kind)) {
    warn(
      `${list.length} ${kind} hook(s) skipped: they would run in the container's namespaces, ` +
        "which are the sandbox's own",
    );
    return;
  }
  // As runc, which works in the bundle during create: the create-time hooks run there, the
  // others where the command was run (the bundle may be gone by delete).
  const cwd = CREATE_TIME.has(kind) ? state.bundle : callerCwd();
  for (const h of list) {
    const failure = await runHook(h, state, cwd);
    if (failure === null) continue;
    const msg = `${kind} hook ${h.path} ${failure}`;
    if (!WARN_ONLY.has(kind)) throw new HookError(msg);
    warn(msg);
  }
}

/** This process's working directory, or "/" when it has been removed. */
function callerCwd(): string {
  try {
    return Deno.cwd();
  } catch {
    return "/";
  }
}

/** A warning that must be seen: in the --log (warning level) and on the CLI's stderr. */
function warn(msg: string): void {
  log.warning(msg);
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(`runsc: warning: ${msg}\n`));
  } catch { /* no stderr */ }
}

/**
 * Runs one hook in directory `cwd`; null when it exited 0, else why it failed (with the end of
 * its stderr).
 */
async function runHook(h: Hook, state: HookState, cwd: string): Promise<string | null> {
  log.debug(`running hook ${h.path}`, { args: h.args, status: state.status });
  const fds: number[] = [];
  try {
    // Memory files, not pipes: the state needs no reader to be written whole, and the hook's
    // output needs none to be taken, so neither side can block on the other (a child the hook
    // leaves behind may hold them for ever). The state's cannot be changed, and the output's
    // cannot grow past OUTPUT_MAX, however long such a child writes.
    const stdin = sealedMemfd("runsc-hook-state", new TextEncoder().encode(JSON.stringify(state)));
    fds.push(stdin);
    const stdout = boundedMemfd("runsc-hook-stdout", OUTPUT_MAX);
    fds.push(stdout);
    const stderr = boundedMemfd("runsc-hook-stderr", OUTPUT_MAX);
    fds.push(stderr);
    let pid: number;
    try {
      pid = spawn({
        path: h.path,
        argv: h.args?.length ? h.args : [h.path],
        // As runc: without `env` a hook gets the runtime's environment; `[]` is an empty one.
        env: h.env,
        fds: [[0, stdin], [1, stdout], [2, stderr]],
        closeOthers: true,
        setsid: true,
        cwd,
      });
    } catch (e) {
      return `could not be started: ${(e as Error).message}`;
    }
    let timedOut = false;
    // Capped where timers overflow (about 24 days), which would make them fire at once.
    const ms = h.timeout ? Math.min(h.timeout * 1000, TIMER_MAX_MS) : 0;
    const timer = ms
      ? setTimeout(() => {
        timedOut = true;
        // The whole process group: what the hook started must not outlive it.
        hostKill(-pid, SIGKILL);
      }, ms)
      : undefined;
    const st = await waitpidAsync(pid, 0).finally(() => clearTimeout(timer));
    const out = tail(stdout, STDERR_QUOTED);
    const err = tail(stderr, STDERR_QUOTED);
    if (out) log.debug(`hook ${h.path} stdout: ${out}`);
    let why: string | null;
    // A hook that ended by itself just as its time ran out is judged by its own status.
    if (timedOut && W.signaled(st.raw) && W.termSig(st.raw) === SIGKILL) {
      why = `timed out after ${h.timeout} s`;
    } else if (W.exited(st.raw)) {
      const code = W.exitCode(st.raw);
      why = code === 0 ? null : `failed with exit status ${code}`;
    } else {
      why = `was killed by signal ${W.termSig(st.raw)}`;
    }
    if (why === null) return null;
    return err ? `${why}: ${err}` : why;
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}

/**
 * The last `max` bytes the hook wrote to output file `fd`, as text, trimmed. The file has its
 * full size from the start; the offset the hook shares with us says how far it wrote.
 */
function tail(fd: number, max: number): string {
  const end = Number(lseek(fd, 0n, SEEK_CUR));
  const from = Math.max(0, end - max);
  const buf = new Uint8Array(end - from);
  let off = 0;
  while (off < buf.length) {
    const n = preadFd(fd, buf.subarray(off), from + off);
    if (n === 0) break;
    off += n;
  }
  return new TextDecoder().decode(buf.subarray(0, off)).trim();
}
