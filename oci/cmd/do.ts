/**
 * `runsc do <command> [args...]`: runs a command in a sandbox without a bundle, as gVisor's
 * `runsc do` does. The sandbox's root is the host's root filesystem (or --root), read-only
 * under an in-memory overlay, so the command may write but the host is never changed; it
 * starts in the current directory with the caller's environment and exits with the command's
 * status.
 *
 * @module
 */

import { allCapabilityNames } from "../../sentry/kernel/task_creds.ts";
import { join } from "../../path.ts";
import { CliError, type Command } from "../command.ts";
import { str } from "../flags.ts";
import { runCommand } from "./run.ts";

export const doCommand: Command = {
  name: "do",
  summary: "run a command in a sandbox over the host's root filesystem (no bundle)",
  usage: "<command> [args...]",
  args: { min: 1, max: -1 },
  interleaved: false,
  flags: [
    { name: "root", kind: "string", default: "/", help: "root filesystem of the sandbox" },
    {
      name: "cwd",
      kind: "string",
      default: "",
      help: "working directory (default: the current one)",
    },
  ],
  async run(ctx, args, flags) {
    const rootfs = str(flags, "root");
    const cwd = str(flags, "cwd") || Deno.cwd();
    if (!rootfs.startsWith("/")) throw new CliError(`do: --root must be absolute, got "${rootfs}"`);
    if (!cwd.startsWith("/")) throw new CliError(`do: --cwd must be absolute, got "${cwd}"`);
    const bundle = await Deno.makeTempDir({ prefix: "runsc-do-" });
    const id = `runsc-do-${crypto.randomUUID().slice(0, 8)}`;
    try {
      // A file store beside the host's root (root:self) would write into the host: the
      // overlay (of the root and /tmp) is kept in memory unless the caller chose otherwise.
      const overlay2 = ctx.global.overlay2 === "root:self" ? "all:memory" : ctx.global.overlay2;
      const global = {
        ...ctx.global,
        overlay2,
        passOn: ctx.global.passOn.map((f) =>
          f.startsWith("--overlay2=") ? `--overlay2=${overlay2}` : f
        ),
      };
      // Under an overlay the application may write (into memory); without one, the host's
      // files are only read.
      const readonly = overlay2 === "none";
      const config = {
        ociVersion: "1.1.0",
        process: {
          terminal: false,
          user: { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 },
          args,
          env: Object.entries(Deno.env.toObject()).map(([k, v]) => `${k}=${v}`),
          cwd,
          // As gVisor's do: every capability in every set, whatever the user.
          capabilities: {
            bounding: allCapabilityNames(),
            effective: allCapabilityNames(),
            inheritable: allCapabilityNames(),
            permitted: allCapabilityNames(),
            ambient: allCapabilityNames(),
          },
        },
        root: { path: rootfs, readonly },
        hostname: "runsc-do",
        // The host's /tmp, not an empty one: the caller may well be working there.
        mounts: rootfs === "/"
          ? [{
            destination: "/tmp",
            type: "bind",
            source: "/tmp",
            options: ["rbind", readonly ? "ro" : "rw"],
          }]
          : [],
      };
      await Deno.writeTextFile(join(bundle, "config.json"), JSON.stringify(config, null, 2));
      return await runCommand.run({ ...ctx, global }, [id], { bundle });
    } finally {
      await Deno.remove(bundle, { recursive: true }).catch(() => {});
    }
  },
};
