/**
 * `runsc state <id>`: prints the container's OCI state as JSON.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { liveStatus } from "../container.ts";
import { ociState } from "../state.ts";

export const stateCommand: Command = {
  name: "state",
  summary: "output the state of a container",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, [id]) {
    const st = ctx.store.read(id);
    const { status } = await liveStatus(ctx, st);
    ctx.out(JSON.stringify(ociState({ ...st, status }), null, "  ") + "\n");
    return 0;
  },
};
