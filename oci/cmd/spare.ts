/**
 * `runsc spare`: makes a spare sandbox under `--root` now, for the next `create` with `--spare`
 * and the same global flags (oci/spare.ts); `--stop` ends every spare there instead. `create`
 * and `run` with `--spare` start this command in the background after they took or made their
 * sandbox.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { bool } from "../flags.ts";
import { endSpares, makeSpare } from "../spare.ts";

export const spareCommand: Command = {
  name: "spare",
  summary: "start a spare sandbox for the next create with --spare (--stop: end them)",
  usage: "",
  args: { min: 0, max: 0 },
  flags: [
    { name: "stop", kind: "bool", default: false, help: "end every spare under --root" },
    {
      name: "reserved",
      kind: "bool",
      default: false,
      help: "internal: the caller holds the root's spare-making lock for this process",
    },
  ],
  async run(ctx, _args, flags) {
    if (bool(flags, "stop")) await endSpares(ctx.store.root);
    else await makeSpare(ctx, bool(flags, "reserved"));
    return 0;
  },
};
