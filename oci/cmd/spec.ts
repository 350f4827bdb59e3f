/**
 * `runsc spec`: writes a default config.json into the bundle, like `runc spec`.
 *
 * @module
 */

import { join, resolve } from "../../path.ts";
import { CliError, type Command } from "../command.ts";
import { str } from "../flags.ts";
import { defaultSpec } from "../spec.ts";
import { writeFileAtomic } from "../state.ts";

export const specCommand: Command = {
  name: "spec",
  summary: "create a new specification file (config.json)",
  usage: "",
  args: { min: 0, max: 0 },
  flags: [
    { name: "bundle", kind: "string", default: "", aliases: ["b"], help: "path to the bundle" },
    { name: "rootless", kind: "bool", default: false, help: "accepted; the spec is the same" },
  ],
  run(_ctx, _args, flags) {
    const file = join(resolve(str(flags, "bundle") || "."), "config.json");
    try {
      Deno.statSync(file);
      throw new CliError(`file ${file} exists; remove it first`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    try {
      writeFileAtomic(file, JSON.stringify(defaultSpec(), null, "\t") + "\n");
    } catch (e) {
      throw new CliError(`write ${file}: ${(e as Error).message}`, { cause: e });
    }
    return Promise.resolve(0);
  },
};
