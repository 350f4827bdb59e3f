/**
 * `runsc events <id>`: the container's resource statistics as runc prints them, one JSON object
 * per line (`{"type":"stats","id":...,"data":{cpu,memory,pids,blkio}}`): once with `--stats`
 * (what containerd reads), else every `--interval` until the container stops.
 *
 * @module
 */

import { CliError, type Command, type Context } from "../command.ts";
import { cgroupOf, liveStatus } from "../container.ts";
import { bool, str } from "../flags.ts";

/** Parses a Go-style duration (`5s`, `500ms`, `1m`) into milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (!m) throw new CliError(`events: invalid --interval "${s}" (e.g. 5s, 500ms)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw new CliError(`events: --interval must be positive, got "${s}"`);
  return ms;
}

async function statsLine(ctx: Context, id: string): Promise<string | null> {
  const st = ctx.store.read(id);
  const { status } = await liveStatus(ctx, st);
  if (status === "stopped") return null;
  const data = cgroupOf(st)?.stats() ?? { cpu: {}, memory: {}, pids: {}, blkio: {} };
  return JSON.stringify({ type: "stats", id, data }) + "\n";
}

export const eventsCommand: Command = {
  name: "events",
  summary: "display container events such as resource usage",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [
    { name: "stats", kind: "bool", default: false, help: "print the statistics once and exit" },
    { name: "interval", kind: "string", default: "5s", help: "time between statistics" },
  ],
  async run(ctx, [id], flags) {
    const interval = parseDuration(str(flags, "interval"));
    if (bool(flags, "stats")) {
      const line = await statsLine(ctx, id);
      if (line === null) throw new CliError(`container "${id}" is not running`);
      ctx.out(line);
      return 0;
    }
    for (;;) {
      const line = await statsLine(ctx, id);
      if (line === null) return 0;
      ctx.out(line);
      await new Promise((r) => setTimeout(r, interval));
    }
  },
};
