/**
 * Command-line flags in the style of Go's `flag` package, which runsc and runc use: `--name=value`,
 * `--name value`, a single dash works as well, boolean flags take no value (or `=true|false`),
 * and parsing stops at the first word that is not a flag (or after `--`).
 *
 * @module
 */

/** One flag's description: its name, kind, default and help text. */
export interface FlagDef {
  name: string;
  kind: "string" | "bool";
  default?: string | boolean;
  help: string;
  /** Other names for the same flag (e.g. a one-letter short form). */
  aliases?: string[];
  /** Accepted values; anything else is a usage error. */
  choices?: string[];
}

/** Parsed flag values keyed by flag name; booleans are booleans, the rest strings. */
export type FlagValues = Record<string, string | boolean | undefined>;

/** A malformed command line: an unknown flag, a missing value, a bad choice. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The outcome of parsing: values, the remaining words, and the flag words as given. */
export interface ParsedFlags {
  values: FlagValues;
  /** Words after the flags (the first positional word and everything after it). */
  rest: string[];
  /** The flag words that were consumed, normalised to `--name=value` / `--name`. */
  given: string[];
}

/**
 * Parses `args` against `defs`. With `interleaved`, flags may follow positional words (used for
 * a command's own flags: `kill c1 --all KILL`); otherwise parsing stops at the first positional.
 */
export function parseFlags(
  args: readonly string[],
  defs: readonly FlagDef[],
  opts: { interleaved?: boolean; context?: string } = {},
): ParsedFlags {
  const byName = new Map<string, FlagDef>();
  for (const d of defs) {
    byName.set(d.name, d);
    for (const a of d.aliases ?? []) byName.set(a, d);
  }
  const values: FlagValues = {};
  for (const d of defs) values[d.name] = d.default;
  const rest: string[] = [];
  const given: string[] = [];
  const where = opts.context ? ` for ${opts.context}` : "";
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      rest.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (!opts.interleaved) {
        rest.push(...args.slice(i));
        break;
      }
      rest.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const def = byName.get(name);
    if (!def) throw new UsageError(`flag provided but not defined${where}: -${name}`);
    if (def.kind === "bool") {
      if (eq < 0) values[def.name] = true;
      else {
        const v = body.slice(eq + 1).toLowerCase();
        if (v === "true" || v === "1") values[def.name] = true;
        else if (v === "false" || v === "0") values[def.name] = false;
        else throw new UsageError(`invalid boolean value "${v}" for flag --${def.name}`);
      }
      given.push(values[def.name] ? `--${def.name}` : `--${def.name}=false`);
      continue;
    }
    let v: string;
    if (eq >= 0) v = body.slice(eq + 1);
    else {
      if (i + 1 >= args.length) throw new UsageError(`flag needs an argument: --${def.name}`);
      v = args[++i];
    }
    if (def.choices && !def.choices.includes(v)) {
      throw new UsageError(
        `invalid value "${v}" for flag --${def.name}: must be one of ${def.choices.join(", ")}`,
      );
    }
    values[def.name] = v;
    given.push(`--${def.name}=${v}`);
  }
  return { values, rest, given };
}

/** Formats flag definitions as a help listing, one flag per line with its default. */
export function formatFlags(defs: readonly FlagDef[]): string {
  return defs.map((d) => {
    const names = [d.name, ...(d.aliases ?? [])].map((n) => (n.length === 1 ? "-" : "--") + n);
    const dflt = d.default === undefined || d.default === "" ? "" : ` (default ${d.default})`;
    return `  ${names.join(", ")}${d.kind === "string" ? " value" : ""}\n        ${d.help}${dflt}`;
  }).join("\n");
}

/** The string value of a flag ("" when unset). */
export function str(values: FlagValues, name: string): string {
  const v = values[name];
  return typeof v === "string" ? v : "";
}

/** The boolean value of a flag. */
export function bool(values: FlagValues, name: string): boolean {
  return values[name] === true;
}
