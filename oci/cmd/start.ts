/**
 * `runsc start <id>`: starts a created container's program.
 *
 * @module
 */

import { CliError, type Command, type Context } from "../command.ts";
import { liveStatus, request } from "../container.ts";
import { log } from "../../log.ts";

/** Starts container `id`, which must be created and not yet started. */
export async function startContainer(ctx: Context, id: string): Promise<void> {
  using lock = await ctx.store.lock(id);
  void lock;
  const st = ctx.store.read(id);
  let failure: unknown;
  if (st.status === "created") {
    // One round trip: the sandbox refuses to start what is not created, and only then is it
    // asked what it is, for the message.
    try {
      await request(ctx, id, { cmd: "start" });
      log.phase("start: started");
      ctx.store.write({ ...st, status: "running" });
      return;
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
