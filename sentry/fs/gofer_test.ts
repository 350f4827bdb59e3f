import assert from "node:assert/strict";
import { closeFd, preadFd, writeAll } from "../../host/libc.ts";
import { MID } from "../../gofer/lisafs/message.ts";
import { HELLO, lisafsErrno, withGofer } from "../../gofer/testutil.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { LisafsClient } from "../../gofer/lisafs/client.ts";
import { type FileDescription, O_CREAT, O_EXCL, O_RDONLY, O_WRONLY } from "../vfs/file.ts";
import { SysError } from "../../abi/linux/error.ts";
import { type ResolveContext, VirtualFilesystem } from "../vfs/vfs.ts";
import { ROOT_CREDS, S_IFDIR, S_IFREG } from "../vfs/inode.ts";
import { GoferFilesystem, type GoferInode } from "./gofer.ts";

/** Counts the requests of each message id the client sends. */
function countCalls(c: LisafsClient): Map<number, number> {
  const counts = new Map<number, number>();
  const call = c.call.bind(c);
  c.call = ((mid: number, req: unknown) => {
    counts.set(mid, (counts.get(mid) ?? 0) + 1);
    return call(mid as never, req as never);
  }) as typeof c.call;
  return counts;
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

function readAll(fd: number): string {
  const b = new Uint8Array(64);
  return new TextDecoder().decode(b.subarray(0, preadFd(fd, b, 0)));
}

Deno.test("gofer fs: opening a file again costs no OpenAt, and a write open writes", async () => {
  await withGofer({}, (c) => {
    const fs = new GoferFilesystem(c);
    const calls = countCalls(c);
    const f = fs.root().lookup("hello.txt") as GoferInode;
    const r1 = f.openHost(O_RDONLY);
    const r2 = f.openHost(O_RDONLY);
    assert.notEqual(r1, r2);
    assert.equal(calls.get(MID.OpenAt), 1);
    const w = f.openHost(O_WRONLY);
    assert.equal(calls.get(MID.OpenAt), 2);
    writeAll(w, new TextEncoder().encode("data"));
    // Closing one open file's FD leaves the others working.
    closeFd(r1);
    assert.equal(readAll(r2), "data" + HELLO.slice(4));
    for (const fd of [r2, w]) closeFd(fd);
  });
});

Deno.test("gofer fs: a file made is open already (one round trip to create and open)", async () => {
  await withGofer({}, (c) => {
    const fs = new GoferFilesystem(c);
    const calls = countCalls(c);
    const f = fs.root().mknod("made", S_IFREG | 0o600, 0, ROOT_CREDS) as GoferInode;
    assert.equal(f.mode, S_IFREG | 0o600);
    const w = f.openHost(O_WRONLY);
    writeAll(w, new TextEncoder().encode("new"));
    const r = f.openHost(O_RDONLY);
    assert.equal(readAll(r), "new");
    assert.deepEqual([...calls.keys()], [MID.OpenCreateAt]);
    for (const fd of [r, w]) closeFd(fd);
    fs.flushCloses();
  });
});

Deno.test("gofer fs: files stay open past the bound on kept host FDs", async () => {
  await withGofer({}, (c) => {
    const fs = new GoferFilesystem(c);
    const fds: number[] = [];
    for (let i = 0; i < 2100; i++) {
      const f = fs.root().mknod(`n${i}`, S_IFREG | 0o644, 0, ROOT_CREDS) as GoferInode;
      const w = f.openHost(O_WRONLY);
      writeAll(w, new TextEncoder().encode(`file ${i}`));
      closeFd(w);
      fds.push(f.openHost(O_RDONLY));
    }
    fds.forEach((fd, i) => assert.equal(readAll(fd), `file ${i}`));
    for (const fd of fds) closeFd(fd);
    fs.flushCloses();
  });
});

Deno.test("gofer fs: names known missing are found once made, and gone once removed", async () => {
  await withGofer({}, (c) => {
    const fs = new GoferFilesystem(c);
    const root = fs.root();
    const calls = countCalls(c);
    for (const n of ["f", "d", "l", "h", "moved"]) assert.equal(root.lookup(n), null);
    assert.equal(root.lookup("f"), null);
    assert.equal(calls.get(MID.Walk), 5, "a missing name is looked up once");
    const f = root.mknod("f", S_IFREG | 0o644, 0, ROOT_CREDS);
    assert.equal(root.lookup("f")?.ino, f.ino);
    root.mkdir("d", S_IFDIR | 0o755, ROOT_CREDS);
    assert.ok(root.lookup("d")?.isDir);
    root.symlink("l", "f", ROOT_CREDS);
    assert.ok(root.lookup("l")?.isSymlink);
    root.link("h", f);
    assert.equal(root.lookup("h")?.ino, f.ino);
    root.rename("h", root, "moved", false);
    assert.equal(root.lookup("h"), null);
    assert.equal(root.lookup("moved")?.ino, f.ino);
    root.unlink("moved");
    assert.equal(root.lookup("moved"), null);
    root.rmdir("d");
    assert.equal(root.lookup("d"), null);
    fs.flushCloses();
  });
});

Deno.test("gofer fs: an unlinked file's control FD goes back once the last open file closes", async () => {
  await withGofer({}, (c) => {
    const fs = new GoferFilesystem(c);
    const root = fs.root();
    const f = root.mknod("doomed", S_IFREG | 0o644, 0, ROOT_CREDS) as GoferInode;
    const file = f.open(undefined as never, undefined as never, O_RDONLY) as FileDescription;
    root.unlink("doomed");
    f.unlinked();
    assert.equal(f.nlink, 0);
    fs.flushCloses();
    assert.equal(lisafsErrno(() => c.fstat(f.controlFd)), 0, "kept while open");
    file.release();
    fs.flushCloses();
    assert.equal(lisafsErrno(() => c.fstat(f.controlFd)), Errno.EBADF);
    // A file never opened goes at once; one with another name stays.
    const g = root.mknod("g", S_IFREG | 0o644, 0, ROOT_CREDS) as GoferInode;
    root.link("h", g);
    root.unlink("g");
    g.unlinked();
    fs.flushCloses();
    assert.equal(lisafsErrno(() => c.fstat(g.controlFd)), 0);
    root.unlink("h");
    g.unlinked();
    fs.flushCloses();
    assert.equal(lisafsErrno(() => c.fstat(g.controlFd)), Errno.EBADF);
  });
});

Deno.test("gofer fs, shared access: a path's cached directories and its last name are asked about in one request", async () => {
  await withGofer({}, (c, g) => {
    const fs = new GoferFilesystem(c, false, "/", true);
    const vfs = new VirtualFilesystem();
    const root = vfs.mountRoot(fs, {});
    const ctx: ResolveContext = { t: undefined as never, root, start: root, creds: ROOT_CREDS };
    const host = `${g.bundle}/rootfs/dir/sub`;
    const sizeOf = (p: string) => vfs.resolve(ctx, p, { follow: true }).inode.size();
    assert.equal(sizeOf("/dir/sub/file.txt"), 7n); // the path's dentries are cached now
    const calls = countCalls(c);
    const made = vfs.open(ctx, "/dir/sub/new", O_CREAT | O_EXCL | O_WRONLY, 0o644, 0);
    (made as FileDescription).release();
    assert.deepEqual(Object.fromEntries(calls), { [MID.Walk]: 1, [MID.OpenCreateAt]: 1 });
    assert.ok(Deno.statSync(`${host}/new`).isFile);
    calls.clear();
    vfs.remove(ctx, "/dir/sub/new", false);
    assert.deepEqual(Object.fromEntries(calls), { [MID.WalkStat]: 1, [MID.UnlinkAt]: 1 });
    assert.throws(() => Deno.statSync(`${host}/new`), Deno.errors.NotFound);
    // A file not looked up yet is found with the rest of its path, and then only revalidated.
    Deno.writeTextFileSync(`${host}/other`, "other\n");
    calls.clear();
    assert.equal(sizeOf("/dir/sub/other"), 6n);
    assert.deepEqual(Object.fromEntries(calls), { [MID.Walk]: 1 });
    calls.clear();
    assert.equal(sizeOf("/dir/sub/other"), 6n);
    assert.deepEqual(Object.fromEntries(calls), { [MID.WalkStat]: 1 });

    // What the host changes in between is seen: a name made there exists (O_EXCL fails), one
    // removed there is missing, and a file replaced there is the new one.
    Deno.writeTextFileSync(`${host}/outside`, "x");
    assert.equal(
      errnoOf(() => vfs.open(ctx, "/dir/sub/outside", O_CREAT | O_EXCL | O_WRONLY, 0o644, 0)),
      Errno.EEXIST,
    );
    Deno.removeSync(`${host}/outside`);
    assert.equal(errnoOf(() => vfs.remove(ctx, "/dir/sub/outside", false)), Errno.ENOENT);
    assert.equal(
      errnoOf(() => vfs.resolve(ctx, "/dir/sub/outside", { follow: true })),
      Errno.ENOENT,
    );
    Deno.removeSync(`${host}/file.txt`);
    Deno.writeTextFileSync(`${host}/file.txt`, "replaced on the host\n");
    assert.equal(sizeOf("/dir/sub/file.txt"), 21n);
    // A directory of the path replaced by a file on the host: the walk says so.
    Deno.removeSync(host, { recursive: true });
    Deno.writeTextFileSync(host, "now a file");
    assert.equal(
      errnoOf(() => vfs.open(ctx, "/dir/sub/new", O_CREAT | O_EXCL | O_WRONLY, 0o644, 0)),
      Errno.ENOTDIR,
    );
    fs.flushCloses();
  });
});

Deno.test("gofer fs, exclusive access: a listed directory answers for names it lacks without a round trip", async () => {
  await withGofer({}, (c, g) => {
    const fs = new GoferFilesystem(c);
    const dir = fs.root().lookup("dir") as GoferInode;
    dir.entries();
    const calls = countCalls(c);
    assert.equal(dir.lookup("nope"), null);
    assert.equal(dir.lookup("link.txt"), null);
    assert.deepEqual(Object.fromEntries(calls), {});
    // A listed name is still walked to, for its inode.
    assert.equal((dir.lookup("sub") as GoferInode).isDir, true);
    assert.deepEqual(Object.fromEntries(calls), { [MID.Walk]: 1 });
    // A name made through the Sentry is found (the change dropped the listing), and so is one
    // the listing had.
    dir.mkdir("made", 0o755, ROOT_CREDS);
    assert.ok(Deno.statSync(`${g.bundle}/rootfs/dir/made`).isDirectory);
    dir.entries();
    assert.notEqual(dir.lookup("made"), null);
    assert.notEqual(dir.lookup("link"), null);
  });
});
