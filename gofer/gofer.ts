/**
 * `runsc gofer`: the file proxy of one container. It opens the container's root (from the
 * bundle's config.json) as an O_PATH directory and serves LISAFS on the socket it was given
 * until the Sentry closes it.
 *
 * Flags: `--bundle <dir>` (absolute), `--sock-fd <n>` (a connected SOCK_STREAM Unix socket),
 * `--id <container>` (for log paths: `%ID%` and `%COMMAND%` are replaced), and the global
 * `--debug`, `--debug-log <path>`, `--log <path>`, `--log-format text|json`. The gofer never writes to its stdout or stderr.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { closeFd, HostError } from "../host/libc.ts";
import { fstat, O_CLOEXEC, O_DIRECTORY, O_PATH, openAt, S_IFDIR, S_IFMT } from "../host/fsops.ts";
import { log } from "../log.ts";
import { Connection } from "./lisafs/server.ts";

const AT_FDCWD = -100;

/** A gofer that cannot start: bad flags or bundle. */
export class GoferError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(`gofer: ${message}`, options);
    this.name = "GoferError";
  }
}

/** What the gofer serves, from the bundle's config.json. */
export interface GoferRoot {
  /** Absolute host path of the root file system. */
  path: string;
  readonly: boolean;
}

/** Reads `root.path` (relative to the bundle, or absolute) and `root.readonly` of a bundle. */
export function readBundleRoot(bundle: string): GoferRoot {
  const file = join(bundle, "config.json");
  let spec: { root?: { path?: unknown; readonly?: unknown } };
  try {
    spec = JSON.parse(Deno.readTextFileSync(file));
  } catch (e) {
    throw new GoferError(`read ${JSON.stringify(file)}: ${(e as Error).message}`, { cause: e });
  }
  const path = spec?.root?.path;
  if (typeof path !== "string" || path === "") {
    throw new GoferError(`${JSON.stringify(file)}: root.path is missing`);
  }
  return { path: resolve(bundle, path), readonly: spec.root?.readonly === true };
}

function configureLog(
  values: { debug?: boolean; "debug-log"?: string; log?: string; "log-format"?: string },
  id: string,
): void {
  const format = values["log-format"] === "json" ? "json" : "text";
  if (values.debug) log.minLevel = "debug";
  for (const p of [values.log, values["debug-log"]]) {
    if (!p) continue;
    // gVisor's log path patterns.
    let path = p.replaceAll("%ID%", id).replaceAll("%COMMAND%", "gofer");
    try {
      if (Deno.statSync(p).isDirectory) path = join(p, "runsc.gofer.log");
    } catch { /* a file to be created */ }
    try {
      log.addSink({ path, format });
    } catch { /* an unwritable log must not stop the gofer */ }
  }
}

/**
 * Runs the gofer: returns its exit code (0 when the client closed the socket, 1 on a broken
 * connection or a failure to start). Errors are logged, never printed.
 */
// deno-lint-ignore require-await
export async function goferMain(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: false,
    allowPositionals: true,
    options: {
      bundle: { type: "string" },
      "sock-fd": { type: "string" },
      debug: { type: "boolean" },
      "debug-log": { type: "string" },
      log: { type: "string" },
      "log-format": { type: "string" },
      id: { type: "string" },
    },
  });
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  configureLog({
    debug: values.debug === true,
    "debug-log": str(values["debug-log"]),
    log: str(values.log),
    "log-format": str(values["log-format"]),
  }, str(values.id) ?? "");
  let rootFd = -1;
  let sock = -1;
  try {
    const bundle = str(values.bundle);
    if (!bundle || !isAbsolute(bundle)) throw new GoferError("--bundle <absolute dir> is required");
    const sockArg = str(values["sock-fd"]) ?? "";
    if (!/^\d+$/.test(sockArg)) throw new GoferError("--sock-fd <n> is required");
    sock = Number(sockArg);
    const root = readBundleRoot(bundle);
    try {
      rootFd = openAt(AT_FDCWD, root.path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    } catch (e) {
      throw new GoferError(`open root ${JSON.stringify(root.path)}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if ((fstat(rootFd).mode & S_IFMT) !== S_IFDIR) {
      throw new GoferError(`root ${JSON.stringify(root.path)} is not a directory`);
    }
    log.debug(
      "gofer: confinement not set up (no mount namespace, pivot_root or capability drop yet)",
    );
    log.info("gofer: serving", { root: root.path, readonly: root.readonly, sockFd: sock });
    const code = new Connection(sock, rootFd, root.readonly).serve();
    log.info("gofer: connection closed", { code });
    return code;
  } catch (e) {
    if (e instanceof GoferError || e instanceof HostError) {
      log.error(e.message);
      return 1;
    }
    log.error(`gofer: unexpected failure: ${String(e)}`);
    return 1;
  } finally {
    if (rootFd >= 0) closeFd(rootFd);
    if (sock >= 0) closeFd(sock);
  }
}
