/**
 * `runsc pause <id>`: freezes every host process of the sandbox (Sentry, gofer, stubs) with the
 * cgroup freezer, as runc does; the application notices nothing but the time that passed.
 *
 * @module
 */

import { CliError, type Command, type Context } from "../command.ts";
import { cgroupOf, liveStatus } from "../container.ts";

/** Freezes (`paused`) or thaws container `id`, which must be running (or paused). */
export async function setPaused(ctx: Context, id: string, paused: boolean): Promise<void> {
  using lock = await ctx.store.lock(id);
  void lock;
  const st = ctx.store.read(id);
  const { status } = await liveStatus(ctx, st);
  const from = paused ? "running" : "paused";
  if (status !== from) {
    throw new CliError(`cannot ${paused ? "pause" : "resume"} container "${id}": it is ${status}`);
  }
  const cg = cgroupOf(st);
  if (!cg) {
    throw new CliError(
      `cannot ${
        paused ? "pause" : "resume"
      } container "${id}": it has no cgroup (linux.cgroupsPath)`,
    );
  }
  await cg.freeze(paused);
  ctx.store.write({ ...st, status: paused ? "paused" : "running" });
}

export const pauseCommand: Command = {
  name: "pause",
  summary: "suspend all processes of a container",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, [id]) {
    await setPaused(ctx, id, true);
    return 0;
  },
};
