/**
 * `runsc install` and `runsc uninstall`: add this runtime to (or remove it from) Docker's
 * daemon.json, keeping every other key and runtime as it is. Docker reads the file when it
 * starts (or on SIGHUP).
 *
 * @module
 */

import { dirname, resolve } from "../../path.ts";
import { CliError, type Command } from "../command.ts";
import { str } from "../flags.ts";
import { runningFromSource } from "../reexec.ts";
import { writeFileAtomic } from "../state.ts";

const DEFAULT_CONFIG = "/etc/docker/daemon.json";

/** daemon.json as an object ({} when the file does not exist). */
function readConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (text.trim() === "") return {};
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    throw new CliError(`${path} must hold a JSON object`);
  }
  return c as Record<string, unknown>;
}

function runtimesOf(path: string, c: Record<string, unknown>): Record<string, unknown> {
  const r = c.runtimes ?? {};
  if (typeof r !== "object" || r === null || Array.isArray(r)) {
    throw new CliError(`${path}: "runtimes" must be an object`);
  }
  return r as Record<string, unknown>;
}

function writeConfig(path: string, c: Record<string, unknown>): void {
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, JSON.stringify(c, null, 4) + "\n");
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** The executable Docker should run: this binary, or a launcher given with --path. */
function runtimePath(given: string): string {
  if (given) return resolve(given);
  if (runningFromSource()) {
    throw new CliError(
      "install: running from source, there is no runsc binary to name; give --path " +
        "(e.g. the `runsc` that `deno task install` made) or use `deno task build`",
    );
  }
  return Deno.execPath();
}

const CONFIG_FLAG = {
  name: "config_file",
  kind: "string" as const,
  default: DEFAULT_CONFIG,
  help: "the daemon.json to change",
};
const RUNTIME_FLAG = {
  name: "runtime",
  kind: "string" as const,
  default: "runsc",
  help: "the runtime's name in Docker",
};

export const installCommand: Command = {
  name: "install",
  summary: "add this runtime to Docker's daemon.json",
  usage: "[-- runtime flags...]",
  args: { min: 0, max: -1 },
  interleaved: false,
  flags: [
    CONFIG_FLAG,
    RUNTIME_FLAG,
    {
      name: "path",
      kind: "string",
      default: "",
      help: "the runtime executable (default: this binary)",
    },
  ],
  run(ctx, args, flags) {
    const path = str(flags, "config_file");
    const name = str(flags, "runtime");
    if (!name) throw new CliError("install: --runtime must not be empty");
    const runtimeArgs = args[0] === "--" ? args.slice(1) : args;
    const c = readConfig(path);
    const runtimes = runtimesOf(path, c);
    const entry: Record<string, unknown> = { path: runtimePath(str(flags, "path")) };
    if (runtimeArgs.length) entry.runtimeArgs = runtimeArgs;
    c.runtimes = { ...runtimes, [name]: entry };
    writeConfig(path, c);
    ctx.out(`runtime "${name}" added to ${path}; restart dockerd (or send it SIGHUP)\n`);
    return Promise.resolve(0);
  },
};

export const uninstallCommand: Command = {
  name: "uninstall",
  summary: "remove this runtime from Docker's daemon.json",
  usage: "",
  args: { min: 0, max: 0 },
  flags: [CONFIG_FLAG, RUNTIME_FLAG],
  run(ctx, _args, flags) {
    const path = str(flags, "config_file");
    const name = str(flags, "runtime");
    const c = readConfig(path);
    const runtimes = runtimesOf(path, c);
    if (!(name in runtimes)) throw new CliError(`uninstall: ${path} has no runtime "${name}"`);
    delete runtimes[name];
    if (Object.keys(runtimes).length === 0) delete c.runtimes;
    else c.runtimes = runtimes;
    writeConfig(path, c);
    ctx.out(`runtime "${name}" removed from ${path}\n`);
    return Promise.resolve(0);
  },
};
