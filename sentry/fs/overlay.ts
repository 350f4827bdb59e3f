/**
 * The overlay of --overlay2: a Sentry tmpfs (the upper layer) over a gofer-backed mount (the
 * lower layer). Reads see the upper file where there is one and the lower file otherwise;
 * every change happens in the upper layer, copying a file up first, so the host's files are
 * never modified. Removing a name that exists below leaves a whiteout (kept beside the upper
 * directory, never shown); a directory made where a whiteout was is opaque (hides what is
 * below).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { preadFd } from "../../host/libc.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  DirectoryFile,
  type FileDescription,
  type MaybeAsync,
  O_ACCMODE,
  O_RDONLY,
  O_TRUNC,
} from "../vfs/file.ts";
import {
  type Attr,
  type AttrChange,
  type Creds,
  type DirEntry,
  Filesystem,
  type FsStat,
  Inode,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { closeFd } from "../../host/libc.ts";
import { GoferInode } from "./gofer.ts";
import type { TmpfsFilesystem } from "./tmpfs.ts";

/** Whiteouts and opacity of an upper directory. */
interface DirState {
  whiteouts: Set<string>;
  opaque: boolean;
}

export class OverlayFilesystem extends Filesystem {
  readonly name = "overlay";
  readonly #root: OverlayInode;
  readonly #dirs = new WeakMap<Inode, DirState>();

  constructor(readonly upper: TmpfsFilesystem, readonly lower: Filesystem) {
    super();
    this.#root = new OverlayInode(this, null, "", upper.root(), lower.root());
  }

  root(): OverlayInode {
    return this.#root;
  }

  /** The whiteout state of an upper directory. */
  dirState(upperDir: Inode): DirState {
    let s = this.#dirs.get(upperDir);
    if (!s) this.#dirs.set(upperDir, s = { whiteouts: new Set(), opaque: false });
    return s;
  }

  /**
   * The image's disk as the root's (programs such as shutil.disk_usage expect the space the
   * files below take to count as used), with no more free than the upper layer can take.
   */
  override statfs(): FsStat {
    const up = this.upper.statfs();
    let low: FsStat;
    try {
      low = this.lower.statfs();
    } catch {
      return up;
    }
    // In the lower's block size: the upper's free space, converted.
    const upFree = up.blocksAvailable * up.blockSize / low.blockSize;
    const min = (a: bigint, b: bigint) => a < b ? a : b;
    return {
      ...up,
      blockSize: low.blockSize,
      blocks: low.blocks,
      blocksFree: min(low.blocksFree, upFree),
      blocksAvailable: min(low.blocksAvailable, upFree),
    };
  }
}

export class OverlayInode extends Inode {
  declare readonly fs: OverlayFilesystem;

  constructor(
    fs: OverlayFilesystem,
    readonly parent: OverlayInode | null,
    readonly name: string,
    public upper: Inode | null,
    readonly lower: Inode | null,
    /** Something of this name exists below (removing it leaves a whiteout). */
    readonly hasLower = lower !== null,
  ) {
    const top = (upper ?? lower)!;
    super(fs, top.mode, top.uid, top.gid, lower?.ino ?? top.ino);
    this.#sync();
  }

  /** The layer that answers for this file now. */
  get top(): Inode {
    return (this.upper ?? this.lower)!;
  }

  #sync(): void {
    const t = this.top;
    this.mode = t.mode;
    this.uid = t.uid;
    this.gid = t.gid;
    this.nlink = t.nlink;
    this.rdev = t.rdev;
    this.atimeNs = t.atimeNs;
    this.mtimeNs = t.mtimeNs;
    this.ctimeNs = t.ctimeNs;
  }

  override size(): bigint {
    return this.top.size();
  }

  override stat(): Attr {
    const a = this.top.stat();
    a.dev = this.fs.dev;
    a.ino = this.ino;
    return a;
  }

  #state(): DirState | null {
    return this.upper ? this.fs.dirState(this.upper) : null;
  }

  /** Whether the lower directory shows through. */
  #lowerVisible(): boolean {
    return this.lower !== null && this.lower.isDir && !(this.#state()?.opaque ?? false);
  }

  override lookup(name: string): Inode | null {
    if (!this.isDir) throw new SysError(Errno.ENOTDIR);
    const st = this.#state();
    const up = this.upper?.lookup(name) ?? null;
    if (st?.whiteouts.has(name) && !up) return null;
    let low: Inode | null = null;
    if (this.#lowerVisible() && !st?.whiteouts.has(name)) low = this.lower!.lookup(name);
    const hasLower = low !== null;
    // Only directories merge; an upper file hides whatever is below.
    if (up && low && !(up.isDir && low.isDir)) low = null;
    if (up?.isDir && this.fs.dirState(up).opaque) low = null;
    if (!up && !low) return null;
    return new OverlayInode(this.fs, this, name, up, low, hasLower);
  }

  override entries(): readonly DirEntry[] {
    // One layer alone needs no merge; a directory never copied up lists its lower one as is.
    if (!this.#lowerVisible()) return this.upper?.entries() ?? [];
    if (!this.upper) return this.lower!.entries();
    const out = new Map<string, DirEntry>();
    const wh = this.#state()?.whiteouts;
    for (const e of this.lower!.entries()) if (!wh?.has(e.name)) out.set(e.name, e);
    for (const e of this.upper.entries()) out.set(e.name, e);
    return [...out.values()];
  }

  /** Makes sure the file exists in the upper layer (copying it up with its parents). */
  copyUp(): Inode {
    if (this.upper) return this.upper;
    const parentUpper = this.parent!.copyUp();
    const low = this.lower!;
    const owner: Creds = { uid: low.uid, gid: low.gid, groups: [] };
    const perm = low.mode & 0o7777;
    let up: Inode;
    switch (low.mode & S_IFMT) {
      case S_IFDIR:
        up = parentUpper.mkdir(this.name, S_IFDIR | perm, owner);
        break;
      case S_IFLNK:
        up = parentUpper.symlink(this.name, low.readlink(undefined as never), owner);
        break;
      case S_IFREG: {
        up = parentUpper.mknod(this.name, S_IFREG | perm, 0, owner);
        copyData(low, up);
        break;
      }
      case S_IFIFO:
      case S_IFSOCK:
      default:
        up = parentUpper.mknod(this.name, (low.mode & S_IFMT) | perm, low.rdev, owner);
    }
    up.setAttr({
      mode: perm,
      uid: low.uid,
      gid: low.gid,
      atimeNs: low.atimeNs,
      mtimeNs: low.mtimeNs,
    });
    this.upper = up;
    this.#sync();
    return up;
  }

  /** Prepares this directory for a new child `name`: copied up, no whiteout left for it. */
  #forCreate(name: string): { up: Inode; hadWhiteout: boolean } {
    const up = this.copyUp();
    const st = this.fs.dirState(up);
    const hadWhiteout = st.whiteouts.delete(name);
    return { up, hadWhiteout };
  }

  #wrap(name: string, up: Inode): Inode {
    this.#sync();
    return new OverlayInode(this.fs, this, name, up, null);
  }

  override mknod(name: string, mode: number, rdev: number, c: Creds): Inode {
    const { up } = this.#forCreate(name);
    return this.#wrap(name, up.mknod(name, mode, rdev, c));
  }

  override mkdir(name: string, mode: number, c: Creds): Inode {
    const { up, hadWhiteout } = this.#forCreate(name);
    const d = up.mkdir(name, mode, c);
    // A directory made over a removed lower name must not show what was below.
    if (hadWhiteout) this.fs.dirState(d).opaque = true;
    return this.#wrap(name, d);
  }

  override symlink(name: string, target: string, c: Creds): Inode {
    const { up } = this.#forCreate(name);
    return this.#wrap(name, up.symlink(name, target, c));
  }

  override link(name: string, target: Inode): void {
    if (!(target instanceof OverlayInode) || target.fs !== this.fs) {
      throw new SysError(Errno.EXDEV);
    }
    const src = target.copyUp();
    const { up } = this.#forCreate(name);
    up.link(name, src);
    target.#sync();
    this.#sync();
  }

  /** Removes name from the upper layer, leaving a whiteout if the lower one has it. */
  #remove(name: string, dir: boolean): void {
    const child = this.lookup(name) as OverlayInode | null;
    if (!child) throw new SysError(Errno.ENOENT);
    if (dir) {
      if (!child.isDir) throw new SysError(Errno.ENOTDIR);
      if (child.entries().length > 0) throw new SysError(Errno.ENOTEMPTY);
    }
    const up = this.copyUp();
    if (child.upper) {
      if (dir) {
        // Whiteouts inside go with it; what is left in the upper directory is nothing visible.
        up.rmdir(name);
      } else {
        up.unlink(name);
      }
    }
    if (child.hasLower) this.fs.dirState(up).whiteouts.add(name);
    this.#sync();
  }

  override unlink(name: string): void {
    this.#remove(name, false);
  }

  override rmdir(name: string): void {
    this.#remove(name, true);
  }

  override rename(oldName: string, newDir: Inode, newName: string, exchange: boolean): void {
    if (!(newDir instanceof OverlayInode) || newDir.fs !== this.fs) {
      throw new SysError(Errno.EXDEV);
    }
    const src = this.lookup(oldName) as OverlayInode | null;
    if (!src) throw new SysError(Errno.ENOENT);
    const dst = newDir.lookup(newName) as OverlayInode | null;
    // Directories that have content below cannot move (no redirects), as overlayfs answers.
    if (src.isDir && src.lower) throw new SysError(Errno.EXDEV);
    if (exchange && dst?.isDir && dst.lower) throw new SysError(Errno.EXDEV);
    if (dst && !exchange && dst.isDir && dst.entries().length > 0) {
      throw new SysError(Errno.ENOTEMPTY);
    }
    src.copyUp();
    if (exchange) dst!.copyUp();
    const oldUp = this.copyUp();
    const { up: newUp } = newDir.#forCreate(newName);
    oldUp.rename(oldName, newUp, newName, exchange);
    // A directory moved over one that has content below must not show that content.
    if (!exchange && dst?.hasLower && src.isDir && src.upper) {
      this.fs.dirState(src.upper).opaque = true;
    }
    if (src.hasLower && !exchange) this.fs.dirState(oldUp).whiteouts.add(oldName);
    this.#sync();
    newDir.#sync();
  }

  override truncate(size: bigint): void {
    this.setAttr({ size });
  }

  override setAttr(c: AttrChange): void {
    const up = this.copyUp();
    up.setAttr(c);
    this.#sync();
  }

  override readlink(t: Task): string {
    return this.top.readlink(t);
  }

  override getxattr(name: string): Uint8Array {
    return this.top.getxattr(name);
  }
  override listxattr(): string[] {
    return this.top.listxattr();
  }
  override setxattr(name: string, value: Uint8Array, flags: number): void {
    this.copyUp().setxattr(name, value, flags);
  }
  override removexattr(name: string): void {
    this.copyUp().removexattr(name);
  }

  open(t: Task, vd: VirtualDentry, flags: number): MaybeAsync<FileDescription> {
    if (this.isDir) return new DirectoryFile(this, vd, flags);
    const writes = (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
    if (writes && (this.mode & S_IFMT) === S_IFREG) this.copyUp();
    return this.top.open(t, vd, flags);
  }
}

/** Copies a lower regular file's data into a fresh upper file. */
function copyData(low: Inode, up: Inode): void {
  const sink = up as Inode & { writeAt?(off: bigint, src: Uint8Array<ArrayBuffer>): number };
  if (!sink.writeAt) throw new SysError(Errno.EXDEV);
  if (low instanceof GoferInode) {
    const fd = low.openHost(O_RDONLY);
    try {
      const buf = new Uint8Array(1 << 20);
      let off = 0;
      for (;;) {
        const n = preadFd(fd, buf, off);
        if (n <= 0) break;
        sink.writeAt(BigInt(off), buf.subarray(0, n));
        off += n;
      }
    } finally {
      closeFd(fd);
    }
    return;
  }
  const src = low as Inode & { readAt?(off: bigint, dst: Uint8Array<ArrayBuffer>): number };
  if (!src.readAt) throw new SysError(Errno.EXDEV);
  const buf = new Uint8Array(1 << 20);
  let off = 0n;
  for (;;) {
    const n = src.readAt(off, buf);
    if (n <= 0) break;
    sink.writeAt(off, buf.subarray(0, n));
    off += BigInt(n);
  }
}
