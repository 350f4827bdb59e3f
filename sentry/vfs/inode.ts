/**
 * Inodes and filesystems: what every filesystem (tmpfs, the gofer-backed root, procfs, devfs,
 * sysfs, pipefs) implements. An Inode is one file; the VFS reaches it through dentries
 * (sentry/vfs/vfs.ts) and opens it into a file description (sentry/vfs/file.ts).
 *
 * Operations that a kind of file does not support throw the errno Linux gives for it (ENOTDIR
 * for directory operations on a non-directory, EINVAL for readlink on a non-symlink, EPERM for
 * links to directories...).
 *
 * @module
 */

import { CAP, capBit } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { FileDescription, MaybeAsync } from "./file.ts";
import type { VirtualDentry } from "./vfs.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../../abi/linux/file.ts";
export {
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  S_ISGID,
  S_ISUID,
  S_ISVTX,
} from "../../abi/linux/file.ts";

/** d_type values of getdents64, from a mode. */
export function direntType(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

/** Access bits for permission checks. */
export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;

/** Who is asking: the credentials permission checks use. */
export interface Creds {
  uid: number;
  gid: number;
  groups: readonly number[];
  /**
   * The effective capability set. Absent in the Sentry's own credentials (ROOT_CREDS, an
   * owner for copy-up), where uid 0 holds every capability.
   */
  caps?: bigint;
}

export const ROOT_CREDS: Creds = { uid: 0, gid: 0, groups: [] };

/** The credentials of a task: its effective ids (the fs ids follow them) and capabilities. */
export function credsOf(t: Task): Creds {
  return { uid: t.tg.euid, gid: t.tg.egid, groups: t.tg.groups, caps: t.tg.caps.effective };
}

/** Whether c holds capability `cap` (task_creds.ts CAP). */
export function hasCap(c: Creds, cap: number): boolean {
  if (c.caps === undefined) return c.uid === 0;
  return (c.caps & capBit(cap)) !== 0n;
}

/**
 * Linux's generic_permission: the owner, group or other bits of mode grant `may`; otherwise
 * CAP_DAC_OVERRIDE grants reading and writing anything and executing what has any execute bit
 * or is a directory, and CAP_DAC_READ_SEARCH grants reading files and reading and searching
 * directories. Throws EACCES.
 */
export function checkPermission(c: Creds, ino: Inode, may: number): void {
  const mode = ino.mode;
  let bits: number;
  if (c.uid === ino.uid) bits = (mode >> 6) & 7;
  else if (c.gid === ino.gid || c.groups.includes(ino.gid)) bits = (mode >> 3) & 7;
  else bits = mode & 7;
  if ((bits & may) === may) return;
  const dir = (mode & S_IFMT) === S_IFDIR;
  if (hasCap(c, CAP.DAC_OVERRIDE) && (!(may & MAY_EXEC) || dir || (mode & 0o111) !== 0)) return;
  if (hasCap(c, CAP.DAC_READ_SEARCH) && !(may & MAY_WRITE) && (dir || !(may & MAY_EXEC))) return;
  throw new SysError(Errno.EACCES);
}

/** Whether c owns ino or holds CAP_FOWNER: who may chmod, utimes and so on. */
export function isOwner(c: Creds, ino: Inode): boolean {
  return c.uid === ino.uid || hasCap(c, CAP.FOWNER);
}

/** Attribute changes for setAttr (chmod, chown, truncate, utimes). */
export interface AttrChange {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: bigint;
  atimeNs?: bigint;
  mtimeNs?: bigint;
}

/** Attributes, as stat reports them; times in nanoseconds since the epoch. */
export interface Attr {
  dev: bigint;
  ino: bigint;
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  size: bigint;
  blksize: number;
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** One directory entry as getdents64 lists it. */
export interface DirEntry {
  name: string;
  ino: bigint;
  type: number;
}

/** statfs(2) answers. */
export interface FsStat {
  type: bigint;
  blockSize: bigint;
  blocks: bigint;
  blocksFree: bigint;
  blocksAvailable: bigint;
  files: bigint;
  filesFree: bigint;
  nameLength: bigint;
}

let nextDev = 0x100n;

/** A filesystem instance: its device number and mount-wide properties. */
export abstract class Filesystem {
  /** st_dev of every file in it. */
  readonly dev: bigint = nextDev++;
  #nextIno = 1n;
  /** Whether the VFS may cache lookups (false for files that come and go, as in procfs). */
  cacheDentries = true;
  /** Refuses every change (a read-only root). */
  readonly = false;

  abstract readonly name: string;
  abstract root(): Inode;

  /**
   * For a filesystem that does not cache lookups: checks in one step whether the cached
   * children `inodes` still stand at `names` below `dir` (each name looked up in the directory
   * the previous one led to), refreshing their attributes. A null entry, only ever the last,
   * stands for a name the VFS has no dentry for: it stands when the name is missing, so that
   * the same request also answers the lookup that would follow (ENOENT, or a name free for
   * O_CREAT), or the filesystem puts the inode it found there in its place (the lookup done
   * in the same request). Returns how many leading entries still stand; the VFS looks up the
   * rest one by one. The default revalidates nothing.
   */
  revalidate(
    _dir: Inode,
    _names: readonly string[],
    _inodes: (Inode | null)[],
  ): number {
    return 0;
  }

  /** A fresh inode number. */
  nextIno(): bigint {
    return this.#nextIno++;
  }

  /** statfs(2) of this filesystem. */
  statfs(): FsStat {
    return {
      type: 0x01021994n,
      blockSize: 4096n,
      blocks: 0n,
      blocksFree: 0n,
      blocksAvailable: 0n,
      files: 0n,
      filesFree: 0n,
      nameLength: 255n,
    };
  }
}

/** Nanoseconds since the epoch, now. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * The attributes of an inode with no storage behind it (a pipe's, an anonymous inode's): one
 * link, no size, and every time `t`.
 */
export function pseudoAttr(fs: Filesystem, ino: bigint, mode: number, t: bigint): Attr {
  return {
    dev: fs.dev,
    ino,
    nlink: 1,
    mode,
    uid: 0,
    gid: 0,
    rdev: 0,
    size: 0n,
    blksize: 4096,
    blocks: 0n,
    atimeNs: t,
    mtimeNs: t,
    ctimeNs: t,
  };
}

/**
 * One file. Subclasses override what their kind of file supports; the defaults answer the
 * errno Linux gives for the operation on a file that does not support it.
 */
export abstract class Inode {
  ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink = 1;
  rdev = 0;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;

  constructor(readonly fs: Filesystem, mode: number, uid = 0, gid = 0, ino?: bigint) {
    this.ino = ino ?? fs.nextIno();
    this.mode = mode;
    this.uid = uid;
    this.gid = gid;
    this.atimeNs = this.mtimeNs = this.ctimeNs = nowNs();
  }

  get type(): number {
    return this.mode & S_IFMT;
  }
  get isDir(): boolean {
    return this.type === S_IFDIR;
  }
  get isSymlink(): boolean {
    return this.type === S_IFLNK;
  }

  /** The file's size in bytes. */
  size(): bigint {
    return 0n;
  }

  /** The attributes stat reports. */
  stat(): Attr {
    const size = this.size();
    return {
      dev: this.fs.dev,
      ino: this.ino,
      nlink: this.nlink,
      mode: this.mode,
      uid: this.uid,
      gid: this.gid,
      rdev: this.rdev,
      size,
      blksize: 4096,
      blocks: (size + 511n) / 512n,
      atimeNs: this.atimeNs,
      mtimeNs: this.mtimeNs,
      ctimeNs: this.ctimeNs,
    };
  }

  /** Changes attributes (permission checks are the caller's). */
  setAttr(c: AttrChange): void {
    if (this.fs.readonly) throw new SysError(Errno.EROFS);
    if (c.size !== undefined) {
      if (this.isDir) throw new SysError(Errno.EISDIR);
      if (this.type !== S_IFREG) throw new SysError(Errno.EINVAL);
      this.truncate(c.size);
      this.mtimeNs = nowNs();
    }
    if (c.mode !== undefined) this.mode = (this.mode & S_IFMT) | (c.mode & 0o7777);
    if (c.uid !== undefined) this.uid = c.uid;
    if (c.gid !== undefined) this.gid = c.gid;
    if (c.atimeNs !== undefined) this.atimeNs = c.atimeNs;
    if (c.mtimeNs !== undefined) this.mtimeNs = c.mtimeNs;
    this.ctimeNs = nowNs();
  }

  /** Sets the size of a regular file. */
  truncate(_size: bigint): void {
    throw new SysError(Errno.EINVAL);
  }

  /** Opens the file; vd is how it was reached. */
  abstract open(t: Task, vd: VirtualDentry, flags: number): MaybeAsync<FileDescription>;

  // Directories.

  /** The child called name, or null. */
  lookup(_name: string): Inode | null {
    throw new SysError(Errno.ENOTDIR);
  }
  /**
   * Every child, in a stable order. The array may be one the inode keeps and hands out again
   * (a cached listing): neither the caller nor the inode changes it afterwards, so that what is
   * derived from it (getdents' packed records) can be kept with it.
   */
  entries(): readonly DirEntry[] {
    throw new SysError(Errno.ENOTDIR);
  }
  /** Creates a regular file, FIFO, socket or device node. */
  mknod(_name: string, _mode: number, _rdev: number, _c: Creds): Inode {
    throw new SysError(this.isDir ? Errno.EPERM : Errno.ENOTDIR);
  }
  mkdir(_name: string, _mode: number, _c: Creds): Inode {
    throw new SysError(this.isDir ? Errno.EPERM : Errno.ENOTDIR);
  }
  symlink(_name: string, _target: string, _c: Creds): Inode {
    throw new SysError(this.isDir ? Errno.EPERM : Errno.ENOTDIR);
  }
  /** Adds a hard link to target. */
  link(_name: string, _target: Inode): void {
    throw new SysError(this.isDir ? Errno.EPERM : Errno.ENOTDIR);
  }
  /** Removes a non-directory child. */
  unlink(_name: string): void {
    throw new SysError(this.isDir ? Errno.EPERM : Errno.ENOTDIR);
  }
  /**
   * Called on a non-directory after its directory removed one of its names (unlink, or a
   * rename over it), for filesystems whose directories do not track their children's links.
   */
  unlinked(): void {}
  /** Removes an empty directory child. */
  rmdir(_name: string): void {
    throw new SysError(this.isDir ? Errno.EPERM : Errno.ENOTDIR);
  }
  /**
   * Moves child oldName to newDir/newName (same filesystem), replacing what is there (the VFS
   * has checked types and emptiness).
   */
  rename(_oldName: string, _newDir: Inode, _newName: string, _exchange: boolean): void {
    throw new SysError(this.isDir ? Errno.EPERM : Errno.ENOTDIR);
  }

  // Extended attributes: filesystems without them answer EOPNOTSUPP (ENOTSUP).

  /** The value of xattr name; ENODATA when it is not set. */
  getxattr(_name: string): Uint8Array {
    throw new SysError(Errno.EOPNOTSUPP);
  }
  /** Sets xattr name; flags XATTR_CREATE (1) or XATTR_REPLACE (2). */
  setxattr(_name: string, _value: Uint8Array, _flags: number): void {
    throw new SysError(Errno.EOPNOTSUPP);
  }
  /** The names of the xattrs set. */
  listxattr(): string[] {
    return [];
  }
  removexattr(_name: string): void {
    throw new SysError(Errno.EOPNOTSUPP);
  }

  // Symlinks.

  /** The symlink's target. */
  readlink(_t: Task): string {
    throw new SysError(Errno.EINVAL);
  }
  /**
   * For procfs's magic links (/proc/self/fd/N, exe, cwd): the file they stand for, reached
   * without reading a path. Null for ordinary symlinks.
   */
  magicLink(_t: Task): VirtualDentry | null {
    return null;
  }
}
