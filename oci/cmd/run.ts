/**
 * `runsc run <id>`: create, start, wait and delete in one go; exits with the program's status.
 * Signals sent to this process (INT, TERM, HUP, QUIT, USR1, USR2) are forwarded to the container.
 *
 * @module
 */

import { control } from "../../boot/control.ts";
import { log } from "../../log.ts";
import type { Command } from "../command.ts";
import { createContainer, deleteContainer, waitExit } from "../container.ts";
import { bool, str } from "../flags.ts";
import { requestSpare } from "../spare.ts";
import { SIGNALS } from "../signals.ts";
import { CREATE_FLAGS } from "./create.ts";
import { startContainer } from "./start.ts";

const FORWARDED: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

export const runCommand: Command = {
  name: "run",
  summary: "create and run a container",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [
    ...CREATE_FLAGS,
    { name: "detach", kind: "bool", default: false, aliases: ["d"], help: "do not wait for it" },
    { name: "keep", kind: "bool", default: false, help: "do not delete it after it exits" },
  ],
  async run(ctx, [id], flags) {
    const opts = {
      bundle: str(flags, "bundle") || Deno.cwd(),
      pidFile: str(flags, "pid-file") || undefined,
      consoleSocket: str(flags, "console-socket") || undefined,
    };
    await createContainer(ctx, id, opts);
    const sock = ctx.store.socketPath(id);
    const listeners: [Deno.Signal, () => void][] = [];
    const detach = bool(flags, "detach");
    let started = false;
    try {
      await startContainer(ctx, id);
      started = true;
      if (detach) return 0;
      for (const name of FORWARDED) {
        const fn = () => {
          control(sock, { cmd: "signal", signo: SIGNALS[name.slice(3)] }).catch(() => {});
        };
        Deno.addSignalListener(name, fn);
        listeners.push([name, fn]);
      }
      const exitStatus = await waitExit(ctx, id);
      log.phase("run: exited", { exitStatus });
      return exitStatus;
    } finally {
      for (const [name, fn] of listeners) Deno.removeSignalListener(name, fn);
      // A container that could not be started is never left behind.
      if (!started || (!detach && !bool(flags, "keep"))) {
        await deleteContainer(ctx, id, true);
      }
      // The next run's sandbox (--spare only), made in the background once this one is done
      // with the CPU (made meanwhile, it slowed this run down as much as the spare sped it up).
      await requestSpare(ctx, opts);
    }
  },
};
