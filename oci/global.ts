/**
 * The runtime's global flags: those that come before the command word, as containerd and users
 * pass them (`runsc --root /run/x --debug create ...`), and the subset handed on to the boot and
 * gofer processes.
 *
 * @module
 */

import { join, resolve } from "../path.ts";
import { bool, type FlagDef, type FlagValues, str, UsageError } from "./flags.ts";
import { type FileConfig, fileConfig, formatOverlay2 } from "./overlay.ts";

/** The version this runtime reports. */
export const VERSION = "0.1.0";
/** The OCI runtime spec version implemented. */
export const SPEC_VERSION = "1.1.0";

/** Every global flag, with gVisor's names and defaults. */
export const GLOBAL_FLAGS: readonly FlagDef[] = [
  {
    name: "root",
    kind: "string",
    default: "/var/run/runsc",
    help: "root directory for storage of container state",
  },
  {
    name: "log",
    kind: "string",
    default: "",
    help: "file path where internal debug information and errors are written",
  },
  {
    name: "log-format",
    kind: "string",
    default: "text",
    choices: ["text", "json"],
    help: "log format: text or json",
  },
  { name: "debug", kind: "bool", default: false, help: "enable debug logging" },
  {
    name: "debug-log",
    kind: "string",
    default: "",
    help: "additional location for logs; a directory ending in / gets one file per process",
  },
  {
    name: "debug-log-format",
    kind: "string",
    default: "text",
    choices: ["text", "json"],
    help: "log format for --debug-log",
  },
  {
    name: "platform",
    kind: "string",
    default: "systrap",
    choices: ["ptrace", "kvm", "systrap"],
    help: "the platform that runs the application: systrap, ptrace or kvm; when not given, " +
      "ptrace where the host cannot run systrap",
  },
  {
    name: "platform_device_path",
    kind: "string",
    default: "",
    help: "the device the kvm platform opens (default /dev/kvm)",
  },
  {
    name: "network",
    kind: "string",
    default: "sandbox",
    choices: ["none", "sandbox", "host"],
    help: "network stack: none, sandbox or host",
  },
  {
    name: "overlay2",
    kind: "string",
    // "" means not given: the default is root:self, or none with --file-access=shared.
    default: "",
    help: "overlay for the root and mounts: none or {root|all}:{memory|self|dir=/abs/path}" +
      "[,size=N] (default root:self; none with --file-access=shared)",
  },
  {
    name: "overlay",
    kind: "bool",
    default: false,
    help: "legacy: an in-memory overlay over every mount",
  },
  {
    name: "file-access",
    kind: "string",
    default: "exclusive",
    choices: ["exclusive", "shared"],
    help: "file access mode for the root: exclusive or shared",
  },
  {
    name: "file-access-mounts",
    kind: "string",
    default: "shared",
    choices: ["exclusive", "shared"],
    help: "file access mode for bind mounts",
  },
  {
    name: "strace",
    kind: "bool",
    default: false,
    help: "log every system call of the application",
  },
  {
    name: "spare",
    kind: "bool",
    default: false,
    help: "keep a pre-started spare sandbox under --root for the next create (oci/spare.ts); " +
      "not for callers that need runc's process tree (--pid-file, --console-socket)",
  },
  {
    name: "spare-count",
    kind: "string",
    default: "1",
    help: "with --spare: how many spare sandboxes to keep (1 to 32; each holds ~125 MB)",
  },
  {
    name: "systemd-cgroup",
    kind: "bool",
    default: false,
    help: "use systemd for cgroups (accepted, not used)",
  },
  { name: "rootless", kind: "bool", default: false, help: "run without root (accepted, not used)" },
  {
    name: "ignore-cgroups",
    kind: "bool",
    default: false,
    help: "do not configure cgroups (accepted)",
  },
  {
    name: "criu",
    kind: "string",
    default: "",
    help: "path to criu (accepted for runc compatibility, ignored)",
  },
  {
    name: "panic-log",
    kind: "string",
    default: "",
    help: "file path where panic reports are written (accepted)",
  },
  {
    name: "alsologtostderr",
    kind: "bool",
    default: false,
    help: "also write debug logs to stderr (CLI only)",
  },
  {
    name: "version",
    kind: "bool",
    default: false,
    help: "print the version and exit",
    aliases: ["v"],
  },
  { name: "help", kind: "bool", default: false, help: "print usage and exit", aliases: ["h"] },
];

/** Flags that the CLI hands on to the boot and gofer processes unchanged. */
const PASSED_ON = [
  "root",
  "log",
  "log-format",
  "debug",
  "debug-log",
  "debug-log-format",
  "platform",
  "platform_device_path",
  "network",
  // overlay2 is passed on in its canonical form (which also stands for --overlay).
  "file-access",
  "file-access-mounts",
  "strace",
];

/** Flags whose values are host paths. */
const PATH_FLAGS = new Set(["root", "log", "debug-log"]);

/** `p` made absolute against the working directory, keeping a trailing "/" (a directory). */
function absolute(p: string): string {
  const abs = resolve(p);
  return p.endsWith("/") && !abs.endsWith("/") ? abs + "/" : abs;
}

/** Global configuration as the commands see it. */
export interface GlobalConfig {
  root: string;
  log: string;
  logFormat: "text" | "json";
  debug: boolean;
  debugLog: string;
  debugLogFormat: "text" | "json";
  platform: string;
  network: string;
  /** The canonical --overlay2 (see overlay.ts); --overlay is folded in. */
  overlay2: string;
  fileAccess: string;
  /** --overlay2, --file-access and --file-access-mounts parsed, defaults applied. */
  files: FileConfig;
  strace: boolean;
  /** --spare: create takes a pre-started sandbox when it can, and starts the next one. */
  spare: boolean;
  /** --spare-count: how many spares to keep. */
  spareCount: number;
  /** The global flags as `--name=value` words, to pass on to boot and gofer. */
  passOn: string[];
}

/**
 * Builds the configuration from parsed global flags (`given`: the flags on the command line,
 * ParsedFlags.given; without it every flag counts as given). Throws UsageError for an invalid
 * --overlay2 or a combination that is refused (overlay.ts).
 */
export function globalConfig(v: FlagValues, given?: readonly string[]): GlobalConfig {
  const files = fileConfig({
    overlay2: str(v, "overlay2"),
    overlay: bool(v, "overlay"),
    fileAccess: str(v, "file-access"),
    fileAccessMounts: str(v, "file-access-mounts"),
  });
  const overlay2 = formatOverlay2(files.overlay2);
  const passOn: string[] = [`--overlay2=${overlay2}`];
  for (const name of PASSED_ON) {
    // A platform not asked for is boot's to choose (systrap, or ptrace where it cannot run).
    if (name === "platform" && given && !given.some((g) => g.startsWith("--platform="))) {
      continue;
    }
    let value = v[name];
    // Boot and gofer run in "/", so relative paths are made absolute first.
    if (PATH_FLAGS.has(name) && typeof value === "string" && value !== "") {
      value = absolute(value);
    }
    if (value === true) passOn.push(`--${name}`);
    else if (typeof value === "string" && value !== "") passOn.push(`--${name}=${value}`);
  }
  return {
    root: absolute(str(v, "root")),
    log: str(v, "log") && absolute(str(v, "log")),
    logFormat: str(v, "log-format") === "json" ? "json" : "text",
    debug: bool(v, "debug"),
    debugLog: str(v, "debug-log") && absolute(str(v, "debug-log")),
    debugLogFormat: str(v, "debug-log-format") === "json" ? "json" : "text",
    platform: str(v, "platform"),
    network: str(v, "network"),
    overlay2,
    fileAccess: files.fileAccess,
    files,
    strace: bool(v, "strace"),
    spare: bool(v, "spare"),
    spareCount: spareCount(str(v, "spare-count")),
    passOn,
  };
}

/** --spare-count, checked. */
function spareCount(text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < 1 || n > 32) {
    throw new UsageError(`--spare-count must be a number from 1 to 32, got "${text}"`);
  }
  return n;
}

/** Resolves `--debug-log`: a directory (ending in "/") gets one file per process. */
export function debugLogPath(flag: string, id: string, role: string): string {
  if (flag === "") return "";
  const expanded = flag.replaceAll("%ID%", id).replaceAll("%COMMAND%", role);
  const file = ["runsc", id, role].filter((p) => p !== "").join(".") + ".log";
  return expanded.endsWith("/") ? join(expanded, file) : expanded;
}
