/**
 * `runsc list`: lists the containers under --root.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { liveStatus } from "../container.ts";
import { bool, str } from "../flags.ts";
import { ociState } from "../state.ts";

export const listCommand: Command = {
  name: "list",
  summary: "list containers started by runsc with the given root",
  usage: "",
  args: { min: 0, max: 0 },
  flags: [
    {
      name: "format",
      kind: "string",
      default: "text",
      choices: ["text", "table", "json"],
      aliases: ["f"],
      help: "text or json",
    },
    { name: "quiet", kind: "bool", default: false, aliases: ["q"], help: "display only ids" },
  ],
  async run(ctx, _args, flags) {
    const rows = [];
    for (const id of ctx.store.list()) {
      let st;
      try {
        st = ctx.store.read(id);
      } catch {
        continue; // deleted meanwhile
      }
      const { status } = await liveStatus(ctx, st);
      rows.push(ociState({ ...st, status }));
    }
    if (bool(flags, "quiet")) {
      ctx.out(rows.map((r) => r.id + "\n").join(""));
    } else if (str(flags, "format") === "json") {
      ctx.out(JSON.stringify(rows) + "\n");
    } else {
      const table = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
      for (const r of rows) {
        table.push([r.id, r.pid, r.status, r.bundle, r.created, r.owner].map(String));
      }
      const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
      ctx.out(
        table.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("   ").trimEnd())
          .join("\n") + "\n",
      );
    }
    return 0;
  },
};
