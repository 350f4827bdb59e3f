/**
 * `runsc exec <id> <command> [args...]` (or `--process <file.json>`, as containerd calls it):
 * runs another process in a running container, with this command's stdio, and exits with its
 * status (or, with --detach, as soon as it has started, writing its pid to --pid-file).
 *
 * @module
 */

import { CliError, type Command } from "../command.ts";
import { request } from "../container.ts";
import { bool, str } from "../flags.ts";
import { loadSpec } from "../spec.ts";
import { dirname, join } from "../../path.ts";
import { type ExecProcess, sendStdio, STDIO_SOCKET } from "../../sentry/control.ts";

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
  if (p.terminal) throw new CliError(`exec: ${path}: a terminal is not supported yet`);
  return {
    args: p.args,
    env: Array.isArray(p.env) ? p.env.map(String) : [],
    cwd: typeof p.cwd === "string" && p.cwd.startsWith("/") ? p.cwd : "/",
    uid: Number(p.user?.uid ?? 0),
    gid: Number(p.user?.gid ?? 0),
    additionalGids: Array.isArray(p.user?.additionalGids) ? p.user.additionalGids.map(Number) : [],
  };
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
    { name: "console-socket", kind: "string", default: "", help: "accepted; needs --tty" },
  ],
  async run(ctx, [id, ...argv], flags) {
    if (bool(flags, "tty")) throw new CliError("exec: a terminal (--tty) is not supported yet");
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
      };
    }
    // The stdio travels first, over the socket beside ctl.sock, labelled with a fresh token
    // that the request then names.
    const stdioToken = crypto.randomUUID();
    try {
      sendStdio(join(dirname(ctx.store.socketPath(id)), STDIO_SOCKET), stdioToken);
    } catch (e) {
      throw new CliError(
        `exec: container "${id}" is not running (cannot pass it stdio: ${(e as Error).message})`,
      );
    }
    const { pid } = await request(ctx, id, { cmd: "exec", process, stdioToken });
    if (str(flags, "pid-file")) await Deno.writeTextFile(str(flags, "pid-file"), String(pid));
    if (bool(flags, "detach")) return 0;
    const { exitStatus } = await request(ctx, id, { cmd: "waitpid", pid });
    return exitStatus;
  },
};
