/**
 * Overlay filestores: the host files that back the Sentry's overlay upper layer (a tmpfs) when
 * `--overlay2` asks for `self` or `dir=`. The gofer creates them before it confines itself and
 * donates each with the Mount response of its mount; the Sentry maps it as the tmpfs's memory.
 *
 * - `self`: a file `.gvisor.filestore.<sandbox id>` made in the top directory of the overlaid
 *   mount itself and unlinked at once: only its descriptor keeps it, so the mount's own tree
 *   never shows it (Docker's `commit`, `diff` and `export` read that tree, and would copy a
 *   sparse file as large as the memory file). The gofer still hides every `.gvisor.filestore.*`
 *   name from the application, and `runsc delete` removes one a crash left (removeFilestores).
 * - `dir=/path`: an unlinked file (O_TMPFILE) inside that host directory: it is gone when the
 *   last descriptor of it closes, so there is nothing to delete.
 * - `memory`: no filestore; the upper layer lives in the Sentry's memory file.
 *
 * Read-only mounts get no filestore (the Sentry keeps their overlay in memory, if any), and
 * neither do file bind mounts.
 *
 * @module
 */

import { join, resolve } from "../path.ts";
import { closeFd, HostError } from "../host/libc.ts";
import {
  AT_FDCWD,
  fstat,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDWR,
  openAt,
  S_IFDIR,
  S_IFMT,
  unlinkAt,
} from "../host/fsops.ts";
import { O_TMPFILE } from "../abi/linux/file.ts";
import type { Overlay2 } from "../oci/overlay.ts";

/** The prefix of filestore names, reserved: the gofer never shows or creates such names. */
export const FILESTORE_PREFIX = ".gvisor.filestore.";

const ENOENT = 2;

/** The name of sandbox `id`'s filestore in an overlaid mount (medium `self`). */
export function filestoreName(id: string): string {
  return FILESTORE_PREFIX + id;
}

/** Whether `name` is a filestore's (hidden from the application). */
export function isFilestoreName(name: string): boolean {
  return name.startsWith(FILESTORE_PREFIX);
}

/** Whether the mount at `path` ("/" for the root) is overlaid under `o`. */
export function overlaid(o: Overlay2, path: string): boolean {
  return o.scope === "all" || (o.scope === "root" && path === "/");
}

/**
 * Creates the filestore of one overlaid mount whose top directory `mountFd` (O_PATH) holds, for
 * sandbox `id`. Returns a read-write descriptor (close-on-exec), or -1 when `o` needs none
 * there (memory, not overlaid, read-only, not a directory).
 */
export function createFilestore(
  o: Overlay2,
  m: { path: string; fd: number; readonly: boolean },
  id: string,
): number {
  if (!overlaid(o, m.path) || m.readonly || o.medium === "memory") return -1;
  if ((fstat(m.fd).mode & S_IFMT) !== S_IFDIR) return -1;
  if (o.medium === "dir") {
    return openAt(AT_FDCWD, o.dir!, O_TMPFILE | O_RDWR | O_CLOEXEC, 0o600);
  }
  const name = filestoreName(id);
  // A leftover of a sandbox with the same id that was never deleted is replaced.
  try {
    unlinkAt(m.fd, name, 0);
  } catch (e) {
    if (!(e instanceof HostError) || e.errno !== ENOENT) throw e;
  }
  const fd = openAt(m.fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600);
  try {
    unlinkAt(m.fd, name, 0);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}

/**
 * Removes the `self` filestores sandbox `id` left in the bundle's rootfs and bind mounts (at
 * `runsc delete`). Missing ones are fine; other failures are returned, not thrown.
 */
export function removeFilestores(bundle: string, id: string): string[] {
  const errors: string[] = [];
  let spec: {
    root?: { path?: string };
    mounts?: { source?: string; type?: string; options?: string[] }[];
  };
  try {
    spec = JSON.parse(Deno.readTextFileSync(join(bundle, "config.json")));
  } catch (e) {
    return [`read ${bundle}/config.json: ${(e as Error).message}`];
  }
  const dirs: string[] = [];
  if (typeof spec.root?.path === "string") dirs.push(resolve(bundle, spec.root.path));
  for (const m of spec.mounts ?? []) {
    const opts = m.options ?? [];
    const bind = m.type === "bind" || opts.includes("bind") || opts.includes("rbind");
    if (bind && typeof m.source === "string") dirs.push(resolve(bundle, m.source));
  }
  for (const dir of dirs) {
    let fd = -1;
    try {
      fd = openAt(AT_FDCWD, dir, O_DIRECTORY | O_CLOEXEC);
      unlinkAt(fd, filestoreName(id), 0);
    } catch (e) {
      if (!(e instanceof HostError) || (e.errno !== ENOENT && e.errno !== 20 /* ENOTDIR */)) {
        errors.push(`remove filestore in ${dir}: ${(e as Error).message}`);
      }
    } finally {
      if (fd >= 0) closeFd(fd);
    }
  }
  return errors;
}
