/**
 * The Gofer's file operations over host files (FileOps of gofer/lisafs/server.ts), as gVisor's
 * runsc/fsgofer is to its pkg/lisafs. It walks the tree one component at a time with
 * O_PATH|O_NOFOLLOW opens of validated names, and names nodes it already holds through their
 * descriptors (the *at calls with AT_EMPTY_PATH, or `/proc/self/fd/N`), so it never follows a
 * symlink and never leaves the mounts it was given.
 *
 * Every handler either succeeds or fails without side effect (no FD id is created, no host FD
 * is leaked, a file it created is removed again). SetStat is the exception the protocol
 * allows: it reports which attributes it could not change.
 *
 * @module
 */

import { Errno } from "../abi/linux/errno.ts";
import { closeFd, HostError, preadFd } from "../host/libc.ts";
import { setNonblocking } from "../host/io.ts";
import { setThreadEgid, setThreadEuid } from "../host/namespace.ts";
import {
  acceptUnix,
  bindUnix,
  connectUnix,
  listenFd,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  unixSocket,
} from "../host/socket.ts";
import {
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  chmodFd,
  fallocate,
  fchownFd,
  fstat,
  fstatAt,
  fstatfs,
  fsync,
  ftruncate,
  getdents64,
  type HostStat,
  linkFdAt,
  lseek,
  makedev,
  mkdirAt,
  mknodAt,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_EXCL,
  O_LARGEFILE,
  O_NOATIME,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  openAt,
  pwrite,
  readLinkFd,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  RENAME_WHITEOUT,
  renameAt2,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  symlinkAt,
  unlinkAt,
  utimensFd,
  Xattr,
} from "../host/fsops.ts";
import { byteLength, decodeBytes } from "../host/utf8b.ts";
import { isFilestoreName } from "./filestore.ts";
import { asciiString } from "./lisafs/codec.ts";
import {
  type Dirent,
  HEADER_SIZE,
  type Inode,
  MAX_MESSAGE_SIZE,
  MID,
  NO_ID,
  SetStatMask,
  type Stat,
  WalkStatus,
} from "./lisafs/message.ts";
import {
  type AnyFd,
  type Connection,
  type ControlFd,
  type FileOps,
  LinuxError,
  Server,
} from "./lisafs/server.ts";

const NAME_MAX = 255;

/** FALLOC_FL_KEEP_SIZE | PUNCH_HOLE | NO_HIDE_STALE | COLLAPSE_RANGE | ZERO_RANGE | INSERT_RANGE | UNSHARE_RANGE. */
const FALLOC_FL_KNOWN = 0x7f;
/** The largest extended attribute value or name list Linux handles (XATTR_SIZE_MAX). */
const XATTR_SIZE_MAX = 65536;
const XATTR_NAME_MAX = 255;

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
  if (byteLength(name) > NAME_MAX) {
    throw new LinuxError(Errno.ENAMETOOLONG, `path component longer than ${NAME_MAX} bytes`);
  }
}

/** checkName, and the name must not be a (hidden) overlay filestore's: EPERM. */
function checkNewName(name: string): void {
  checkName(name);
  if (isFilestoreName(name)) {
    throw new LinuxError(Errno.EPERM, `${JSON.stringify(name)} is reserved for overlay filestores`);
  }
}

function checkXattrName(name: string): void {
  if (name === "" || name.includes("\0")) {
    throw new LinuxError(Errno.EINVAL, `invalid xattr name ${JSON.stringify(name)}`);
  }
  if (byteLength(name) > XATTR_NAME_MAX) {
    throw new LinuxError(Errno.ERANGE, `xattr name longer than ${XATTR_NAME_MAX} bytes`);
  }
}

/** Throws ENOTDIR unless `f` holds a directory. */
function requireDir(f: ControlFd): void {
  if (!isType(fstat(f.host), S_IFDIR)) throw new LinuxError(Errno.ENOTDIR, "not a directory");
}

/** Host errno of a failed host call, or rethrows anything else. */
function hostErrno(e: unknown): number {
  if (e instanceof HostError) return e.errno;
  throw e;
}

/** `/proc/self/fd/N`: the magic link that leads to exactly the inode descriptor N holds. */
function procFd(host: number): string {
  return `/proc/self/fd/${host}`;
}

/** Reopens the inode `host` holds with `flags`: no path is resolved in the container's tree. */
function reopen(host: number, flags: number): number {
  return openAt(AT_FDCWD, procFd(host), flags | O_CLOEXEC);
}

/** Closes `fds`, ignoring failures: for cleanup paths. */
function closeQuietly(...fds: number[]): void {
  for (const fd of fds) if (fd >= 0) closeFd(fd);
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
        // Overlay filestores do not exist for the application.
        if (isFilestoreName(name)) throw new HostError("walk", Errno.ENOENT);
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
      // A component that is not a directory ends the walk unless it is the last one.
      cur = host;
    }
  } catch (e) {
    for (const n of nodes) closeFd(n.host);
    throw e;
  }
  return { status, nodes };
}

/**
 * The attributes of `name` in `dir` without following it, as walkHost would find them for a
 * last component (also ENOTDIR when `dir` is not a directory); null when it is missing.
 */
function statName(dir: number, name: string): HostStat | null {
  // Overlay filestores do not exist for the application.
  if (isFilestoreName(name)) return null;
  try {
    return fstatAt(dir, name, AT_SYMLINK_NOFOLLOW);
  } catch (e) {
    if (hostErrno(e) !== Errno.ENOENT) throw e;
    return null;
  }
}

/** The host open flags for opening a regular file with the client's `flags`. */
function regularFileFlags(flags: number): number {
  return flags & (O_ACCMODE | O_TRUNC | O_APPEND | O_DIRECT | O_LARGEFILE | O_NOATIME);
}

/** Checks the access mode of `flags`; returns whether the open writes. */
function checkAccess(flags: number): boolean {
  const acc = flags & O_ACCMODE;
  if (acc !== O_RDONLY && acc !== O_WRONLY && acc !== O_RDWR) {
    throw new LinuxError(Errno.EINVAL, `invalid access mode ${acc}`);
  }
  return acc !== O_RDONLY || (flags & O_TRUNC) !== 0;
}

/** Changes the owner of a node just created, unless the client left both ids unset. */
function chownNew(host: number, uid: number, gid: number): void {
  if (uid === NO_ID && gid === NO_ID) return;
  fchownFd(host, uid === NO_ID ? -1 : uid, gid === NO_ID ? -1 : gid);
}

/**
 * Finishes creating `name` in `dir`: opens it O_PATH|O_NOFOLLOW, checks its type, gives it its
 * owner, and registers a control FD. If any of that fails the new name is removed again, so a
 * failed request leaves nothing behind.
 */
function adoptNew(
  c: Connection,
  dir: ControlFd,
  name: string,
  type: number,
  uid: number,
  gid: number,
  extra: (host: number) => void = () => {},
): Inode {
  let host = -1;
  try {
    host = openAt(dir.host, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    const st0 = fstat(host);
    // Someone on the host replaced the new name between our create and our open.
    if (!isType(st0, type)) throw new LinuxError(Errno.EAGAIN, `${name} changed while created`);
    extra(host);
    chownNew(host, uid, gid);
    const st = fstat(host);
    return { fd: c.add({ kind: "control", host, mount: dir.mount }), stat: toStat(st) };
  } catch (e) {
    closeQuietly(host);
    try {
      unlinkAt(dir.host, name, type === S_IFDIR ? AT_REMOVEDIR : 0);
    } catch { /* it was already gone */ }
    throw e;
  }
}

/** A control FD of a directory on a writable mount, and a valid new name in it. */
function writableDir(c: Connection, dirFd: number, name: string): ControlFd {
  const dir = c.control(dirFd);
  c.writable(dir);
  checkNewName(name);
  requireDir(dir);
  return dir;
}

const SOCKET_TYPES = new Set([SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET]);

function checkSockType(t: number): void {
  if (!SOCKET_TYPES.has(t)) throw new LinuxError(Errno.EINVAL, `socket type ${t}`);
}

/**
 * Connects a new Unix socket of `type` to the socket file control FD `node` holds, through
 * its `/proc/self/fd` magic link (which resolves nothing in the container's tree).
 */
function connectTo(node: ControlFd, type: number): number {
  checkSockType(type);
  if (!isType(fstat(node.host), S_IFSOCK)) {
    throw new LinuxError(Errno.ECONNREFUSED, "not a socket");
  }
  // Non-blocking, so that a full backlog answers EAGAIN instead of stalling the server.
  const sock = unixSocket(type | SOCK_NONBLOCK);
  try {
    connectUnix(sock, procFd(node.host));
    // The Sentry sets O_NONBLOCK again if the application asked for it.
    setNonblocking(sock, false);
    return sock;
  } catch (e) {
    closeFd(sock);
    throw e;
  }
}

/**
 * Runs `f` with this thread's effective ids set to `uid`/`gid` (the calling thread only, which
 * is the one serving). The saved ids stay 0, so they come back.
 */
function asIds<T>(uid: number, gid: number, f: () => T): T {
  setThreadEgid(gid);
  try {
    setThreadEuid(uid);
    try {
      return f();
    } finally {
      setThreadEuid(0);
    }
  } finally {
    setThreadEgid(0);
  }
}

/**
 * Creates a node with `create` (which must make `name` in `dir` or throw) and adopts it: the
 * shape shared by MkdirAt, MknodAt and SymlinkAt.
 */
function createNode(
  c: Connection,
  req: { dirFd: number; name: string; uid: number; gid: number },
  type: number,
  create: (dir: ControlFd) => void,
): { resp: { child: Inode } } {
  const dir = writableDir(c, req.dirFd, req.name);
  create(dir);
  return { resp: { child: adoptNew(c, dir, req.name, type, req.uid, req.gid) } };
}

/** Renames `oldName` in one directory to `newName` in another (same mount). */
function rename(
  c: Connection,
  req: { oldDirFd: number; oldName: string; newDirFd: number; newName: string },
  flags: number,
): { resp: Record<string, never> } {
  const from = c.control(req.oldDirFd);
  const to = c.control(req.newDirFd);
  c.writable(from);
  c.writable(to);
  checkNewName(req.oldName);
  checkNewName(req.newName);
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) {
    throw new LinuxError(Errno.EINVAL, `rename flags 0x${flags.toString(16)}`);
  }
  requireDir(from);
  requireDir(to);
  if (from.mount !== to.mount) throw new LinuxError(Errno.EXDEV, "rename across mounts");
  renameAt2(from.host, req.oldName, to.host, req.newName, flags);
  return { resp: {} };
}

/** Handlers of the implemented messages. */
const HANDLERS: FileOps = {
  [MID.Mount]: (c, { path }) => {
    const m = c.mountAt(path);
    const st = fstat(m.fd);
    const host = reopen(m.fd, O_PATH);
    const fd = c.add({ kind: "control", host, mount: m });
    const filestore = m.filestore !== undefined && m.filestore >= 0;
    return {
      resp: {
        root: { fd, stat: toStat(st) },
        readonly: m.readonly ? 1 : 0,
        filestore: filestore ? 1 : 0,
        maxMessageSize: MAX_MESSAGE_SIZE,
        supported: [...c.server.supported],
      },
      donate: filestore ? [m.filestore!] : [],
    };
  },

  [MID.FStat]: (c, { fd }) => ({ resp: toStat(fstat(c.get(fd).host)) }),

  [MID.FStatFS]: (c, { fd }) => ({ resp: fstatfs(c.get(fd).host) }),

  [MID.SetStat]: (c, req) => {
    const node = c.get(req.fd);
    c.writable(node);
    const known = SetStatMask.Mode | SetStatMask.Uid | SetStatMask.Gid | SetStatMask.Size |
      SetStatMask.Atime | SetStatMask.Mtime;
    if (req.mask & ~known) {
      throw new LinuxError(Errno.EINVAL, `SetStat mask 0x${req.mask.toString(16)}`);
    }
    const st = fstat(node.host);
    let failureMask = 0;
    let failureErrno = 0;
    const attempt = (bits: number, f: () => void) => {
      if ((req.mask & bits) === 0) return;
      try {
        f();
      } catch (e) {
        failureMask |= req.mask & bits;
        if (failureErrno === 0) {
          failureErrno = e instanceof LinuxError ? e.errno : hostErrno(e);
        }
      }
    };
    // Owner first: chown clears set-user-ID bits that a mode change in the same call sets.
    attempt(SetStatMask.Uid | SetStatMask.Gid, () => {
      const uid = req.mask & SetStatMask.Uid ? req.uid : -1;
      const gid = req.mask & SetStatMask.Gid ? req.gid : -1;
      fchownFd(node.host, uid, gid);
    });
    attempt(SetStatMask.Mode, () => {
      // Linux has no modes for symlinks (fchmodat with AT_SYMLINK_NOFOLLOW refuses them).
      if (isType(st, S_IFLNK)) throw new LinuxError(Errno.EOPNOTSUPP, "chmod of a symlink");
      chmodFd(node.host, req.mode & 0o7777);
    });
    // Size before times, so that a truncation does not overwrite the times asked for.
    attempt(SetStatMask.Size, () => {
      if (isType(st, S_IFDIR)) throw new LinuxError(Errno.EISDIR, "truncate of a directory");
      if (!isType(st, S_IFREG)) throw new LinuxError(Errno.EINVAL, "truncate of a non-file");
      const f = reopen(node.host, O_WRONLY);
      try {
        ftruncate(f, req.size);
      } finally {
        closeFd(f);
      }
    });
    attempt(SetStatMask.Atime | SetStatMask.Mtime, () => {
      const omit = { sec: 0n, nsec: BigInt((1 << 30) - 2) };
      utimensFd(
        node.host,
        req.mask & SetStatMask.Atime ? req.atime : omit,
        req.mask & SetStatMask.Mtime ? req.mtime : omit,
      );
    });
    return { resp: { failureMask, failureErrno } };
  },

  [MID.Walk]: (c, { dirFd, names }) => {
    const dir = c.control(dirFd);
    names.forEach(checkName);
    requireDir(dir);
    const { status, nodes } = walkHost(dir.host, names);
    const inodes: Inode[] = nodes.map((n) => ({
      fd: c.add({ kind: "control", host: n.host, mount: dir.mount }),
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
      requireDir(dir);
      // Only the components before the last are opened, to walk through them; the last is
      // stat'ed by name, which saves opening and closing it (most requests name one file).
      const { status, nodes } = walkHost(dir.host, rest.slice(0, -1));
      try {
        for (const n of nodes) stats.push(toStat(n.st));
        if (status === WalkStatus.Success) {
          const from = nodes.length > 0 ? nodes[nodes.length - 1].host : dir.host;
          const last = statName(from, rest[rest.length - 1]);
          if (last) stats.push(toStat(last));
        }
      } finally {
        for (const n of nodes) closeFd(n.host);
      }
    }
    return { resp: { stats } };
  },

  [MID.OpenAt]: (c, { fd, flags }) => {
    const node = c.control(fd);
    const writes = checkAccess(flags);
    const st = fstat(node.host);
    let hostFlags: number;
    if (isType(st, S_IFDIR)) {
      if (writes) throw new LinuxError(Errno.EISDIR, "directory opened for writing");
      hostFlags = O_RDONLY | O_DIRECTORY;
    } else if (isType(st, S_IFREG)) {
      if (writes) c.writable(node);
      hostFlags = regularFileFlags(flags);
    } else if (isType(st, S_IFLNK)) {
      throw new LinuxError(Errno.ELOOP, "cannot open a symlink");
    } else {
      // FIFOs would block the server on open; sockets are reached with Connect; devices are
      // not served.
      throw new LinuxError(
        Errno.ENXIO,
        `cannot open file of type 0o${(st.mode & S_IFMT).toString(8)}`,
      );
    }
    const host = reopen(node.host, hostFlags);
    const isDir = isType(st, S_IFDIR);
    const openFd = c.add({ kind: "open", host, flags: hostFlags, isDir, mount: node.mount });
    // Regular files are donated so that the Sentry reads and writes without a round trip.
    return { resp: { openFd }, donate: isDir ? [] : [host] };
  },

  [MID.OpenCreateAt]: (c, { dirFd, name, flags, mode, uid, gid }) => {
    const dir = writableDir(c, dirFd, name);
    checkAccess(flags);
    // Always a new file: the Sentry asks only for names it found missing.
    const hostFlags = regularFileFlags(flags) | O_CREAT | O_EXCL | O_NOFOLLOW;
    const host = openAt(dir.host, name, hostFlags | O_CLOEXEC, mode & 0o7777);
    let child: Inode;
    try {
      child = adoptNew(c, dir, name, S_IFREG, uid, gid);
    } catch (e) {
      closeFd(host);
      throw e;
    }
    const openFd = c.add({
      kind: "open",
      host,
      flags: hostFlags & ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_TRUNC),
      isDir: false,
      mount: dir.mount,
    });
    return { resp: { child, openFd }, donate: [host] };
  },

  [MID.Close]: (c, { fds }) => {
    for (const id of fds) c.get(id); // all or nothing: fail before closing any
    for (const id of new Set(fds)) c.remove(id);
    return { resp: {} };
  },

  [MID.FSync]: (c, { fds }) => {
    const files = fds.map((id) => c.open(id)); // all known, or nothing is synced
    let first: unknown = null;
    for (const f of files) {
      try {
        fsync(f.host);
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
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

  [MID.PWrite]: (c, { fd, offset, data }) => {
    const f = c.open(fd);
    c.writable(f);
    if ((f.flags & O_ACCMODE) === O_RDONLY) {
      throw new LinuxError(Errno.EBADF, "not open for writing");
    }
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new LinuxError(Errno.EINVAL, "offset");
    return { resp: { count: pwrite(f.host, data, offset) } };
  },

  [MID.MkdirAt]: (c, req) =>
    createNode(c, req, S_IFDIR, (dir) => mkdirAt(dir.host, req.name, req.mode & 0o7777)),

  [MID.MknodAt]: (c, req) => {
    const type = req.mode & S_IFMT;
    // Regular files, FIFOs and sockets; device nodes would give the container host devices.
    if (type === S_IFCHR || type === S_IFBLK) {
      c.writable(c.control(req.dirFd));
      throw new LinuxError(Errno.EPERM, "device nodes are not created");
    }
    const t = type === 0 ? S_IFREG : type;
    if (t !== S_IFREG && t !== S_IFIFO && t !== S_IFSOCK) {
      throw new LinuxError(Errno.EINVAL, `mknod of type 0o${type.toString(8)}`);
    }
    return createNode(
      c,
      req,
      t,
      (dir) => mknodAt(dir.host, req.name, t | (req.mode & 0o7777), makedev(req.major, req.minor)),
    );
  },

  [MID.SymlinkAt]: (c, req) => {
    if (req.target === "" || req.target.includes("\0") || byteLength(req.target) >= 4096) {
      throw new LinuxError(req.target === "" ? Errno.ENOENT : Errno.EINVAL, "symlink target");
    }
    return createNode(c, req, S_IFLNK, (dir) => symlinkAt(req.target, dir.host, req.name));
  },

  [MID.LinkAt]: (c, { dirFd, name, target }) => {
    const dir = writableDir(c, dirFd, name);
    const node = c.control(target);
    if (node.mount !== dir.mount) throw new LinuxError(Errno.EXDEV, "link across mounts");
    const st = fstat(node.host);
    if (isType(st, S_IFDIR)) throw new LinuxError(Errno.EPERM, "hard link to a directory");
    linkFdAt(node.host, dir.host, name);
    return { resp: { child: adoptNew(c, dir, name, st.mode & S_IFMT, NO_ID, NO_ID) } };
  },

  [MID.FAllocate]: (c, { fd, mode, offset, length }) => {
    const f = c.open(fd);
    c.writable(f);
    if ((f.flags & O_ACCMODE) === O_RDONLY) {
      throw new LinuxError(Errno.EBADF, "not open for writing");
    }
    // Bits Linux does not know are EOPNOTSUPP there too; the host call never sees them.
    if (mode & ~FALLOC_FL_KNOWN) throw new LinuxError(Errno.EOPNOTSUPP, `fallocate mode ${mode}`);
    fallocate(f.host, mode, offset, length);
    return { resp: {} };
  },

  // Data goes straight to the host file; there is nothing buffered to flush.
  [MID.Flush]: (c, { fd }) => {
    c.open(fd);
    return { resp: {} };
  },

  [MID.Connect]: (c, { fd, sockType }) => ({
    resp: {},
    give: [connectTo(c.control(fd), sockType)],
  }),

  [MID.ConnectWithCreds]: (c, { fd, sockType, uid, gid }) => {
    const node = c.control(fd);
    return { resp: {}, give: [asIds(uid, gid, () => connectTo(node, sockType))] };
  },

  [MID.UnlinkAt]: (c, { dirFd, name, flags }) => {
    const dir = writableDir(c, dirFd, name);
    if (flags & ~AT_REMOVEDIR) throw new LinuxError(Errno.EINVAL, `unlinkat flags ${flags}`);
    unlinkAt(dir.host, name, flags);
    return { resp: {} };
  },

  [MID.RenameAt]: (c, req) => rename(c, req, 0),
  [MID.RenameAt2]: (c, req) => rename(c, req, req.flags),

  [MID.ReadLinkAt]: (c, { fd }) => {
    const node = c.control(fd);
    if (!isType(fstat(node.host), S_IFLNK)) {
      throw new LinuxError(Errno.EINVAL, "not a symlink");
    }
    return { resp: { target: decodeBytes(readLinkFd(node.host)) } };
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
    const dirents = parseDirents(buf.subarray(0, n)).filter((d) => !isFilestoreName(d.name));
    return { resp: { dirents } };
  },

  [MID.FGetXattr]: (c, { fd, name, size }) => {
    const f = c.get(fd);
    checkXattrName(name);
    const value = xattrOf(f).get(name, Math.min(size, XATTR_SIZE_MAX));
    return { resp: { value } };
  },

  [MID.FSetXattr]: (c, { fd, name, value, flags }) => {
    const f = c.get(fd);
    c.writable(f);
    checkXattrName(name);
    if (value.length > XATTR_SIZE_MAX) throw new LinuxError(Errno.E2BIG, "xattr value too large");
    if (flags & ~3) throw new LinuxError(Errno.EINVAL, `xattr flags ${flags}`);
    xattrOf(f).set(name, value, flags);
    return { resp: {} };
  },

  [MID.FListXattr]: (c, { fd, size }) => ({
    resp: { names: xattrOf(c.get(fd)).list(Math.min(size, XATTR_SIZE_MAX)) },
  }),

  [MID.FRemoveXattr]: (c, { fd, name }) => {
    const f = c.get(fd);
    c.writable(f);
    checkXattrName(name);
    xattrOf(f).remove(name);
    return { resp: {} };
  },

  [MID.BindAt]: (c, { dirFd, name, sockType, mode, uid, gid }) => {
    const dir = writableDir(c, dirFd, name);
    checkSockType(sockType);
    // Non-blocking, so that Accept answers EAGAIN rather than stall the server; the Sentry
    // waits for readiness on the donated descriptor.
    const sock = unixSocket(sockType | SOCK_NONBLOCK);
    let child: Inode;
    try {
      // The directory is named by its magic link, so no path in the container is resolved;
      // bind creates `name` and fails if anything (a symlink too) is already there.
      bindUnix(sock, `${procFd(dir.host)}/${name}`);
      child = adoptNew(c, dir, name, S_IFSOCK, uid, gid, (h) => chmodFd(h, mode & 0o7777));
    } catch (e) {
      closeFd(sock);
      throw e;
    }
    const boundSocketFd = c.add({ kind: "socket", host: sock, mount: dir.mount });
    return { resp: { child, boundSocketFd }, donate: [sock] };
  },

  [MID.Listen]: (c, { fd, backlog }) => {
    listenFd(c.socket(fd).host, backlog);
    return { resp: {} };
  },

  [MID.Accept]: (c, { fd }) => {
    const { fd: peer, peer: peerAddr } = acceptUnix(c.socket(fd).host);
    return { resp: { peerAddr }, give: [peer] };
  },
};

/** The xattr accessor of an FD: open FDs use f*xattr, control FDs go through /proc. */
function xattrOf(f: AnyFd): Xattr {
  return new Xattr(f.host, f.kind === "control");
}

/** A host name as a string, every byte kept (utf8b.ts); ASCII without the decoder. */
function hostName(b: Uint8Array): string {
  return asciiString(b) ?? decodeBytes(b);
}

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
      name: hostName(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)),
    });
    off += reclen;
  }
  return out;
}

/** The LISAFS server over host files: `runsc gofer` serves each connection with it. */
export const hostFileServer: Server = new Server(HANDLERS);
