/**
 * The LISAFS server: one connection's FD tables and the handlers of every message, dispatched
 * from one table indexed by message id. The server walks the tree one component at a time with
 * O_PATH|O_NOFOLLOW opens of validated names, so it never follows a symlink and never leaves the
 * root it was given.
 *
 * Every handler either succeeds or fails without side effect (no FD id is created, no host FD
 * is leaked) and answers one Error message carrying a Linux errno.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { closeFd, HostError, preadFd } from "../../host/libc.ts";
import {
  fstat,
  fstatfs,
  getdents64,
  type HostStat,
  lseek,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_DIRECT,
  O_DIRECTORY,
  O_LARGEFILE,
  O_NOATIME,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  openAt,
  readLinkFd,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../../host/fsops.ts";
import { log } from "../../log.ts";
import { closeAll, FramingError, recvMessage, sendMessage } from "./channel.ts";
import { decode, DecodeError, encode } from "./codec.ts";
import {
  type Dirent,
  ErrorResp,
  HEADER_SIZE,
  type ImplementedMID,
  type Inode,
  MAX_MESSAGE_SIZE,
  MESSAGES,
  MID,
  midName,
  type Req,
  type Resp,
  type Stat,
  WalkStatus,
  WRITE_MESSAGES,
} from "./message.ts";

/** A request that fails with a Linux errno. */
export class LinuxError extends Error {
  constructor(readonly errno: number, message: string) {
    super(`lisafs: ${message}`);
    this.name = "LinuxError";
  }
}

const AT_FDCWD = -100;
const NAME_MAX = 255;

/** A file node, held as an O_PATH host descriptor. */
interface ControlFd {
  readonly kind: "control";
  readonly host: number;
}

/** An opened file: a host descriptor with an access mode. */
interface OpenFd {
  readonly kind: "open";
  readonly host: number;
  readonly flags: number;
  readonly isDir: boolean;
}

/** What the server answers: a message id, its payload and descriptors to donate. */
export interface Reply {
  mid: number;
  payload: Uint8Array<ArrayBuffer>;
  fds: number[];
}

/** The result of a handler: the response and descriptors to donate with it. */
interface Result<M extends ImplementedMID> {
  resp: Resp<M>;
  donate?: number[];
}

type Handler<M extends ImplementedMID> = (c: Connection, req: Req<M>) => Result<M>;

function isType(st: HostStat, type: number): boolean {
  return (st.mode & S_IFMT) === type;
}

function toStat(st: HostStat): Stat {
  return {
    mode: st.mode,
    nlink: st.nlink,
    uid: st.uid,
    gid: st.gid,
    rdev: st.rdev,
    blksize: st.blksize,
    size: st.size,
    blocks: st.blocks,
    ino: st.ino,
    dev: st.dev,
    atimeNs: BigInt.asUintN(64, st.atimeNs),
    mtimeNs: BigInt.asUintN(64, st.mtimeNs),
    ctimeNs: BigInt.asUintN(64, st.ctimeNs),
  };
}

/**
 * Checks one path component: not empty, ".", "..", no "/" or NUL, at most NAME_MAX bytes.
 * Throws EINVAL (or ENAMETOOLONG).
 */
export function checkName(name: string): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new LinuxError(Errno.EINVAL, `invalid path component ${JSON.stringify(name)}`);
  }
  if (new TextEncoder().encode(name).length > NAME_MAX) {
    throw new LinuxError(Errno.ENAMETOOLONG, `path component longer than ${NAME_MAX} bytes`);
  }
}

/** Host errno of a failed host call, or rethrows anything else. */
function hostErrno(e: unknown): number {
  if (e instanceof HostError) return e.errno;
  throw e;
}

/**
 * Walks `names` from host directory `dir`, one O_PATH|O_NOFOLLOW open per component, stopping
 * at a missing component or after a symlink. Returns the opened descriptors (the caller owns
 * them) with their attributes. On an error other than ENOENT, closes what it opened and throws.
 */
function walkHost(
  dir: number,
  names: readonly string[],
): { status: number; nodes: { host: number; st: HostStat }[] } {
  const nodes: { host: number; st: HostStat }[] = [];
  let status: number = WalkStatus.Success;
  try {
    let cur = dir;
    for (const name of names) {
      let host: number;
      try {
        host = openAt(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      } catch (e) {
        if (hostErrno(e) !== Errno.ENOENT) throw e;
        status = WalkStatus.ComponentDoesNotExist;
        break;
      }
      const node = { host, st: fstat(host) };
      nodes.push(node);
      if (isType(node.st, S_IFLNK)) {
        status = WalkStatus.ComponentSymlink;
        break;
      }
      cur = host;
    }
  } catch (e) {
    for (const n of nodes) closeFd(n.host);
    throw e;
  }
  return { status, nodes };
}

/** Handlers of the implemented messages. */
const HANDLERS: { [M in ImplementedMID]: Handler<M> } = {
  [MID.Mount]: (c) => {
    const st = fstat(c.rootFd);
    const host = openAt(AT_FDCWD, `/proc/self/fd/${c.rootFd}`, O_PATH | O_CLOEXEC);
    const fd = c.add({ kind: "control", host });
    return {
      resp: {
        root: { fd, stat: toStat(st) },
        maxMessageSize: MAX_MESSAGE_SIZE,
        supported: SUPPORTED,
      },
    };
  },

  [MID.FStat]: (c, { fd }) => ({ resp: toStat(fstat(c.get(fd).host)) }),

  [MID.FStatFS]: (c, { fd }) => ({ resp: fstatfs(c.get(fd).host) }),

  [MID.Walk]: (c, { dirFd, names }) => {
    const dir = c.control(dirFd);
    names.forEach(checkName);
    c.requireDir(dir);
    const { status, nodes } = walkHost(dir.host, names);
    const inodes: Inode[] = nodes.map((n) => ({
      fd: c.add({ kind: "control", host: n.host }),
      stat: toStat(n.st),
    }));
    return { resp: { status, inodes } };
  },

  [MID.WalkStat]: (c, { dirFd, names }) => {
    const dir = c.control(dirFd);
    // A leading "" asks for the starting directory's own attributes too.
    const withSelf = names.length > 0 && names[0] === "";
    const rest = withSelf ? names.slice(1) : names;
    rest.forEach(checkName);
    const stats: Stat[] = [];
    if (withSelf) stats.push(toStat(fstat(dir.host)));
    if (rest.length > 0) {
      c.requireDir(dir);
      const { nodes } = walkHost(dir.host, rest);
      for (const n of nodes) {
        stats.push(toStat(n.st));
        closeFd(n.host);
      }
    }
    return { resp: { stats } };
  },

  [MID.OpenAt]: (c, { fd, flags }) => {
    const node = c.control(fd);
    const acc = flags & O_ACCMODE;
    if (acc !== O_RDONLY && acc !== O_WRONLY && acc !== O_RDWR) {
      throw new LinuxError(Errno.EINVAL, `invalid access mode ${acc}`);
    }
    const writes = acc !== O_RDONLY || (flags & O_TRUNC) !== 0;
    const st = fstat(node.host);
    let hostFlags: number;
    if (isType(st, S_IFDIR)) {
      if (writes) throw new LinuxError(Errno.EISDIR, "directory opened for writing");
      hostFlags = O_RDONLY | O_DIRECTORY;
    } else if (isType(st, S_IFREG)) {
      if (writes && c.readonly) throw new LinuxError(Errno.EROFS, "read-only root");
      hostFlags = flags & (O_ACCMODE | O_TRUNC | O_APPEND | O_DIRECT | O_LARGEFILE | O_NOATIME);
    } else if (isType(st, S_IFLNK)) {
      throw new LinuxError(Errno.ELOOP, "cannot open a symlink");
    } else {
      // FIFOs would block the server on open; sockets and devices are not served yet.
      throw new LinuxError(
        Errno.ENXIO,
        `cannot open file of type 0o${(st.mode & S_IFMT).toString(8)}`,
      );
    }
    // Reopening through /proc/self/fd opens exactly the inode the control FD holds: no path
    // is resolved in the container's tree, so nothing can be raced or redirected.
    const host = openAt(AT_FDCWD, `/proc/self/fd/${node.host}`, hostFlags | O_CLOEXEC);
    const isDir = isType(st, S_IFDIR);
    const openFd = c.add({ kind: "open", host, flags: hostFlags, isDir });
    // Regular files are donated so that the Sentry reads and writes without a round trip.
    return { resp: { openFd }, donate: isDir ? [] : [host] };
  },

  [MID.Close]: (c, { fds }) => {
    for (const id of fds) c.get(id); // all or nothing: fail before closing any
    for (const id of new Set(fds)) c.remove(id);
    return { resp: {} };
  },

  [MID.PRead]: (c, { offset, fd, count }) => {
    const f = c.open(fd);
    if ((f.flags & O_ACCMODE) === O_WRONLY) {
      throw new LinuxError(Errno.EBADF, "not open for reading");
    }
    if (f.isDir) throw new LinuxError(Errno.EISDIR, "pread on a directory");
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new LinuxError(Errno.EINVAL, "offset");
    const buf = new Uint8Array(Math.min(count, MAX_PREAD));
    const n = preadFd(f.host, buf, Number(offset));
    return { resp: { data: buf.subarray(0, n) } };
  },

  [MID.ReadLinkAt]: (c, { fd }) => {
    const node = c.control(fd);
    if (!isType(fstat(node.host), S_IFLNK)) {
      throw new LinuxError(Errno.EINVAL, "not a symlink");
    }
    return { resp: { target: lossyUtf8.decode(readLinkFd(node.host)) } };
  },

  [MID.Getdents64]: (c, { fd, count }) => {
    const f = c.open(fd);
    if (!f.isDir) throw new LinuxError(Errno.ENOTDIR, "getdents64 on a non-directory");
    const size = Math.min(Math.abs(count), MAX_GETDENTS);
    // Linux refuses a buffer too small for one entry with EINVAL.
    if (size < 280) throw new LinuxError(Errno.EINVAL, `getdents64 count ${count} too small`);
    if (count < 0) lseek(f.host, 0n, 0 /* SEEK_SET */);
    const buf = new Uint8Array(size);
    const n = getdents64(f.host, buf);
    return { resp: { dirents: parseDirents(buf.subarray(0, n)) } };
  },
};

const lossyUtf8 = new TextDecoder();

// Room left in a message for data after the header and the length fields.
const MAX_PREAD = MAX_MESSAGE_SIZE - HEADER_SIZE - 64;
// Each entry's wire form may be a byte longer than its linux_dirent64 record.
const MAX_GETDENTS = MAX_MESSAGE_SIZE / 2;

/** Decodes linux_dirent64 records {ino u64, off s64, reclen u16, type u8, name NUL-terminated}. */
function parseDirents(b: Uint8Array<ArrayBuffer>): Dirent[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Dirent[] = [];
  for (let off = 0; off + 19 <= b.length;) {
    const reclen = v.getUint16(off + 16, true);
    if (reclen < 20 || off + reclen > b.length) break;
    const nameBytes = b.subarray(off + 19, off + reclen);
    const nul = nameBytes.indexOf(0);
    out.push({
      ino: v.getBigUint64(off, true),
      off: v.getBigUint64(off + 8, true),
      type: v.getUint8(off + 18),
      name: lossyUtf8.decode(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)),
    });
    off += reclen;
  }
  return out;
}

/** The ids the server answers (announced by Mount). */
const SUPPORTED: number[] = Object.keys(HANDLERS).map(Number).sort((a, b) => a - b);

/** One entry of the dispatch table. */
type Dispatch = (c: Connection, payload: Uint8Array<ArrayBuffer>) => Reply;

function dispatchOf<M extends ImplementedMID>(mid: M): Dispatch {
  const spec = MESSAGES[mid];
  const handler = HANDLERS[mid] as Handler<M>;
  return (c, payload) => {
    const req = decode(spec.req, payload) as Req<M>;
    const { resp, donate } = handler(c, req);
    return { mid, payload: encode(spec.resp as never, resp as never), fds: donate ?? [] };
  };
}

function refuse(errno: number, why: string): Dispatch {
  return () => {
    throw new LinuxError(errno, why);
  };
}

/** The dispatch table: one entry per known message id. */
const DISPATCH: Dispatch[] = Object.entries(MID).map(([name, mid]) => {
  if (mid in HANDLERS) return dispatchOf(mid as ImplementedMID);
  if (mid === MID.Error) return refuse(Errno.EINVAL, "Error is not a request");
  if (WRITE_MESSAGES.has(mid)) {
    return (c: Connection, p: Uint8Array<ArrayBuffer>) => {
      if (c.readonly) throw new LinuxError(Errno.EROFS, `${name} on a read-only root`);
      return refuse(Errno.ENOSYS, `${name} is not implemented`)(c, p);
    };
  }
  return refuse(Errno.ENOSYS, `${name} is not implemented`);
});

/** One client's connection: its FD ids and the root it may reach. */
export class Connection {
  #fds = new Map<number, ControlFd | OpenFd>();
  #nextId = 1;

  /**
   * @param sock a connected SOCK_STREAM Unix socket (not owned: the caller closes it).
   * @param rootFd an O_PATH descriptor of the root directory (not owned).
   * @param readonly refuse every modification with EROFS.
   */
  constructor(readonly sock: number, readonly rootFd: number, readonly readonly: boolean) {}

  /** Registers a host descriptor under a fresh id (ids are never reused). */
  add(f: ControlFd | OpenFd): number {
    const id = this.#nextId++;
    this.#fds.set(id, f);
    return id;
  }

  /** The FD with id `id`; EBADF if there is none. */
  get(id: number): ControlFd | OpenFd {
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

  requireDir(f: ControlFd): void {
    if (!isType(fstat(f.host), S_IFDIR)) throw new LinuxError(Errno.ENOTDIR, "not a directory");
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
      const d = DISPATCH[mid];
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
    try {
      for (;;) {
        let msg;
        try {
          msg = recvMessage(this.sock, MAX_MESSAGE_SIZE);
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
        sendMessage(this.sock, reply.mid, reply.payload, reply.fds);
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
