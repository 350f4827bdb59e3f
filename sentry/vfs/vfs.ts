/**
 * The virtual filesystem: dentries, mounts and path resolution, and the path-based operations
 * (open, mkdir, unlink, rename...) built on them.
 *
 * A Dentry names an Inode inside one filesystem; a Mount attaches a filesystem's root dentry
 * on a dentry of its parent mount; a VirtualDentry is the pair (mount, dentry) that says where
 * a file was reached, so that `..` and getcwd cross mounts correctly.
 *
 * Resolution walks one component at a time: it checks search permission on every directory,
 * follows symlinks (at most 40 per walk, ELOOP beyond), crosses into mounts, and never climbs
 * above the caller's root.
 *
 * @module
 */

import { CAP } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  checkPermission,
  type Creds,
  credsOf,
  type Filesystem,
  hasCap,
  type Inode,
  isOwner,
  MAY_EXEC,
  MAY_READ,
  MAY_WRITE,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  S_ISVTX,
} from "./inode.ts";
import { IN_OPEN, notify, notifyCreate, notifyDelete, notifyRename, notifyVd } from "./inotify.ts";
import {
  type FileDescription,
  type MaybeAsync,
  O_ACCMODE,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_TMPFILE,
  O_TRUNC,
  O_WRONLY,
  PathFile,
} from "./file.ts";
import { byteLength } from "../../host/utf8b.ts";

export const PATH_MAX = 4096;
export const NAME_MAX = 255;
export const MAXSYMLINKS = 40;

/** A name for an inode in the tree of one filesystem. */
export class Dentry {
  readonly children = new Map<string, Dentry>();
  /** Set once unlinked or replaced: getcwd and /proc links say "(deleted)". */
  deleted = false;
  /** Mounts on this dentry (a count: a dentry that is a mountpoint cannot be removed). */
  mounts = 0;

  constructor(public name: string, public parent: Dentry | null, public inode: Inode) {}
}

/** Per-mount options. */
export interface MountOptions {
  readonly?: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
  /** What /proc/mounts shows as the source. */
  source?: string;
  /** Options shown in /proc/mounts besides rw/ro. */
  extra?: string[];
  /** Not in the tree (memfd, pipes): paths show from the mount's root without a prefix. */
  anonymous?: boolean;
}

/** A filesystem attached to the tree. */
export class Mount {
  /** Mounts attached on dentries of this mount, by mountpoint. */
  readonly children = new Map<Dentry, Mount>();
  readonly id: number;
  static #nextId = 1;

  constructor(
    readonly fs: Filesystem,
    readonly root: Dentry,
    readonly parent: Mount | null,
    readonly mountpoint: Dentry | null,
    readonly opts: MountOptions,
  ) {
    this.id = Mount.#nextId++;
  }

  get readonly(): boolean {
    return !!this.opts.readonly || this.fs.readonly;
  }
}

/** Where a file was reached: a dentry in a mount. */
export class VirtualDentry {
  constructor(readonly mount: Mount, readonly dentry: Dentry) {}

  get inode(): Inode {
    return this.dentry.inode;
  }

  equals(o: VirtualDentry): boolean {
    return this.mount === o.mount && this.dentry === o.dentry;
  }
}

/** The parent directory of vd, crossing mounts; the tree's root is its own parent. */
export function parentOf(vd: VirtualDentry, root?: VirtualDentry): VirtualDentry {
  let cur = vd;
  if (root && cur.equals(root)) return cur;
  while (cur.dentry === cur.mount.root && cur.mount.parent && cur.mount.mountpoint) {
    cur = new VirtualDentry(cur.mount.parent, cur.mount.mountpoint);
    if (root && cur.equals(root)) return cur;
  }
  const p = cur.dentry.parent;
  return p ? new VirtualDentry(cur.mount, p) : cur;
}

/** What a walk starts from and who walks. */
export interface ResolveContext {
  t: Task;
  root: VirtualDentry;
  /** Where relative paths start. */
  start: VirtualDentry;
  creds: Creds;
  /** openat2's RESOLVE_* restrictions, when any. */
  restrict?: ResolveRestrictions;
}

/** openat2(2)'s RESOLVE_* flags, as the walk enforces them. */
export interface ResolveRestrictions {
  /** RESOLVE_BENEATH: never leave `start` (absolute paths, "..", absolute links: EXDEV). */
  beneath?: boolean;
  /** RESOLVE_IN_ROOT: the root is the starting directory; magic links are refused (EXDEV). */
  inRoot?: boolean;
  /** RESOLVE_NO_XDEV: never cross a mount (EXDEV). */
  noXdev?: boolean;
  /** RESOLVE_NO_MAGICLINKS: no /proc magic links (ELOOP). */
  noMagicLinks?: boolean;
  /** RESOLVE_NO_SYMLINKS: no symlinks at all (ELOOP). */
  noSymlinks?: boolean;
}

export interface ResolveOptions {
  /** Follow a symlink in the last component. */
  follow: boolean;
  /** The caller requires a directory (a trailing slash implies this too). */
  directory?: boolean;
}

/** The result of resolving all but the last component. */
export interface ParentResult {
  parent: VirtualDentry;
  /** The last component ("" for "/", or "." / ".." as given). */
  name: string;
  /** The path ended with a slash. */
  trailingSlash: boolean;
  /**
   * The walk revalidated `name` in the parent together with the parent's path (shared gofer
   * mounts): its cached dentry stands as it is, or, with none, the name is missing.
   */
  fresh: boolean;
}

function checkPathLength(path: string): void {
  if (path === "") throw new SysError(Errno.ENOENT);
  // PATH_MAX counts the terminating NUL; copyInString counts bytes, so compare bytes too.
  if (byteLength(path) >= PATH_MAX) throw new SysError(Errno.ENAMETOOLONG);
}

/** The mount tree and every path-based operation. */
export class VirtualFilesystem {
  readonly mounts: Mount[] = [];
  rootMount!: Mount;

  /** Mounts fs as the root of the tree. */
  mountRoot(fs: Filesystem, opts: MountOptions): VirtualDentry {
    const root = new Dentry("/", null, fs.root());
    this.rootMount = new Mount(fs, root, null, null, opts);
    this.mounts.push(this.rootMount);
    return new VirtualDentry(this.rootMount, root);
  }

  /** The root of the tree. */
  get root(): VirtualDentry {
    return new VirtualDentry(this.rootMount, this.rootMount.root);
  }

  /**
   * Mounts fs on the directory at; `root` is the dentry to show there (a bind mount of a
   * subtree), the filesystem's root by default.
   */
  mountAt(fs: Filesystem, at: VirtualDentry, opts: MountOptions, root?: Dentry): Mount {
    const top = root ?? new Dentry(at.dentry.name, null, fs.root());
    // Directories mount on directories, files on non-directories.
    if (at.inode.isDir !== top.inode.isDir) throw new SysError(Errno.ENOTDIR);
    const m = new Mount(fs, top, at.mount, at.dentry, opts);
    at.mount.children.set(at.dentry, m);
    at.dentry.mounts++;
    this.mounts.push(m);
    return m;
  }

  /** Unmounts the mount whose root vd is. Throws EINVAL (not a mount root), EBUSY. */
  umount(vd: VirtualDentry): void {
    const m = vd.mount;
    if (vd.dentry !== m.root || !m.parent || !m.mountpoint) throw new SysError(Errno.EINVAL);
    if (m.children.size > 0) throw new SysError(Errno.EBUSY);
    if (m.parent.children.get(m.mountpoint) === m) m.parent.children.delete(m.mountpoint);
    m.mountpoint.mounts--;
    const i = this.mounts.indexOf(m);
    if (i >= 0) this.mounts.splice(i, 1);
  }

  /** The topmost mount's root above vd, if something is mounted there. */
  #crossMounts(vd: VirtualDentry): VirtualDentry {
    let cur = vd;
    for (;;) {
      if (cur.dentry.mounts === 0) return cur;
      const m = cur.mount.children.get(cur.dentry);
      if (!m) return cur;
      cur = new VirtualDentry(m, m.root);
    }
  }

  /**
   * The child `name` of directory dir, crossing into mounts; null if there is none. The caller
   * has checked search permission.
   */
  lookupChild(dir: VirtualDentry, name: string, fresh = false): VirtualDentry | null {
    const d = dir.dentry;
    let child = d.children.get(name);
    // Revalidated without a dentry: the filesystem has just found the name missing.
    if (!child && fresh) return null;
    // Filesystems that revalidate (procfs, shared gofer mounts) look up again, except at
    // mountpoints, which stay pinned, and children the walk has just revalidated (fresh).
    if (!child || (!fresh && !dir.mount.fs.cacheDentries && child.mounts === 0)) {
      const ino = d.inode.lookup(name);
      if (!ino) {
        if (child && child.mounts === 0) d.children.delete(name);
        return null;
      }
      if (!child || child.inode !== ino) {
        child = new Dentry(name, d, ino);
        d.children.set(name, child);
      }
    }
    return this.#crossMounts(new VirtualDentry(dir.mount, child));
  }

  /**
   * Revalidates at once the cached dentries that the next components of `pending` (a reversed
   * path, next component last) lead to from `cur`, for a filesystem that does not cache
   * lookups: one request to a shared gofer mount instead of one per component. `next` is the
   * name the caller looks up in the directory the path leads to (resolveParent's last one).
   * The last name, when it has no dentry, rides along: the same request tells whether it is
   * missing (filesystem.revalidate). Returns how many of the next components (then `next`)
   * may use their cached dentry, or lack of one, as they are.
   */
  #revalidateAhead(cur: VirtualDentry, pending: readonly string[], next?: string): number {
    const names: string[] = [];
    const inodes: (Inode | null)[] = [];
    let d = cur.dentry;
    // The name without a dentry, asked about after the cached ones (alone, asking is the
    // lookup itself); it is looked up in `d`.
    let unknown: string | undefined;
    const probe = (name: string) => {
      const child = d.children.get(name);
      if (!child) {
        if (names.length > 0) names.push(unknown = name), inodes.push(null);
        return false;
      }
      // A mountpoint is kept without revalidation and leads into another filesystem.
      if (child.mounts > 0) return false;
      names.push(name);
      inodes.push(child.inode);
      if (!child.inode.isDir) return false;
      d = child;
      return true;
    };
    let i = pending.length - 1;
    for (; i >= 0; i--) {
      const name = pending[i];
      if (name === "" || name === "." || name === "..") break;
      // An unknown name in the middle would end the run anyway: it is not asked about.
      if (!d.children.has(name) && (i > 0 || next !== undefined)) break;
      if (!probe(name)) break;
    }
    if (i < 0 && next !== undefined && next !== "" && next !== "." && next !== "..") probe(next);
    if (names.length === 0) return 0;
    const n = cur.mount.fs.revalidate(cur.dentry.inode, names, inodes);
    // Found by the same request: its dentry is what the walk then uses.
    const found = inodes[names.length - 1];
    if (unknown !== undefined && n === names.length && found) {
      d.children.set(unknown, new Dentry(unknown, d, found));
    }
    return n;
  }

  /** Records a child just created in dir; returns where it is. */
  #added(dir: VirtualDentry, name: string, ino: Inode): VirtualDentry {
    const child = new Dentry(name, dir.dentry, ino);
    dir.dentry.children.set(name, child);
    return new VirtualDentry(dir.mount, child);
  }

  /** Forgets a child just removed from dir. */
  #removed(dir: VirtualDentry, name: string): void {
    const d = dir.dentry.children.get(name);
    if (d) {
      d.deleted = true;
      dir.dentry.children.delete(name);
    }
  }

  /**
   * Walks `components` from `cur`. Symlinks met in the middle are always followed; the last
   * one only when follow. `links` counts symlinks followed so far in this resolution.
   */
  #walk(
    ctx: ResolveContext,
    cur: VirtualDentry,
    components: string[],
    follow: boolean,
    links: { n: number },
    next?: { name: string; fresh: boolean },
  ): VirtualDentry {
    const pending = components.slice().reverse();
    const r = ctx.restrict;
    const move = (to: VirtualDentry) => {
      if (r?.noXdev && to.mount !== cur.mount) throw new SysError(Errno.EXDEV);
      cur = to;
    };
    // How many of the next components were revalidated together (shared gofer mounts).
    let fresh = 0;
    while (pending.length > 0) {
      if (fresh === 0 && !cur.mount.fs.cacheDentries) {
        fresh = this.#revalidateAhead(cur, pending, next?.name);
      }
      const name = pending.pop()!;
      const trusted = fresh > 0;
      if (trusted) fresh--;
      if (name === "" || name === ".") {
        if (!cur.inode.isDir) throw new SysError(Errno.ENOTDIR);
        continue;
      }
      if (!cur.inode.isDir) throw new SysError(Errno.ENOTDIR);
      checkPermission(ctx.creds, cur.inode, MAY_EXEC);
      if (name === "..") {
        if (r?.beneath && cur.mount === ctx.start.mount && cur.dentry === ctx.start.dentry) {
          throw new SysError(Errno.EXDEV);
        }
        move(parentOf(cur, ctx.root));
        continue;
      }
      if (name.length > NAME_MAX && byteLength(name) > NAME_MAX) {
        throw new SysError(Errno.ENAMETOOLONG);
      }
      const child = this.lookupChild(cur, name, trusted);
      if (!child) throw new SysError(Errno.ENOENT);
      const last = pending.length === 0;
      if (child.inode.isSymlink && (!last || follow)) {
        if (r?.noSymlinks) throw new SysError(Errno.ELOOP);
        if (++links.n > MAXSYMLINKS) throw new SysError(Errno.ELOOP);
        const magic = child.inode.magicLink(ctx.t);
        if (magic) {
          if (r?.noMagicLinks) throw new SysError(Errno.ELOOP);
          if (r?.beneath || r?.inRoot) throw new SysError(Errno.EXDEV);
          move(magic);
          continue;
        }
        const target = child.inode.readlink(ctx.t);
        if (target === "") throw new SysError(Errno.ENOENT);
        const parts = target.split("/");
        if (target.startsWith("/")) {
          if (r?.beneath) throw new SysError(Errno.EXDEV);
          move(ctx.root);
        }
        for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]);
        continue;
      }
      move(child);
    }
    // What is left of the last run is `next`, revalidated with the rest.
    if (next) next.fresh = fresh > 0;
    return cur;
  }

  /** Resolves path to the file it names. Throws ENOENT, ENOTDIR, ELOOP, EACCES... */
  resolve(ctx: ResolveContext, path: string, opts: ResolveOptions): VirtualDentry {
    checkPathLength(path);
    if (ctx.restrict?.beneath && path.startsWith("/")) throw new SysError(Errno.EXDEV);
    const start = path.startsWith("/") ? ctx.root : ctx.start;
    const trailing = path.endsWith("/");
    const vd = this.#walk(ctx, start, path.split("/"), opts.follow || trailing, { n: 0 });
    if ((trailing || opts.directory) && !vd.inode.isDir) throw new SysError(Errno.ENOTDIR);
    return vd;
  }

  /** Resolves all but the last component of path. */
  resolveParent(ctx: ResolveContext, path: string): ParentResult {
    checkPathLength(path);
    const trailingSlash = /[^/]\/+$/.test(path);
    const trimmed = path.replace(/\/+$/, "");
    const cut = trimmed.lastIndexOf("/");
    const name = trimmed.slice(cut + 1);
    const dirPath = cut < 0 ? "" : trimmed.slice(0, cut + 1);
    if (ctx.restrict?.beneath && path.startsWith("/")) throw new SysError(Errno.EXDEV);
    const start = path.startsWith("/") ? ctx.root : ctx.start;
    const next = { name, fresh: false };
    // Empty components only say "a directory", which the parent's check below says too; left
    // out, the walk's last run reaches `name`.
    const parent = dirPath === ""
      ? start
      : this.#walk(ctx, start, dirPath.split("/").filter((c) => c !== ""), true, { n: 0 }, next);
    if (!parent.inode.isDir) throw new SysError(Errno.ENOTDIR);
    if (name.length > NAME_MAX && byteLength(name) > NAME_MAX) {
      throw new SysError(Errno.ENAMETOOLONG);
    }
    return { parent, name, trailingSlash, fresh: next.fresh };
  }

  /** The path of vd as seen from root ("(unreachable)" prefix if outside it). */
  pathOf(vd: VirtualDentry, root: VirtualDentry): string {
    const parts: string[] = [];
    let cur = vd;
    for (let i = 0; i < 10000; i++) {
      if (cur.equals(root)) break;
      if (cur.dentry === cur.mount.root) {
        if (!cur.mount.parent || !cur.mount.mountpoint) {
          if (cur.mount.opts.anonymous) return "/" + parts.reverse().join("/");
          return "(unreachable)/" + parts.reverse().join("/");
        }
        cur = new VirtualDentry(cur.mount.parent, cur.mount.mountpoint);
        continue;
      }
      parts.push(cur.dentry.name);
      cur = new VirtualDentry(cur.mount, cur.dentry.parent!);
    }
    return "/" + parts.reverse().join("/");
  }

  /** Checks that a change under dir is allowed: write and search permission, writable mount. */
  #mayModify(ctx: ResolveContext, dir: VirtualDentry): void {
    checkPermission(ctx.creds, dir.inode, MAY_WRITE | MAY_EXEC);
    if (dir.mount.readonly) throw new SysError(Errno.EROFS);
  }

  /** The sticky-bit rule: in a sticky directory only owners remove or rename entries. */
  #mayDelete(ctx: ResolveContext, dir: VirtualDentry, victim: Inode): void {
    this.#mayModify(ctx, dir);
    if (
      (dir.inode.mode & S_ISVTX) && ctx.creds.uid !== victim.uid &&
      ctx.creds.uid !== dir.inode.uid && !hasCap(ctx.creds, CAP.FOWNER)
    ) throw new SysError(Errno.EPERM);
  }

  /** Implements the path part of open(2): creates, resolves, checks access, truncates, opens. */
  open(
    ctx: ResolveContext,
    path: string,
    flags: number,
    mode: number,
    umask: number,
  ): MaybeAsync<FileDescription> {
    let vd: VirtualDentry;
    let created = false;
    if ((flags & O_TMPFILE) === O_TMPFILE) return this.#openTmpfile(ctx, path, flags, mode, umask);
    if (flags & O_CREAT) {
      const p = this.resolveParent(ctx, path);
      if (p.name === "" || p.name === "." || p.name === "..") throw new SysError(Errno.EISDIR);
      checkPermission(ctx.creds, p.parent.inode, MAY_EXEC);
      const child = this.lookupChild(p.parent, p.name, p.fresh);
      if (!child) {
        if (p.trailingSlash) throw new SysError(Errno.EISDIR);
        this.#mayModify(ctx, p.parent);
        const ino = p.parent.inode.mknod(
          p.name,
          S_IFREG | (mode & 0o7777 & ~umask),
          0,
          ctx.creds,
        );
        vd = this.#added(p.parent, p.name, ino);
        created = true;
        notifyCreate(p.parent.inode, p.name, ino);
      } else {
        if (flags & O_EXCL) throw new SysError(Errno.EEXIST);
        if (child.inode.isSymlink) {
          if (flags & O_NOFOLLOW) throw new SysError(Errno.ELOOP);
          vd = this.resolve(ctx, path, { follow: true });
        } else {
          vd = child;
        }
        if (vd.inode.isDir) throw new SysError(Errno.EISDIR);
      }
    } else {
      vd = this.resolve(ctx, path, {
        follow: !(flags & O_NOFOLLOW),
        directory: (flags & O_DIRECTORY) !== 0,
      });
      if (vd.inode.isSymlink && !(flags & O_PATH)) throw new SysError(Errno.ELOOP);
    }
    return this.openAt(ctx, vd, flags, created);
  }

  static #tmpSeq = 0;

  /**
   * O_TMPFILE: an unnamed regular file in the directory path names, made as a hidden name
   * that is removed once open. linkat(AT_EMPTY_PATH) can give it a name unless O_EXCL.
   */
  async #openTmpfile(
    ctx: ResolveContext,
    path: string,
    flags: number,
    mode: number,
    umask: number,
  ): Promise<FileDescription> {
    const dir = this.resolve(ctx, path, { follow: true, directory: true });
    this.#mayModify(ctx, dir);
    const name = `.runsc-tmpfile-${VirtualFilesystem.#tmpSeq++}`;
    const ino = dir.inode.mknod(name, S_IFREG | (mode & 0o7777 & ~umask), 0, ctx.creds);
    const d = new Dentry(`#${ino.ino}`, dir.dentry, ino);
    let f: FileDescription;
    try {
      f = await ino.open(ctx.t, new VirtualDentry(dir.mount, d), flags & ~(O_TMPFILE | O_CREAT));
    } finally {
      dir.inode.unlink(name);
      ino.unlinked();
    }
    d.deleted = true;
    (ino as { linkable?: boolean }).linkable = (flags & O_EXCL) === 0;
    return f;
  }

  /** Opens a resolved file: access checks, O_TRUNC, then the inode's own open. */
  openAt(
    ctx: ResolveContext,
    vd: VirtualDentry,
    flags: number,
    created = false,
  ): MaybeAsync<FileDescription> {
    const ino = vd.inode;
    if ((flags & O_DIRECTORY) && !ino.isDir) throw new SysError(Errno.ENOTDIR);
    if (flags & O_PATH) return new PathFile(ino, vd, flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW));
    const acc = flags & O_ACCMODE;
    const write = acc === O_WRONLY || acc === O_RDWR;
    if (ino.isDir && (write || acc === 3)) throw new SysError(Errno.EISDIR);
    if (!created) {
      let may = 0;
      if (acc === O_RDONLY || acc === O_RDWR) may |= MAY_READ;
      if (write) may |= MAY_WRITE;
      if ((flags & O_TRUNC) && !write) may |= MAY_WRITE;
      checkPermission(ctx.creds, ino, may);
    }
    const type = ino.mode & S_IFMT;
    if ((write || (flags & O_TRUNC)) && vd.mount.readonly && (type === S_IFREG || ino.isDir)) {
      throw new SysError(Errno.EROFS);
    }
    if ((flags & O_TRUNC) && type === S_IFREG && !created && ino.size() !== 0n) {
      ino.setAttr({ size: 0n });
    }
    const f = ino.open(ctx.t, vd, flags & ~(O_CREAT | O_EXCL | O_TRUNC));
    if (f instanceof Promise) return f.then((f) => (notifyVd(vd, IN_OPEN), f));
    notifyVd(vd, IN_OPEN);
    return f;
  }

  /** mkdir(2). */
  mkdir(ctx: ResolveContext, path: string, mode: number, umask: number): void {
    const p = this.resolveParent(ctx, path);
    if (p.name === "" || p.name === "." || p.name === "..") throw new SysError(Errno.EEXIST);
    checkPermission(ctx.creds, p.parent.inode, MAY_EXEC);
    if (this.lookupChild(p.parent, p.name, p.fresh)) throw new SysError(Errno.EEXIST);
    this.#mayModify(ctx, p.parent);
    const ino = p.parent.inode.mkdir(p.name, S_IFDIR | (mode & 0o7777 & ~umask), ctx.creds);
    this.#added(p.parent, p.name, ino);
    notifyCreate(p.parent.inode, p.name, ino);
  }

  /** mknod(2) for regular files, FIFOs, sockets and devices (type in mode). */
  mknod(ctx: ResolveContext, path: string, mode: number, rdev: number, umask: number): Inode {
    const p = this.resolveParent(ctx, path);
    if (p.name === "" || p.name === "." || p.name === "..") throw new SysError(Errno.EEXIST);
    if (p.trailingSlash) throw new SysError(Errno.ENOENT);
    checkPermission(ctx.creds, p.parent.inode, MAY_EXEC);
    if (this.lookupChild(p.parent, p.name, p.fresh)) throw new SysError(Errno.EEXIST);
    this.#mayModify(ctx, p.parent);
    const ino = p.parent.inode.mknod(
      p.name,
      (mode & S_IFMT) | (mode & 0o7777 & ~umask),
      rdev,
      ctx.creds,
    );
    this.#added(p.parent, p.name, ino);
    notifyCreate(p.parent.inode, p.name, ino);
    return ino;
  }

  /** symlink(2). */
  symlink(ctx: ResolveContext, target: string, path: string): void {
    if (target === "") throw new SysError(Errno.ENOENT);
    if (target.length >= PATH_MAX) throw new SysError(Errno.ENAMETOOLONG);
    const p = this.resolveParent(ctx, path);
    if (p.name === "" || p.name === "." || p.name === "..") throw new SysError(Errno.EEXIST);
    checkPermission(ctx.creds, p.parent.inode, MAY_EXEC);
    if (this.lookupChild(p.parent, p.name, p.fresh)) throw new SysError(Errno.EEXIST);
    if (p.trailingSlash) throw new SysError(Errno.ENOENT);
    this.#mayModify(ctx, p.parent);
    const ino = p.parent.inode.symlink(p.name, target, ctx.creds);
    this.#added(p.parent, p.name, ino);
    notifyCreate(p.parent.inode, p.name, ino);
  }

  /** link(2): oldVd is the resolved existing file. */
  link(ctx: ResolveContext, oldVd: VirtualDentry, newPath: string): void {
    const p = this.resolveParent(ctx, newPath);
    if (p.name === "" || p.name === "." || p.name === "..") throw new SysError(Errno.EEXIST);
    checkPermission(ctx.creds, p.parent.inode, MAY_EXEC);
    if (this.lookupChild(p.parent, p.name, p.fresh)) throw new SysError(Errno.EEXIST);
    if (oldVd.inode.isDir) throw new SysError(Errno.EPERM);
    if (p.trailingSlash) throw new SysError(Errno.ENOENT);
    if (oldVd.mount !== p.parent.mount) throw new SysError(Errno.EXDEV);
    this.#mayModify(ctx, p.parent);
    p.parent.inode.link(p.name, oldVd.inode);
    this.#added(p.parent, p.name, oldVd.inode);
    notify(oldVd.inode, 0x4 /* IN_ATTRIB */);
    notifyCreate(p.parent.inode, p.name, oldVd.inode);
  }

  /** unlink(2) and rmdir(2). */
  remove(ctx: ResolveContext, path: string, dir: boolean): void {
    const p = this.resolveParent(ctx, path);
    if (dir) {
      if (p.name === ".") throw new SysError(Errno.EINVAL);
      if (p.name === "..") throw new SysError(Errno.ENOTEMPTY);
      if (p.name === "") throw new SysError(Errno.EBUSY);
    } else if (p.name === "" || p.name === "." || p.name === "..") {
      throw new SysError(p.name === "" ? Errno.EISDIR : Errno.EISDIR);
    }
    checkPermission(ctx.creds, p.parent.inode, MAY_EXEC);
    const child = this.#lookupNoCross(p.parent, p.name, p.fresh);
    if (!child) throw new SysError(Errno.ENOENT);
    if (dir && !child.inode.isDir) throw new SysError(Errno.ENOTDIR);
    if (!dir && child.inode.isDir) throw new SysError(Errno.EISDIR);
    if (!dir && p.trailingSlash) throw new SysError(Errno.ENOTDIR);
    this.#mayDelete(ctx, p.parent, child.inode);
    if (child.mounts > 0 || (dir && this.#isRootOfSomething(p.parent, child))) {
      throw new SysError(Errno.EBUSY);
    }
    if (dir) p.parent.inode.rmdir(p.name);
    else {
      p.parent.inode.unlink(p.name);
      child.inode.unlinked();
    }
    this.#removed(p.parent, p.name);
    notifyDelete(p.parent.inode, p.name, child.inode);
  }

  #isRootOfSomething(_parent: VirtualDentry, _child: Dentry): boolean {
    return false;
  }

  /**
   * The child dentry without crossing mounts (for removal and rename); `fresh` as
   * lookupChild's.
   */
  #lookupNoCross(dir: VirtualDentry, name: string, fresh = false): Dentry | null {
    const cached = dir.dentry.children.get(name);
    if (cached && (fresh || dir.mount.fs.cacheDentries || cached.mounts > 0)) return cached;
    if (!cached && fresh) return null;
    const ino = dir.dentry.inode.lookup(name);
    if (!ino) return null;
    if (cached && cached.inode === ino) return cached;
    const d = new Dentry(name, dir.dentry, ino);
    dir.dentry.children.set(name, d);
    return d;
  }

  /** rename(2)/renameat2(2) with RENAME_NOREPLACE (1) and RENAME_EXCHANGE (2). */
  rename(
    ctx: ResolveContext,
    oldPath: string,
    newCtx: ResolveContext,
    newPath: string,
    flags: number,
  ): void {
    const NOREPLACE = 1, EXCHANGE = 2, WHITEOUT = 4;
    if (flags & ~(NOREPLACE | EXCHANGE | WHITEOUT)) throw new SysError(Errno.EINVAL);
    if ((flags & EXCHANGE) && (flags & (NOREPLACE | WHITEOUT))) throw new SysError(Errno.EINVAL);
    if (flags & WHITEOUT) throw new SysError(Errno.EINVAL);
    const o = this.resolveParent(ctx, oldPath);
    const n = this.resolveParent(newCtx, newPath);
    for (const name of [o.name, n.name]) {
      if (name === "" || name === "." || name === "..") throw new SysError(Errno.EBUSY);
    }
    checkPermission(ctx.creds, o.parent.inode, MAY_EXEC);
    checkPermission(ctx.creds, n.parent.inode, MAY_EXEC);
    const src = this.#lookupNoCross(o.parent, o.name, o.fresh);
    if (!src) throw new SysError(Errno.ENOENT);
    if (o.parent.mount !== n.parent.mount) throw new SysError(Errno.EXDEV);
    const dst = this.#lookupNoCross(n.parent, n.name, n.fresh);
    if ((o.trailingSlash || n.trailingSlash) && !src.inode.isDir) {
      throw new SysError(Errno.ENOTDIR);
    }
    if (src.mounts > 0 || (dst && dst.mounts > 0)) throw new SysError(Errno.EBUSY);
    if (flags & EXCHANGE) {
      if (!dst) throw new SysError(Errno.ENOENT);
    } else if (dst) {
      if (flags & NOREPLACE) throw new SysError(Errno.EEXIST);
      if (dst === src || dst.inode === src.inode) return;
      if (src.inode.isDir && !dst.inode.isDir) throw new SysError(Errno.ENOTDIR);
      if (!src.inode.isDir && dst.inode.isDir) throw new SysError(Errno.EISDIR);
    }
    // A directory cannot move under itself.
    if (src.inode.isDir || (dst && dst.inode.isDir && (flags & EXCHANGE))) {
      for (let d: Dentry | null = n.parent.dentry; d; d = d.parent) {
        if (d === src) throw new SysError(Errno.EINVAL);
        if (dst && (flags & EXCHANGE) && d === dst && o.parent.dentry !== n.parent.dentry) {
          for (let e: Dentry | null = o.parent.dentry; e; e = e.parent) {
            if (e === dst) throw new SysError(Errno.EINVAL);
          }
        }
      }
      if (dst && !(flags & EXCHANGE)) {
        for (let d: Dentry | null = o.parent.dentry; d; d = d.parent) {
          if (d === dst) throw new SysError(Errno.ENOTEMPTY);
        }
      }
    }
    this.#mayDelete(ctx, o.parent, src.inode);
    this.#mayModify(ctx, n.parent);
    if (dst) this.#mayDelete(ctx, n.parent, dst.inode);
    o.parent.inode.rename(o.name, n.parent.inode, n.name, (flags & EXCHANGE) !== 0);
    notifyRename(o.parent.inode, o.name, n.parent.inode, n.name, src.inode);
    // Move the dentries as the inodes moved.
    o.parent.dentry.children.delete(o.name);
    n.parent.dentry.children.delete(n.name);
    if (dst && (flags & EXCHANGE)) {
      dst.name = o.name;
      dst.parent = o.parent.dentry;
      o.parent.dentry.children.set(o.name, dst);
    } else if (dst) {
      dst.deleted = true;
      if (!dst.inode.isDir) dst.inode.unlinked();
    }
    src.name = n.name;
    src.parent = n.parent.dentry;
    n.parent.dentry.children.set(n.name, src);
  }

  /** chmod/chown/utimes permission: the owner or root. */
  checkOwner(ctx: ResolveContext, vd: VirtualDentry): void {
    if (!isOwner(ctx.creds, vd.inode)) throw new SysError(Errno.EPERM);
    if (vd.mount.readonly) throw new SysError(Errno.EROFS);
  }
}

/** A resolve context for t with relative paths starting at start. */
export function contextFor(t: Task, root: VirtualDentry, start: VirtualDentry): ResolveContext {
  return { t, root, start, creds: credsOf(t) };
}
