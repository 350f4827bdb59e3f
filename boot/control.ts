/**
 * The control socket between the CLI and a running `runsc boot`: a Unix stream socket at
 * `<root>/<id>/ctl.sock` carrying newline-delimited JSON. Each request line gets one reply line,
 * in order; `wait` replies only once init has exited.
 *
 * The boot process serves it with `serveControl`; the CLI calls `control()`.
 *
 * @module
 */

import { basename, dirname } from "../path.ts";
import type { Spec } from "../oci/spec.ts";
import { closeFd, HostError } from "../host/libc.ts";
import { openAt } from "../host/fsops.ts";
import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_PATH } from "../abi/linux/file.ts";
import {
  acceptUnix,
  bindUnix,
  connectUnix,
  listenFd,
  recvMsg,
  sendMsg,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  unixSocket,
} from "../host/socket.ts";

/** What a client may ask of the sandbox. */
export type ControlRequest =
  | { cmd: "start" }
  /**
   * Deliver `signo` to init (with `all`, to every process of the container; with `pid`, to
   * that process, one `exec` started).
   */
  | { cmd: "signal"; signo: number; all?: boolean; pid?: number }
  /** Reply when init has exited, with its exit status. */
  | { cmd: "wait" }
  | { cmd: "state" }
  | { cmd: "ps" }
  /**
   * Change the limits the Sentry enforces (`runsc update`): application memory in bytes and
   * tasks; -1 lifts a limit, absent keeps it.
   */
  | { cmd: "update"; memoryLimit?: number; pidsLimit?: number }
  /** Kill everything and make the boot process exit after replying. */
  | { cmd: "destroy" }
  /**
   * Start another process in the running container (`runsc exec`). Its stdio are the three
   * descriptors the CLI sent beforehand on the stdio socket (sendStdio) under `stdioToken`.
   */
  | { cmd: "exec"; process: ExecProcess; stdioToken: string }
  /**
   * Reply when a process that exec started has exited, with its exit status. With
   * `killOnClose`, the process is killed if the client hangs up first: the client stands for
   * the process on the host (`exec --detach --pid-file`), and a SIGKILL it cannot forward ends
   * it.
   */
  | { cmd: "waitpid"; pid: number; killOnClose?: boolean }
  /**
   * Interfaces of the sandbox's network namespace that the CLI took over after the prestart
   * hooks set them up (Docker's libnetwork-setkey): their packet sockets were sent beforehand
   * on the stdio socket (sendFds) under `token`, one per interface, in order.
   */
  | { cmd: "network"; token: string; interfaces: WireInterface[] }
  | TakeRequest;

/** An interface taken over (boot/network.ts TakenInterface) as JSON carries it. */
export interface WireInterface {
  name: string;
  mac: number[];
  mtu: number;
  addresses: { address: number[]; prefixLen: number }[];
  routes: { dst: number[]; dstLen: number; gateway: number[] | null }[];
}

/**
 * Make a spare sandbox (oci/spare.ts) container `id`'s: build its kernel, mounts and init from
 * `spec` (the bundle's config.json, as the CLI validated it), with the stdio sent beforehand on
 * the stdio socket under `stdioToken`. The reply carries `error` (and the errno, when one is
 * the cause) when that failed; the spare then ends.
 */
export interface TakeRequest {
  cmd: "take";
  id: string;
  spec: Spec;
  stdioToken: string;
}

/** What `runsc exec` runs. */
export interface ExecProcess {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  /** Its stdin is a host terminal: it gets a pty of the Sentry connected to it. */
  terminal?: boolean;
}

/** One process inside the sandbox as `ps` reports it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  cmd: string;
}

/** The success payload of each request. */
export interface ControlReplies {
  start: Record<never, never>;
  signal: Record<never, never>;
  /** 128+signal when init was killed by a signal, its exit code otherwise. */
  wait: { exitStatus: number };
  /** The sandbox's status and, once stopped, init's exit status. */
  state: { status: "created" | "running" | "stopped"; exitStatus?: number };
  ps: { processes: ProcessInfo[] };
  update: Record<never, never>;
  destroy: Record<never, never>;
  exec: { pid: number };
  waitpid: { exitStatus: number };
  network: Record<never, never>;
  take: { error?: string; errno?: number };
}

/** A reply line on the wire. */
export type ControlReply =
  | ({ ok: true } & Record<string, unknown>)
  | { ok: false; error: string };

/** The sandbox answered with an error (the message is the sandbox's). */
export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlError";
  }
}

/** Nobody serves the socket: the boot process is gone, so the container has stopped. */
export class ControlUnavailable extends Error {
  constructor(readonly path: string, options?: ErrorOptions) {
    super(`control socket ${path}: the sandbox is not running`, options);
    this.name = "ControlUnavailable";
  }
}

const encoder = new TextEncoder();

/** sun_path holds 108 bytes including the terminating NUL. */
const UNIX_PATH_MAX = 107;
/** Directories of over-long socket paths, open (O_PATH) for as long as this process runs. */
const socketDirs = new Map<string, number>();

/**
 * A path that reaches the socket at `path` within sun_path's 107 bytes: `path` itself, or, when
 * longer (containerd's state root plus a 64-character id can be), the same file through
 * /proc/self/fd of its directory, held open.
 */
export function reachable(path: string): string {
  if (encoder.encode(path).length <= UNIX_PATH_MAX) return path;
  const dir = dirname(path);
  let fd = socketDirs.get(dir);
  if (fd === undefined) {
    fd = openAt(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    socketDirs.set(dir, fd);
  }
  const short = `/proc/self/fd/${fd}/${basename(path)}`;
  if (encoder.encode(short).length > UNIX_PATH_MAX) {
    throw new HostError(`socket name ${basename(path)} is too long`, 36 /* ENAMETOOLONG */);
  }
  return short;
}

/** Reads newline-delimited lines from a connection until it closes. */
async function* lines(conn: Deno.Conn): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  const chunk = new Uint8Array(64 * 1024);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(chunk);
    } catch {
      n = null;
    }
    if (n === null) return;
    buf += decoder.decode(chunk.subarray(0, n), { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== "") yield line;
    }
  }
}

async function writeAllConn(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** The sandbox did not answer in time (it may be wedged; the caller decides what follows). */
export class ControlTimeout extends ControlError {
  constructor(readonly path: string, cmd: string, ms: number) {
    super(`control socket ${path}: no answer to ${cmd} within ${ms / 1000}s`);
    this.name = "ControlTimeout";
  }
}

/** How long requests other than `wait` may take by default. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Sends one request to the sandbox at `path` and returns its reply payload.
 * Throws ControlUnavailable when nothing listens there, ControlError when the sandbox refuses,
 * ControlTimeout after `timeoutMs` (default: none for `wait` and `waitpid`, DEFAULT_TIMEOUT_MS
 * otherwise).
 */
export async function control<C extends ControlRequest["cmd"]>(
  path: string,
  req: Extract<ControlRequest, { cmd: C }>,
  opts: { timeoutMs?: number } = {},
): Promise<ControlReplies[C]> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: reachable(path) });
  } catch (e) {
    throw new ControlUnavailable(path, { cause: e });
  }
  const close = () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const timeoutMs = opts.timeoutMs ??
    (req.cmd === "wait" || req.cmd === "waitpid" ? 0 : DEFAULT_TIMEOUT_MS);
  let timedOut = false;
  const timer = timeoutMs > 0
    ? setTimeout(() => {
      timedOut = true;
      close();
    }, timeoutMs)
    : undefined;
  try {
    try {
      await writeAllConn(conn, encoder.encode(JSON.stringify(req) + "\n"));
    } catch (e) {
      // The boot process is exiting (its init has): it took the connection but reads no more.
      if (e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset) {
        if (req.cmd === "destroy") return {} as ControlReplies[C];
        throw new ControlUnavailable(path, { cause: e });
      }
      throw e;
    }
    for await (const line of lines(conn)) {
      const reply = JSON.parse(line) as ControlReply;
      if (!reply.ok) throw new ControlError(reply.error);
      const { ok: _, ...payload } = reply;
      return payload as unknown as ControlReplies[C];
    }
    if (timedOut) throw new ControlTimeout(path, req.cmd, timeoutMs);
    // The boot process went away before answering: for destroy that is the answer.
    if (req.cmd === "destroy") return {} as ControlReplies[C];
    throw new ControlUnavailable(path);
  } catch (e) {
    if (timedOut && !(e instanceof ControlTimeout)) {
      throw new ControlTimeout(path, req.cmd, timeoutMs);
    }
    throw e;
  } finally {
    clearTimeout(timer);
    close();
  }
}

/** What a handler knows of the connection a request came on. */
export interface ControlConn {
  /** Settles when the client has hung up (or the server closed the connection). */
  closed: Promise<void>;
}

/** Handles one request; throw to reply `{ok:false,error}` with the error's message. */
export type ControlHandler = (
  req: ControlRequest,
  conn: ControlConn,
) => Promise<Record<string, unknown>>;

/** A running control server. */
export interface ControlServer {
  /** Stops accepting and closes every connection. */
  close(): void;
  /** Settles when the accept loop has ended. */
  readonly done: Promise<void>;
}

/**
 * Serves the control protocol at `path` (a stale socket file there is replaced). Requests on one
 * connection are answered in order (each one handled as it arrives); connections are independent, so a pending `wait` does not
 * hold up `state` from another client.
 */
export function serveControl(path: string, handler: ControlHandler): ControlServer {
  try {
    Deno.removeSync(path);
  } catch { /* none there */ }
  const listener = Deno.listen({ transport: "unix", path: reachable(path) });
  const conns = new Set<Deno.Conn>();
  const serveConn = async (conn: Deno.Conn) => {
    conns.add(conn);
    let hangUp!: () => void;
    const closed = new Promise<void>((r) => hangUp = r);
    // Requests are read while earlier ones are still pending, so that a client hanging up is
    // seen at once (a `waitpid` with killOnClose depends on it); replies keep the order.
    let replies = Promise.resolve(true);
    const answer = async (line: string): Promise<ControlReply> => {
      try {
        const req = JSON.parse(line) as ControlRequest;
        if (typeof req !== "object" || req === null || typeof req.cmd !== "string") {
          throw new Error(`malformed request ${line.slice(0, 80)}`);
        }
        return { ok: true, ...(await handler(req, { closed })) };
      } catch (e) {
        return { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
    };
    try {
      for await (const line of lines(conn)) {
        const reply = answer(line);
        replies = replies.then(async (open) => {
          if (!open) return false;
          try {
            await writeAllConn(conn, encoder.encode(JSON.stringify(await reply) + "\n"));
            return true;
          } catch {
            return false; // the client went away
          }
        });
      }
      hangUp();
      await replies;
    } finally {
      hangUp();
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  };
  const done = (async () => {
    try {
      for await (const conn of listener) serveConn(conn);
    } catch { /* closed */ }
  })();
  return {
    close() {
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      try {
        Deno.removeSync(path);
      } catch { /* already gone */ }
    },
    done,
  };
}

/** The socket beside ctl.sock on which `runsc exec` passes its stdio (SCM_RIGHTS). */
export const STDIO_SOCKET = "stdio.sock";

/**
 * The file beside ctl.sock where init's exit status is recorded (a decimal and a newline) once
 * the boot process has ended as init did: by its nsinit when confined (host/nsinit.ts), else by
 * the boot itself. `state` and `wait` read it once the socket is gone.
 */
export const EXIT_FILE = "exit";

/**
 * The longest exit record (`255\n`). An unconfined Sentry writes the file itself: the CLI reads
 * no more than this of it, and a larger file is not a record.
 */
export const EXIT_RECORD_MAX = 4;

/** Most stdio sets kept waiting for their exec request; older ones are closed. */
const MAX_PENDING_STDIO = 32;
/** Most descriptors one message may carry: stdio's three, or a sandbox's packet sockets. */
const MAX_FDS_PER_SET = 16;
const TOKEN_MAX = 64;
const EAGAIN = 11;

/**
 * The CLI's side: sends descriptors 0-2 of this process (or `stdio`) to the sandbox's stdio socket at
 * `path`, labelled `token`. The descriptors travel with SCM_RIGHTS, so the sandbox gets the
 * very open files (pipes, files, a terminal, sharing their offsets) as if inherited, without
 * reaching into this process (which a Sentry in its own PID namespace, without capabilities,
 * could not). They stay queued in the socket after this returns.
 */
export function sendStdio(
  path: string,
  token: string,
  stdio: readonly [number, number, number] = [0, 1, 2],
): void {
  sendFds(path, token, stdio);
}

/** Sends `fds` (at most 16) to the sandbox's stdio socket at `path`, labelled `token`. */
export function sendFds(path: string, token: string, fds: readonly number[]): void {
  const stdio = fds;
  const fd = unixSocket(SOCK_STREAM);
  try {
    connectUnix(fd, reachable(path));
    const data = new TextEncoder().encode(token + "\n");
    if (sendMsg(fd, data, stdio) !== data.length) {
      throw new Error(`stdio socket ${path}: short send`);
    }
  } finally {
    closeFd(fd);
  }
}

/**
 * The sandbox's side of the stdio socket: bound before the Sentry pivots away from the host's
 * tree, and read without blocking when an exec request names a token.
 */
export class StdioInbox {
  readonly #fd: number;
  readonly #path: string;
  /** Connections accepted whose message has not arrived yet. */
  #waiting: number[] = [];
  /** Received stdio sets by token, oldest first. */
  #sets = new Map<string, number[]>();

  constructor(path: string) {
    try {
      Deno.removeSync(path);
    } catch { /* none there */ }
    this.#path = path;
    this.#fd = unixSocket(SOCK_STREAM | SOCK_NONBLOCK);
    try {
      bindUnix(this.#fd, reachable(path));
      listenFd(this.#fd, 16);
    } catch (e) {
      closeFd(this.#fd);
      throw e;
    }
  }

  /** Takes (the caller then owns) the stdio sent under `token`; throws if none was. */
  take(token: string): [number, number, number] {
    return this.takeFds(token, 3) as [number, number, number];
  }

  /** Takes (the caller then owns) the `count` descriptors sent under `token` (sendFds). */
  takeFds(token: string, count: number): number[] {
    if (typeof token !== "string" || token === "" || token.length > TOKEN_MAX) {
      throw new Error("exec: invalid stdio token");
    }
    this.#collect();
    const set = this.#sets.get(token);
    if (!set) throw new Error("exec: no stdio was received for this request");
    this.#sets.delete(token);
    if (set.length !== count) {
      for (const f of set) closeFd(f);
      throw new Error(`expected ${count} descriptors, got ${set.length}`);
    }
    return set;
  }

  /** Accepts pending connections and reads every message that has arrived. */
  #collect(): void {
    for (;;) {
      try {
        this.#waiting.push(acceptUnix(this.#fd, SOCK_NONBLOCK).fd);
      } catch (e) {
        if (e instanceof HostError && e.errno === EAGAIN) break;
        throw e;
      }
    }
    const still: number[] = [];
    for (const fd of this.#waiting) {
      const buf = new Uint8Array(TOKEN_MAX + 2);
      let got;
      try {
        got = recvMsg(fd, buf, MAX_FDS_PER_SET);
      } catch (e) {
        if (e instanceof HostError && e.errno === EAGAIN) {
          still.push(fd);
          continue;
        }
        closeFd(fd);
        continue;
      }
      closeFd(fd);
      const token = new TextDecoder().decode(buf.subarray(0, got.n)).trim();
      if (got.fds.length === 0 || got.truncatedFds || token === "") {
        for (const f of got.fds) closeFd(f);
        continue;
      }
      this.#sets.set(token, got.fds);
      if (this.#sets.size > MAX_PENDING_STDIO) {
        const [oldest, fds] = this.#sets.entries().next().value!;
        this.#sets.delete(oldest);
        for (const f of fds) closeFd(f);
      }
    }
    this.#waiting = still.slice(-MAX_PENDING_STDIO);
    for (const fd of still.slice(0, -MAX_PENDING_STDIO)) closeFd(fd);
  }

  /** Closes the socket and every descriptor still held; removes the socket file if reachable. */
  close(): void {
    for (const fd of this.#waiting) closeFd(fd);
    for (const set of this.#sets.values()) for (const f of set) closeFd(f);
    this.#waiting = [];
    this.#sets.clear();
    closeFd(this.#fd);
    try {
      Deno.removeSync(this.#path);
    } catch { /* gone, or outside our root now */ }
  }
}
