/**
 * devfs: the /dev the sandbox shows. A tmpfs holding the memory device nodes (null, zero,
 * full, random, urandom), the fd/stdin/stdout/stderr links into /proc/self/fd, and the pts
 * and shm directories that the spec's mounts usually cover.
 *
 * @module
 */

import type { MemoryFile } from "../mm/memory_file.ts";
import { ROOT_CREDS, S_IFCHR, S_IFDIR } from "../vfs/inode.ts";
import { makedev, MEM_DEVICES } from "./devices.ts";
import { TmpfsFilesystem } from "./tmpfs.ts";

/** A new devfs (a tmpfs with the device nodes made). */
export function newDevfs(mf: MemoryFile, opts: { mode?: number; size?: bigint } = {}) {
  const fs = new TmpfsFilesystem(mf, { mode: opts.mode ?? 0o755, size: opts.size, name: "tmpfs" });
  const root = fs.root();
  for (const [name, d] of Object.entries(MEM_DEVICES)) {
    root.mknod(name, S_IFCHR | 0o666, makedev(1, d.minor), ROOT_CREDS);
  }
  root.mknod("tty", S_IFCHR | 0o666, makedev(5, 0), ROOT_CREDS);
  root.symlink("fd", "/proc/self/fd", ROOT_CREDS);
  root.symlink("stdin", "/proc/self/fd/0", ROOT_CREDS);
  root.symlink("stdout", "/proc/self/fd/1", ROOT_CREDS);
  root.symlink("stderr", "/proc/self/fd/2", ROOT_CREDS);
  root.symlink("ptmx", "pts/ptmx", ROOT_CREDS);
  root.mkdir("pts", S_IFDIR | 0o755, ROOT_CREDS);
  root.mkdir("shm", S_IFDIR | 0o1777, ROOT_CREDS);
  return fs;
}
