/**
 * `runsc wait <id>`: waits for the container's init to exit and prints its exit status.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { waitExit } from "../container.ts";

export const waitCommand: Command = {
  name: "wait",
  summary: "wait for a container to exit",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [
    { name: "checkpoint", kind: "bool", default: false, help: "accepted (gVisor)" },
    { name: "restore", kind: "bool", default: false, help: "accepted (gVisor)" },
  ],
  async run(ctx, [id]) {
    ctx.store.read(id); // a clear error for an unknown container
    const exitStatus = await waitExit(ctx, id);
    ctx.out(JSON.stringify({ id, exitStatus }) + "\n");
    return 0;
  },
};
