/**
 * `runsc checkpoint <id>`: not supported yet; answered with a clear error (and runc's flags
 * accepted), so that callers report it instead of failing on an unknown command.
 *
 * @module
 */

import { CliError, type Command } from "../command.ts";
import type { FlagDef } from "../flags.ts";

/** runc's checkpoint and restore flags, accepted so that the error is the one that matters. */
export const CRIU_FLAGS: readonly FlagDef[] = [
  "image-path",
  "work-path",
  "parent-path",
  "page-server",
  "manage-cgroups-mode",
  "empty-ns",
  "status-fd",
  "bundle",
  "pid-file",
  "console-socket",
].map((name) => ({ name, kind: "string", default: "", help: "accepted" }));

/** Boolean flags of runc's checkpoint and restore. */
export const CRIU_BOOL_FLAGS: readonly FlagDef[] = [
  "leave-running",
  "tcp-established",
  "ext-unix-sk",
  "shell-job",
  "lazy-pages",
  "file-locks",
  "pre-dump",
  "auto-dedup",
  "detach",
  "no-subreaper",
  "no-pivot",
].map((name) => ({ name, kind: "bool", default: false, help: "accepted" }));

export const checkpointCommand: Command = {
  name: "checkpoint",
  summary: "checkpoint a running container (not supported)",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [...CRIU_FLAGS, ...CRIU_BOOL_FLAGS],
  run(_ctx, [id]) {
    throw new CliError(`cannot checkpoint container "${id}": checkpoint is not supported`);
  },
};
