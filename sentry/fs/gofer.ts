/**
 * The gofer-backed filesystem: files of the container's root (and bind mounts) reached through
 * the Gofer over LISAFS.
 *
 * Path resolution is the VFS's: the Gofer only walks one name at a time and never follows a
 * symlink, so symlinks are read here and resolved against the sandbox's own root. With
 * exclusive file access the attributes and dentries learned from the Gofer are cached and not
 * revalidated. Opening a regular file gets a donated host FD, so data moves without a round
 * trip to the Gofer.
 *
 * Mountpoints missing from the (possibly read-only) root are synthetic directories that exist
 * only in the Sentry, as in gVisor.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { closeFd, errno, libc, preadFd } from "../../host/libc.ts";
import { type LisafsClient, LisafsError, type Stat } from "../../gofer/lisafs/client.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../syscalls/errors.ts";
import {
  DirectoryFile,
  type FileDescription,
  type Mappable,
  type MaybeAsync,
  O_ACCMODE,
  O_RDONLY,
  type RegularData,
  RegularFile,
} from "../vfs/file.ts";
import {
  type Creds,
  type DirEntry,
  direntType,
  Filesystem,
  type FsStat,
  Inode,
  nowNs,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { openDevice } from "./devices.ts";

export { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG };

/** Turns a Gofer error into the errno the application sees. */
function sysErr(e: unknown): never {
  if (e instanceof LisafsError) throw new SysError(e.errno, e.message);
  throw e;
}

export class GoferFilesystem extends Filesystem {
  readonly name = "9p";
  readonly #root: GoferInode;

  constructor(readonly client: LisafsClient, ro = false) {
    super();
    this.readonly = ro;
    let m;
    try {
      m = client.mount();
    } catch (e) {
      sysErr(e);
    }
    this.#root = new GoferInode(this, m.root, m.stat);
  }

  root(): GoferInode {
    return this.#root;
  }

  /** Releases a control FD id on the Gofer, ignoring a dead connection. */
  closeFd(fd: number): void {
    try {
      this.client.close([fd]);
    } catch {
      // The connection is gone; the Gofer dropped its FDs with it.
    }
  }

  override statfs(): FsStat {
    try {
      return this.client.fstatfs(this.#root.controlFd);
    } catch (e) {
      sysErr(e);
    }
  }
}

/** A file on the Gofer, named by its control FD. */
export class GoferInode extends Inode {
  declare readonly fs: GoferFilesystem;
  #size: bigint;
  #blocks: bigint;
  #target?: string;
  /** Mountpoints the root lacks: directories that exist only in the Sentry. */
  readonly synthetic = new Map<string, Inode>();

  constructor(fs: GoferFilesystem, readonly controlFd: number, s: Stat) {
    super(fs, s.mode, s.uid, s.gid, s.ino);
    this.nlink = s.nlink;
    this.rdev = s.rdev;
    this.#size = BigInt(s.size);
    this.#blocks = BigInt(s.blocks);
    this.atimeNs = s.atimeNs;
    this.mtimeNs = s.mtimeNs;
    this.ctimeNs = s.ctimeNs;
  }

  override size(): bigint {
    return this.#size;
  }
  setSize(n: bigint): void {
    this.#size = n;
  }

  override stat() {
    const a = super.stat();
    a.blocks = this.#blocks;
    return a;
  }

  override lookup(name: string): Inode | null {
    if (!this.isDir) throw new SysError(Errno.ENOTDIR);
    const syn = this.synthetic.get(name);
    if (syn) return syn;
    let w;
    try {
      w = this.fs.client.walk(this.controlFd, [name]);
    } catch (e) {
      if (e instanceof LisafsError && e.errno === Errno.ENOENT) return null;
      sysErr(e);
    }
    if (w.status === "missing" || w.inodes.length === 0) return null;
    return new GoferInode(this.fs, w.inodes[0].fd, w.inodes[0].stat);
  }

  override entries(): DirEntry[] {
    const out: DirEntry[] = [];
    let openFd;
    try {
      openFd = this.fs.client.openAt(this.controlFd, O_RDONLY).openFd;
    } catch (e) {
      sysErr(e);
    }
    try {
      for (;;) {
        const ds = this.fs.client.getdents64(openFd, 65536);
        if (ds.length === 0) break;
        for (const d of ds) {
          if (d.name === "." || d.name === ".." || this.synthetic.has(d.name)) continue;
          out.push({ name: d.name, ino: d.ino, type: d.type });
        }
      }
    } catch (e) {
      sysErr(e);
    } finally {
      this.fs.closeFd(openFd);
    }
    for (const [name, i] of this.synthetic) {
      out.push({ name, ino: i.ino, type: direntType(i.mode) });
    }
    return out;
  }

  override readlink(_t: Task): string {
    if (!this.isSymlink) throw new SysError(Errno.EINVAL);
    try {
      return this.#target ??= this.fs.client.readLinkAt(this.controlFd);
    } catch (e) {
      sysErr(e);
    }
  }

  #refuseWrite(): never {
    // Write-type LISAFS messages are not served yet: the root is read-only in effect.
    throw new SysError(Errno.EROFS);
  }
  override mknod(_n: string, _m: number, _r: number, _c: Creds): Inode {
    this.#refuseWrite();
  }
  override mkdir(_n: string, _m: number, _c: Creds): Inode {
    this.#refuseWrite();
  }
  override symlink(_n: string, _t: string, _c: Creds): Inode {
    this.#refuseWrite();
  }
  override link(_n: string, _t: Inode): void {
    this.#refuseWrite();
  }
  override unlink(_n: string): void {
    this.#refuseWrite();
  }
  override rmdir(_n: string): void {
    this.#refuseWrite();
  }
  override rename(_o: string, _d: Inode, _n: string, _x: boolean): void {
    this.#refuseWrite();
  }
  override truncate(_size: bigint): void {
    this.#refuseWrite();
  }
  override setAttr(): void {
    this.#refuseWrite();
  }

  /** Opens the file on the Gofer and returns its donated host FD (owned by the caller). */
  openHost(flags: number): number {
    let opened;
    try {
      opened = this.fs.client.openAt(this.controlFd, flags & O_ACCMODE);
    } catch (e) {
      sysErr(e);
    }
    this.fs.closeFd(opened.openFd);
    if (opened.hostFd < 0) throw new SysError(Errno.EIO, "the gofer donated no host file");
    return opened.hostFd;
  }

  open(t: Task, vd: VirtualDentry, flags: number): MaybeAsync<FileDescription> {
    switch (this.mode & S_IFMT) {
      case S_IFREG:
        return new GoferFile(this, new HostData(this.openHost(flags), this), vd, flags);
      case S_IFDIR:
        return new DirectoryFile(this, vd, flags);
      case S_IFCHR:
        return openDevice(t, this, vd, flags);
      default:
        throw new SysError(Errno.ENXIO);
    }
  }
}

/** A directory made in the Sentry for a mountpoint the root lacks. */
export class SyntheticDir extends Inode {
  readonly children = new Map<string, Inode>();
  constructor(fs: Filesystem) {
    super(fs, S_IFDIR | 0o755);
    this.nlink = 2;
  }
  override lookup(name: string): Inode | null {
    return this.children.get(name) ?? null;
  }
  override entries(): DirEntry[] {
    return [...this.children].map(([name, i]) => ({ name, ino: i.ino, type: direntType(i.mode) }));
  }
  open(_t: Task, vd: VirtualDentry, flags: number): FileDescription {
    return new DirectoryFile(this, vd, flags);
  }
}

const STAT_BUF = 144;

/** Data of a gofer file through its donated host FD. */
export class HostData implements RegularData {
  constructor(readonly hostFd: number, readonly inode: GoferInode) {}

  readAt(off: bigint, dst: Uint8Array<ArrayBuffer>): number {
    return preadFd(this.hostFd, dst, Number(off));
  }

  writeAt(off: bigint, src: Uint8Array<ArrayBuffer>): number {
    for (;;) {
      const n = Number(libc.symbols.pwrite(this.hostFd, src, BigInt(src.length), off));
      if (n >= 0) {
        if (off + BigInt(n) > this.inode.size()) this.inode.setSize(off + BigInt(n));
        this.inode.mtimeNs = nowNs();
        return n;
      }
      const e = errno();
      if (e !== Errno.EINTR) throw new SysError(e);
    }
  }

  size(): bigint {
    const b = new Uint8Array(STAT_BUF);
    if (libc.symbols.fstat(this.hostFd, b) !== 0) return this.inode.size();
    const n = new DataView(b.buffer).getBigInt64(48, true);
    this.inode.setSize(n);
    return n;
  }

  mappable(): Mappable {
    return { kind: "host", fd: this.hostFd, offset: 0n };
  }
}

class GoferFile extends RegularFile {
  constructor(inode: GoferInode, readonly host: HostData, vd: VirtualDentry, flags: number) {
    super(inode, host, vd, flags);
  }
  override release(): void {
    closeFd(this.host.hostFd);
  }
}
