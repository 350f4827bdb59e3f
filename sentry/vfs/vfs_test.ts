import assert from "node:assert/strict";
import { Errno } from "../../abi/linux/errno.ts";
import { TmpfsFilesystem } from "../fs/tmpfs.ts";
import { MemoryFile } from "../mm/memory_file.ts";
import { SysError } from "../../abi/linux/error.ts";
import { ROOT_CREDS, S_IFDIR } from "./inode.ts";
import { type ResolveContext, VirtualFilesystem } from "./vfs.ts";

function tree() {
  const mf = new MemoryFile(1n << 30n);
  const vfs = new VirtualFilesystem();
  const root = vfs.mountRoot(new TmpfsFilesystem(mf), {});
  const ctx: ResolveContext = { t: undefined as never, root, start: root, creds: ROOT_CREDS };
  vfs.mkdir(ctx, "/a", 0o755, 0);
  vfs.mkdir(ctx, "/a/b", 0o755, 0);
  vfs.mkdir(ctx, "/mnt", 0o755, 0);
  return { vfs, ctx, mf };
}

function errnoOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
  return 0;
}

Deno.test("resolve() follows symlinks and fails with ELOOP on a cycle", () => {
  const { vfs, ctx } = tree();
  vfs.symlink(ctx, "a/b", "/link");
  assert.equal(vfs.pathOf(vfs.resolve(ctx, "/link", { follow: true }), ctx.root), "/a/b");
  vfs.symlink(ctx, "y", "/x");
  vfs.symlink(ctx, "x", "/y");
  assert.equal(errnoOf(() => vfs.resolve(ctx, "/x", { follow: true })), Errno.ELOOP);
  // Not following the last component names the link itself.
  assert.ok(vfs.resolve(ctx, "/x", { follow: false }).inode.isSymlink);
});

Deno.test("resolve() crosses mounts both ways and never climbs above the root", () => {
  const { vfs, ctx, mf } = tree();
  const mnt = vfs.resolve(ctx, "/mnt", { follow: true });
  const inner = new TmpfsFilesystem(mf);
  inner.root().mkdir("inside", S_IFDIR | 0o755, ROOT_CREDS);
  vfs.mountAt(inner, mnt, {});
  const inside = vfs.resolve(ctx, "/mnt/inside", { follow: true });
  assert.equal(inside.inode.fs, inner);
  assert.equal(vfs.pathOf(inside, ctx.root), "/mnt/inside");
  assert.equal(
    vfs.pathOf(vfs.resolve(ctx, "/mnt/inside/../../a", { follow: true }), ctx.root),
    "/a",
  );
  assert.equal(vfs.pathOf(vfs.resolve(ctx, "/../../..", { follow: true }), ctx.root), "/");
});

Deno.test("resolve() checks trailing slashes and name lengths", () => {
  const { vfs, ctx } = tree();
  vfs.mknod(ctx, "/a/file", 0o100644, 0, 0);
  assert.equal(errnoOf(() => vfs.resolve(ctx, "/a/file/", { follow: true })), Errno.ENOTDIR);
  assert.equal(
    errnoOf(() => vfs.resolve(ctx, "/" + "x".repeat(256), { follow: true })),
    Errno.ENAMETOOLONG,
  );
  assert.equal(
    errnoOf(() => vfs.resolve(ctx, "/a/".repeat(1400), { follow: true })),
    Errno.ENAMETOOLONG,
  );
  assert.equal(errnoOf(() => vfs.resolve(ctx, "", { follow: true })), Errno.ENOENT);
});

Deno.test("rename() refuses to move a directory under itself and replaces files", () => {
  const { vfs, ctx } = tree();
  assert.equal(errnoOf(() => vfs.rename(ctx, "/a", ctx, "/a/b/c", 0)), Errno.EINVAL);
  vfs.mknod(ctx, "/f1", 0o100644, 0, 0);
  vfs.mknod(ctx, "/f2", 0o100644, 0, 0);
  vfs.rename(ctx, "/f1", ctx, "/f2", 0);
  assert.equal(errnoOf(() => vfs.resolve(ctx, "/f1", { follow: true })), Errno.ENOENT);
  assert.equal(errnoOf(() => vfs.rename(ctx, "/f2", ctx, "/a", 0)), Errno.EISDIR);
});
