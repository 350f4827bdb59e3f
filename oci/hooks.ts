/**
 * OCI lifecycle hooks that `runsc create` runs once the sandbox exists: prestart and
 * createRuntime, in the runtime's namespaces, each given the container's state as JSON on its
 * stdin (what Docker's libnetwork-setkey reads to set up the container's network namespace).
 * A hook that fails, or outlives its timeout, fails the create.
 *
 * @module
 */

import { closeFd, pipe, writeAll } from "../host/libc.ts";
import { hostKill, spawn, W, waitpidAsync } from "../host/spawn.ts";
import { O_CLOEXEC } from "../abi/linux/file.ts";
import { CliError } from "./command.ts";

/** One hook of the spec (config.json `hooks.<kind>[i]`). */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** The hooks `create` runs, in order. */
const CREATE_HOOKS = ["prestart", "createRuntime"] as const;
const SIGKILL = 9;

/** The create-time hooks of a spec's `hooks`, checked. */
export function createHooks(hooks: Record<string, unknown> | undefined): Hook[] {
  const out: Hook[] = [];
  for (const kind of CREATE_HOOKS) {
    const list = hooks?.[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new CliError(`hooks.${kind} must be an array`);
    for (const h of list as Hook[]) {
      if (typeof h?.path !== "string" || !h.path.startsWith("/")) {
        throw new CliError(`hooks.${kind}: a hook's path must be absolute`);
      }
      out.push(h);
    }
  }
  return out;
}

/** Runs `hooks` one after the other with `state` on their stdin. */
export async function runHooks(hooks: readonly Hook[], state: unknown): Promise<void> {
  const json = new TextEncoder().encode(JSON.stringify(state));
  for (const h of hooks) {
    // The state is small: it fits in the pipe before the hook reads it.
    const [r, w] = pipe(O_CLOEXEC);
    let pid: number;
    try {
      writeAll(w, json);
      closeFd(w);
      pid = spawn({
        path: h.path,
        argv: h.args?.length ? h.args : [h.path],
        env: h.env ?? [],
        fds: [[0, r]],
        closeOthers: true,
        cwd: "/",
      });
    } finally {
      closeFd(r);
      closeFd(w);
    }
    const timer = h.timeout && h.timeout > 0
      ? setTimeout(() => hostKill(pid, SIGKILL), h.timeout * 1000)
      : undefined;
    const st = await waitpidAsync(pid, 0).finally(() => clearTimeout(timer));
    if (!W.exited(st.raw) || W.exitCode(st.raw) !== 0) {
      throw new CliError(`hook ${h.path} failed (wait status ${st.raw})`);
    }
  }
}
