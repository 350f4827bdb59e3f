/**
 * The runtime CLI's top level: parses the global flags, picks the command, parses its flags, and
 * turns every error into `runsc: <message>` on stderr, an error line in `--log`, and exit code 128.
 *
 * @module
 */

import { dirname, resolve } from "../path.ts";
import { log } from "../log.ts";
import { ControlError, ControlUnavailable } from "../boot/control.ts";
import { CliError, type Command, type Context } from "./command.ts";
import { CgroupError } from "./cgroup.ts";
import { createCommand } from "./cmd/create.ts";
import { deleteCommand } from "./cmd/delete.ts";
import { killCommand } from "./cmd/kill.ts";
import { listCommand } from "./cmd/list.ts";
import { psCommand } from "./cmd/ps.ts";
import { runCommand } from "./cmd/run.ts";
import { doCommand } from "./cmd/do.ts";
import { execCommand } from "./cmd/exec.ts";
import { specCommand } from "./cmd/spec.ts";
import { startCommand } from "./cmd/start.ts";
import { stateCommand } from "./cmd/state.ts";
import { waitCommand } from "./cmd/wait.ts";
import { pauseCommand } from "./cmd/pause.ts";
import { resumeCommand } from "./cmd/resume.ts";
import { eventsCommand } from "./cmd/events.ts";
import { updateCommand } from "./cmd/update.ts";
import { featuresCommand } from "./cmd/features.ts";
import { checkpointCommand } from "./cmd/checkpoint.ts";
import { restoreCommand } from "./cmd/restore.ts";
import { installCommand, uninstallCommand } from "./cmd/install.ts";
import { spareCommand } from "./cmd/spare.ts";
import { bool, formatFlags, parseFlags, UsageError } from "./flags.ts";
import { debugLogPath, GLOBAL_FLAGS, globalConfig, SPEC_VERSION, VERSION } from "./global.ts";
import { SpecError } from "./spec.ts";
import { buildKind, buildRevision } from "./build.ts";
import { isValidId, StateError, StateStore } from "./state.ts";

/** Exit code of every runtime error, as containerd expects from runsc. */
export const ERROR_EXIT = 128;

/** Every subcommand, in help order. */
export const COMMANDS: readonly Command[] = [
  createCommand,
  startCommand,
  runCommand,
  stateCommand,
  listCommand,
  killCommand,
  waitCommand,
  deleteCommand,
  psCommand,
  execCommand,
  pauseCommand,
  resumeCommand,
  eventsCommand,
  updateCommand,
  featuresCommand,
  checkpointCommand,
  restoreCommand,
  installCommand,
  uninstallCommand,
  doCommand,
  specCommand,
  spareCommand,
];

const encoder = new TextEncoder();
function out(text: string): void {
  const b = encoder.encode(text);
  let off = 0;
  while (off < b.length) off += Deno.stdout.writeSync(b.subarray(off));
}
function err(text: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(text));
  } catch { /* nowhere to report it */ }
}

function versionText(): string {
  const rev = buildRevision();
  return `runsc version ${VERSION} (TypeScript, Deno ${Deno.version.deno})\n` +
    `build: ${buildKind()}${rev ? `, revision ${rev}` : ""}\nspec: ${SPEC_VERSION}\n`;
}

function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 7);
  const lines = [
    "Usage: runsc [global flags] <command> [command flags] [arguments]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${"flags".padEnd(width)}  list the global flags and their defaults`,
    `  ${"help".padEnd(width)}  print this help, or a command's with: help <command>`,
    `  ${"".padEnd(width)}  help syscalls [--format=table|csv|json]: the system calls offered`,
    "",
    "Global flags:",
    formatFlags(GLOBAL_FLAGS),
    "",
  ];
  return lines.join("\n");
}

function commandHelp(c: Command): string {
  return `Usage: runsc ${c.name} [flags] ${c.usage}\n\n${c.summary}\n` +
    (c.flags.length ? `\nFlags:\n${formatFlags(c.flags)}\n` : "");
}

/**
 * `runsc help syscalls`: the compatibility list from the Sentry's syscall table (loaded only
 * here, so that other commands do not pay for it).
 */
async function syscallsHelp(args: string[]): Promise<number> {
  const { COMPAT_FORMATS, formatCompat } = await import("../sentry/syscalls/compat.ts");
  const parsed = parseFlags(args, [
    { name: "format", kind: "string", default: "table", help: "table, csv or json" },
  ], { context: "help syscalls" });
  const format = parsed.values.format as (typeof COMPAT_FORMATS)[number];
  if (!COMPAT_FORMATS.includes(format) || parsed.rest.length > 0) {
    throw new UsageError(`help syscalls: --format must be one of ${COMPAT_FORMATS.join(", ")}`);
  }
  out(formatCompat(format));
  return 0;
}

/** A message for an error of any kind (with a hint of where it came from for bugs). */
function describe(e: unknown): string {
  if (
    e instanceof CliError || e instanceof UsageError || e instanceof SpecError ||
    e instanceof StateError || e instanceof ControlError || e instanceof ControlUnavailable ||
    e instanceof CgroupError
  ) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/**
 * Runs the CLI with `args` (without the program name); returns the exit code. Never exits the
 * process itself.
 */
export async function cliMain(args: string[]): Promise<number> {
  let logReady = false;
  try {
    const global = parseFlags(args, GLOBAL_FLAGS);
    const config = globalConfig(global.values, global.given);
    // Errors and warnings (a failed poststart or poststop hook) go to --log for containerd;
    // --debug adds debug messages (and --debug-log).
    log.minLevel = config.debug ? "debug" : "warning";
    if (config.log) log.addSink({ path: config.log, format: config.logFormat });
    if (bool(global.values, "alsologtostderr")) log.addSink({ fd: 2, format: "text" });
    logReady = true;

    if (bool(global.values, "version")) {
      out(versionText());
      return 0;
    }
    const [name, ...rest] = global.rest;
    if (name === "help" && rest[0] === "syscalls") return await syscallsHelp(rest.slice(1));
    if (name === undefined || bool(global.values, "help") || name === "help") {
      const c = COMMANDS.find((c) => c.name === rest[0]);
      out(c ? commandHelp(c) : helpText());
      return name === undefined && !bool(global.values, "help") ? ERROR_EXIT : 0;
    }
    if (name === "flags") {
      out(formatFlags(GLOBAL_FLAGS) + "\n");
      return 0;
    }
    if (name === "version") {
      out(versionText());
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"; see "runsc help"`);
    const parsed = parseFlags(rest, [
      ...command.flags,
      { name: "help", kind: "bool", default: false, aliases: ["h"], help: "" },
    ], { interleaved: command.interleaved ?? true, context: name });
    if (bool(parsed.values, "help")) {
      out(commandHelp(command));
      return 0;
    }
    const n = parsed.rest.length;
    if (n < command.args.min || (command.args.max >= 0 && n > command.args.max)) {
      throw new UsageError(
        `"${name}" expects ${command.usage || "no arguments"}, got ${n} argument${
          n === 1 ? "" : "s"
        }` +
          `\nUsage: runsc ${name} [flags] ${command.usage}`,
      );
    }
    if (config.debug && config.debugLog) {
      // Like boot and gofer: %ID% and %COMMAND% expand, a directory gets one file per role.
      // The first argument names the file only when it can be a container id (`do` and `spec`
      // take other words: a path there would make directories of the log's name).
      const first = parsed.rest[0] ?? "";
      const path = debugLogPath(config.debugLog, isValidId(first) ? first : "", name);
      try {
        Deno.mkdirSync(dirname(path), { recursive: true });
        log.addSink({ path, format: config.debugLogFormat });
      } catch (e) {
        throw new CliError(`cannot open --debug-log ${path}: ${(e as Error).message}`);
      }
    }
    const ctx: Context = { global: config, store: new StateStore(resolve(config.root)), out };
    log.debug(`runsc ${name}`, { args });
    log.phase("cli: loaded");
    return await command.run(ctx, parsed.rest, parsed.values);
  } catch (e) {
    const msg = describe(e);
    if (logReady) log.error(msg);
    else {
      // The flags that say where to log may be the ones that failed to parse; find --log alone.
      const logFile = findLogFlag(args);
      if (logFile) {
        log.minLevel = "error";
        try {
          log.addSink({ path: logFile.path, format: logFile.json ? "json" : "text" });
          log.error(msg);
        } catch { /* an unusable --log */ }
      }
    }
    err(`runsc: ${msg}\n`);
    return ERROR_EXIT;
  }
}

/** --log and --log-format pulled from a command line that failed to parse as a whole. */
function findLogFlag(args: string[]): { path: string; json: boolean } | null {
  let path = "";
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const m = /^--?(log|log-format)(?:=(.*))?$/.exec(args[i]);
    if (!m) continue;
    const v = m[2] ?? args[++i] ?? "";
    if (m[1] === "log") path = v;
    else json = v === "json";
  }
  return path ? { path, json } : null;
}
