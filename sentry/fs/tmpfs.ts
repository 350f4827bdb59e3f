/**
 * tmpfs: a filesystem kept in the Sentry. Directory trees live in JavaScript maps; the data of
 * regular files lives in pages of the memory file, so files can be sparse, a size limit can be
 * enforced in pages, and mmap can map the very pages read(2) and write(2) use.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { fallocate } from "../../host/fsops.ts";
import { HostError } from "../../host/libc.ts";
import type { Task } from "../kernel/task.ts";
import { type MemoryFile, PAGE } from "../mm/memory_file.ts";
import { FileMappers, type PageRun } from "../mm/mmap_opts.ts";
import { cachedMappable, PageCache } from "./page_cache.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  DirectoryFile,
  type FileDescription,
  type Mappable,
  type MaybeAsync,
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
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  S_ISGID,
} from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { openDevice } from "./devices.ts";
import { openFifo, Pipe } from "./pipe.ts";
import { byteLength } from "../../host/utf8b.ts";

const TMPFS_MAGIC = 0x01021994n;

export interface TmpfsOptions {
  /** Mode of the root directory (default 01777, as Linux's tmpfs). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Size limit in bytes (default: none). */
  size?: bigint;
  name?: string;
  /**
   * The memory file is a host file on a disk that can fill up (an overlay's filestore):
   * reserve each page's blocks before its first use, so that a full disk is ENOSPC for the
   * application rather than SIGBUS for the Sentry when it touches the page through its mapping.
   */
  commit?: boolean;
}

export class TmpfsFilesystem extends Filesystem {
  readonly name: string;
  readonly #root: TmpfsDir;
  /** Pages in use by all files, against maxPages. */
  usedPages = 0;
  readonly maxPages: number;
  /** See TmpfsOptions.commit. */
  readonly commit: boolean;

  constructor(readonly mf: MemoryFile, opts: TmpfsOptions = {}) {
    super();
    this.commit = opts.commit ?? false;
    this.name = opts.name ?? "tmpfs";
    this.maxPages = opts.size ? Number(opts.size / 4096n) : Number.MAX_SAFE_INTEGER;
    this.#root = new TmpfsDir(this, S_IFDIR | (opts.mode ?? 0o1777), opts.uid ?? 0, opts.gid ?? 0);
    this.#root.nlink = 2;
  }

  root(): TmpfsDir {
    return this.#root;
  }

  override statfs(): FsStat {
    const total = this.maxPages === Number.MAX_SAFE_INTEGER ? 1 << 20 : this.maxPages;
    const free = BigInt(Math.max(0, total - this.usedPages));
    return {
      type: TMPFS_MAGIC,
      blockSize: 4096n,
      blocks: BigInt(total),
      blocksFree: free,
      blocksAvailable: free,
      files: 1n << 20n,
      filesFree: 1n << 20n,
      nameLength: 255n,
    };
  }
}

/** Extended attributes of tmpfs files (user.*, trusted.*, security.*), as tmpfs keeps them. */
const xattrs = new WeakMap<Inode, Map<string, Uint8Array>>();
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;

function xattrsOf(ino: Inode, name: string | null): Map<string, Uint8Array> {
  if (name !== null && !/^(user|trusted|security)\./.test(name)) {
    throw new SysError(Errno.EOPNOTSUPP);
  }
  // user.* attributes exist only on regular files and directories.
  const t = ino.mode & S_IFMT;
  if (name?.startsWith("user.") && t !== S_IFREG && t !== S_IFDIR) {
    throw new SysError(Errno.EPERM);
  }
  let m = xattrs.get(ino);
  if (!m) xattrs.set(ino, m = new Map());
  return m;
}

/** The xattr operations of tmpfs inodes. */
export const tmpfsXattrs = {
  get(ino: Inode, name: string): Uint8Array {
    const v = xattrsOf(ino, name).get(name);
    if (!v) throw new SysError(Errno.ENODATA);
    return v;
  },
  set(ino: Inode, name: string, value: Uint8Array, flags: number): void {
    const m = xattrsOf(ino, name);
    if ((flags & XATTR_CREATE) && m.has(name)) throw new SysError(Errno.EEXIST);
    if ((flags & XATTR_REPLACE) && !m.has(name)) throw new SysError(Errno.ENODATA);
    m.set(name, value.slice());
    ino.ctimeNs = nowNs();
  },
  list(ino: Inode): string[] {
    return [...(xattrs.get(ino)?.keys() ?? [])];
  },
  remove(ino: Inode, name: string): void {
    if (!xattrsOf(ino, name).delete(name)) throw new SysError(Errno.ENODATA);
    ino.ctimeNs = nowNs();
  },
};

/** Mode bits and group of a new file in dir (setgid directories pass their group on). */
function newOwner(dir: Inode, mode: number, c: Creds): { mode: number; gid: number } {
  if (dir.mode & S_ISGID) {
    return { mode: (mode & S_IFMT) === S_IFDIR ? mode | S_ISGID : mode, gid: dir.gid };
  }
  return { mode, gid: c.gid };
}

export class TmpfsDir extends Inode {
  readonly children = new Map<string, Inode>();
  declare readonly fs: TmpfsFilesystem;

  override lookup(name: string): Inode | null {
    return this.children.get(name) ?? null;
  }

  /** Linux's tmpfs counts a made-up 20 bytes per entry, and 40 for . and .. */
  override size(): bigint {
    return BigInt(40 + 20 * this.children.size);
  }

  override stat() {
    const a = super.stat();
    a.blocks = 0n;
    return a;
  }

  override entries(): DirEntry[] {
    return [...this.children].map(([name, i]) => ({ name, ino: i.ino, type: direntType(i.mode) }));
  }

  #add(name: string, ino: Inode): Inode {
    if (this.fs.readonly) throw new SysError(Errno.EROFS);
    if (this.children.has(name)) throw new SysError(Errno.EEXIST);
    this.children.set(name, ino);
    this.mtimeNs = this.ctimeNs = nowNs();
    return ino;
  }

  override mknod(name: string, mode: number, rdev: number, c: Creds): Inode {
    const o = newOwner(this, mode, c);
    let ino: Inode;
    switch (mode & S_IFMT) {
      case S_IFREG:
        ino = new TmpfsRegular(this.fs, o.mode, c.uid, o.gid);
        break;
      case S_IFIFO:
        ino = new TmpfsFifo(this.fs, o.mode, c.uid, o.gid);
        break;
      case S_IFSOCK:
        ino = new TmpfsSocket(this.fs, o.mode, c.uid, o.gid);
        break;
      case S_IFCHR:
      case S_IFBLK:
        ino = new TmpfsDevice(this.fs, o.mode, c.uid, o.gid);
        ino.rdev = rdev;
        break;
      default:
        throw new SysError(Errno.EINVAL);
    }
    return this.#add(name, ino);
  }

  override mkdir(name: string, mode: number, c: Creds): Inode {
    const o = newOwner(this, mode, c);
    const d = new TmpfsDir(this.fs, o.mode, c.uid, o.gid);
    d.nlink = 2;
    this.#add(name, d);
    this.nlink++;
    return d;
  }

  override symlink(name: string, target: string, c: Creds): Inode {
    return this.#add(name, new TmpfsSymlink(this.fs, 0o120777, c.uid, c.gid, target));
  }

  override link(name: string, target: Inode): void {
    if (target.fs !== this.fs) throw new SysError(Errno.EXDEV);
    if (target.nlink === 0 && !(target as { linkable?: boolean }).linkable) {
      throw new SysError(Errno.ENOENT);
    }
    this.#add(name, target);
    target.nlink++;
    target.ctimeNs = nowNs();
  }

  override unlink(name: string): void {
    const ino = this.children.get(name);
    if (!ino) throw new SysError(Errno.ENOENT);
    if (this.fs.readonly) throw new SysError(Errno.EROFS);
    this.children.delete(name);
    ino.nlink--;
    ino.ctimeNs = this.mtimeNs = this.ctimeNs = nowNs();
    if (ino instanceof TmpfsRegular) ino.maybeFree();
  }

  override rmdir(name: string): void {
    const ino = this.children.get(name);
    if (!ino) throw new SysError(Errno.ENOENT);
    if (!(ino instanceof TmpfsDir)) throw new SysError(Errno.ENOTDIR);
    if (ino.children.size > 0) throw new SysError(Errno.ENOTEMPTY);
    if (this.fs.readonly) throw new SysError(Errno.EROFS);
    this.children.delete(name);
    ino.nlink = 0;
    this.nlink--;
    this.mtimeNs = this.ctimeNs = nowNs();
  }

  override rename(oldName: string, newDir: Inode, newName: string, exchange: boolean): void {
    if (!(newDir instanceof TmpfsDir) || newDir.fs !== this.fs) throw new SysError(Errno.EXDEV);
    const src = this.children.get(oldName);
    if (!src) throw new SysError(Errno.ENOENT);
    const dst = newDir.children.get(newName);
    if (exchange) {
      if (!dst) throw new SysError(Errno.ENOENT);
      this.children.set(oldName, dst);
      newDir.children.set(newName, src);
      if (src.isDir !== dst.isDir && this !== newDir) {
        const [a, b] = src.isDir ? [this, newDir] : [newDir, this];
        a.nlink--;
        b.nlink++;
      }
    } else {
      if (dst instanceof TmpfsDir && dst.children.size > 0) throw new SysError(Errno.ENOTEMPTY);
      this.children.delete(oldName);
      if (dst) {
        dst.nlink = dst.isDir ? 0 : dst.nlink - 1;
        if (dst.isDir) newDir.nlink--;
        if (dst instanceof TmpfsRegular) dst.maybeFree();
      }
      newDir.children.set(newName, src);
      if (src.isDir && this !== newDir) {
        this.nlink--;
        newDir.nlink++;
      }
    }
    const now = nowNs();
    this.mtimeNs =
      this.ctimeNs =
      newDir.mtimeNs =
      newDir.ctimeNs =
      src.ctimeNs =
        now;
  }

  open(_t: Task, vd: VirtualDentry, flags: number): FileDescription {
    return new DirectoryFile(this, vd, flags);
  }
}

/** A regular file whose data is pages of the memory file. */
export class TmpfsRegular extends Inode implements RegularData {
  declare readonly fs: TmpfsFilesystem;
  readonly #pages = new Map<number, bigint>();
  #size = 0n;
  /** Open descriptions: the data stays while any is open after the last unlink. */
  opens = 0;
  /** An O_TMPFILE file without O_EXCL: linkat may give it a name. */
  linkable = false;
  /**
   * Pages were handed to mmap: they may be mapped somewhere, so they are never returned to the
   * memory file (until mappings count their pages, a bounded leak rather than a page reused
   * under a live mapping).
   */
  #mapped = false;

  override size(): bigint {
    return this.#size;
  }

  override stat() {
    const a = super.stat();
    a.blocks = BigInt(this.#pages.size * 8);
    return a;
  }

  #page(index: number, allocate: boolean): bigint | null {
    const off = this.#pages.get(index);
    if (off !== undefined) return off;
    return allocate ? this.#allocate(index, 1) : null;
  }

  /** The runs of [first, first+count) that have pages, making none. */
  #present(first: number, count: number): PageRun[] {
    const end = first + count;
    const have: number[] = [];
    if (this.#pages.size < count) {
      for (const i of this.#pages.keys()) if (i >= first && i < end) have.push(i);
      have.sort((a, b) => a - b);
    } else {
      for (let i = first; i < end; i++) if (this.#pages.has(i)) have.push(i);
    }
    const out: PageRun[] = [];
    let k = 0;
    while (k < have.length) {
      const i = have[k];
      const off = this.#pages.get(i)!;
      let n = 1;
      while (
        k + n < have.length && have[k + n] === i + n &&
        this.#pages.get(i + n) === off + BigInt(n * PAGE)
      ) n++;
      out.push({ index: i, count: n, off });
      k += n;
    }
    return out;
  }

  /** Returns pages to the memory file, contiguous ones as one range (one host call each). */
  #freePages(offs: bigint[]): void {
    offs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let k = 0;
    while (k < offs.length) {
      let n = 1;
      while (k + n < offs.length && offs[k + n] === offs[k] + BigInt(n * PAGE)) n++;
      this.fs.mf.free(offs[k], BigInt(n * PAGE));
      k += n;
    }
  }

  /** Makes pages [index, index+count), missing all, one range of the memory file. */
  #allocate(index: number, count: number): bigint {
    if (this.fs.usedPages + count > this.fs.maxPages) throw new SysError(Errno.ENOSPC);
    const len = BigInt(count * PAGE);
    const off = this.fs.mf.allocate(len);
    if (this.fs.commit) {
      try {
        fallocate(this.fs.mf.fd, 0, off, len);
      } catch (e) {
        this.fs.mf.free(off, len);
        if (e instanceof HostError) {
          throw new SysError(e.errno === Errno.ENOSPC ? Errno.ENOSPC : Errno.EIO);
        }
        throw e;
      }
    }
    this.fs.usedPages += count;
    for (let k = 0; k < count; k++) this.#pages.set(index + k, off + BigInt(k * PAGE));
    return off;
  }

  /**
   * The pages of [first, first+count), each gap made as one range of the memory file: runs in
   * order that cover the range, so that mapping a large sparse file takes a few steps rather
   * than one per page.
   */
  #runs(first: number, count: number): PageRun[] {
    const out: PageRun[] = [];
    const end = first + count;
    let i = first;
    while (i < end) {
      const off = this.#pages.get(i);
      let n = 1;
      if (off === undefined) {
        while (i + n < end && !this.#pages.has(i + n)) n++;
        out.push({ index: i, count: n, off: this.#allocate(i, n) });
      } else {
        while (i + n < end && this.#pages.get(i + n) === off + BigInt(n * PAGE)) n++;
        out.push({ index: i, count: n, off });
      }
      i += n;
    }
    return out;
  }

  /**
   * The page cache of a file whose pages are not in the memory file the platform maps (an
   * overlay's filestore), while MAP_SHARED mappings use it (page_cache.ts).
   */
  #cache?: PageCache;

  readAt(off: bigint, dst: Uint8Array<ArrayBuffer>): number {
    if (this.#cache) {
      this.atimeNs = nowNs();
      return this.#cache.readAt(off, dst);
    }
    return this.#readStore(off, dst);
  }

  writeAt(off: bigint, src: Uint8Array<ArrayBuffer>): number {
    const before = this.#size;
    const n = this.#writeStore(off, src);
    this.#cache?.grow(before, off + BigInt(n));
    this.#cache?.update(off, src.subarray(0, n));
    return n;
  }

  /** Reads the file's own pages. */
  #readStore(off: bigint, dst: Uint8Array<ArrayBuffer>): number {
    if (off >= this.#size) return 0;
    const n = Number(
      this.#size - off < BigInt(dst.length) ? this.#size - off : BigInt(dst.length),
    );
    let done = 0;
    let pos = Number(off);
    while (done < n) {
      const pi = Math.floor(pos / PAGE);
      const po = pos % PAGE;
      const m = Math.min(PAGE - po, n - done);
      const p = this.#page(pi, false);
      if (p === null) dst.fill(0, done, done + m);
      else this.fs.mf.read(p + BigInt(po), dst.subarray(done, done + m));
      done += m;
      pos += m;
    }
    this.atimeNs = nowNs();
    return n;
  }

  /** Writes the file's own pages. */
  #writeStore(off: bigint, src: Uint8Array<ArrayBuffer>): number {
    let done = 0;
    let pos = Number(off);
    try {
      while (done < src.length) {
        const pi = Math.floor(pos / PAGE);
        const po = pos % PAGE;
        const m = Math.min(PAGE - po, src.length - done);
        const p = this.#page(pi, true)!;
        this.fs.mf.write(p + BigInt(po), src.subarray(done, done + m));
        done += m;
        pos += m;
      }
    } catch (e) {
      if (done === 0) throw e;
    }
    const end = off + BigInt(done);
    if (end > this.#size) this.#size = end;
    return done;
  }

  /** The address spaces that map the file's pages. */
  readonly mappers = new FileMappers();

  override truncate(size: bigint): void {
    // The cut pages leave every mapping before they are freed: no store can reach them after.
    this.mappers.shrunk(size, BigInt(PAGE));
    if (size < this.#size) {
      const keep = Number((size + BigInt(PAGE) - 1n) / BigInt(PAGE));
      const cut: bigint[] = [];
      for (const [i, p] of this.#pages) {
        if (i >= keep) {
          cut.push(p);
          this.#pages.delete(i);
        }
      }
      this.fs.usedPages -= cut.length;
      this.#freePages(cut);
      const tail = Number(size % BigInt(PAGE));
      const last = this.#pages.get(keep - 1);
      if (tail !== 0 && last !== undefined) this.fs.mf.zero(last + BigInt(tail), PAGE - tail);
    }
    this.#cache?.grow(this.#size, size);
    this.#size = size;
    this.#cache?.truncate(size);
  }

  /** fallocate(2) mode 0 / KEEP_SIZE: allocates the pages of [off, off+len). */
  allocate(off: bigint, len: bigint, keepSize: boolean): void {
    const first = Number(off / BigInt(PAGE));
    const end = Number((off + len + BigInt(PAGE) - 1n) / BigInt(PAGE));
    for (let i = first; i < end; i++) this.#page(i, true);
    if (!keepSize && off + len > this.#size) this.#size = off + len;
  }

  /** Frees the data once no name and no open description is left. */
  maybeFree(): void {
    if (this.nlink > 0 || this.opens > 0) return;
    if (!this.#mapped) this.#freePages([...this.#pages.values()]);
    this.fs.usedPages -= this.#pages.size;
    this.#pages.clear();
    this.#size = 0n;
  }

  /**
   * The file's pages themselves when they are in `mf`, the memory file the platform maps (so
   * MAP_SHARED stores are the file's at once); else a page cache (#cachedMappable).
   */
  mappable(mf: MemoryFile): Mappable {
    if (this.fs.mf !== mf) return this.#cachedMappable(mf);
    return {
      page: (i, allocate) => {
        this.#mapped = true;
        return this.#page(i, allocate);
      },
      pages: (first, count) => {
        this.#mapped = true;
        return this.#runs(first, count);
      },
      present: (first, count) => {
        this.#mapped = true;
        return this.#present(first, count);
      },
      // With a size limit, a touch makes its own page only, as the limit counts each (a full
      // tmpfs is SIGBUS for the page touched, not for its neighbours).
      holePages: this.fs.maxPages === Number.MAX_SAFE_INTEGER ? 32 : 1,
      size: () => this.#size,
      mappers: this.mappers,
    };
  }

  /**
   * The pages are in a file the platform cannot map (an overlay's filestore): shared mappings
   * map a page cache in `mf` instead, written back to the file's pages.
   */
  #cachedMappable(mf: MemoryFile): Mappable {
    const cache = () =>
      this.#cache ??= new PageCache(mf, {
        readAt: (off, dst) => this.#readStore(off, dst),
        // A file gone (no name, nothing open) keeps nothing: what its mappings wrote last is
        // dropped rather than written into pages nobody would free.
        writeAt: (off, src) =>
          this.nlink === 0 && this.opens === 0 ? src.length : this.#writeStore(off, src),
        size: () => this.#size,
      }, () => this.#cache = undefined);
    return cachedMappable(
      cache,
      () => this.#cache,
      (off, dst) => this.#readStore(off, dst),
      () => this.#size,
      this.mappers,
    );
  }

  open(_t: Task, vd: VirtualDentry, flags: number): FileDescription {
    return new TmpfsFile(this, vd, flags);
  }
}

/** An open tmpfs file: keeps the data alive after unlink until closed. */
class TmpfsFile extends RegularFile {
  constructor(readonly file: TmpfsRegular, vd: VirtualDentry, flags: number) {
    super(file, file, vd, flags);
    file.opens++;
  }
  override release(): void {
    this.file.opens--;
    this.file.maybeFree();
  }
}

export class TmpfsSymlink extends Inode {
  constructor(fs: Filesystem, mode: number, uid: number, gid: number, readonly target: string) {
    super(fs, S_IFLNK | (mode & 0o777), uid, gid);
  }
  override size(): bigint {
    return BigInt(byteLength(this.target));
  }
  override readlink(_t: Task): string {
    this.atimeNs = nowNs();
    return this.target;
  }
  override stat() {
    const a = super.stat();
    // Short targets live in the inode, as on Linux; longer ones take a page.
    a.blocks = a.size < 128n ? 0n : 8n;
    return a;
  }
  open(): FileDescription {
    throw new SysError(Errno.ELOOP);
  }
}

/** A named pipe: every open shares one pipe. */
export class TmpfsFifo extends Inode {
  readonly pipe = new Pipe();
  open(t: Task, vd: VirtualDentry, flags: number): MaybeAsync<FileDescription> {
    return openFifo(t, this.pipe, this, vd, flags);
  }
}

/** A socket file: what bind(2) leaves; opening it fails with ENXIO. */
export class TmpfsSocket extends Inode {
  /** The listening socket bound here, for connect(2). */
  endpoint: unknown = null;
  open(): FileDescription {
    throw new SysError(Errno.ENXIO);
  }
}

/** A character or block device node; opening it opens the device its rdev names. */
export class TmpfsDevice extends Inode {
  open(t: Task, vd: VirtualDentry, flags: number): MaybeAsync<FileDescription> {
    if ((this.mode & S_IFMT) === S_IFBLK) throw new SysError(Errno.ENXIO);
    return openDevice(t, this, vd, flags);
  }
}

// Every tmpfs inode keeps extended attributes.
for (const C of [TmpfsDir, TmpfsRegular, TmpfsSymlink, TmpfsFifo, TmpfsSocket, TmpfsDevice]) {
  Object.defineProperties(C.prototype, {
    getxattr: {
      value(this: Inode, name: string) {
        return tmpfsXattrs.get(this, name);
      },
    },
    setxattr: {
      value(this: Inode, name: string, value: Uint8Array, flags: number) {
        if (this.fs.readonly) throw new SysError(Errno.EROFS);
        tmpfsXattrs.set(this, name, value, flags);
      },
    },
    listxattr: {
      value(this: Inode) {
        return tmpfsXattrs.list(this);
      },
    },
    removexattr: {
      value(this: Inode, name: string) {
        if (this.fs.readonly) throw new SysError(Errno.EROFS);
        tmpfsXattrs.remove(this, name);
      },
    },
  });
}
