/**
 * `runsc ps <id>`: lists the processes running inside the container.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { request } from "../container.ts";
import { str } from "../flags.ts";

export const psCommand: Command = {
  name: "ps",
  summary: "display the processes running inside a container",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [
    {
      name: "format",
      kind: "string",
      default: "table",
      choices: ["table", "json"],
      aliases: ["f"],
      help: "table or json (a list of pids)",
    },
  ],
  async run(ctx, [id], flags) {
    ctx.store.read(id);
    const { processes } = await request(ctx, id, { cmd: "ps" });
    if (str(flags, "format") === "json") {
      ctx.out(JSON.stringify(processes.map((p) => p.pid)) + "\n");
    } else {
      const lines = ["PID    PPID   CMD"];
      for (const p of processes) {
        lines.push(`${String(p.pid).padEnd(6)} ${String(p.ppid).padEnd(6)} ${p.cmd}`);
      }
      ctx.out(lines.join("\n") + "\n");
    }
    return 0;
  },
};
