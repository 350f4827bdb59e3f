/**
 * The gofer-backed filesystem: files of the container's root reached through the Gofer.
 *
 * Path resolution is the Sentry's: the Gofer never follows a symlink, so each component is
 * walked on its own, and symlinks are read and spliced in here, always resolved against the
 * container's root. `..` never climbs above that root.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { LisafsClient, LisafsError, type Stat } from "../../gofer/lisafs/client.ts";
import { SysError } from "../syscalls/errors.ts";

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
const MAXSYMLINKS = 40;
const PATH_MAX = 4096;
const O_RDONLY = 0;

/** A resolved file: the Gofer's control FD for it (the caller releases it) and attributes. */
export interface Resolved {
  fd: number;
  stat: Stat;
  /** The canonical path from the root. */
  path: string;
}

function split(path: string): string[] {
  return path.split("/").filter((c) => c !== "");
}

/** Turns a Gofer error into the errno the application sees. */
function sysErr(e: unknown): never {
  if (e instanceof LisafsError) throw new SysError(e.errno, e.message);
  throw e;
}

export class GoferFs {
  readonly root: number;
  readonly rootStat: Stat;

  constructor(readonly client: LisafsClient) {
    const m = client.mount();
    this.root = m.root;
    this.rootStat = m.stat;
  }

  /** Releases a control FD from resolve(), unless it is the root's. */
  release(fd: number): void {
    if (fd === this.root) return;
    try {
      this.client.close([fd]);
    } catch {
      // The connection is gone; the Gofer dropped its FDs with it.
    }
  }

  /**
   * Resolves `path` (absolute, or relative to `cwd`) from the root. Symlinks are followed,
   * the last component's only when followFinal. Throws SysError: ENOENT, ENOTDIR, ELOOP,
   * ENAMETOOLONG, or what the Gofer answered.
   */
  resolve(path: string, cwd: string, followFinal: boolean): Resolved {
    if (path === "") throw new SysError(Errno.ENOENT);
    if (path.length >= PATH_MAX) throw new SysError(Errno.ENAMETOOLONG);
    const pending = split(path.startsWith("/") ? path : `${cwd}/${path}`);
    const stack: { name: string; fd: number; stat: Stat }[] = [];
    const top = () => stack[stack.length - 1] ?? { name: "", fd: this.root, stat: this.rootStat };
    let links = 0;
    try {
      while (pending.length > 0) {
        const name = pending.shift()!;
        if (name === ".") continue;
        if (name === "..") {
          const gone = stack.pop();
          if (gone) this.release(gone.fd);
          continue;
        }
        if (name.length > 255) throw new SysError(Errno.ENAMETOOLONG);
        if ((top().stat.mode & S_IFMT) !== S_IFDIR) throw new SysError(Errno.ENOTDIR);
        let w;
        try {
          w = this.client.walk(top().fd, [name]);
        } catch (e) {
          sysErr(e);
        }
        if (w.status === "missing" || w.inodes.length === 0) throw new SysError(Errno.ENOENT);
        const node = w.inodes[0];
        const isLink = (node.stat.mode & S_IFMT) === S_IFLNK;
        if (isLink && (pending.length > 0 || followFinal)) {
          let target: string;
          try {
            target = this.client.readLinkAt(node.fd);
          } catch (e) {
            this.release(node.fd);
            sysErr(e);
          }
          this.release(node.fd);
          if (++links > MAXSYMLINKS) throw new SysError(Errno.ELOOP);
          if (target.startsWith("/")) {
            for (const s of stack) this.release(s.fd);
            stack.length = 0;
          }
          pending.unshift(...split(target));
          continue;
        }
        stack.push({ name, fd: node.fd, stat: node.stat });
      }
      const last = stack.pop();
      for (const s of stack) this.release(s.fd);
      const canonical = "/" + [...stack.map((s) => s.name), ...(last ? [last.name] : [])].join("/");
      if (!last) return { fd: this.root, stat: this.rootStat, path: "/" };
      return { fd: last.fd, stat: last.stat, path: canonical };
    } catch (e) {
      for (const s of stack) this.release(s.fd);
      throw e;
    }
  }

  /** Opens a regular file read-only and returns the donated host FD (owned by the caller). */
  openHost(r: Resolved): number {
    let opened;
    try {
      opened = this.client.openAt(r.fd, O_RDONLY);
    } catch (e) {
      sysErr(e);
    }
    try {
      this.client.close([opened.openFd]);
    } catch {
      // Closing the open FD id only frees the Gofer's side.
    }
    if (opened.hostFd < 0) throw new SysError(Errno.EIO, "the gofer donated no host file");
    return opened.hostFd;
  }

  /** The target of the symlink at `path`. Throws EINVAL if it is not a symlink. */
  readlink(path: string, cwd: string): string {
    const r = this.resolve(path, cwd, false);
    try {
      if ((r.stat.mode & S_IFMT) !== S_IFLNK) throw new SysError(Errno.EINVAL);
      try {
        return this.client.readLinkAt(r.fd);
      } catch (e) {
        sysErr(e);
      }
    } finally {
      this.release(r.fd);
    }
  }
}
