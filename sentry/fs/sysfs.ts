/**
 * sysfs: the few files programs read from /sys (CPU counts, a kernel node), as a read-only
 * tmpfs filled when it is made.
 *
 * @module
 */

import type { MemoryFile } from "../mm/memory_file.ts";
import { ROOT_CREDS, S_IFDIR, S_IFREG } from "../vfs/inode.ts";
import { type TmpfsDir, TmpfsFilesystem, type TmpfsRegular } from "./tmpfs.ts";

/** A new sysfs. */
export function newSysfs(mf: MemoryFile): TmpfsFilesystem {
  const fs = new TmpfsFilesystem(mf, { mode: 0o555, name: "sysfs" });
  const cpus = navigator.hardwareConcurrency;
  const range = cpus > 1 ? `0-${cpus - 1}\n` : "0\n";
  const tree: Record<string, string> = {
    "devices/system/cpu/online": range,
    "devices/system/cpu/possible": range,
    "devices/system/cpu/present": range,
    "kernel/mm/transparent_hugepage/enabled": "always madvise [never]\n",
    "fs/cgroup/.keep": "",
  };
  for (const [path, text] of Object.entries(tree)) {
    const parts = path.split("/");
    let dir: TmpfsDir = fs.root();
    for (const p of parts.slice(0, -1)) {
      dir = (dir.lookup(p) ?? dir.mkdir(p, S_IFDIR | 0o755, ROOT_CREDS)) as TmpfsDir;
    }
    const f = dir.mknod(parts[parts.length - 1], S_IFREG | 0o444, 0, ROOT_CREDS) as TmpfsRegular;
    f.writeAt(0n, new TextEncoder().encode(text));
  }
  fs.readonly = true;
  return fs;
}
