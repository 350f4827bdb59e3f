/**
 * `runsc create <id>`: creates a container from a bundle; the program is loaded and waits for
 * `runsc start`.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { createContainer } from "../container.ts";
import { requestSpare } from "../spare.ts";
import { type FlagDef, str } from "../flags.ts";

/** Flags shared by create and run. */
export const CREATE_FLAGS: readonly FlagDef[] = [
  {
    name: "bundle",
    kind: "string",
    default: "",
    aliases: ["b"],
    help: "path to the bundle (default: the current directory)",
  },
  { name: "pid-file", kind: "string", default: "", help: "file to write the sandbox's pid to" },
  {
    name: "console-socket",
    kind: "string",
    default: "",
    help: "unix socket to send the console's pty master to (accepted; no terminal support yet)",
  },
  { name: "no-pivot", kind: "bool", default: false, help: "accepted for runc compatibility" },
  { name: "no-new-keyring", kind: "bool", default: false, help: "accepted for runc compatibility" },
  { name: "user-log", kind: "string", default: "", help: "accepted (gVisor)" },
  {
    name: "preserve-fds",
    kind: "string",
    default: "0",
    help: "accepted (containerd); descriptors beyond stdio are not passed in",
  },
];

export const createCommand: Command = {
  name: "create",
  summary: "create a container",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: CREATE_FLAGS,
  async run(ctx, [id], flags) {
    const opts = {
      bundle: str(flags, "bundle") || Deno.cwd(),
      pidFile: str(flags, "pid-file") || undefined,
      consoleSocket: str(flags, "console-socket") || undefined,
    };
    await createContainer(ctx, id, opts);
    // The next create's sandbox (--spare only), made in the background.
    await requestSpare(ctx, opts);
    return 0;
  },
};
