/**
 * `runsc gofer`: the file proxy of one container. It opens the container's root (from the
 * bundle's config.json) as an O_PATH directory and serves LISAFS on the socket it was given
 * until the Sentry closes it.
 *
 * It serves the root ("/") and the spec's bind mounts (mounts of type "bind", or with a "bind" or
 * "rbind" option), each under its destination, read-only where the spec says so.
 *
 * Flags: `--bundle <dir>` (absolute), `--sock-fd <n>` (a connected SOCK_STREAM Unix socket),
 * `--id <container>` (for log paths: `%ID%` and `%COMMAND%` are replaced), `--confine` (it was
 * started in new namespaces: see confine.ts), and the global `--debug`, `--debug-log <path>`,
 * `--log <path>`, `--log-format text|json`, and `--overlay2` (canonical, as the CLI passes it on:
 * the gofer makes the overlay filestores, filestore.ts; without the flag it makes none). The
 * gofer never writes to its stdout or stderr.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "../path.ts";
import { bool, type FlagDef, parseFlags, str as flag } from "../oci/flags.ts";
import { GLOBAL_FLAGS } from "../oci/global.ts";
import { bindAllSymbols, closeFd, HostError, reserveDescriptors } from "../host/libc.ts";
import {
  fstat,
  O_CLOEXEC,
  O_DIRECTORY,
  O_PATH,
  openAt,
  S_IFDIR,
  S_IFMT,
  umask,
} from "../host/fsops.ts";
import { geteuid } from "../host/namespace.ts";
import { AT_FDCWD } from "../abi/linux/file.ts";
import { ErrnoError } from "../abi/linux/error.ts";
import { log } from "../log.ts";
import { parseOverlay2 } from "../oci/overlay.ts";
import { confine, type MountSource } from "./confine.ts";
import { createFilestore } from "./filestore.ts";
import { Connection, type ServedMount } from "./lisafs/server.ts";
import { hostFileServer } from "./fsgofer.ts";
import { type GoferTake, type GoferTakeReply, spareIdleMs } from "../oci/spare_dir.ts";

/** A gofer that cannot start: bad flags or bundle. */
export class GoferError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(`gofer: ${message}`, options);
    this.name = "GoferError";
  }
}

/** Descriptors the Gofer's table holds from the start (host/libc.ts reserveDescriptors). */
const GOFER_DESCRIPTORS = 4096;

/** What the gofer serves, from the bundle's config.json. */
export interface GoferRoot {
  /** Absolute host path of the root file system. */
  path: string;
  readonly: boolean;
}

/** A bind mount of the spec, as the gofer serves it. */
export interface GoferBind {
  /** The destination in the container, as the spec gives it. */
  destination: string;
  /** Absolute host path of the source. */
  source: string;
  readonly: boolean;
  recursive: boolean;
}

/** Whether a spec mount is a bind mount (served by the gofer). */
export function isBindMount(m: { type?: unknown; options?: unknown }): boolean {
  const opts = Array.isArray(m.options) ? m.options : [];
  return m.type === "bind" || opts.includes("bind") || opts.includes("rbind");
}

/** The bind mounts of a bundle's config.json (sources relative to the bundle are resolved). */
export function readBundleBinds(bundle: string): GoferBind[] {
  const spec = readSpec(bundle) as { mounts?: unknown };
  if (!Array.isArray(spec.mounts)) return [];
  const out: GoferBind[] = [];
  for (const m of spec.mounts) {
    if (typeof m !== "object" || m === null || !isBindMount(m)) continue;
    const { destination, source, options } = m as Record<string, unknown>;
    if (typeof destination !== "string" || typeof source !== "string") continue;
    const opts = Array.isArray(options) ? options : [];
    out.push({
      destination,
      source: resolve(bundle, source),
      readonly: opts.includes("ro"),
      recursive: opts.includes("rbind"),
    });
  }
  return out;
}

function readSpec(bundle: string): Record<string, unknown> {
  const file = join(bundle, "config.json");
  try {
    return JSON.parse(Deno.readTextFileSync(file));
  } catch (e) {
    throw new GoferError(`read ${JSON.stringify(file)}: ${(e as Error).message}`, { cause: e });
  }
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
  if (values.debug) {
    log.minLevel = "debug";
    // Where a failed host call or request came from, for whoever reads the debug log.
    ErrnoError.captureStacks = true;
  }
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

/** The gofer's own flags (GLOBAL_FLAGS come too); see the module comment. */
const GOFER_FLAGS: readonly FlagDef[] = [
  { name: "bundle", kind: "string", default: "", help: "absolute path of the bundle" },
  { name: "sock-fd", kind: "string", default: "", help: "the LISAFS socket" },
  { name: "id", kind: "string", default: "", help: "container id (for log paths)" },
  { name: "confine", kind: "bool", default: false, help: "started in new namespaces" },
  {
    name: "spare-sock",
    kind: "string",
    default: "",
    help: "start as a spare (oci/spare.ts): the bundle and id come on this socket",
  },
];

/**
 * A spare gofer's wait for its container: one connection on `path`, one line naming the bundle
 * and id. Until then it has opened nothing of any container. Null when nobody came within
 * spareIdleMs() (its boot ends then too). The connection stays open for the answer.
 */
async function awaitTake(path: string): Promise<{ take: GoferTake; conn: Deno.Conn } | null> {
  const listener = Deno.listen({ transport: "unix", path });
  // Bound while idle rather than on first use within the take.
  bindAllSymbols();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<null>((r) => timer = setTimeout(() => r(null), spareIdleMs() + 5000));
  try {
    const conn = await Promise.race([listener.accept(), idle]);
    if (conn === null) return null;
    const buf = new Uint8Array(64 * 1024);
    let text = "";
    while (!text.includes("\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    let take: Partial<GoferTake> = {};
    try {
      take = JSON.parse(text.slice(0, text.indexOf("\n")));
    } catch { /* refused below */ }
    if (typeof take.bundle !== "string" || typeof take.id !== "string") {
      conn.close();
      throw new GoferError("spare: malformed take");
    }
    return { take: { bundle: take.bundle, id: take.id }, conn };
  } finally {
    clearTimeout(timer);
    listener.close();
    try {
      Deno.removeSync(path);
    } catch { /* moved or removed by the CLI */ }
  }
}

/** Answers the CLI that took a spare gofer (best effort: it may have given up). */
async function replyTake(conn: Deno.Conn | undefined, reply: GoferTakeReply): Promise<void> {
  if (!conn) return;
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify(reply) + "\n"));
  } catch { /* the CLI went away */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

/**
 * Runs the gofer: returns its exit code (0 when the client closed the socket, 1 on a broken
 * connection or a failure to start). Errors are logged, never printed.
 */
export async function goferMain(args: string[]): Promise<number> {
  let parsed;
  try {
    // The CLI hands the gofer the global flags it was given, and the gofer's own.
    parsed = parseFlags(args, [...GLOBAL_FLAGS, ...GOFER_FLAGS], {
      interleaved: true,
      context: "gofer",
    });
  } catch (e) {
    // Nowhere to log yet, and stdio is not ours: the exit code says it.
    log.error(`gofer: ${(e as Error).message}`);
    return 1;
  }
  const { values: flags } = parsed;
  // undefined for a flag not given, as the code below expects.
  const str = (name: string) => flag(flags, name) || undefined;
  const values = {
    bundle: str("bundle"),
    "sock-fd": str("sock-fd"),
    id: str("id"),
    confine: bool(flags, "confine"),
    overlay2: str("overlay2"),
  };
  // Before anything waits for the Gofer: the node descriptors it keeps for the Sentry would
  // otherwise grow the table while it serves, stalling a request at each doubling. Under
  // nsinit (--confine) the table has that room already (host/nsinit.ts ROOM_HEX) and this
  // costs one fcntl; an unconfined Gofer, started without nsinit, grows it here.
  reserveDescriptors(GOFER_DESCRIPTORS);
  // A spare learns its bundle and id only when taken: nothing of a container is open before.
  let takeConn: Deno.Conn | undefined;
  const spareSock = str("spare-sock");
  if (spareSock) {
    try {
      const got = await awaitTake(spareSock);
      if (got === null) return 0;
      takeConn = got.conn;
      values.bundle = got.take.bundle;
      values.id = got.take.id;
    } catch (e) {
      log.error((e as Error).message);
      return 1;
    }
  }
  configureLog({
    debug: bool(flags, "debug"),
    "debug-log": str("debug-log"),
    log: str("log"),
    "log-format": str("log-format"),
  }, values.id ?? "");
  log.phase("gofer: loaded");
  const opened: MountSource[] = [];
  let served: ServedMount[] = [];
  let sock = -1;
  try {
    const bundle = values.bundle;
    if (!bundle || !isAbsolute(bundle)) throw new GoferError("--bundle <absolute dir> is required");
    const sockArg = values["sock-fd"] ?? "";
    if (!/^\d+$/.test(sockArg)) throw new GoferError("--sock-fd <n> is required");
    sock = Number(sockArg);
    const root = readBundleRoot(bundle);
    opened.push({
      path: "/",
      fd: openSource(root.path, "root", true),
      readonly: root.readonly,
      recursive: true,
    });
    for (const b of readBundleBinds(bundle)) {
      opened.push({
        path: b.destination,
        fd: openSource(b.source, `mount ${b.destination}`, false),
        readonly: b.readonly,
        recursive: b.recursive,
      });
    }
    // Filestores are made while the host's tree is visible (a dir= directory is outside).
    const overlay = values.overlay2;
    if (overlay) {
      const o = parseOverlay2(overlay);
      const id = values.id ?? "";
      for (const m of opened) m.filestore = createFilestore(o, m, id);
      log.debug("gofer: overlay filestores", {
        overlay2: overlay,
        mounts: opened.filter((m) => (m.filestore ?? -1) >= 0).map((m) => m.path),
      });
    }
    log.phase("gofer: mounts opened");
    if (values.confine === true) {
      served = confine(opened);
      for (const o of opened) o.filestore = -1; // moved to `served`
    } else {
      served = opened.map((o) => ({ ...o }));
      opened.length = 0;
      log.debug(
        "gofer: confinement not set up: " +
          (geteuid() === 0
            ? "started without --confine (no namespaces, pivot_root or capability drop)"
            : "not root (no namespaces, pivot_root or capability drop); " +
              "paths outside the root are still refused"),
      );
    }
    // The Sentry applies the application's umask itself: modes arrive final.
    umask(0);
    log.phase("gofer: serving");
    await replyTake(takeConn, { ok: true });
    log.info("gofer: serving", {
      root: root.path,
      readonly: root.readonly,
      mounts: served.length - 1,
      sockFd: sock,
    });
    const code = new Connection(hostFileServer, sock, served).serve();
    log.info("gofer: connection closed", { code });
    return code;
  } catch (e) {
    const known = e instanceof GoferError || e instanceof HostError;
    await replyTake(takeConn, { ok: false, error: known ? e.message : String(e) });
    if (known) {
      log.error(e.message);
      return 1;
    }
    log.error(`gofer: unexpected failure: ${String(e)}`);
    return 1;
  } finally {
    for (const o of opened) closeFd(o.fd);
    for (const m of served) closeFd(m.fd);
    for (const m of [...opened, ...served]) if ((m.filestore ?? -1) >= 0) closeFd(m.filestore!);
    if (sock >= 0) closeFd(sock);
  }
}

/** Opens a root or mount source O_PATH; `dir`: it must be a directory. */
function openSource(path: string, what: string, dir: boolean): number {
  let fd: number;
  try {
    fd = openAt(AT_FDCWD, path, O_PATH | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
  } catch (e) {
    throw new GoferError(`open ${what} ${JSON.stringify(path)}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (dir && (fstat(fd).mode & S_IFMT) !== S_IFDIR) {
    closeFd(fd);
    throw new GoferError(`${what} ${JSON.stringify(path)} is not a directory`);
  }
  return fd;
}
