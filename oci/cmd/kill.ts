/**
 * `runsc kill <id> [signal]`: sends a signal (default TERM) to the container's init, or with
 * `--all` to every process in it.
 *
 * @module
 */

import { CliError, type Command } from "../command.ts";
import { liveStatus, request } from "../container.ts";
import { bool } from "../flags.ts";
import { parseSignal } from "../signals.ts";

export const killCommand: Command = {
  name: "kill",
  summary: "send a signal to a container",
  usage: "<container-id> [signal]",
  args: { min: 1, max: 2 },
  flags: [
    { name: "all", kind: "bool", default: false, aliases: ["a"], help: "signal every process" },
    { name: "pid", kind: "string", default: "0", help: "accepted; only init is signalled" },
  ],
  async run(ctx, [id, sigArg], flags) {
    const signo = parseSignal(sigArg ?? "TERM");
    if (signo === null) throw new CliError(`invalid signal "${sigArg}"`);
    const st = ctx.store.read(id);
    const { status } = await liveStatus(ctx, st);
    // As runc: --all on a stopped container is not an error (cleanup calls it blindly).
    if (status === "stopped" && bool(flags, "all")) return 0;
    if (status !== "created" && status !== "running") {
      throw new CliError(`container "${id}" is not running (${status})`);
    }
    await request(ctx, id, { cmd: "signal", signo, all: bool(flags, "all") });
    return 0;
  },
};
