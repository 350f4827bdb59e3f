/**
 * Every message against a real gofer process, unconfined and (as root) confined the way
 * `runsc create` starts it.
 */
import assert from "node:assert/strict";
import { Errno } from "../abi/linux/errno.ts";
import { closeFd, preadFd, writeAll } from "../host/libc.ts";
import { readFd } from "../host/io.ts";
import {
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from "../host/fsops.ts";
import { peerCred, SOCK_STREAM } from "../host/socket.ts";
import { geteuid } from "../host/namespace.ts";
import { LisafsError, SetStatMask } from "./lisafs/client.ts";
import { withGofer } from "./testutil.ts";

const MODES: { name: string; confine: boolean }[] = [
  { name: "unconfined", confine: false },
  ...(geteuid() === 0 ? [{ name: "confined", confine: true }] : []),
];

function assertErrno(f: () => unknown, errno: number, what = ""): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof LisafsError, `expected LisafsError, got ${e}`);
    assert.equal(e.errno, errno, `${what} ${e.message}`);
    return true;
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

for (const { name, confine } of MODES) {
  Deno.test(`${name}: OpenCreateAt, PWrite, PRead, FSync, Flush, FAllocate reach the host file`, async () => {
    await withGofer({ confine }, (c, g) => {
      const { root } = c.mount();
      const made = c.openCreateAt(root, "new.txt", O_RDWR, 0o640, { uid: 1234, gid: 5678 });
      assert.equal(made.child.stat.mode & S_IFMT, S_IFREG);
      assert.equal(made.child.stat.mode & 0o7777, 0o640, "mode as given: the gofer's umask is 0");
      assert.equal(made.child.stat.uid, 1234);
      assert.equal(made.child.stat.gid, 5678);
      assert.ok(made.hostFd >= 0, "the new file is donated");
      assert.equal(c.pwrite(made.openFd, 0n, bytes("written by the client\n")), 22);
      const buf = new Uint8Array(64);
      assert.equal(text(buf.subarray(0, preadFd(made.hostFd, buf, 0))), "written by the client\n");
      assert.equal(text(c.pread(made.openFd, 8n, 3)), "by ");
      c.fsync([made.openFd]);
      c.flush(made.openFd);
      c.fallocate(made.openFd, 0, 0n, 4096n);
      assert.equal(c.fstat(made.child.fd).size, 4096);
      // A mode of unknown bits (the top one too: a u32 the host's int must not choke on).
      assertErrno(() => c.fallocate(made.openFd, 0x80000000, 0n, 1n), Errno.EOPNOTSUPP);
      assertErrno(() => c.fallocate(made.openFd, 0x100, 0n, 1n), Errno.EOPNOTSUPP);
      // A write larger than one message is split.
      const big = new Uint8Array(3 << 20).fill(0x61);
      assert.equal(c.pwrite(made.openFd, 0n, big), big.length);
      assert.equal(Deno.statSync(`${g.bundle}/rootfs/new.txt`).size, big.length);
      closeFd(made.hostFd);
      assertErrno(() => c.openCreateAt(root, "new.txt", O_RDWR, 0o600), Errno.EEXIST);
      const ro = c.openAt(made.child.fd, O_RDONLY);
      assertErrno(() => c.pwrite(ro.openFd, 0n, bytes("x")), Errno.EBADF);
      assertErrno(() => c.fallocate(ro.openFd, 0, 0n, 1n), Errno.EBADF);
      closeFd(ro.hostFd);
      assertErrno(() => c.fsync([made.openFd, 999]), Errno.EBADF, "unknown id in a batch");
      assertErrno(() => c.fsync([made.child.fd]), Errno.EBADF, "control FD");
      c.close([made.openFd, made.child.fd, ro.openFd]);
    });
  });

  Deno.test(`${name}: MkdirAt, MknodAt, SymlinkAt, LinkAt, UnlinkAt, RenameAt`, async () => {
    await withGofer({ confine }, (c, g) => {
      const { root } = c.mount();
      const r = `${g.bundle}/rootfs`;
      const dir = c.mkdirAt(root, "newdir", 0o750, { uid: 7, gid: 8 });
      assert.equal(dir.stat.mode & S_IFMT, S_IFDIR);
      assert.equal(dir.stat.mode & 0o7777, 0o750);
      assert.equal(dir.stat.uid, 7);
      assertErrno(() => c.mkdirAt(root, "newdir", 0o755), Errno.EEXIST);
      const fifo = c.mknodAt(dir.fd, "fifo", S_IFIFO | 0o600);
      assert.equal(fifo.stat.mode & S_IFMT, S_IFIFO);
      const plain = c.mknodAt(dir.fd, "plain", 0o644);
      assert.equal(plain.stat.mode & S_IFMT, S_IFREG);
      assertErrno(
        () => c.mknodAt(dir.fd, "dev", 0o020000 | 0o600, {}, { major: 1, minor: 3 }),
        Errno.EPERM,
      );
      assert.throws(() => Deno.lstatSync(`${r}/newdir/dev`), "no device node was made");
      const link = c.symlinkAt(dir.fd, "link", "/etc/passwd", { uid: 9, gid: 9 });
      assert.equal(link.stat.mode & S_IFMT, S_IFLNK);
      assert.equal(link.stat.uid, 9, "a symlink's own owner is set, the target untouched");
      assert.equal(c.readLinkAt(link.fd), "/etc/passwd");
      assert.equal(Deno.readLinkSync(`${r}/newdir/link`), "/etc/passwd");
      const hello = c.walk(root, ["hello.txt"]).inodes[0];
      const hard = c.linkAt(dir.fd, "hard", hello.fd);
      assert.equal(hard.stat.ino, hello.stat.ino);
      assert.equal(hard.stat.nlink, 2);
      assertErrno(() => c.linkAt(root, "dirlink", dir.fd), Errno.EPERM, "link to a directory");

      c.renameAt(dir.fd, "plain", root, "moved");
      assert.ok(Deno.statSync(`${r}/moved`).isFile);
      assertErrno(() => c.renameAt(root, "moved", dir.fd, "hard", 1 /* NOREPLACE */), Errno.EEXIST);
      assert.ok(Deno.statSync(`${r}/moved`).isFile, "a refused rename changes nothing");
      c.renameAt(root, "moved", dir.fd, "hard", 2 /* EXCHANGE */);
      assert.equal(Deno.readTextFileSync(`${r}/moved`), Deno.readTextFileSync(`${r}/hello.txt`));
      assertErrno(() => c.unlinkAt(root, "newdir", 0x200), Errno.ENOTEMPTY);
      assertErrno(() => c.unlinkAt(root, "newdir"), Errno.EISDIR);
      for (const n of ["fifo", "link", "hard"]) c.unlinkAt(dir.fd, n);
      c.unlinkAt(root, "moved");
      c.unlinkAt(root, "newdir", 0x200);
      assert.throws(() => Deno.lstatSync(`${r}/newdir`));
      assert.equal(Deno.statSync(`${r}/hello.txt`).nlink, 1);
    });
  });

  Deno.test(`${name}: SetStat applies what it can and reports the rest`, async () => {
    await withGofer({ confine }, (c, g) => {
      const { root } = c.mount();
      const f = c.walk(root, ["hello.txt"]).inodes[0];
      const r = c.setStat(f.fd, {
        mode: 0o600,
        uid: 42,
        gid: 43,
        size: 5n,
        atime: { sec: 1000n, nsec: 5n },
        mtime: { sec: 2000n, nsec: 7n },
      });
      assert.deepEqual(r, { failureMask: 0, failureErrno: 0 });
      const st = Deno.statSync(`${g.bundle}/rootfs/hello.txt`);
      assert.equal(st.mode! & 0o7777, 0o600);
      assert.equal(st.uid, 42);
      assert.equal(st.gid, 43);
      assert.equal(st.size, 5);
      assert.equal(st.mtime!.getTime(), 2_000_000);
      assert.equal(st.atime!.getTime(), 1_000_000);
      // A symlink has no mode of its own: that part fails, the times are still set.
      const l = c.walk(root, ["abs"]).inodes[0];
      const p = c.setStat(l.fd, { mode: 0o777, mtime: { sec: 3000n, nsec: 0n } });
      assert.equal(p.failureMask, SetStatMask.Mode);
      assert.equal(p.failureErrno, Errno.EOPNOTSUPP);
      assert.equal(Deno.lstatSync(`${g.bundle}/rootfs/abs`).mtime!.getTime(), 3_000_000);
      assert.equal(Deno.statSync("/etc").mtime!.getTime() === 3_000_000, false, "target untouched");
      const d = c.walk(root, ["dir"]).inodes[0];
      const t = c.setStat(d.fd, { size: 0n });
      assert.equal(t.failureMask, SetStatMask.Size);
      assert.equal(t.failureErrno, Errno.EISDIR);
    });
  });

  Deno.test(`${name}: extended attributes`, async () => {
    await withGofer({ confine }, (c) => {
      const { root } = c.mount();
      const f = c.walk(root, ["hello.txt"]).inodes[0];
      try {
        c.setXattr(f.fd, "user.runsc", bytes("v1"));
      } catch (e) {
        // A host file system without user xattrs: nothing more to check here.
        if (e instanceof LisafsError && e.errno === Errno.EOPNOTSUPP) return;
        throw e;
      }
      assert.equal(text(c.getXattr(f.fd, "user.runsc", 100)), "v1");
      assertErrno(() => c.setXattr(f.fd, "user.runsc", bytes("v2"), 1 /* CREATE */), Errno.EEXIST);
      assert.ok(c.listXattr(f.fd, 4096).includes("user.runsc"));
      assertErrno(() => c.getXattr(f.fd, "user.runsc", 1), Errno.ERANGE);
      assertErrno(() => c.getXattr(f.fd, "", 100), Errno.EINVAL);
      const o = c.openAt(f.fd, O_RDONLY);
      closeFd(o.hostFd);
      assert.equal(text(c.getXattr(o.openFd, "user.runsc", 100)), "v1", "through an open FD");
      // On a symlink's control FD the symlink itself is meant (Linux refuses user.* there);
      // following it would have set the attribute on the host's /etc.
      const l = c.walk(root, ["abs"]).inodes[0];
      assertErrno(() => c.setXattr(l.fd, "user.runsc", bytes("x")), Errno.EPERM, "symlink");
      c.removeXattr(f.fd, "user.runsc");
      assertErrno(() => c.getXattr(f.fd, "user.runsc", 100), Errno.ENODATA);
    });
  });

  Deno.test(`${name}: BindAt, Listen, Connect, Accept on a Unix socket in the rootfs`, async () => {
    await withGofer({ confine }, (c, g) => {
      const { root } = c.mount();
      const b = c.bindAt(root, "app.sock", SOCK_STREAM, 0o755, { uid: 3, gid: 4 });
      assert.equal(b.child.stat.mode & S_IFMT, S_IFSOCK);
      assert.equal(b.child.stat.uid, 3);
      assert.ok(b.hostFd >= 0);
      assertErrno(() => c.accept(b.boundSocketFd), Errno.EINVAL, "accept before listen");
      c.listen(b.boundSocketFd, 8);
      assertErrno(() => c.accept(b.boundSocketFd), Errno.EAGAIN, "nothing waiting");
      const client = c.connect(b.child.fd, SOCK_STREAM);
      const acc = c.accept(b.boundSocketFd);
      assert.ok(acc.hostFd >= 0);
      const msg = bytes("ping");
      writeAll(client, msg);
      const got = new Uint8Array(4);
      assert.equal(readFd(acc.hostFd, got), 4);
      assert.equal(text(got), "ping");
      for (const fd of [client, acc.hostFd, b.hostFd]) closeFd(fd);
      assertErrno(() => c.bindAt(root, "app.sock", SOCK_STREAM, 0o755), Errno.EADDRINUSE);
      assertErrno(
        () => c.connect(c.walk(root, ["hello.txt"]).inodes[0].fd, SOCK_STREAM),
        Errno.ECONNREFUSED,
      );
      assertErrno(() => c.listen(root, 1), Errno.EBADF, "listen on a control FD");
      assert.ok(Deno.lstatSync(`${g.bundle}/rootfs/app.sock`).isSocket);
      if (geteuid() === 0) {
        const l2 = c.bindAt(root, "creds.sock", SOCK_STREAM, 0o777);
        c.listen(l2.boundSocketFd, 1);
        const s = c.connectWithCreds(l2.child.fd, SOCK_STREAM, 1000, 1001);
        const a = c.accept(l2.boundSocketFd);
        assert.deepEqual(
          [peerCred(a.hostFd).uid, peerCred(a.hostFd).gid],
          [1000, 1001],
          "SO_PEERCRED",
        );
        for (const fd of [s, a.hostFd, l2.hostFd]) closeFd(fd);
        // The gofer got its own ids back: it still creates files as root.
        const n = c.mkdirAt(root, "after-creds", 0o755);
        assert.equal(n.stat.uid, 0);
      }
    });
  });

  Deno.test(`${name}: bind mounts are served by destination, read-only ones answer EROFS`, async () => {
    await withGofer({ confine, mounts: true }, (c, g) => {
      const root = c.mount();
      assert.equal(root.readonly, false);
      const data = c.mount("/data");
      assert.equal(data.readonly, false);
      const made = c.openCreateAt(data.root, "from-sentry", O_WRONLY, 0o644);
      closeFd(made.hostFd);
      assert.ok(Deno.statSync(`${g.bundle}/data/from-sentry`).isFile);
      assert.throws(() => Deno.statSync(`${g.bundle}/rootfs/data`), "nothing made in the rootfs");
      const ro = c.mount("/ro/");
      assert.equal(ro.readonly, true);
      const rf = c.walk(ro.root, ["r.txt"]).inodes[0];
      assertErrno(() => c.openAt(rf.fd, O_RDWR), Errno.EROFS);
      assertErrno(() => c.openCreateAt(ro.root, "x", O_RDWR, 0o644), Errno.EROFS);
      assertErrno(() => c.mkdirAt(ro.root, "x", 0o755), Errno.EROFS);
      assertErrno(() => c.unlinkAt(ro.root, "r.txt"), Errno.EROFS);
      assertErrno(() => c.setStat(rf.fd, { mode: 0o777 }), Errno.EROFS);
      assertErrno(() => c.setXattr(rf.fd, "user.x", bytes("1")), Errno.EROFS);
      assertErrno(() => c.bindAt(ro.root, "s", SOCK_STREAM, 0o777), Errno.EROFS);
      assertErrno(() => c.renameAt(data.root, "d.txt", root.root, "d.txt"), Errno.EXDEV);
      assertErrno(() => c.linkAt(data.root, "l", rf.fd), Errno.EXDEV);
      const one = c.mount("/etc/one.txt");
      assert.equal(one.stat.mode & S_IFMT, S_IFREG);
      const o = c.openAt(one.root, O_RDONLY);
      closeFd(o.hostFd);
      assert.equal(text(c.pread(o.openFd, 0n, 100)), "one file\n");
      assertErrno(() => c.mount("/proc"), Errno.ENOENT, "not a bind mount");
      assertErrno(() => c.mount("/nope"), Errno.ENOENT);
      assertErrno(() => c.mount("/data/../etc"), Errno.EINVAL);
    });
  });

  Deno.test(`${name}: a read-only root refuses every write message with EROFS`, async () => {
    await withGofer({ confine, readonly: true }, (c) => {
      const { root, readonly } = c.mount();
      assert.equal(readonly, true);
      const f = c.walk(root, ["hello.txt"]).inodes[0];
      const cases: [string, () => unknown][] = [
        ["OpenAt", () => c.openAt(f.fd, O_RDWR)],
        ["OpenCreateAt", () => c.openCreateAt(root, "n", O_RDWR, 0o600)],
        ["MkdirAt", () => c.mkdirAt(root, "n", 0o700)],
        ["MknodAt", () => c.mknodAt(root, "n", S_IFIFO | 0o600)],
        ["SymlinkAt", () => c.symlinkAt(root, "n", "t")],
        ["LinkAt", () => c.linkAt(root, "n", f.fd)],
        ["UnlinkAt", () => c.unlinkAt(root, "hello.txt")],
        ["RenameAt", () => c.renameAt(root, "hello.txt", root, "n")],
        ["RenameAt2", () => c.renameAt(root, "hello.txt", root, "n", 1)],
        ["SetStat", () => c.setStat(f.fd, { size: 0n })],
        ["FSetXattr", () => c.setXattr(f.fd, "user.a", bytes("b"))],
        ["FRemoveXattr", () => c.removeXattr(f.fd, "user.a")],
        ["BindAt", () => c.bindAt(root, "n", SOCK_STREAM, 0o700)],
      ];
      for (const [what, f] of cases) assertErrno(f, Errno.EROFS, what);
      const o = c.openAt(f.fd, O_RDONLY);
      closeFd(o.hostFd);
      assertErrno(() => c.pwrite(o.openFd, 0n, bytes("x")), Errno.EROFS);
    });
  });
}
