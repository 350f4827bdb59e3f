/**
 * `runsc resume <id>`: thaws a container that `runsc pause` froze.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { setPaused } from "./pause.ts";

export const resumeCommand: Command = {
  name: "resume",
  summary: "resume all processes of a paused container",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, [id]) {
    await setPaused(ctx, id, false);
    return 0;
  },
};
