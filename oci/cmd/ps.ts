/**
 * `runsc ps <id>`: lists the processes running inside the container (the table); with
 * `--format json`, the host pids that stand for the container, as runc's callers expect.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { cgroupOf, request } from "../container.ts";
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
      help: "table, or json (the container's host pids)",
    },
  ],
  async run(ctx, [id], flags) {
    const st = ctx.store.read(id);
    if (str(flags, "format") === "json") {
      // As runc: host pids (containerd's task pids; `docker top` looks them up in the host's
      // ps). The application's pids mean nothing on the host: these are the sandbox's own
      // processes, those of its cgroup.
      const pids = cgroupOf(st)?.pids() ?? [];
      ctx.out(JSON.stringify(pids.length ? pids : [st.pid]) + "\n");
    } else {
      const { processes } = await request(ctx, id, { cmd: "ps" });
      const lines = ["PID    PPID   CMD"];
      for (const p of processes) {
        lines.push(`${String(p.pid).padEnd(6)} ${String(p.ppid).padEnd(6)} ${p.cmd}`);
      }
      ctx.out(lines.join("\n") + "\n");
    }
    return 0;
  },
};
