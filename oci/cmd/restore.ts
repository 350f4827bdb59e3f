/**
 * `runsc restore <id>`: not supported yet; answered with a clear error.
 *
 * @module
 */

import { CliError, type Command } from "../command.ts";
import { CRIU_BOOL_FLAGS, CRIU_FLAGS } from "./checkpoint.ts";

export const restoreCommand: Command = {
  name: "restore",
  summary: "restore a checkpointed container (not supported)",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [...CRIU_FLAGS, ...CRIU_BOOL_FLAGS],
  run(_ctx, [id]) {
    throw new CliError(`cannot restore container "${id}": restore is not supported`);
  },
};
