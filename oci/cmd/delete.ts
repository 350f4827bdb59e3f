/**
 * `runsc delete <id>`: deletes a stopped (or created) container; `--force` kills a running one.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { deleteContainer } from "../container.ts";
import { bool } from "../flags.ts";
import { StateError } from "../state.ts";

export const deleteCommand: Command = {
  name: "delete",
  summary: "delete resources held by a container",
  usage: "<container-id>...",
  args: { min: 1, max: -1 },
  flags: [
    { name: "force", kind: "bool", default: false, aliases: ["f"], help: "kill it if running" },
  ],
  async run(ctx, ids, flags) {
    const force = bool(flags, "force");
    for (const id of ids) {
      try {
        await deleteContainer(ctx, id, force);
      } catch (e) {
        // runc: deleting what does not exist is not an error with --force.
        if (force && e instanceof StateError && e.code === "notfound") continue;
        throw e;
      }
    }
    return 0;
  },
};
