/**
 * The LISAFS server's protocol side: one connection's FD table and mounts, and the dispatch of
 * every message, from one table indexed by message id, to an implementation of the file
 * operations (FileOps; gofer/fsgofer.ts is the one over host files). This module decodes
 * requests, encodes responses, answers every failure with one Error message carrying a Linux
 * errno, and refuses write messages on read-only mounts; it does no file work itself.
 *
 * An FD id names a host descriptor the server holds: LISAFS donates such descriptors to its
 * client, so they are part of the protocol, not of one implementation.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { ErrnoError } from "../../abi/linux/error.ts";
import { closeFd, HostError } from "../../host/libc.ts";
import { log } from "../../log.ts";
import { closeAll, FramingError, Receiver, sendMessage } from "./channel.ts";
import { decode, DecodeError, encode } from "./codec.ts";
import {
  ErrorResp,
  type ImplementedMID,
  MAX_MESSAGE_SIZE,
  MESSAGES,
  MID,
  midName,
  type Req,
  type Resp,
  WRITE_MESSAGES,
} from "./message.ts";

/** A request that fails with a Linux errno. */
export class LinuxError extends ErrnoError {
  constructor(errno: number, message: string) {
    super(errno, `lisafs: ${message}`);
  }
  get name(): string {
    return "LinuxError";
  }
}

/** One file system the server serves: the root, or a bind mount. */
export interface ServedMount {
  /** "/" for the root, otherwise the mount's destination inside the container. */
  readonly path: string;
  /** An O_PATH descriptor of the mount's top (a directory, or a file for a file bind mount). */
  readonly fd: number;
  /** Refuse every modification with EROFS. */
  readonly readonly: boolean;
  /**
   * The overlay filestore of this mount (gofer/filestore.ts), donated with Mount; -1 or
   * absent: none.
   */
  readonly filestore?: number;
}

/** A file node, held as an O_PATH host descriptor. */
export interface ControlFd {
  readonly kind: "control";
  readonly host: number;
  readonly mount: ServedMount;
}

/** An opened file: a host descriptor with an access mode. */
export interface OpenFd {
  readonly kind: "open";
  readonly host: number;
  readonly flags: number;
  readonly isDir: boolean;
  readonly mount: ServedMount;
}

/** A Unix socket the server bound (BindAt) for the Sentry: Listen and Accept use it. */
export interface SocketFd {
  readonly kind: "socket";
  readonly host: number;
  readonly mount: ServedMount;
}

export type AnyFd = ControlFd | OpenFd | SocketFd;

/** What the server answers: a message id, its payload and descriptors to donate. */
export interface Reply {
  mid: number;
  payload: Uint8Array<ArrayBuffer>;
  fds: number[];
  /** Descriptors among `fds` that the server closes once they are sent. */
  closeAfter?: number[];
}

/** The result of a handler: the response and descriptors to donate with it. */
export interface Result<M extends ImplementedMID> {
  resp: Resp<M>;
  /** Descriptors the server keeps (in its FD table) and donates a copy of. */
  donate?: number[];
  /** Descriptors the server donates and then closes (it keeps no copy). */
  give?: number[];
}

/** Answers one decoded request of message M on connection `c`; throws LinuxError to fail. */
export type Handler<M extends ImplementedMID> = (c: Connection, req: Req<M>) => Result<M>;

/**
 * The file operations a server answers with: one handler per implemented message. A handler
 * either succeeds or fails without side effect (no FD id is created, no host descriptor is
 * leaked, a file it created is removed again); SetStat alone may partly succeed, and says
 * which attributes it could not change. gofer/fsgofer.ts implements them over host files.
 */
export type FileOps = { [M in ImplementedMID]: Handler<M> };

/** One entry of the dispatch table. */
type Dispatch = (c: Connection, payload: Uint8Array<ArrayBuffer>) => Reply;

function dispatchOf<M extends ImplementedMID>(mid: M, handler: Handler<M>): Dispatch {
  const spec = MESSAGES[mid];
  return (c, payload) => {
    const req = decode(spec.req as never, payload) as Req<M>;
    const { resp, donate = [], give = [] } = handler(c, req);
    let out;
    try {
      out = encode(spec.resp as never, resp as never);
    } catch (e) {
      closeAll(give);
      throw e;
    }
    return { mid, payload: out, fds: [...donate, ...give], closeAfter: give };
  };
}

function refuse(errno: number, why: string): Dispatch {
  return () => {
    throw new LinuxError(errno, why);
  };
}

/**
 * A LISAFS server: the dispatch table over one implementation of the file operations, shared
 * by every connection it serves.
 */
export class Server {
  /** The ids the server answers (announced by Mount). */
  readonly supported: readonly number[];
  /**
   * One entry per known message id. Where every served mount is read-only, a write message is
   * refused with EROFS before its payload is even decoded.
   */
  readonly dispatch: readonly Dispatch[];

  constructor(ops: FileOps) {
    this.supported = Object.keys(ops).map(Number).sort((a, b) => a - b);
    this.dispatch = Object.entries(MID).map(([name, mid]) => {
      let d: Dispatch;
      if (mid in ops) {
        d = dispatchOf(
          mid as ImplementedMID,
          ops[mid as ImplementedMID] as Handler<ImplementedMID>,
        );
      } else if (mid === MID.Error) d = refuse(Errno.EINVAL, "Error is not a request");
      // Flipcall channels do not exist yet: the client keeps using the socket.
      else if (mid === MID.Channel) d = refuse(Errno.EOPNOTSUPP, "Channel is not supported");
      else d = refuse(Errno.ENOSYS, `${name} is not implemented`);
      if (!WRITE_MESSAGES.has(mid)) return d;
      return (c: Connection, p: Uint8Array<ArrayBuffer>) => {
        if (c.allReadonly) throw new LinuxError(Errno.EROFS, `${name} on a read-only file system`);
        return d(c, p);
      };
    });
  }
}

/** Normalizes a mount path as the client gives it: "" and "/" are the root; no trailing "/". */
function mountKey(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  return "/" + parts.join("/");
}

/** One client's connection: its FD ids and the mounts it may reach. */
export class Connection {
  #fds = new Map<number, AnyFd>();
  #nextId = 1;
  #mounts: Map<string, ServedMount>;
  /** Every served mount is read-only. */
  readonly allReadonly: boolean;

  /**
   * @param server the file operations and their dispatch table.
   * @param sock a connected SOCK_STREAM Unix socket (not owned: the caller closes it).
   * @param mounts what may be reached: the root ("/") and bind mounts (descriptors not owned).
   */
  constructor(
    readonly server: Server,
    readonly sock: number,
    mounts: readonly ServedMount[],
  ) {
    this.#mounts = new Map(mounts.map((m) => [mountKey(m.path), m]));
    this.allReadonly = mounts.every((m) => m.readonly);
  }

  /** The served mount at `path`; ENOENT if there is none. */
  mountAt(path: string): ServedMount {
    if (path.split("/").includes("..")) throw new LinuxError(Errno.EINVAL, "'..' in mount path");
    const m = this.#mounts.get(mountKey(path));
    if (!m) throw new LinuxError(Errno.ENOENT, `no mount served at ${JSON.stringify(path)}`);
    return m;
  }

  /** Throws EROFS if `f` is on a read-only mount. */
  writable(f: AnyFd): void {
    if (f.mount.readonly) {
      throw new LinuxError(Errno.EROFS, `read-only mount ${JSON.stringify(f.mount.path)}`);
    }
  }

  /** Registers a host descriptor under a fresh id (ids are never reused). */
  add(f: AnyFd): number {
    const id = this.#nextId++;
    this.#fds.set(id, f);
    return id;
  }

  /** The FD with id `id`; EBADF if there is none. */
  get(id: number): AnyFd {
    const f = this.#fds.get(id);
    if (!f) throw new LinuxError(Errno.EBADF, `unknown FD id ${id}`);
    return f;
  }

  control(id: number): ControlFd {
    const f = this.get(id);
    if (f.kind !== "control") throw new LinuxError(Errno.EBADF, `FD id ${id} is not a control FD`);
    return f;
  }

  open(id: number): OpenFd {
    const f = this.get(id);
    if (f.kind !== "open") throw new LinuxError(Errno.EBADF, `FD id ${id} is not an open FD`);
    return f;
  }

  socket(id: number): SocketFd {
    const f = this.get(id);
    if (f.kind !== "socket") throw new LinuxError(Errno.EBADF, `FD id ${id} is not a socket FD`);
    return f;
  }

  remove(id: number): void {
    const f = this.#fds.get(id);
    if (!f) return;
    this.#fds.delete(id);
    closeFd(f.host);
  }

  /** The number of live FD ids (for tests and debugging). */
  get size(): number {
    return this.#fds.size;
  }

  /**
   * Handles one request and returns the reply; never throws. Failures become an Error reply
   * with the errno; a bug in a handler is logged and answered with EIO.
   */
  handle(mid: number, payload: Uint8Array<ArrayBuffer>): Reply {
    try {
      const d = this.server.dispatch[mid];
      if (!d) throw new LinuxError(Errno.ENOSYS, `unknown message id ${mid}`);
      return d(this, payload);
    } catch (e) {
      let errno: number;
      if (e instanceof LinuxError || e instanceof HostError) errno = e.errno;
      else if (e instanceof DecodeError) errno = Errno.EINVAL;
      else {
        log.error(`gofer: ${midName(mid)} failed unexpectedly`, { error: String(e) });
        errno = Errno.EIO;
      }
      log.debug(`gofer: ${midName(mid)} -> errno ${errno}`, { error: (e as Error).message });
      return { mid: MID.Error, payload: encode(ErrorResp, { errno }), fds: [] };
    }
  }

  /**
   * Serves requests until the peer closes the socket (returns 0) or the stream breaks
   * framing or fails (returns 1). Blocks this thread.
   */
  serve(): number {
    const receiver = new Receiver(this.sock);
    try {
      for (;;) {
        let msg;
        try {
          msg = receiver.recv(MAX_MESSAGE_SIZE);
        } catch (e) {
          if (!(e instanceof FramingError)) throw e;
          log.warning(`gofer: closing connection: ${e.message}`);
          // Best effort: the client may still be waiting for an answer.
          try {
            sendMessage(this.sock, MID.Error, encode(ErrorResp, { errno: e.errno }));
          } catch { /* the peer is gone */ }
          return 1;
        }
        if (!msg) return 0;
        // The server accepts no descriptors from its client.
        closeAll(msg.fds);
        const reply = this.handle(msg.mid, msg.payload);
        try {
          sendMessage(this.sock, reply.mid, reply.payload, reply.fds);
        } finally {
          closeAll(reply.closeAfter ?? []);
        }
      }
    } catch (e) {
      if (e instanceof HostError && (e.errno === Errno.EPIPE || e.errno === Errno.ECONNRESET)) {
        log.debug(`gofer: peer went away: ${e.message}`);
        return 0;
      }
      log.error(`gofer: connection failed: ${(e as Error).message}`);
      return 1;
    } finally {
      this.closeAll();
    }
  }

  /** Closes every FD of this connection. */
  closeAll(): void {
    for (const id of [...this.#fds.keys()]) this.remove(id);
  }
}
