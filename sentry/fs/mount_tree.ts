/**
 * The sandbox's mount tree, built from the spec: the gofer-backed root, then the spec's mounts
 * in order (proc, sysfs, tmpfs, devpts, mqueue), then what every container gets when the spec
 * leaves it out (/proc, /dev, /sys, and a tmpfs on /tmp), as gVisor does.
 *
 * @module
 */

import type { LisafsClient } from "../../gofer/lisafs/client.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Logger } from "../../log.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { MemoryFile } from "../mm/memory_file.ts";
import { SysError } from "../../abi/linux/error.ts";
import { type Filesystem, ROOT_CREDS, S_IFDIR, S_IFREG } from "../vfs/inode.ts";
import { type MountOptions, VirtualDentry, VirtualFilesystem } from "../vfs/vfs.ts";
import { newDevfs } from "./devfs.ts";
import { GoferFilesystem, GoferInode, SyntheticDir, SyntheticFile } from "./gofer.ts";
import { OverlayFilesystem, OverlayInode } from "./overlay.ts";
import { ProcFilesystem } from "./procfs.ts";
import { newSysfs } from "./sysfs.ts";
import { DevptsFilesystem } from "./tty.ts";
import { TmpfsDir, TmpfsFilesystem } from "./tmpfs.ts";
import { closeFd } from "../../host/libc.ts";
import { SIG } from "../../abi/linux/signal.ts";
import { POLLERR, POLLHUP, POLLNVAL, POLLRDHUP } from "../vfs/file.ts";
import { pollNow } from "../../host/io.ts";

/** One spec mount, as the Sentry receives it. */
export interface MountSpec {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface MountTreeOptions {
  client: LisafsClient;
  rootReadonly: boolean;
  mounts: MountSpec[];
  mf: MemoryFile;
  log: Logger;
  /** --overlay2 as the CLI passes it on (canonical): none, or {root|all}:medium[,size=N]. */
  overlay2?: string;
  /** --file-access for the root and --file-access-mounts for bind mounts. */
  fileAccess?: string;
  fileAccessMounts?: string;
}

/** Parses tmpfs-style size= values (bytes, or with k/m/g). */
function parseSize(v: string): bigint | undefined {
  const m = /^(\d+)([kmgKMG]?)$/.exec(v);
  if (!m) return undefined;
  const mult = { "": 1n, k: 1024n, m: 1n << 20n, g: 1n << 30n }[m[2].toLowerCase()]!;
  return BigInt(m[1]) * mult;
}

/**
 * A new filesystem of a type the Sentry implements itself (not bind mounts): proc, sysfs,
 * devtmpfs, tmpfs, devpts, mqueue. Null for other types.
 */
export function newFilesystem(
  k: Kernel,
  vfs: VirtualFilesystem,
  mf: MemoryFile,
  type: string | undefined,
  destination: string,
  o: { mode?: number; size?: bigint; uid?: number; gid?: number },
): Filesystem | null {
  switch (type) {
    case "proc":
      return new ProcFilesystem(k, vfs);
    case "sysfs":
      return newSysfs(mf);
    case "devtmpfs":
      return newDevfs(mf, { mode: o.mode, size: o.size });
    case "tmpfs":
      return destination === "/dev"
        ? newDevfs(mf, { mode: o.mode, size: o.size })
        : new TmpfsFilesystem(mf, {
          mode: o.mode ?? 0o1777,
          size: o.size,
          uid: o.uid,
          gid: o.gid,
        });
    case "devpts":
      return new DevptsFilesystem(k);
    case "mqueue":
      return new TmpfsFilesystem(mf, { mode: 0o1777, name: "mqueue" });
    default:
      return null;
  }
}

/** Parses spec options or mount(2) data ("mode=755,size=1m", "ro", "nosuid"...). */
export function mountOptions(spec: MountSpec): {
  opts: MountOptions;
  mode?: number;
  size?: bigint;
  uid?: number;
  gid?: number;
} {
  const opts: MountOptions = { source: spec.source, extra: [] };
  let mode: number | undefined, size: bigint | undefined, uid: number | undefined;
  let gid: number | undefined;
  for (const o of spec.options ?? []) {
    const [k, v] = o.split("=", 2);
    switch (k) {
      case "ro":
        opts.readonly = true;
        break;
      case "rw":
        opts.readonly = false;
        break;
      case "nosuid":
        opts.nosuid = true;
        break;
      case "nodev":
        opts.nodev = true;
        break;
      case "noexec":
        opts.noexec = true;
        break;
      case "mode":
        mode = parseInt(v, 8);
        break;
      case "size":
        size = parseSize(v);
        break;
      case "uid":
        uid = Number(v);
        break;
      case "gid":
        gid = Number(v);
        break;
    }
  }
  return { opts, mode, size, uid, gid };
}

/**
 * Makes the directory at path (and its parents) so something can be mounted there: a real
 * directory on tmpfs, a synthetic one on the gofer-backed root.
 */
function mkdirAll(vfs: VirtualFilesystem, path: string, file = false): VirtualDentry {
  let cur = vfs.root;
  const names = path.split("/").filter((c) => c !== "" && c !== ".");
  names.forEach((name, i) => {
    const last = i === names.length - 1;
    const wantFile = file && last;
    const next = vfs.lookupChild(cur, name);
    if (next) {
      if (!wantFile && !next.inode.isDir) throw new SysError(Errno.ENOTDIR, `mountpoint ${path}`);
      cur = next;
      return;
    }
    const dir = cur.inode;
    if (dir instanceof TmpfsDir || dir instanceof OverlayInode) {
      if (wantFile) dir.mknod(name, S_IFREG | 0o644, 0, ROOT_CREDS);
      else dir.mkdir(name, S_IFDIR | 0o755, ROOT_CREDS);
    } else if (dir instanceof GoferInode || dir instanceof SyntheticDir) {
      const children = dir instanceof GoferInode ? dir.synthetic : dir.children;
      children.set(name, wantFile ? new SyntheticFile(dir.fs) : new SyntheticDir(dir.fs));
    } else {
      throw new SysError(Errno.EROFS, `cannot make mountpoint ${path}`);
    }
    cur = vfs.lookupChild(cur, name)!;
  });
  return cur;
}

/**
 * Where an overlay's upper layer keeps file data: the filestore the Gofer made for the mount
 * (`self`: a file beside the overlaid tree; `dir=`: an unlinked file there), so that what the
 * application writes goes to the host's disk rather than memory; else the memory file.
 */
function upperStore(g: GoferFilesystem, mf: MemoryFile): MemoryFile {
  if (g.filestoreFd < 0) return mf;
  const store = new MemoryFile(FILESTORE_SIZE, g.filestoreFd);
  // Its pages are on disk: memory accounting does not apply to them.
  store.limit = FILESTORE_SIZE;
  return store;
}

/** The sparse size of a filestore; only what is written uses disk. */
const FILESTORE_SIZE = 1n << 40n;

/** How often the Sentry looks whether its Gofer is still there. */
const GOFER_WATCH_MS = 200;

/**
 * Ends the container when its Gofer goes away (killed from the host): no file can be reached
 * again, and an application that never touches one would otherwise run on for ever. A
 * zero-timeout poll of the connection on a timer that does not keep the Sentry alive; it stops
 * once init is gone (the connection may then be closed and its number reused).
 */
function watchGofer(k: Kernel, client: LisafsClient): void {
  let started = false;
  const tick = () => {
    const init = k.init;
    if (init?.exiting || (!init && started)) return; // ending anyway
    if (init) started = true;
    if (pollNow(client.sockFd, POLLRDHUP) & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
      k.log.warning("the gofer's connection closed: ending the container");
      init?.sendSignal(SIG.KILL); // init's death takes every other process with it
      return;
    }
    Deno.unrefTimer(setTimeout(tick, GOFER_WATCH_MS));
  };
  Deno.unrefTimer(setTimeout(tick, GOFER_WATCH_MS));
}

/** Builds the mount tree for kernel k. */
export function buildMountTree(k: Kernel, o: MountTreeOptions): VirtualFilesystem {
  const vfs = new VirtualFilesystem();
  watchGofer(k, o.client);
  const goferRoot = new GoferFilesystem(o.client, o.rootReadonly, "/", o.fileAccess === "shared");
  const [scope, rest = ""] = (o.overlay2 || "none").split(":");
  const sizeMatch = /size=(\d+)/.exec(rest);
  let rootFs: Filesystem = goferRoot;
  // A read-only root gets no overlay, as in gVisor: nothing can change it anyway.
  if ((scope === "root" || scope === "all") && !o.rootReadonly) {
    const upper = new TmpfsFilesystem(upperStore(goferRoot, o.mf), {
      mode: 0o755,
      commit: goferRoot.filestoreFd >= 0,
      size: sizeMatch ? BigInt(sizeMatch[1]) : undefined,
    });
    rootFs = new OverlayFilesystem(upper, goferRoot);
  } else if (goferRoot.filestoreFd >= 0) {
    closeFd(goferRoot.filestoreFd);
  }
  vfs.mountRoot(rootFs, { readonly: o.rootReadonly, source: "none" });
  const seen = new Set<string>();
  const norm = (p: string) => "/" + p.split("/").filter((c) => c !== "" && c !== ".").join("/");
  const mounts = o.mounts.map((m) => ({ ...m, destination: norm(m.destination) }));
  const defaults = [["/proc", "proc"], ["/dev", "devtmpfs"], ["/dev/pts", "devpts"], [
    "/sys",
    "sysfs",
  ]];
  for (const [dest, type] of defaults.reverse()) {
    if (!mounts.some((m) => m.destination === dest)) mounts.unshift({ destination: dest, type });
  }
  if (!mounts.some((m) => m.destination === "/tmp")) {
    mounts.push({ destination: "/tmp", type: "tmpfs", options: ["mode=1777"] });
  }
  // Parents before children, keeping the spec's order otherwise.
  mounts.sort((a, b) => a.destination.split("/").length - b.destination.split("/").length);
  for (const m of mounts) {
    const { opts, mode, size, uid, gid } = mountOptions(m);
    const isBind = m.type === "bind" ||
      (m.options ?? []).some((x) => x === "bind" || x === "rbind");
    let fs: Filesystem;
    switch (isBind ? "bind" : "own") {
      case "own": {
        const made = newFilesystem(k, vfs, o.mf, m.type, m.destination, { mode, size, uid, gid });
        if (!made) {
          o.log.warning(
            `mount ${m.destination}: type ${m.type ?? "(none)"} is not supported yet; skipped`,
          );
          continue;
        }
        fs = made;
        break;
      }
      case "bind": {
        try {
          const g = new GoferFilesystem(
            o.client,
            !!opts.readonly,
            m.destination,
            (o.fileAccessMounts ?? "shared") === "shared",
          );
          fs = g;
          if (scope === "all" && !g.readonly && g.root().isDir) {
            fs = new OverlayFilesystem(
              new TmpfsFilesystem(upperStore(g, o.mf), {
                mode: 0o755,
                commit: g.filestoreFd >= 0,
              }),
              g,
            );
          } else if (g.filestoreFd >= 0) {
            closeFd(g.filestoreFd);
          }
        } catch (e) {
          o.log.warning(
            `bind mount ${m.destination}: ${e instanceof Error ? e.message : e}; skipped`,
          );
          continue;
        }
        break;
      }
    }
    let at: VirtualDentry;
    try {
      at = mkdirAll(vfs, m.destination, !fs.root().isDir);
    } catch (e) {
      o.log.warning(`mount ${m.destination}: ${e instanceof Error ? e.message : e}; skipped`);
      continue;
    }
    opts.source ??= m.type;
    vfs.mountAt(fs, at, opts);
    seen.add(m.destination);
  }
  return vfs;
}
