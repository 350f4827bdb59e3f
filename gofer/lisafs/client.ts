/**
 * The LISAFS client the Sentry uses to reach the Gofer. Calls are synchronous: each sends one
 * request and blocks this thread in recvmsg until the response arrives (one request in flight
 * per socket). A failed request throws `LisafsError` with the Linux errno the Sentry returns to
 * the application.
 *
 * @module
 */

import { Errno, errnoName } from "../../abi/linux/errno.ts";
import { ErrnoError } from "../../abi/linux/error.ts";
import { closeFd, HostError } from "../../host/libc.ts";
import { closeAll, FramingError, Receiver, sendMessage } from "./channel.ts";
import { decode, DecodeError, encode } from "./codec.ts";
import {
  ErrorResp,
  HEADER_SIZE,
  type ImplementedMID,
  type Inode,
  MAX_MESSAGE_SIZE,
  MESSAGES,
  MID,
  midName,
  NO_ID,
  type Req,
  type Resp,
  SetStatMask,
  type Stat,
  type StatFS,
  type Timespec,
  WalkStatus,
} from "./message.ts";

export { NO_ID, SetStatMask };
export type { Inode, Stat, StatFS, Timespec };

/** The attributes SetStat may change; those left undefined are not touched. */
export interface SetStatAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: bigint;
  /** Seconds and nanoseconds; nsec may be UTIME_NOW ((1 << 30) - 1). */
  atime?: Timespec;
  mtime?: Timespec;
}

/** Owner of a node the Gofer creates; NO_ID (the default) keeps the Gofer's own. */
export interface Owner {
  uid?: number;
  gid?: number;
}

/** A request the Gofer answered with an Error, or a broken connection (EIO). */
export class LisafsError extends ErrnoError {
  constructor(errno: number, message: string) {
    super(errno, `lisafs: ${message}: ${errnoName(errno)}`);
  }
  get name(): string {
    return "LisafsError";
  }
}

/** One directory entry as Getdents64 returns it. */
export interface Dirent64 {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
}

/** A synchronous client on one connected socket. */
export class LisafsClient {
  #maxMessageSize = MAX_MESSAGE_SIZE;
  #supported: ReadonlySet<number> = new Set();

  #receiver: Receiver;

  /** @param sockFd a connected SOCK_STREAM Unix socket to the Gofer (the client does not own it). */
  constructor(readonly sockFd: number) {
    this.#receiver = new Receiver(sockFd);
  }

  /** The message ids the server announced in Mount. */
  get supported(): ReadonlySet<number> {
    return this.#supported;
  }

  /**
   * Sends request `mid` and returns the decoded response and the descriptors that came with
   * it (the caller owns them). Throws LisafsError on an Error response or a broken connection.
   */
  call<M extends ImplementedMID>(mid: M, req: Req<M>): { resp: Resp<M>; fds: number[] } {
    const spec = MESSAGES[mid];
    const what = midName(mid);
    let msg;
    try {
      sendMessage(this.sockFd, mid, encode(spec.req as never, req as never));
      msg = this.#receiver.recv(this.#maxMessageSize);
    } catch (e) {
      if (e instanceof HostError || e instanceof FramingError) {
        throw new LisafsError(Errno.EIO, `${what}: connection failed (${e.message})`);
      }
      throw e;
    }
    if (!msg) throw new LisafsError(Errno.EIO, `${what}: connection closed by the gofer`);
    try {
      if (msg.mid === MID.Error) {
        const { errno } = decode(ErrorResp, msg.payload);
        throw new LisafsError(errno, what);
      }
      if (msg.mid !== mid) {
        throw new LisafsError(Errno.EIO, `${what}: answered with ${midName(msg.mid)}`);
      }
      return { resp: decode(spec.resp, msg.payload) as Resp<M>, fds: msg.fds };
    } catch (e) {
      closeAll(msg.fds);
      if (e instanceof DecodeError) throw new LisafsError(Errno.EIO, `${what}: ${e.message}`);
      throw e;
    }
  }

  /** The largest message the server accepts (announced by Mount). */
  get maxMessageSize(): number {
    return this.#maxMessageSize;
  }

  /**
   * Mount: a control FD id for the top of the file system served at `path`: "/" (the default)
   * for the container's root, or a bind mount's destination exactly as the spec gives it
   * (ENOENT when the gofer serves none there). `readonly` says that writes there get EROFS.
   * `filestoreFd` is the overlay filestore of this mount (a read-write host file the caller
   * owns, to back the overlay's upper tmpfs), or -1 when --overlay2 gives it none.
   * Call it first; it may be called again for each mount.
   */
  mount(path = "/"): { root: number; stat: Stat; readonly: boolean; filestoreFd: number } {
    const { resp, fds } = this.call(MID.Mount, { path });
    this.#maxMessageSize = resp.maxMessageSize;
    this.#supported = new Set(resp.supported);
    const filestoreFd = resp.filestore !== 0 ? firstFd(fds) : firstFd([-1, ...fds]);
    return {
      root: resp.root.fd,
      stat: resp.root.stat,
      readonly: resp.readonly !== 0,
      filestoreFd,
    };
  }

  /**
   * Walk: control FDs for each component of `names` from directory `dir`, stopping after the
   * first symlink (included, status "symlink") or before the first missing component
   * (status "missing").
   */
  walk(
    dir: number,
    names: string[],
  ): { status: "ok" | "symlink" | "missing"; inodes: { fd: number; stat: Stat }[] } {
    const { resp } = this.call(MID.Walk, { dirFd: dir, names });
    const status = resp.status === WalkStatus.Success
      ? "ok"
      : resp.status === WalkStatus.ComponentSymlink
      ? "symlink"
      : "missing";
    return { status, inodes: resp.inodes };
  }

  /**
   * WalkStat: attributes of each component, with the same stopping rules as walk; creates no
   * FDs. A leading "" in `names` includes `dir`'s own attributes first.
   */
  walkStat(dir: number, names: string[]): Stat[] {
    return this.call(MID.WalkStat, { dirFd: dir, names }).resp.stats;
  }

  /** FStat: attributes of a control or open FD. */
  fstat(fd: number): Stat {
    return this.call(MID.FStat, { fd }).resp;
  }

  /** FStatFS: file-system attributes of a control or open FD. */
  fstatfs(fd: number): StatFS {
    return this.call(MID.FStatFS, { fd }).resp;
  }

  /**
   * OpenAt: opens control FD `fd` with `flags` (O_RDONLY/O_WRONLY/O_RDWR, O_TRUNC, O_APPEND...).
   * Regular files come with a donated host FD (close-on-exec, owned by the caller); otherwise
   * hostFd is -1.
   */
  openAt(fd: number, flags: number): { openFd: number; hostFd: number } {
    const { resp, fds } = this.call(MID.OpenAt, { fd, flags });
    return { openFd: resp.openFd, hostFd: firstFd(fds) };
  }

  /** PRead: up to `count` bytes of open FD `fd` at `offset`. */
  pread(fd: number, offset: bigint, count: number): Uint8Array<ArrayBuffer> {
    return this.call(MID.PRead, { fd, offset, count }).resp.data;
  }

  /** ReadLinkAt: the target of the symlink control FD `fd` refers to. */
  readLinkAt(fd: number): string {
    return this.call(MID.ReadLinkAt, { fd }).resp.target;
  }

  /**
   * Getdents64: the next entries of open directory FD `openFd`, about `count` bytes' worth
   * (a negative count rewinds first). An empty array means the end of the directory.
   */
  getdents64(openFd: number, count: number): Dirent64[] {
    return this.call(MID.Getdents64, { fd: openFd, count }).resp.dirents;
  }

  /** Close: releases control and open FD ids (all or none: an unknown id fails with EBADF). */
  close(fds: number[]): void {
    this.call(MID.Close, { fds });
  }

  /**
   * SetStat: changes the attributes given in `attrs` of control or open FD `fd`. It may succeed
   * in part: `failureMask` holds the SetStatMask bits not applied and `failureErrno` the errno of
   * the first failure (0 when all were applied).
   */
  setStat(fd: number, attrs: SetStatAttrs): { failureMask: number; failureErrno: number } {
    let mask = 0;
    if (attrs.mode !== undefined) mask |= SetStatMask.Mode;
    if (attrs.uid !== undefined) mask |= SetStatMask.Uid;
    if (attrs.gid !== undefined) mask |= SetStatMask.Gid;
    if (attrs.size !== undefined) mask |= SetStatMask.Size;
    if (attrs.atime !== undefined) mask |= SetStatMask.Atime;
    if (attrs.mtime !== undefined) mask |= SetStatMask.Mtime;
    const zero = { sec: 0n, nsec: 0n };
    return this.call(MID.SetStat, {
      fd,
      mask,
      mode: attrs.mode ?? 0,
      uid: attrs.uid ?? 0,
      gid: attrs.gid ?? 0,
      size: attrs.size ?? 0n,
      atime: attrs.atime ?? zero,
      mtime: attrs.mtime ?? zero,
    }).resp;
  }

  /**
   * OpenCreateAt: creates regular file `name` (which must not exist: EEXIST) in directory
   * control FD `dirFd` with `mode` (the Sentry applies the umask first) and opens it with `flags`.
   * Returns its control FD, its open FD and the donated host FD (owned by the caller).
   */
  openCreateAt(
    dirFd: number,
    name: string,
    flags: number,
    mode: number,
    owner: Owner = {},
  ): { child: Inode; openFd: number; hostFd: number } {
    const { resp, fds } = this.call(MID.OpenCreateAt, {
      dirFd,
      name,
      flags,
      mode,
      uid: owner.uid ?? NO_ID,
      gid: owner.gid ?? NO_ID,
    });
    return { child: resp.child, openFd: resp.openFd, hostFd: firstFd(fds) };
  }

  /** FSync: fsync(2) of each open FD (all ids must be known: EBADF syncs none). */
  fsync(fds: number[]): void {
    this.call(MID.FSync, { fds });
  }

  /**
   * PWrite: writes all of `data` to open FD `fd` at `offset`, in as many messages as the
   * maximum message size needs; returns the bytes written (fewer only if the file system
   * stopped short, e.g. ENOSPC after a partial write).
   */
  pwrite(fd: number, offset: bigint, data: Uint8Array<ArrayBuffer>): number {
    const chunk = this.#maxMessageSize - HEADER_SIZE - 64;
    let done = 0;
    while (done < data.length || (data.length === 0 && done === 0)) {
      const part = data.subarray(done, Math.min(data.length, done + chunk));
      let n: number;
      try {
        n = this.call(MID.PWrite, { fd, offset: offset + BigInt(done), data: part }).resp.count;
      } catch (e) {
        if (done > 0) return done;
        throw e;
      }
      done += n;
      if (n < part.length || data.length === 0) break;
    }
    return done;
  }

  /** MkdirAt: creates directory `name` in `dirFd`; returns its control FD and attributes. */
  mkdirAt(dirFd: number, name: string, mode: number, owner: Owner = {}): Inode {
    return this.call(MID.MkdirAt, { dirFd, name, mode, ...ids(owner) }).resp.child;
  }

  /**
   * MknodAt: creates a regular file, FIFO or socket file `name` (the type in `mode`'s S_IFMT
   * bits); device nodes are refused with EPERM.
   */
  mknodAt(
    dirFd: number,
    name: string,
    mode: number,
    owner: Owner = {},
    dev: { major: number; minor: number } = { major: 0, minor: 0 },
  ): Inode {
    return this.call(MID.MknodAt, { dirFd, name, mode, ...ids(owner), ...dev }).resp.child;
  }

  /** SymlinkAt: creates symlink `name` -> `target` (stored as given, never resolved). */
  symlinkAt(dirFd: number, name: string, target: string, owner: Owner = {}): Inode {
    return this.call(MID.SymlinkAt, { dirFd, name, target, ...ids(owner) }).resp.child;
  }

  /** LinkAt: creates `name` in `dirFd` as a hard link to control FD `target` (same mount). */
  linkAt(dirFd: number, name: string, target: number): Inode {
    return this.call(MID.LinkAt, { dirFd, name, target }).resp.child;
  }

  /** FAllocate: fallocate(2) on open FD `fd`. */
  fallocate(fd: number, mode: number, offset: bigint, length: bigint): void {
    this.call(MID.FAllocate, { fd, mode, offset, length });
  }

  /** Flush: called when the application closes a file (nothing is buffered in the Gofer). */
  flush(fd: number): void {
    this.call(MID.Flush, { fd });
  }

  /**
   * Connect: a host socket of `sockType` (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET) connected to
   * the socket file control FD `fd` names. The caller owns the returned descriptor.
   */
  connect(fd: number, sockType: number): number {
    return firstFd(this.call(MID.Connect, { fd, sockType }).fds);
  }

  /** ConnectWithCreds: like connect, with the peer credentials (SO_PEERCRED) `uid`/`gid`. */
  connectWithCreds(fd: number, sockType: number, uid: number, gid: number): number {
    return firstFd(this.call(MID.ConnectWithCreds, { fd, sockType, uid, gid }).fds);
  }

  /** UnlinkAt: removes `name` from `dirFd`; `flags` AT_REMOVEDIR (0x200) for a directory. */
  unlinkAt(dirFd: number, name: string, flags = 0): void {
    this.call(MID.UnlinkAt, { dirFd, name, flags });
  }

  /**
   * RenameAt: renames `oldName` in `oldDirFd` to `newName` in `newDirFd` (same mount: EXDEV
   * otherwise). Non-zero `flags` (RENAME_NOREPLACE 1, RENAME_EXCHANGE 2) use RenameAt2.
   */
  renameAt(oldDirFd: number, oldName: string, newDirFd: number, newName: string, flags = 0): void {
    if (flags === 0) this.call(MID.RenameAt, { oldDirFd, oldName, newDirFd, newName });
    else this.call(MID.RenameAt2, { oldDirFd, oldName, newDirFd, newName, flags });
  }

  /** FGetXattr: the value of extended attribute `name` (at most `size` bytes; ERANGE beyond). */
  getXattr(fd: number, name: string, size: number): Uint8Array<ArrayBuffer> {
    return this.call(MID.FGetXattr, { fd, name, size }).resp.value;
  }

  /** FSetXattr: sets `name`; `flags` XATTR_CREATE (1) or XATTR_REPLACE (2). */
  setXattr(fd: number, name: string, value: Uint8Array<ArrayBuffer>, flags = 0): void {
    this.call(MID.FSetXattr, { fd, name, value, flags });
  }

  /** FListXattr: the names of the extended attributes (ERANGE if more than `size` bytes). */
  listXattr(fd: number, size: number): string[] {
    return this.call(MID.FListXattr, { fd, size }).resp.names;
  }

  /** FRemoveXattr: removes `name`. */
  removeXattr(fd: number, name: string): void {
    this.call(MID.FRemoveXattr, { fd, name });
  }

  /**
   * BindAt: creates a Unix socket of `sockType` bound to `name` in `dirFd`. Returns the socket
   * file's control FD, the bound socket's FD id (for listen and accept), and a donated copy of
   * the host socket (non-blocking; the Sentry polls it for incoming connections).
   */
  bindAt(
    dirFd: number,
    name: string,
    sockType: number,
    mode: number,
    owner: Owner = {},
  ): { child: Inode; boundSocketFd: number; hostFd: number } {
    const { resp, fds } = this.call(MID.BindAt, { dirFd, name, sockType, mode, ...ids(owner) });
    return { child: resp.child, boundSocketFd: resp.boundSocketFd, hostFd: firstFd(fds) };
  }

  /** Listen: listen(2) on a bound socket FD id. */
  listen(boundSocketFd: number, backlog: number): void {
    this.call(MID.Listen, { fd: boundSocketFd, backlog });
  }

  /**
   * Accept: the next connection on a listening bound socket FD id (EAGAIN when none is
   * waiting). The caller owns the returned host socket.
   */
  accept(boundSocketFd: number): { hostFd: number; peerAddr: string } {
    const { resp, fds } = this.call(MID.Accept, { fd: boundSocketFd });
    return { hostFd: firstFd(fds), peerAddr: resp.peerAddr };
  }
}

function ids(o: Owner): { uid: number; gid: number } {
  return { uid: o.uid ?? NO_ID, gid: o.gid ?? NO_ID };
}

/** The first donated descriptor (-1 if none); any extra ones are closed. */
function firstFd(fds: number[]): number {
  for (const extra of fds.slice(1)) closeFd(extra);
  return fds.length > 0 ? fds[0] : -1;
}
