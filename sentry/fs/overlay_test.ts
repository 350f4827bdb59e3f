import assert from "node:assert/strict";
import { MemoryFile } from "../mm/memory_file.ts";
import { ROOT_CREDS, S_IFDIR, S_IFREG } from "../vfs/inode.ts";
import { OverlayFilesystem } from "./overlay.ts";
import { TmpfsFilesystem, type TmpfsRegular } from "./tmpfs.ts";

function setup() {
  const mf = new MemoryFile(1n << 30n);
  const lower = new TmpfsFilesystem(mf);
  const sub = lower.root().mkdir("sub", S_IFDIR | 0o755, ROOT_CREDS);
  const b = sub.mknod("b.txt", S_IFREG | 0o644, 0, ROOT_CREDS) as TmpfsRegular;
  b.writeAt(0n, new TextEncoder().encode("beta"));
  sub.mknod("keep.txt", S_IFREG | 0o644, 0, ROOT_CREDS);
  const ov = new OverlayFilesystem(new TmpfsFilesystem(mf), lower);
  return { ov, lower, root: ov.root() };
}

const names = (i: { entries(): readonly { name: string }[] }) =>
  i.entries().map((e) => e.name).sort();

Deno.test("overlay: renaming a copied-up lower file leaves a whiteout behind", () => {
  const { root } = setup();
  const sub = root.lookup("sub")!;
  sub.lookup("b.txt")!.setAttr({ mode: 0o600 });
  sub.rename("b.txt", root, "moved", false);
  assert.deepEqual(names(sub), ["keep.txt"]);
  assert.deepEqual(names(root), ["moved", "sub"]);
});

Deno.test("overlay: changes never reach the lower layer", () => {
  const { root, lower } = setup();
  const sub = root.lookup("sub")!;
  sub.unlink("keep.txt");
  const b = sub.lookup("b.txt")!;
  b.setAttr({ size: 1n });
  assert.equal(b.size(), 1n);
  assert.deepEqual(names(lower.root().lookup("sub")!), ["b.txt", "keep.txt"]);
  assert.equal(lower.root().lookup("sub")!.lookup("b.txt")!.size(), 4n);
});

Deno.test("overlay: a directory made where a lower one was removed is opaque", () => {
  const { root } = setup();
  const sub = root.lookup("sub")!;
  sub.unlink("b.txt");
  sub.unlink("keep.txt");
  root.rmdir("sub");
  assert.equal(root.lookup("sub"), null);
  root.mkdir("sub", S_IFDIR | 0o755, ROOT_CREDS);
  assert.deepEqual(names(root.lookup("sub")!), []);
});
