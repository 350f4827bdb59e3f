/**
 * `runsc wait <id>`: waits for the container's init (or, with `--pid`, a process `exec` started)
 * to exit and prints its exit status.
 *
 * With `--proxy` it stands for that process on the host instead, as `exec --detach --pid-file`
 * starts it for containerd's shim: it prints nothing, forwards the signals it receives to the
 * process, and exits with the process's status; should it be killed itself (SIGKILL cannot be
 * forwarded), the sandbox kills the process.
 *
 * @module
 */

import { closeFd, writeAll } from "../../host/libc.ts";
import { control } from "../../boot/control.ts";
import { CliError, type Command, type Context } from "../command.ts";
import { request, waitExit } from "../container.ts";
import { bool, str } from "../flags.ts";
import { SIGNALS } from "../signals.ts";

/** What a proxy passes on: every signal a process can catch that means something to it. */
const FORWARDED: Deno.Signal[] = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
  "SIGCONT",
  "SIGALRM",
];

/** Waits for exec'd process `pid` as its host proxy; returns its exit status. */
async function proxy(ctx: Context, id: string, pid: number, readyFd: number): Promise<number> {
  const sock = ctx.store.socketPath(id);
  const listeners: [Deno.Signal, () => void][] = [];
  for (const name of FORWARDED) {
    const fn = () => {
      control(sock, { cmd: "signal", pid, signo: SIGNALS[name.slice(3)] }).catch(() => {});
    };
    Deno.addSignalListener(name, fn);
    listeners.push([name, fn]);
  }
  try {
    const exited = request(ctx, id, { cmd: "waitpid", pid, killOnClose: true });
    if (readyFd >= 0) {
      // The caller writes our pid to its --pid-file only now that signals reach the process.
      writeAll(readyFd, new TextEncoder().encode("ready\n"));
      closeFd(readyFd);
    }
    try {
      return (await exited).exitStatus;
    } catch (e) {
      // The sandbox ended (init exited), and every process with it.
      if (e instanceof CliError) return 128 + SIGNALS.KILL;
      throw e;
    }
  } finally {
    for (const [name, fn] of listeners) Deno.removeSignalListener(name, fn);
  }
}

export const waitCommand: Command = {
  name: "wait",
  summary: "wait for a container (or a process in it) to exit",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [
    { name: "pid", kind: "string", default: "0", help: "a process exec started, not init" },
    {
      name: "proxy",
      kind: "bool",
      default: false,
      help: "with --pid: stand for the process (forward signals, exit with its status)",
    },
    { name: "ready-fd", kind: "string", default: "-1", help: "with --proxy: report readiness" },
    { name: "checkpoint", kind: "bool", default: false, help: "accepted (gVisor)" },
    { name: "restore", kind: "bool", default: false, help: "accepted (gVisor)" },
  ],
  async run(ctx, [id], flags) {
    ctx.store.read(id); // a clear error for an unknown container
    const pid = Number(str(flags, "pid"));
    if (!Number.isInteger(pid) || pid < 0) throw new CliError(`wait: invalid --pid ${pid}`);
    if (bool(flags, "proxy")) {
      if (pid === 0) throw new CliError("wait: --proxy needs --pid");
      return await proxy(ctx, id, pid, Number(str(flags, "ready-fd")));
    }
    const exitStatus = pid
      ? (await request(ctx, id, { cmd: "waitpid", pid })).exitStatus
      : await waitExit(ctx, id);
    ctx.out(JSON.stringify({ id, exitStatus }) + "\n");
    return 0;
  },
};
