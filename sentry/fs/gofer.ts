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

import { Errno } from "../../abi/linux/errno.ts";
import { closeFd, dupCloexec, HostError } from "../../host/libc.ts";
import { fstat, pread, pwrite } from "../../host/fsops.ts";
import { type LisafsClient, LisafsError, type Stat } from "../../gofer/lisafs/client.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  DirectoryFile,
  type FileDescription,
  type Mappable,
  type MaybeAsync,
  O_ACCMODE,
  O_RDONLY,
  O_RDWR,
  type RegularData,
  RegularFile,
} from "../vfs/file.ts";
import {
  type AttrChange,
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
import { AT_REMOVEDIR, RENAME_EXCHANGE } from "../../abi/linux/file.ts";
import { cachedMappable, PageCache } from "./page_cache.ts";
import { type MemoryFile, PAGE_SIZE } from "../mm/memory_file.ts";
import { FileMappers } from "../mm/mmap_opts.ts";

export { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG };

/** Turns a Gofer error into the errno the application sees. */
function sysErr(e: unknown): never {
  if (e instanceof LisafsError) throw new SysError(e.errno, e.message);
  throw e;
}

/** How many FD ids are released in one Close message. */
const CLOSE_BATCH = 64;

/** How many missing names a directory remembers (exclusive access). */
const ABSENT_MAX = 4096;

/**
 * How many host FDs inodes keep for their next open, all together: a working set of a couple
 * of thousand files (gVisor keeps 1000 dentries with their FDs by default), well inside the
 * Sentry's descriptor limit however many files are opened.
 */
const KEPT_HOST_FDS = 2048;

export class GoferFilesystem extends Filesystem {
  readonly name = "9p";
  readonly #root: GoferInode;
  /**
   * The overlay filestore the Gofer made for this mount (--overlay2 with self or dir=), a
   * host file for the overlay's upper layer to keep its data in; -1 when there is none.
   */
  readonly filestoreFd: number;

  /**
   * @param path "/" for the container's root, or a bind mount's destination.
   * @param shared --file-access=shared: look names up again on every walk, so that changes
   * made on the host are seen (exclusive access caches dentries and attributes).
   */
  constructor(readonly client: LisafsClient, ro = false, readonly path = "/", shared = false) {
    super();
    this.readonly = ro;
    this.cacheDentries = !shared;
    let m;
    try {
      m = client.mount(path);
    } catch (e) {
      sysErr(e);
    }
    if (m.readonly) this.readonly = true;
    this.filestoreFd = m.filestoreFd;
    this.#root = new GoferInode(this, m.root, m.stat);
    this.inodes.set(m.stat.ino, this.#root);
  }

  root(): GoferInode {
    return this.#root;
  }

  /**
   * Inodes by host inode number, so that a name looked up again (shared access revalidates
   * every walk) finds the inode it already had: one Gofer control FD per file, not one per
   * lookup, and hard links share an inode.
   */
  readonly inodes = new Map<bigint, GoferInode>();

  /** Inodes that keep host FDs, least recently opened first. */
  readonly #withHostFds = new Set<GoferInode>();

  /** How many host FDs the inodes keep. */
  #keptFds = 0;

  /**
   * Notes that `ino` was opened and keeps `added` more host FDs; drops those of the least
   * recently opened inodes beyond the bound.
   */
  keepsHostFds(ino: GoferInode, added: number): void {
    this.#withHostFds.delete(ino);
    this.#withHostFds.add(ino);
    this.#keptFds += added;
    while (this.#keptFds > KEPT_HOST_FDS) {
      const oldest = this.#withHostFds.values().next().value!;
      if (oldest === ino) break;
      oldest.dropHostFds();
    }
  }

  /** Notes that `ino` closed the `n` host FDs it kept. */
  droppedHostFds(ino: GoferInode, n: number): void {
    this.#withHostFds.delete(ino);
    this.#keptFds -= n;
  }

  /** FD ids released but not yet told to the Gofer. */
  #closing: number[] = [];

  /**
   * Releases a control or open FD id on the Gofer. Ids are never reused, so the Close can wait:
   * they go in batches (one message for many), saving a round trip per open file.
   */
  closeFd(fd: number): void {
    this.#closing.push(fd);
    if (this.#closing.length >= CLOSE_BATCH) this.flushCloses();
  }

  /** Sends the pending Closes, ignoring a dead connection. */
  flushCloses(): void {
    const fds = this.#closing;
    this.#closing = [];
    if (fds.length === 0) return;
    try {
      this.client.close(fds);
    } catch {
      // The connection is gone (the Gofer dropped its FDs with it), or an id was already
      // gone: nothing is left to release.
    }
  }

  /**
   * Shared access: one request for a whole run of cached path components rather than a Walk
   * for each. A component still stands when the Gofer finds the same inode (number and type)
   * under its name; its attributes are refreshed from the same answer. A last name without a
   * dentry (null) is walked to in the same request: missing, it stands as missing; found, its
   * inode fills the entry.
   */
  override revalidate(
    dir: Inode,
    names: readonly string[],
    inodes: (Inode | null)[],
  ): number {
    if (!(dir instanceof GoferInode) || dir.fs !== this) return 0;
    const last = names.length - 1;
    const probe = inodes[last] === null;
    // Walk when a name may need its own control FD; WalkStat makes none.
    let nodes: { fd?: number; stat: Stat }[];
    let missing = false;
    try {
      if (probe) {
        const w = this.client.walk(dir.controlFd, names as string[]);
        nodes = w.inodes;
        missing = w.status === "missing";
      } else {
        nodes = this.client.walkStat(dir.controlFd, names as string[]).map((stat) => ({ stat }));
      }
    } catch {
      // Left to the lookups one by one, which answer the right errno.
      return 0;
    }
    let n = 0;
    for (; n < Math.min(nodes.length, last + (probe ? 0 : 1)); n++) {
      const ino = inodes[n], s = nodes[n].stat;
      if (!(ino instanceof GoferInode) || ino.fs !== this || ino.released) break;
      if (ino.ino !== s.ino || (ino.mode & S_IFMT) !== (s.mode & S_IFMT)) break;
      ino.refresh(s);
    }
    let adopted = -1;
    if (probe && n === last) {
      const parent = n === 0 ? dir : inodes[n - 1] as GoferInode;
      // A mountpoint the root lacks is not on the host but is there all the same.
      if (parent.synthetic.has(names[n])) {
        // Looked up again by the VFS.
      } else if (nodes.length === n && missing) {
        n++;
      } else if (nodes.length === n + 1) {
        inodes[n] = this.adopt(nodes[n] as { fd: number; stat: Stat });
        adopted = n++;
      }
    }
    // The control FDs of components the Sentry already holds go back.
    for (let i = 0; i < nodes.length; i++) {
      const fd = nodes[i].fd;
      if (fd !== undefined && i !== adopted) this.closeFd(fd);
    }
    return n;
  }

  /**
   * The inode of a file the Gofer walked to, owning its new control FD: the inode already
   * known for the same file (number and type), refreshed, with the FD given back; or a new one.
   */
  adopt(node: { fd: number; stat: Stat }): GoferInode {
    const known = this.inodes.get(node.stat.ino);
    if (known && (known.mode & S_IFMT) === (node.stat.mode & S_IFMT)) {
      // The same file again: keep the inode (and its control FD), refresh what may change.
      this.closeFd(node.fd);
      known.refresh(node.stat);
      return known;
    }
    const ino = new GoferInode(this, node.fd, node.stat);
    this.inodes.set(node.stat.ino, ino);
    return ino;
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
  #size = 0n;
  #blocks = 0n;
  #target?: string;
  /** Mountpoints the root lacks: directories that exist only in the Sentry. */
  readonly synthetic = new Map<string, Inode>();
  /** A socket bound here by an application in the sandbox. */
  endpoint: unknown = null;

  constructor(fs: GoferFilesystem, readonly controlFd: number, s: Stat) {
    super(fs, s.mode, s.uid, s.gid, s.ino);
    this.refresh(s);
  }

  /** Takes the attributes the Gofer reported. */
  refresh(s: Stat): void {
    this.mode = s.mode;
    this.uid = s.uid;
    this.gid = s.gid;
    this.nlink = s.nlink;
    this.rdev = s.rdev;
    this.#size = BigInt(s.size);
    this.#blocks = BigInt(s.blocks);
    this.atimeNs = s.atimeNs;
    this.mtimeNs = s.mtimeNs;
    this.ctimeNs = s.ctimeNs;
    this.#target = undefined;
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

  /**
   * Names known missing from this directory, kept with exclusive access (only the Sentry
   * changes the tree, and every change through it updates the set): looking a missing name up
   * again, as creating a file does first, costs no round trip.
   */
  #absent?: Set<string>;

  /** Notes that `name` is missing (exclusive access only). */
  #gone(name: string): void {
    if (!this.fs.cacheDentries) return;
    this.#absent ??= new Set();
    // A bound on memory, not a cache policy: starting over costs a round trip per name.
    if (this.#absent.size >= ABSENT_MAX) this.#absent.clear();
    this.#absent.add(name);
  }

  override lookup(name: string): Inode | null {
    if (!this.isDir) throw new SysError(Errno.ENOTDIR);
    const syn = this.synthetic.get(name);
    if (syn) return syn;
    if (this.#absent?.has(name)) return null;
    // A listing kept with exclusive access is complete: a name it lacks is missing, with no
    // round trip (an import system lists a directory, then probes many names absent from it).
    if (this.#listing && !this.#listedNames(this.#listing).has(name)) {
      this.#gone(name);
      return null;
    }
    let w;
    try {
      w = this.fs.client.walk(this.controlFd, [name]);
    } catch (e) {
      if (e instanceof LisafsError && e.errno === Errno.ENOENT) {
        this.#gone(name);
        return null;
      }
      sysErr(e);
    }
    if (w.status === "missing" || w.inodes.length === 0) {
      this.#gone(name);
      return null;
    }
    return this.fs.adopt(w.inodes[0]);
  }

  /**
   * The directory's listing, kept with exclusive access (only the Sentry changes the tree, and
   * every change through it drops the listing): listing a large directory again costs no
   * round trips to the Gofer.
   */
  #listing?: DirEntry[];

  /** The names of `listing`, made once for each listing kept. */
  #names?: { of: DirEntry[]; names: Set<string> };

  #listedNames(listing: DirEntry[]): Set<string> {
    if (this.#names?.of !== listing) {
      this.#names = { of: listing, names: new Set(listing.map((d) => d.name)) };
    }
    return this.#names.names;
  }

  override entries(): readonly DirEntry[] {
    const listed = this.#listing ?? this.#list();
    if (this.fs.cacheDentries) this.#listing = listed;
    // The cached array itself: a change to the directory drops it rather than editing it.
    if (this.synthetic.size === 0) return listed;
    const out = listed.filter((d) => !this.synthetic.has(d.name));
    for (const [name, i] of this.synthetic) {
      out.push({ name, ino: i.ino, type: direntType(i.mode) });
    }
    return out;
  }

  /** The directory's entries as the Gofer lists them, without "." and "..". */
  #list(): DirEntry[] {
    const out: DirEntry[] = [];
    let openFd;
    try {
      openFd = this.fs.client.openAt(this.controlFd, O_RDONLY).openFd;
    } catch (e) {
      sysErr(e);
    }
    try {
      for (;;) {
        // As much as one response can carry (the Gofer answers at most half a message of host
        // records, whose encoding is no larger): a large directory in one or two round trips.
        const ds = this.fs.client.getdents64(openFd, this.fs.client.maxMessageSize >> 1);
        if (ds.length === 0) break;
        for (const d of ds) {
          if (d.name === "." || d.name === "..") continue;
          out.push({ name: d.name, ino: d.ino, type: d.type });
        }
      }
    } catch (e) {
      sysErr(e);
    } finally {
      this.fs.closeFd(openFd);
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

  /**
   * Runs a Gofer call that changes the tree, turning its errors into errnos. `made` is a name
   * the call may create: it is no longer known missing, even if the call fails (it may have
   * got that far).
   */
  #change<T>(fn: () => T, made?: string): T {
    if (this.fs.readonly) throw new SysError(Errno.EROFS);
    this.#listing = undefined;
    if (made !== undefined) this.#absent?.delete(made);
    try {
      return fn();
    } catch (e) {
      sysErr(e);
    }
  }

  #child(n: { fd: number; stat: Stat }): GoferInode {
    this.mtimeNs = this.ctimeNs = nowNs();
    return new GoferInode(this.fs, n.fd, n.stat);
  }

  override mknod(name: string, mode: number, _rdev: number, c: Creds): Inode {
    const owner = { uid: c.uid, gid: c.gid };
    if ((mode & S_IFMT) !== S_IFREG) {
      return this.#child(
        this.#change(() => this.fs.client.mknodAt(this.controlFd, name, mode, owner), name),
      );
    }
    // A regular file is made open (O_RDWR serves every later open): creating a file to open
    // it, as open(O_CREAT) does, costs one round trip, not two.
    const made = this.#change(
      () => this.fs.client.openCreateAt(this.controlFd, name, O_RDWR, mode & 0o7777, owner),
      name,
    );
    this.fs.closeFd(made.openFd);
    const ino = this.#child(made.child);
    if (made.hostFd >= 0) ino.#keep(O_RDWR, made.hostFd);
    return ino;
  }
  override mkdir(name: string, mode: number, c: Creds): Inode {
    const d = this.#child(
      this.#change(
        () =>
          this.fs.client.mkdirAt(this.controlFd, name, mode & 0o7777, { uid: c.uid, gid: c.gid }),
        name,
      ),
    );
    this.nlink++;
    return d;
  }
  override symlink(name: string, target: string, c: Creds): Inode {
    return this.#child(
      this.#change(
        () => this.fs.client.symlinkAt(this.controlFd, name, target, { uid: c.uid, gid: c.gid }),
        name,
      ),
    );
  }
  override link(name: string, target: Inode): void {
    if (!(target instanceof GoferInode) || target.fs !== this.fs) {
      throw new SysError(Errno.EXDEV);
    }
    this.#change(() => this.fs.client.linkAt(this.controlFd, name, target.controlFd), name);
    target.nlink++;
    this.mtimeNs = this.ctimeNs = nowNs();
  }
  override unlink(name: string): void {
    this.#change(() => this.fs.client.unlinkAt(this.controlFd, name, 0));
    this.#gone(name);
    this.mtimeNs = this.ctimeNs = nowNs();
  }
  override unlinked(): void {
    if (this.nlink > 0) this.nlink--;
    // The last name gone: a kept host FD must not keep the host file's blocks alive (open
    // files hold their own duplicates).
    if (this.nlink === 0) {
      this.dropHostFds();
      this.#releaseIfUnused();
    }
  }

  /** Regular files open on this inode (an unlinked file's control FD lives until they close). */
  #opens = 0;
  /** The control FD was given back: the file is unlinked and nothing refers to it. */
  #released = false;
  get released(): boolean {
    return this.#released;
  }

  /**
   * Gives the control FD of an unlinked regular file nobody has open back to the Gofer. Held,
   * it would keep the deleted host file (and its blocks) alive, and hosts slow down as such
   * orphans pile up: on ext4 each create then costs a millisecond.
   */
  #releaseIfUnused(): void {
    if (this.nlink > 0 || this.#opens > 0 || this.#released) return;
    if ((this.mode & S_IFMT) !== S_IFREG) return;
    this.#released = true;
    if (this.fs.inodes.get(this.ino) === this) this.fs.inodes.delete(this.ino);
    this.fs.closeFd(this.controlFd);
  }

  /** Called when a regular file opened on this inode is closed. */
  fileClosed(): void {
    this.#opens--;
    this.#releaseIfUnused();
  }
  override rmdir(name: string): void {
    if (this.synthetic.has(name)) throw new SysError(Errno.EBUSY);
    this.#change(() => this.fs.client.unlinkAt(this.controlFd, name, AT_REMOVEDIR));
    this.#gone(name);
    this.nlink--;
    this.mtimeNs = this.ctimeNs = nowNs();
  }
  override rename(oldName: string, newDir: Inode, newName: string, exchange: boolean): void {
    if (!(newDir instanceof GoferInode) || newDir.fs !== this.fs) {
      throw new SysError(Errno.EXDEV);
    }
    newDir.#listing = undefined;
    newDir.#absent?.delete(newName);
    this.#change(() =>
      this.fs.client.renameAt(
        this.controlFd,
        oldName,
        newDir.controlFd,
        newName,
        exchange ? RENAME_EXCHANGE : 0,
      )
    );
    if (!exchange && (this !== newDir || oldName !== newName)) this.#gone(oldName);
    this.mtimeNs =
      this.ctimeNs =
      newDir.mtimeNs =
      newDir.ctimeNs =
        nowNs();
  }
  override truncate(size: bigint): void {
    this.setAttr({ size });
  }
  override setAttr(c: AttrChange): void {
    if (c.size !== undefined) {
      if (this.isDir) throw new SysError(Errno.EISDIR);
      if ((this.mode & S_IFMT) !== S_IFREG) throw new SysError(Errno.EINVAL);
    }
    const ts = (ns: bigint | undefined) =>
      ns === undefined ? undefined : { sec: ns / 1_000_000_000n, nsec: ns % 1_000_000_000n };
    const r = this.#change(() =>
      this.fs.client.setStat(this.controlFd, {
        mode: c.mode === undefined ? undefined : c.mode & 0o7777,
        uid: c.uid,
        gid: c.gid,
        size: c.size,
        atime: ts(c.atimeNs),
        mtime: ts(c.mtimeNs ?? (c.size !== undefined ? nowNs() : undefined)),
      })
    );
    if (r.failureMask !== 0) throw new SysError(r.failureErrno || Errno.EPERM);
    if (c.mode !== undefined) this.mode = (this.mode & S_IFMT) | (c.mode & 0o7777);
    if (c.uid !== undefined) this.uid = c.uid;
    if (c.gid !== undefined) this.gid = c.gid;
    if (c.size !== undefined) {
      // The cut pages leave every mapping before the cache zeroes them.
      this.mappers.shrunk(c.size, PAGE_SIZE);
      this.#cache?.grow(this.#size, c.size);
      this.#size = c.size;
      this.#cache?.truncate(c.size);
    }
    if (c.atimeNs !== undefined) this.atimeNs = c.atimeNs;
    if (c.mtimeNs !== undefined) this.mtimeNs = c.mtimeNs;
    else if (c.size !== undefined) this.mtimeNs = nowNs();
    this.ctimeNs = nowNs();
  }

  override getxattr(name: string): Uint8Array {
    try {
      return this.fs.client.getXattr(this.controlFd, name, 65536);
    } catch (e) {
      sysErr(e);
    }
  }
  override listxattr(): string[] {
    try {
      return this.fs.client.listXattr(this.controlFd, 65536);
    } catch (e) {
      if (e instanceof LisafsError && e.errno === Errno.EOPNOTSUPP) return [];
      sysErr(e);
    }
  }
  override setxattr(name: string, value: Uint8Array, flags: number): void {
    this.#change(() =>
      this.fs.client.setXattr(this.controlFd, name, value as Uint8Array<ArrayBuffer>, flags)
    );
  }
  override removexattr(name: string): void {
    this.#change(() => this.fs.client.removeXattr(this.controlFd, name));
  }

  /** The page cache of the file while MAP_SHARED mappings use it (page_cache.ts). */
  #cache?: PageCache;
  /** The address spaces that map the file's pages. */
  readonly mappers = new FileMappers();
  /** Host FDs the page cache reads and writes back through, owned by it. */
  #cacheFds = { read: -1, write: -1 };

  get cache(): PageCache | undefined {
    return this.#cache;
  }

  /** The file's page cache, made on its first use by a shared mapping. */
  pageCache(mf: MemoryFile): PageCache {
    if (this.#cache) return this.#cache;
    const fds = this.#cacheFds;
    fds.read = this.openHost(O_RDONLY);
    this.#cache = new PageCache(mf, {
      readAt: (off, dst) => preadHost(fds.read, dst, off),
      // Write access is asked for only when a writable shared mapping writes back, and such a
      // mapping exists only for a description opened for writing.
      writeAt: (off, src) => {
        if (fds.write < 0) fds.write = this.openHost(O_RDWR);
        return pwriteHost(fds.write, src, off);
      },
      size: () => hostSize(fds.read) ?? this.#size,
    }, () => {
      closeFd(fds.read);
      if (fds.write >= 0) closeFd(fds.write);
      fds.read = fds.write = -1;
      this.#cache = undefined;
    });
    return this.#cache;
  }

  /** Reads the file at off from the host (what the page cache does not hold). */
  readHost(off: bigint, dst: Uint8Array<ArrayBuffer>): number {
    if (this.#cacheFds.read >= 0) return preadHost(this.#cacheFds.read, dst, off);
    const fd = this.openHost(O_RDONLY);
    try {
      return preadHost(fd, dst, off);
    } finally {
      closeFd(fd);
    }
  }

  /**
   * Host FDs the Gofer donated, by access mode (O_RDONLY, O_WRONLY, O_RDWR), kept so that
   * opening the file again costs a dup instead of a round trip. They name the host inode, not
   * a path: with shared access a file replaced on the host is a new inode (lookups compare
   * inode numbers), and data changed on the host is read through the same FD.
   */
  readonly #hostFds = [-1, -1, -1];

  /** Closes the kept host FDs (the files opened from them hold their own duplicates). */
  dropHostFds(): void {
    let n = 0;
    for (let i = 0; i < this.#hostFds.length; i++) {
      if (this.#hostFds[i] < 0) continue;
      closeFd(this.#hostFds[i]);
      this.#hostFds[i] = -1;
      n++;
    }
    this.fs.droppedHostFds(this, n);
  }

  /** Keeps `hostFd` (owned from now on) as the host FD of access mode `acc`. */
  #keep(acc: number, hostFd: number): void {
    const had = this.#hostFds[acc] >= 0;
    if (had) closeFd(this.#hostFds[acc]);
    this.#hostFds[acc] = hostFd;
    this.fs.keepsHostFds(this, had ? 0 : 1);
  }

  /** A host FD of the file open with `flags`' access mode, owned by the caller. */
  openHost(flags: number): number {
    const acc = flags & O_ACCMODE;
    let kept = this.#hostFds[acc];
    if (kept === undefined) throw new SysError(Errno.EINVAL);
    if (kept < 0 && acc !== O_RDWR) kept = this.#hostFds[O_RDWR];
    if (kept < 0) {
      let opened;
      try {
        opened = this.fs.client.openAt(this.controlFd, acc);
      } catch (e) {
        sysErr(e);
      }
      this.fs.closeFd(opened.openFd);
      if (opened.hostFd < 0) throw new SysError(Errno.EIO, "the gofer donated no host file");
      this.#keep(acc, opened.hostFd);
      kept = opened.hostFd;
    } else {
      this.fs.keepsHostFds(this, 0);
    }
    try {
      return dupCloexec(kept);
    } catch (e) {
      if (e instanceof HostError) throw new SysError(e.errno);
      throw e;
    }
  }

  open(t: Task, vd: VirtualDentry, flags: number): MaybeAsync<FileDescription> {
    switch (this.mode & S_IFMT) {
      case S_IFREG: {
        const f = new GoferFile(this, new HostData(this.openHost(flags), this), vd, flags);
        this.#opens++;
        return f;
      }
      case S_IFDIR:
        return new DirectoryFile(this, vd, flags);
      case S_IFCHR:
        return openDevice(t, this, vd, flags);
      default:
        throw new SysError(Errno.ENXIO);
    }
  }
}

/** An empty file made in the Sentry for a file bind mount's mountpoint the root lacks. */
export class SyntheticFile extends Inode {
  constructor(fs: Filesystem) {
    super(fs, S_IFREG | 0o644);
  }
  open(): FileDescription {
    throw new SysError(Errno.ENOENT);
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

/**
 * Runs a host call on a file the application reaches; the host's error (EINVAL for an offset
 * past what the host file system takes, EIO, ENOSPC...) is the application's answer.
 */
function onHost<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    if (e instanceof HostError) throw new SysError(e.errno);
    throw e;
  }
}

/** pread(2) of the host file; returns the bytes read. Throws SysError. */
function preadHost(fd: number, dst: Uint8Array<ArrayBuffer>, off: bigint): number {
  return onHost(() => pread(fd, dst, off));
}

/** pwrite(2) of the host file; returns the bytes written. Throws SysError. */
function pwriteHost(fd: number, src: Uint8Array<ArrayBuffer>, off: bigint): number {
  return onHost(() => pwrite(fd, src, off));
}

/** The size of the host file open as fd, or null when fstat fails. */
function hostSize(fd: number): bigint | null {
  try {
    return BigInt(fstat(fd).size);
  } catch {
    return null;
  }
}

/**
 * Data of a gofer file through its donated host FD, and through the file's page cache while
 * shared mappings use one (so that read(2) and write(2) agree with them).
 */
export class HostData implements RegularData {
  constructor(readonly hostFd: number, readonly inode: GoferInode) {}

  readAt(off: bigint, dst: Uint8Array<ArrayBuffer>): number {
    const cache = this.inode.cache;
    if (cache) return cache.readAt(off, dst);
    return preadHost(this.hostFd, dst, off);
  }

  writeAt(off: bigint, src: Uint8Array<ArrayBuffer>): number {
    const before = this.inode.size();
    const n = pwriteHost(this.hostFd, src, off);
    this.inode.cache?.grow(before, off + BigInt(n));
    this.inode.cache?.update(off, src.subarray(0, n));
    if (off + BigInt(n) > this.inode.size()) this.inode.setSize(off + BigInt(n));
    this.inode.mtimeNs = nowNs();
    return n;
  }

  size(): bigint {
    const n = hostSize(this.hostFd);
    if (n === null) return this.inode.size();
    this.inode.setSize(n);
    return n;
  }

  /** The description was closed: its host FD is gone. */
  closed = false;

  mappable(mf: MemoryFile): Mappable {
    const ino = this.inode;
    // A mapping may grow (mremap) after the description is closed: then the inode reads.
    return cachedMappable(
      () => ino.pageCache(mf),
      () => ino.cache,
      (off, dst) => this.closed ? ino.readHost(off, dst) : preadHost(this.hostFd, dst, off),
      () => this.closed ? ino.size() : this.size(),
      ino.mappers,
    );
  }
}

class GoferFile extends RegularFile {
  constructor(inode: GoferInode, readonly host: HostData, vd: VirtualDentry, flags: number) {
    super(inode, host, vd, flags);
  }
  override release(): void {
    this.host.closed = true;
    closeFd(this.host.hostFd);
    this.host.inode.fileClosed();
  }
}
