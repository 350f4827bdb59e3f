/**
 * `runsc start <id>`: starts a created container's program.
 *
 * @module
 */

import { CliError, type Command, type Context } from "../command.ts";
import { liveStatus, request } from "../container.ts";
import { log } from "../../log.ts";
import { hookStateOf, runHooks } from "../hooks.ts";
import type { ContainerState } from "../state.ts";

/**
 * Starts container `id`, which must be created and not yet started, then runs its poststart
 * hooks (their failures are warnings: the container runs).
 */
export async function startContainer(ctx: Context, id: string): Promise<void> {
  const st = await startLocked(ctx, id);
  // Outside the container's lock: a hook may well ask runsc about the container.
  if (st.hooks) await runHooks("poststart", st.hooks, hookStateOf(st, "running"));
}

/** Starts container `id` under its lock; returns its state as it was when created. */
async function startLocked(ctx: Context, id: string): Promise<ContainerState> {
  using lock = await ctx.store.lock(id);
  void lock;
  const st = ctx.store.read(id);
  if (st.hooks && st.status === "created") {
    await runHooks("startContainer", st.hooks, hookStateOf(st, "created"));
  }
  let failure: unknown;
  if (st.status === "created") {
    // One round trip: the sandbox refuses to start what is not created, and only then is it
    // asked what it is, for the message.
    try {
      await request(ctx, id, { cmd: "start" });
      log.phase("start: started");
      ctx.store.write({ ...st, status: "running" });
      return st;
    } catch (e) {
      failure = e;
    }
  }
  const { status } = await liveStatus(ctx, st);
  if (status !== "created") {
    throw new CliError(`cannot start container "${id}" in state ${status}`);
  }
  if (failure !== undefined) throw failure;
  await request(ctx, id, { cmd: "start" });
  log.phase("start: started");
  ctx.store.write({ ...st, status: "running" });
  return st;
}

export const startCommand: Command = {
  name: "start",
  summary: "start a created container",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, [id]) {
    await startContainer(ctx, id);
    return 0;
  },
};
