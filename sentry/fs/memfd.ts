/**
 * memfd_create(2) files: tmpfs files with no name in any directory, on a tmpfs of their own.
 *
 * @module
 */

import type { Kernel } from "../kernel/kernel.ts";
import { type FileDescription, O_LARGEFILE, O_RDWR } from "../vfs/file.ts";
import { ROOT_CREDS, S_IFREG } from "../vfs/inode.ts";
import { Dentry, Mount, VirtualDentry } from "../vfs/vfs.ts";
import { TmpfsFilesystem, type TmpfsRegular } from "./tmpfs.ts";

const mounts = new WeakMap<Kernel, Mount>();

/** A new memfd named name, open read-write. */
export function newMemfd(k: Kernel, name: string): FileDescription {
  let m = mounts.get(k);
  if (!m) {
    const fs = new TmpfsFilesystem(k.mf, { mode: 0o1777, name: "tmpfs" });
    m = new Mount(fs, new Dentry("/", null, fs.root()), null, null, { anonymous: true });
    mounts.set(k, m);
  }
  const root = m.root.inode;
  const ino = root.mknod(`memfd:${name}`, S_IFREG | 0o777, 0, ROOT_CREDS) as TmpfsRegular;
  root.unlink(`memfd:${name}`);
  ino.nlink = 1;
  const d = new Dentry(`memfd:${name}`, m.root, ino);
  d.deleted = true;
  const f = ino.open(undefined as never, new VirtualDentry(m, d), O_RDWR | O_LARGEFILE);
  ino.nlink = 0;
  return f;
}
