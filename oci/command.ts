/**
 * What every CLI command implements, and what it is given to run. Commands return an exit code
 * or throw; only the top level (oci/cli.ts) turns errors into exit codes and `--log` lines.
 *
 * @module
 */

import type { FlagDef, FlagValues } from "./flags.ts";
import type { GlobalConfig } from "./global.ts";
import type { StateStore } from "./state.ts";

/** What a command runs with. */
export interface Context {
  global: GlobalConfig;
  store: StateStore;
  /** Writes to the CLI's standard output. */
  out(text: string): void;
}

/** One `runsc <name>` subcommand. */
export interface Command {
  name: string;
  /** One line for `runsc help`. */
  summary: string;
  /** The positional arguments, e.g. `<container-id> [signal]`. */
  usage: string;
  flags: readonly FlagDef[];
  /** Positional argument count bounds (inclusive); max -1 for no limit. */
  args: { min: number; max: number };
  /**
   * Whether flags may follow positional arguments (default true). A command that takes a
   * command line of its own (`do`) says false, so that the program's flags stay its own.
   */
  interleaved?: boolean;
  run(ctx: Context, args: string[], flags: FlagValues): Promise<number>;
}

/** A failure the user must see; the message is printed as `runsc: <message>`. */
export class CliError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
  }
}
