/**
 * `runsc exec <id> <command> [args...]` (or `--process <file.json>`, as containerd calls it):
 * runs another process in a running container, with this command's stdio, and exits with its
 * status. With --detach it returns once the process has started; its --pid-file then names a
 * host process that stands for it (`runsc wait --proxy`: lives as long as it, forwards
 * signals to it, exits with its status), which containerd's shim adopts and waits for.
 *
 * @module
 */

import { CliError, type Command, type Context } from "../command.ts";
import { openDevNull, readReady, refuseIfPaused, request } from "../container.ts";
import { bool, str } from "../flags.ts";
import { loadSpec } from "../spec.ts";
import { dirname, join, resolve } from "../../path.ts";
import { closeFd, pipe } from "../../host/libc.ts";
import { spawn } from "../../host/spawn.ts";
import { O_CLOEXEC } from "../../abi/linux/file.ts";
import { selfCliArgv } from "../reexec.ts";
import { openConsole } from "../console.ts";
import { writeFileAtomic } from "../state.ts";
import { type ExecProcess, sendStdio, STDIO_SOCKET } from "../../boot/control.ts";

/** Parses runc's --user: `uid[:gid]`. */
function parseUser(s: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(s);
  if (!m) throw new CliError(`exec: --user must be uid[:gid], got "${s}"`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}

/** The process of a --process file: an OCI process object. */
function fromProcessFile(path: string): ExecProcess {
  let p;
  try {
    p = JSON.parse(Deno.readTextFileSync(path));
  } catch (e) {
    throw new CliError(`exec: cannot read --process ${path}: ${(e as Error).message}`);
  }
  if (
    !Array.isArray(p?.args) || p.args.length === 0 ||
    !p.args.every((a: unknown) => typeof a === "string")
  ) {
    throw new CliError(`exec: ${path}: args must be a non-empty array of strings`);
  }
  return {
    args: p.args,
    env: Array.isArray(p.env) ? p.env.map(String) : [],
    cwd: typeof p.cwd === "string" && p.cwd.startsWith("/") ? p.cwd : "/",
    uid: Number(p.user?.uid ?? 0),
    gid: Number(p.user?.gid ?? 0),
    additionalGids: Array.isArray(p.user?.additionalGids) ? p.user.additionalGids.map(Number) : [],
    terminal: p.terminal === true,
  };
}

/** How long the proxy of a detached exec may take to start. */
const PROXY_READY_MS = 30_000;

/**
 * Starts `runsc wait --proxy` for process `pid` of container `id`, in its own session with
 * /dev/null for stdio; returns its host pid once it forwards signals.
 */
async function startProxy(ctx: Context, id: string, pid: number): Promise<number> {
  const [readyRead, readyWrite] = pipe(O_CLOEXEC);
  let proxyPid = 0;
  try {
    const argv = selfCliArgv([
      ...ctx.global.passOn.filter((f) => !f.startsWith("--root=")),
      `--root=${ctx.store.root}`,
      "wait",
      "--proxy",
      `--pid=${pid}`,
      "--ready-fd=3",
      id,
    ]);
    const devNull = openDevNull();
    try {
      proxyPid = spawn({
        path: argv[0],
        argv,
        fds: [[0, devNull], [1, devNull], [2, devNull], [3, readyWrite]],
        setsid: true,
        cwd: "/",
      });
    } finally {
      closeFd(devNull);
      closeFd(readyWrite);
    }
    const line = await readReady(readyRead, PROXY_READY_MS, () => {
      try {
        Deno.kill(proxyPid, "SIGKILL");
      } catch { /* gone */ }
    });
    if (line !== "ready") {
      throw new CliError(`exec: the host process standing for process ${pid} did not start`);
    }
    return proxyPid;
  } finally {
    closeFd(readyRead);
  }
}

export const execCommand: Command = {
  name: "exec",
  summary: "run another process in a running container",
  usage: "<container-id> [command [args...]]",
  args: { min: 1, max: -1 },
  interleaved: false,
  flags: [
    {
      name: "process",
      kind: "string",
      default: "",
      aliases: ["p"],
      help: "an OCI process JSON file",
    },
    { name: "cwd", kind: "string", default: "", help: "working directory inside the container" },
    { name: "env", kind: "string", default: "", aliases: ["e"], help: "KEY=VALUE to add (one)" },
    { name: "user", kind: "string", default: "", aliases: ["u"], help: "uid[:gid]" },
    { name: "detach", kind: "bool", default: false, aliases: ["d"], help: "do not wait for it" },
    { name: "pid-file", kind: "string", default: "", help: "write the process's pid here" },
    { name: "tty", kind: "bool", default: false, aliases: ["t"], help: "allocate a terminal" },
    {
      name: "console-socket",
      kind: "string",
      default: "",
      help: "with a terminal: where to send its master (pty controller)",
    },
    { name: "preserve-fds", kind: "string", default: "0", help: "accepted (containerd)" },
    { name: "no-new-privs", kind: "bool", default: false, help: "accepted (runc)" },
    { name: "process-label", kind: "string", default: "", help: "accepted (runc)" },
    { name: "apparmor", kind: "string", default: "", help: "accepted (runc)" },
  ],
  async run(ctx, [id, ...argv], flags) {
    const state = ctx.store.read(id);
    let process: ExecProcess;
    if (str(flags, "process")) {
      if (argv.length > 0) throw new CliError("exec: give either --process or a command, not both");
      process = fromProcessFile(str(flags, "process"));
    } else {
      if (argv.length === 0) throw new CliError("exec: no command given");
      // What runc does: the container's own environment and user, then the flags.
      const spec = loadSpec(state.bundle).process!;
      const user = str(flags, "user") ? parseUser(str(flags, "user")) : spec.user;
      process = {
        args: argv,
        env: [...(spec.env ?? []), ...(str(flags, "env") ? [str(flags, "env")] : [])],
        cwd: str(flags, "cwd") || spec.cwd,
        uid: user.uid,
        gid: user.gid,
        additionalGids: [],
        terminal: bool(flags, "tty"),
      };
    }
    const consoleSocket = str(flags, "console-socket");
    if (process.terminal && !consoleSocket) {
      throw new CliError("exec: a terminal needs --console-socket (where its master goes)");
    }
    // The stdio travels first, over the socket beside ctl.sock, labelled with a fresh token
    // that the request then names.
    const stdioToken = crypto.randomUUID();
    // Before the stdio goes: a frozen sandbox would not take it.
    refuseIfPaused(ctx, id);
    // With a terminal, its slave is the stdio (the Sentry connects a pty of its own to it).
    const tty = process.terminal ? openConsole(consoleSocket) : -1;
    try {
      sendStdio(
        join(dirname(ctx.store.socketPath(id)), STDIO_SOCKET),
        stdioToken,
        tty >= 0 ? [tty, tty, tty] : [0, 1, 2],
      );
    } catch (e) {
      throw new CliError(
        `exec: container "${id}" is not running (cannot pass it stdio: ${(e as Error).message})`,
      );
    } finally {
      if (tty >= 0) closeFd(tty);
    }
    const { pid } = await request(ctx, id, { cmd: "exec", process, stdioToken });
    const pidFile = str(flags, "pid-file");
    if (bool(flags, "detach")) {
      // The pid-file names a host process that lives and ends with the exec'd one (the
      // sandbox's pids mean nothing on the host), which the caller's shim adopts and waits for.
      if (pidFile) writeFileAtomic(resolve(pidFile), String(await startProxy(ctx, id, pid)));
      return 0;
    }
    if (pidFile) writeFileAtomic(resolve(pidFile), String(pid));
    const { exitStatus } = await request(ctx, id, { cmd: "waitpid", pid });
    return exitStatus;
  },
};
