/**
 * The `runsc boot` process: one sandbox running one container.
 *
 * Started by `runsc create` with the gofer's socket on `--gofer-fd`, a pipe on `--ready-fd`, and
 * the container's stdio on 0, 1 and 2 (so nothing here writes to them). It loads the spec, builds
 * the Sentry's sandbox, reports readiness (one JSON line on the pipe), then serves the control
 * socket `<root>/<id>/ctl.sock` until the container's init exits or a `destroy` request comes.
 *
 * When init exits, this process exits too, with init's exit status (or killed by init's signal):
 * its parent names it in `create --pid-file`, and containerd's shim takes that process's end as
 * the container's. The status is first written to `<root>/<id>/exit` for `state` and `wait`.
 *
 * @module
 */

import { dirname, join } from "../path.ts";
import { bindAllSymbols, closeFd, writeAll } from "../host/libc.ts";
import { openAt } from "../host/fsops.ts";
import { hostKill } from "../host/spawn.ts";
import { AT_FDCWD, O_CLOEXEC, O_CREAT, O_TRUNC, O_WRONLY } from "../abi/linux/file.ts";
import { Cap, geteuid, namespaces, pivotIntoEmptyRoot } from "../host/namespace.ts";
import { limitCapabilitiesEverywhere } from "../host/threads.ts";
import { type LandlockScope, scopeEverywhere } from "../host/landlock.ts";
import { fromWire, hostInterfaces, type TakenInterface, takeOverInterfaces } from "./network.ts";
import { sentryFilter } from "../host/filters.ts";
import {
  buildFilter,
  installFilter,
  SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_TSYNC,
} from "../host/seccomp.ts";
import { SYSCALL_NAMES } from "../abi/linux/syscalls.ts";
import { ErrnoError } from "../abi/linux/error.ts";
import { log } from "../log.ts";
import { bool, type FlagDef, parseFlags, str } from "../oci/flags.ts";
import { debugLogPath, GLOBAL_FLAGS } from "../oci/global.ts";
import { initSpec, loadSpec, validateSpec } from "../oci/spec.ts";
import { validateId } from "../oci/state.ts";
import {
  type ControlConn,
  type ControlRequest,
  EXIT_FILE,
  type ProcessInfo,
  serveControl,
  STDIO_SOCKET,
  StdioInbox,
  type TakeRequest,
} from "./control.ts";
import { spareIdleMs } from "../oci/spare_dir.ts";
import type { InitSpec, Prepared, SandboxOptions, SandboxStatus } from "./sandbox.ts";
import { defaultAction, SIG } from "../abi/linux/signal.ts";

/** The Sentry's sandbox as boot drives it (implemented by boot/sandbox_impl.ts). */
interface SandboxLike {
  /** The platform it runs on (the one asked for, or the fallback). */
  readonly platform: string;
  start(): void;
  signal(signo: number): void;
  signalProcess(pid: number, signo: number): void;
  updateLimits(memoryLimit?: number, pidsLimit?: number): void;
  readonly exited: Promise<number>;
  status(): SandboxStatus;
  processes(): ProcessInfo[];
  exec(spec: InitSpec, stdio: [number, number, number], terminal?: boolean): number;
  drainConsoles(): Promise<void>;
  waitPid(pid: number): Promise<number>;
  destroy(): void;
  /** Sentry bugs so far (exceptions that were not a Linux errno). */
  sentryErrors(): number;
  addInterfaces(taken: TakenInterface[]): void;
}

/** Loads the Sentry on demand, so that the CLI and gofer roles never load the kernel. */
async function loadSandbox(): Promise<{
  prepare(opts: SandboxOptions): Promise<Prepared>;
  create(opts: SandboxOptions, spec: InitSpec, prepared?: Prepared): Promise<SandboxLike>;
}> {
  const mod = await import("./sandbox_impl.ts");
  return mod.Sandbox;
}

const BOOT_FLAGS: readonly FlagDef[] = [
  { name: "bundle", kind: "string", default: "", help: "absolute path of the bundle" },
  { name: "id", kind: "string", default: "", help: "container id" },
  { name: "gofer-fd", kind: "string", default: "-1", help: "LISAFS socket to the gofer" },
  { name: "ready-fd", kind: "string", default: "-1", help: "pipe to report readiness on" },
  {
    name: "terminal",
    kind: "bool",
    default: false,
    help: "stdin is a host terminal: the container gets a pty connected to it",
  },
  {
    name: "net-ns-fd",
    kind: "string",
    default: "-1",
    help: "--network=sandbox: the container's network namespace, whose interfaces the Sentry takes",
  },
  {
    name: "confine",
    kind: "bool",
    default: false,
    help: "started by `runsc create` in new namespaces: pivot into an empty root",
  },
  {
    name: "spare-dir",
    kind: "string",
    default: "",
    help: "start as a spare sandbox (oci/spare.ts) serving its control socket in this directory",
  },
];

/** Where the empty root is assembled, inside the boot's private mount namespace. */
const STAGING = "/tmp";

/**
 * Confines this process once everything it needs of the host is open (the spec, the logs, the
 * gofer's socket, the platform's device, the control socket, every module): when started in new
 * namespaces (`--confine`), pivots into an empty tmpfs with only its own /proc (the ptrace
 * platform reads its stub threads' CPU time there; its template stub, spawned earlier, is moved
 * into that root with us); as root, drops every capability on every
 * thread and sets no_new_privs. The Sentry needs no capability afterwards: it traces only its
 * own stubs (same uid, and no more capabilities than it, since they inherit its bounding set),
 * and the kvm platform opened its device during create. Then installs the Sentry's seccomp
 * filter (host/filters.ts) on every thread. Returns what was applied, for --debug.
 */
function confineBoot(
  confined: boolean,
  platform: string,
  network: string,
  landlock: LandlockScope | null,
): Record<string, unknown> {
  // Applied at start-up (bootMain), logged with the rest.
  const applied: Record<string, unknown> = {
    landlock: landlock ?? "not applied: the kernel has no Landlock scoping (ABI 6)",
  };
  if (confined) {
    pivotIntoEmptyRoot(STAGING);
    applied.root = "empty tmpfs + own /proc (read-only)";
    applied.namespaces = namespaces("self");
  }
  if (geteuid() === 0) {
    const caps = network === "host" ? HOST_NETWORK_CAPS : BOOT_CAPS;
    limitCapabilitiesEverywhere(caps);
    applied.caps = caps;
    applied.noNewPrivs = true;
  }
  // Every thread, from here on: what Deno's runtime and the platform make after start-up.
  const spec = sentryFilter(platform, network);
  const filter = buildFilter(spec);
  installFilter(filter, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG);
  applied.seccomp = {
    instructions: filter.length / 8,
    allowed: [...new Set(spec.rules.map((r) => SYSCALL_NAMES[r.nr] ?? r.nr))].join(" "),
  };
  return applied;
}

/** Capabilities the Sentry keeps after start-up: none (see confineBoot). */
const BOOT_CAPS: readonly number[] = [];
/**
 * With --network=host, CAP_NET_BIND_SERVICE only: the application's sockets are the Sentry's
 * host sockets, and a container's root binds ports below 1024 as under runc with host
 * networking (Docker's and the OCI default capabilities include it). The Sentry checks the
 * task's own capability before each such bind (sentry/syscalls/sys_socket_host.ts). It lets a
 * compromised Sentry take no more than a free low port of the host's network namespace, which
 * the container's root may take anyway; raw sockets (CAP_NET_RAW) and the rest stay out.
 */
const HOST_NETWORK_CAPS: readonly number[] = [Cap.NET_BIND_SERVICE];

/** How long replies to `wait` get to leave before the process ends. */
const REPLY_FLUSH_MS = 50;

/**
 * Ends this process as init ended: killed by the same signal when its default action only
 * terminates (so that a waiting shim sees the signal, as with runc), else with the status: a
 * signal that dumps core stands as its exit status instead.
 */
function exitLike(waitStatus: number): number {
  const sig = waitStatus & 0x7f;
  if (sig !== 0 && sig !== 0x7f && defaultAction(sig) !== "core") hostKill(Deno.pid, sig);
  return exitStatusOf(waitStatus);
}

/** Converts a Linux wait status into a shell-style exit status (128+signal when killed). */
export function exitStatusOf(waitStatus: number): number {
  const sig = waitStatus & 0x7f;
  if (sig !== 0 && sig !== 0x7f) return 128 + sig;
  return (waitStatus >> 8) & 0xff;
}

/** Entry point of `runsc boot`; returns the process exit code. */
export async function bootMain(args: string[]): Promise<number> {
  const { values, given } = parseFlags(args, [...GLOBAL_FLAGS, ...BOOT_FLAGS], {
    interleaved: true,
    context: "boot",
  });
  const id = str(values, "id");
  const bundle = str(values, "bundle");
  const root = str(values, "root");
  const goferFd = Number(str(values, "gofer-fd"));
  const readyFd = Number(str(values, "ready-fd"));
  // A spare has no container yet: its id, spec and stdio come with `take` (oci/spare.ts).
  const spareDir = str(values, "spare-dir");
  if (spareDir === "") validateId(id);

  log.prefix = spareDir ? "boot[spare] " : `boot[${id}] `;
  log.minLevel = bool(values, "debug") ? "debug" : "warning";
  // Where a system call's error came from, for whoever reads the debug log.
  ErrnoError.captureStacks = bool(values, "debug");
  const debugLog = debugLogPath(str(values, "debug-log"), spareDir ? "spare" : id, "boot");
  const logFormat = str(values, "log-format") === "json" ? "json" : "text";
  const addSink = (path: string, format: "text" | "json") => {
    try {
      Deno.mkdirSync(dirname(path), { recursive: true });
      log.addSink({ path, format });
    } catch {
      // A log that cannot be opened must not stop the sandbox (and stdio is the container's).
    }
  };
  if (debugLog) addSink(debugLog, str(values, "debug-log-format") === "json" ? "json" : "text");
  if (str(values, "log")) addSink(str(values, "log"), logFormat);
  log.phase("boot: loaded");

  let readySent = false;
  const ready = (msg: { ok: true } | { ok: false; error: string; errno?: number }) => {
    if (readySent || readyFd < 0) return;
    readySent = true;
    try {
      writeAll(readyFd, new TextEncoder().encode(JSON.stringify(msg) + "\n"));
    } catch (e) {
      log.warning(`cannot report readiness: ${(e as Error).message}`);
    }
    closeFd(readyFd);
  };

  // Before the platform makes its first stub or thread, so that they are in the Sentry's
  // Landlock domain, within which it may still trace and signal (host/landlock.ts).
  let landlock: LandlockScope | null;
  try {
    landlock = scopeEverywhere();
  } catch (e) {
    const msg = `cannot confine the sandbox: ${(e as Error).message}`;
    log.error(msg);
    ready({ ok: false, error: msg });
    return 1;
  }

  const netNsFd = Number(str(values, "net-ns-fd"));
  const networkMode = str(values, "network");
  let network: TakenInterface[] | undefined;
  const sandboxOptions = (stdio: [number, number, number], terminal: boolean): SandboxOptions => ({
    platform: str(values, "platform") || "systrap",
    platformFallback: !given.some((g) => g.startsWith("--platform=")),
    platformDevicePath: str(values, "platform_device_path") || undefined,
    strace: bool(values, "strace"),
    log,
    goferFd,
    overlay2: str(values, "overlay2"),
    fileAccess: str(values, "file-access"),
    fileAccessMounts: str(values, "file-access-mounts"),
    stdio,
    terminal,
    network: network ??= networkMode === "sandbox" && netNsFd >= 0
      ? takeOverInterfaces(netNsFd, log)
      : networkMode === "host"
      ? hostInterfaces()
      : [],
    hostNetwork: networkMode === "host",
  });
  // Set once the container's sandbox exists: at once, or for a spare when it is taken.
  let sb: SandboxLike | undefined;
  let baseSpec!: InitSpec;
  let prepared: Prepared | undefined;
  try {
    const Sandbox = await loadSandbox();
    log.phase("boot: sentry loaded");
    if (spareDir) {
      // The spec-free part: the memory file and the platform, before confinement.
      prepared = await Sandbox.prepare(sandboxOptions([0, 1, 2], false));
    } else {
      baseSpec = initSpec(loadSpec(bundle));
      sb = await Sandbox.create(sandboxOptions([0, 1, 2], bool(values, "terminal")), baseSpec);
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log.error(`cannot create sandbox: ${msg}`);
    // The errno lets the CLI say it as callers match it (Docker's 127 and 126).
    const errno = (e as { errno?: unknown }).errno;
    ready({ ok: false, error: msg, ...(typeof errno === "number" && errno > 0 ? { errno } : {}) });
    return 1;
  }

  let exitStatus: number | undefined;
  let exited!: Promise<number>;
  const attach = (s: SandboxLike) => {
    sb = s;
    exited = s.exited.then((ws) => {
      exitStatus = exitStatusOf(ws);
      log.phase("boot: init exited", { waitStatus: ws, exitStatus });
      // Always written, and before any waiter hears of the exit (a `run` deletes the sandbox
      // right after), so that a reader finds the count or knows the record is missing.
      const sentryErrors = s.sentryErrors();
      log.log(sentryErrors ? "error" : "info", "boot: sentry errors", { sentryErrors });
      return exitStatus;
    });
  };
  if (sb) attach(sb);

  let destroyRequested!: () => void;
  const destroyed = new Promise<void>((r) => destroyRequested = r);
  let wasTaken!: () => void;
  const taken = new Promise<void>((r) => wasTaken = r);
  let taking = false;

  /**
   * A spare becomes container `req.id`'s sandbox: the kernel, mounts and init are built from
   * the spec the CLI sent (it validated the bundle's config.json), with the stdio it sent. One
   * take only; a failed one ends the spare, whose half-built kernel is of no further use.
   */
  const take = async (req: TakeRequest): Promise<Record<string, unknown>> => {
    if (!prepared || taking) throw new Error("this sandbox is not a spare, or is taken");
    taking = true;
    log.phase("boot: take received");
    validateId(req.id);
    const spec = initSpec(validateSpec(req.spec, "/", false));
    const stdio = stdioInbox!.take(req.stdioToken);
    log.prefix = `boot[${req.id}] `;
    const pre = prepared;
    prepared = undefined; // create owns it now, and releases it if it fails
    try {
      baseSpec = spec;
      const Sandbox = await loadSandbox();
      attach(await Sandbox.create(sandboxOptions(stdio, false), baseSpec, pre));
    } catch (e) {
      for (const fd of stdio) closeFd(fd);
      setTimeout(destroyRequested, 20);
      const msg = e instanceof Error ? e.message : String(e);
      log.error(`cannot create sandbox: ${msg}`);
      const errno = (e as { errno?: unknown }).errno;
      return { error: msg, ...(typeof errno === "number" && errno > 0 ? { errno } : {}) };
    }
    wasTaken();
    return {};
  };

  const handle = async (
    req: ControlRequest,
    conn: ControlConn,
  ): Promise<Record<string, unknown>> => {
    log.debug(`control request`, { req });
    if (req.cmd === "take") return await take(req);
    if (!sb) throw new Error("a spare sandbox serves only take");
    switch (req.cmd) {
      case "start": {
        const st = sb.status();
        if (st !== "created") throw new Error(`cannot start a container that is ${st}`);
        sb.start();
        return {};
      }
      case "signal": {
        if (!Number.isInteger(req.signo) || req.signo < 0 || req.signo > 64) {
          throw new Error(`invalid signal ${req.signo}`);
        }
        if (sb.status() === "stopped") throw new Error("container is not running");
        if (req.pid !== undefined && (!Number.isInteger(req.pid) || req.pid <= 0)) {
          throw new Error(`invalid pid ${req.pid}`);
        }
        if (req.signo === 0) return {};
        if (req.pid) sb.signalProcess(req.pid, req.signo);
        else if (req.all) sb.signalProcess(0, req.signo);
        else sb.signal(req.signo);
        return {};
      }
      case "wait":
        return { exitStatus: await exited };
      case "state": {
        const status = sb.status();
        return exitStatus === undefined ? { status } : { status, exitStatus };
      }
      case "ps":
        return { processes: sb.processes() };
      case "update": {
        for (const v of [req.memoryLimit, req.pidsLimit]) {
          if (v !== undefined && (!Number.isSafeInteger(v) || v < -1 || v === 0)) {
            throw new Error(`invalid limit ${v}`);
          }
        }
        sb.updateLimits(req.memoryLimit, req.pidsLimit);
        return {};
      }
      case "exec": {
        const p = req.process;
        if (!Array.isArray(p?.args) || p.args.length === 0) throw new Error("exec needs args");
        const stdio = stdioInbox!.take(req.stdioToken);
        const pid = sb.exec(
          {
            ...baseSpec,
            args: p.args,
            env: p.env,
            cwd: p.cwd,
            uid: p.uid,
            gid: p.gid,
            additionalGids: p.additionalGids,
          },
          stdio,
          p.terminal === true,
        );
        return { pid };
      }
      case "waitpid": {
        let done = false;
        const exited = sb.waitPid(req.pid).finally(() => done = true);
        if (req.killOnClose) {
          conn.closed.then(() => {
            // Once reaped, the pid may be another process's.
            if (done) return;
            try {
              sb?.signalProcess(req.pid, SIG.KILL);
            } catch { /* exited meanwhile */ }
          });
        }
        return { exitStatus: exitStatusOf(await exited) };
      }
      case "network": {
        if (sb.status() !== "created") throw new Error("network: the container has started");
        const count = Array.isArray(req.interfaces) ? req.interfaces.length : 0;
        const fds = stdioInbox!.takeFds(req.token, count);
        let taken: TakenInterface[];
        try {
          taken = fromWire(req.interfaces, fds);
        } catch (e) {
          for (const fd of fds) closeFd(fd);
          throw e;
        }
        sb.addInterfaces(taken);
        return {};
      }
      case "destroy":
        // Reply first; the boot process ends right after.
        setTimeout(destroyRequested, 20);
        return {};
      default:
        throw new Error(`unknown request ${JSON.stringify((req as { cmd: unknown }).cmd)}`);
    }
  };

  let server;
  let stdioInbox: StdioInbox | undefined;
  let exitFd = -1;
  try {
    // A spare's files are moved into the container's directory when it is taken.
    const dir = spareDir || join(root, id);
    // Confined, this process holds no writable host file for its exit status: its nsinit writes
    // the record once it has ended as init did (host/nsinit.ts). Unconfined (not root), nothing
    // keeps it from the state directory anyway, and nobody else waits for it.
    if (!bool(values, "confine")) {
      exitFd = openAt(
        AT_FDCWD,
        join(dir, EXIT_FILE),
        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
        0o600,
      );
    }
    server = serveControl(join(dir, "ctl.sock"), handle);
    stdioInbox = new StdioInbox(join(dir, STDIO_SOCKET));
  } catch (e) {
    const msg = `cannot listen on the control socket: ${(e as Error).message}`;
    log.error(msg);
    ready({ ok: false, error: msg });
    server?.close();
    sb?.destroy();
    prepared?.release();
    return 1;
  }
  try {
    log.debug(
      "boot: confined",
      confineBoot(
        bool(values, "confine"),
        sb?.platform ?? prepared?.platformName ?? str(values, "platform"),
        networkMode,
        landlock,
      ),
    );
  } catch (e) {
    // A sandbox that was asked to confine itself and could not does not run.
    const msg = `cannot confine the sandbox: ${(e as Error).message}`;
    log.error(msg);
    ready({ ok: false, error: msg });
    server.close();
    stdioInbox.close();
    sb?.destroy();
    prepared?.release();
    return 1;
  }
  ready({ ok: true });
  log.phase("boot: ready");

  if (!sb) {
    // A spare: taken, or ended by its idle timeout or a failed take.
    const idle = setTimeout(destroyRequested, spareIdleMs());
    // Bound while idle rather than on first use within the take.
    bindAllSymbols();
    const wasTakenNow = await Promise.race([taken.then(() => true), destroyed.then(() => false)]);
    clearTimeout(idle);
    if (!wasTakenNow) {
      log.phase("boot: spare ends untaken");
      if (exitFd >= 0) closeFd(exitFd);
      server.close();
      stdioInbox.close();
      prepared?.release();
      return 0;
    }
  }
  const sandbox = sb!;
  const waitStatus = await Promise.race([destroyed.then(() => null), sandbox.exited]);
  if (waitStatus !== null) {
    // Before the socket goes: a `wait` that finds it gone reads the file instead.
    try {
      if (exitFd >= 0) writeAll(exitFd, new TextEncoder().encode(`${exitStatusOf(waitStatus)}\n`));
    } catch (e) {
      log.warning(`cannot record the exit status: ${(e as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, REPLY_FLUSH_MS));
    await sandbox.drainConsoles();
  }
  if (exitFd >= 0) closeFd(exitFd);
  log.phase("boot: destroying");
  server.close();
  stdioInbox.close();
  try {
    sandbox.destroy();
  } catch (e) {
    log.warning(`destroy: ${(e as Error).message}`);
  }
  log.phase("boot: destroyed");
  return waitStatus === null ? 0 : exitLike(waitStatus);
}
