/**
 * Hostile input against a real gofer: names that try to climb out, symlinks out of the root
 * (also swapped in by a rename while the client walks), files replaced by FIFOs and sockets,
 * truncated, garbage and oversized messages, and FD ids that do not exist or are of the wrong
 * kind. The gofer must answer each with an error, keep serving, and touch nothing outside.
 */
import assert from "node:assert/strict";
import { Errno } from "../abi/linux/errno.ts";
import { closeFd } from "../host/libc.ts";
import { O_RDONLY, O_RDWR, S_IFIFO, S_IFLNK, S_IFMT } from "../host/fsops.ts";
import { SOCK_STREAM } from "../host/socket.ts";
import { geteuid } from "../host/namespace.ts";
import { recvMessage, sendMessage } from "../gofer/lisafs/channel.ts";
import { decode, encode } from "../gofer/lisafs/codec.ts";
import {
  ErrorResp,
  HEADER_SIZE,
  type ImplementedMID,
  MAX_MESSAGE_SIZE,
  MESSAGES,
  MID,
  type Req,
} from "../gofer/lisafs/message.ts";
import { lisafsErrno, withGofer } from "../gofer/testutil.ts";

const confine = geteuid() === 0;

/** Sends a raw message; returns the response's errno, or 0 for a non-Error response. */
function rawErrno(sock: number, mid: number, payload: Uint8Array<ArrayBuffer>): number {
  sendMessage(sock, mid, payload);
  const r = recvMessage(sock, MAX_MESSAGE_SIZE);
  assert.ok(r, `a response to MID ${mid}`);
  for (const fd of r.fds) closeFd(fd);
  return r.mid === MID.Error ? decode(ErrorResp, r.payload).errno : 0;
}

/** Every file under `dir` with its size and mode: to prove nothing changed. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = `${d}/${e.name}`;
      const st = Deno.lstatSync(p);
      out.push(`${p} ${st.mode} ${st.size} ${st.mtime?.getTime()}`);
      if (e.isDirectory) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

const BAD_NAMES = ["..", ".", "", "a/b", "/etc", "../outside.txt", "x\0y", "n".repeat(256)];

Deno.test("every *At message refuses '..', '.', '', '/' and NUL names and changes nothing", async () => {
  await withGofer({ confine }, (c, g) => {
    const { root } = c.mount();
    const before = snapshot(g.bundle);
    const hello = c.walk(root, ["hello.txt"]).inodes[0].fd;
    for (const name of BAD_NAMES) {
      const want = name.length > 255 ? Errno.ENAMETOOLONG : Errno.EINVAL;
      const cases: [string, () => unknown][] = [
        ["Walk", () => c.walk(root, [name])],
        ["Walk (later)", () => c.walk(root, ["dir", name])],
        ["WalkStat", () => c.walkStat(root, ["dir", name])],
        ["OpenCreateAt", () => c.openCreateAt(root, name, O_RDWR, 0o644)],
        ["MkdirAt", () => c.mkdirAt(root, name, 0o755)],
        ["MknodAt", () => c.mknodAt(root, name, S_IFIFO | 0o644)],
        ["SymlinkAt", () => c.symlinkAt(root, name, "/etc")],
        ["LinkAt", () => c.linkAt(root, name, hello)],
        ["UnlinkAt", () => c.unlinkAt(root, name)],
        ["RenameAt old", () => c.renameAt(root, name, root, "z")],
        ["RenameAt new", () => c.renameAt(root, "hello.txt", root, name)],
        ["RenameAt2", () => c.renameAt(root, "hello.txt", root, name, 1)],
        ["BindAt", () => c.bindAt(root, name, SOCK_STREAM, 0o755)],
      ];
      // The WalkStat "" at the start is allowed (the directory itself); later it is not.
      for (const [what, f] of cases) {
        assert.equal(lisafsErrno(f), want, `${what} ${JSON.stringify(name.slice(0, 20))}`);
      }
    }
    assert.deepEqual(
      snapshot(g.bundle).filter((l) => !l.includes("gofer.log")),
      before.filter((l) => !l.includes("gofer.log")),
    );
  });
});

Deno.test("symlinks out of the root are never followed, by any message", async () => {
  await withGofer({ confine }, (c, g) => {
    const { root } = c.mount();
    const etcBefore = Deno.statSync("/etc").mtime?.getTime();
    for (const link of ["abs", "esc"]) {
      const w = c.walk(root, [link, "passwd"]);
      assert.equal(w.status, "symlink");
      assert.equal(w.inodes.length, 1, "the walk stops at the link");
      const l = w.inodes[0].fd;
      assert.equal(c.walkStat(root, [link, "passwd"]).length, 1);
      // A symlink used as a directory is not a directory.
      for (
        const f of [
          () => c.walk(l, ["passwd"]),
          () => c.openCreateAt(l, "pwned", O_RDWR, 0o644),
          () => c.mkdirAt(l, "pwned", 0o755),
          () => c.symlinkAt(l, "pwned", "x"),
          () => c.unlinkAt(l, "passwd"),
          () => c.renameAt(l, "passwd", root, "stolen"),
          () => c.bindAt(l, "pwned", SOCK_STREAM, 0o755),
        ]
      ) assert.equal(lisafsErrno(f), Errno.ENOTDIR);
      assert.equal(lisafsErrno(() => c.openAt(l, O_RDONLY)), Errno.ELOOP);
      // Creating over the link's name does not write through it.
      assert.equal(lisafsErrno(() => c.openCreateAt(root, link, O_RDWR, 0o644)), Errno.EEXIST);
      const t = c.setStat(l, { size: 0n, mode: 0o777 });
      assert.notEqual(t.failureMask, 0, "size and mode of a symlink fail");
      assert.equal(lisafsErrno(() => c.connect(l, SOCK_STREAM)), Errno.ECONNREFUSED);
    }
    assert.ok(Deno.statSync("/etc/passwd").size > 0);
    assert.equal(Deno.statSync("/etc").mtime?.getTime(), etcBefore);
    assert.throws(() => Deno.statSync("/etc/pwned"));
    assert.equal(Deno.lstatSync(`${g.bundle}/rootfs/abs`).isSymlink, true);
  });
});

Deno.test("a symlink swapped in by rename during walks never leads outside", async () => {
  await withGofer({ confine }, async (c, g) => {
    const r = `${g.bundle}/rootfs`;
    Deno.mkdirSync(`${r}/swap`);
    Deno.writeTextFileSync(`${r}/swap/passwd`, "inside\n");
    Deno.symlinkSync("/etc", `${r}/swaplink`);
    const worker = new Worker(new URL("./gofer_swap_worker.ts", import.meta.url), {
      type: "module",
    });
    const started = new Promise((res) => (worker.onmessage = res));
    worker.postMessage({ dir: r, a: "swap", b: "swaplink" });
    await started;
    const { root } = c.mount();
    const seen = { ok: 0, symlink: 0, missing: 0 };
    try {
      for (let i = 0; i < 1500; i++) {
        const w = c.walk(root, ["swap", "passwd"]);
        seen[w.status]++;
        if (w.status === "ok") {
          const f = w.inodes[1];
          const o = c.openAt(f.fd, O_RDONLY);
          closeFd(o.hostFd);
          assert.equal(new TextDecoder().decode(c.pread(o.openFd, 0n, 100)), "inside\n");
          c.close([o.openFd]);
        } else if (w.status === "symlink") {
          assert.equal(w.inodes.length, 1);
          assert.equal(w.inodes[0].stat.mode & S_IFMT, S_IFLNK);
        }
        c.close(w.inodes.map((n) => n.fd));
      }
    } finally {
      worker.postMessage("stop");
      await new Promise((res) => (worker.onmessage = res));
      worker.terminate();
    }
    assert.ok(
      seen.ok > 0 && seen.symlink > 0,
      `both sides of the race seen: ${JSON.stringify(seen)}`,
    );
  });
});

Deno.test("a file replaced by a FIFO or a socket: held nodes keep their inode, opens never hang", async () => {
  await withGofer({ confine }, (c, g) => {
    const r = `${g.bundle}/rootfs`;
    const { root } = c.mount();
    const held = c.walk(root, ["hello.txt"]).inodes[0];
    Deno.removeSync(`${r}/hello.txt`);
    const mk = new Deno.Command("mkfifo", { args: [`${r}/hello.txt`] }).outputSync();
    assert.ok(mk.success);
    // The control FD still names the original file: its data, not the FIFO.
    const o = c.openAt(held.fd, O_RDONLY);
    closeFd(o.hostFd);
    assert.match(new TextDecoder().decode(c.pread(o.openFd, 0n, 100)), /hello from the gofer/);
    const fifo = c.walk(root, ["hello.txt"]).inodes[0];
    assert.equal(fifo.stat.mode & S_IFMT, S_IFIFO);
    const t0 = Date.now();
    assert.equal(lisafsErrno(() => c.openAt(fifo.fd, O_RDONLY)), Errno.ENXIO);
    assert.equal(lisafsErrno(() => c.openAt(fifo.fd, O_RDWR)), Errno.ENXIO);
    assert.equal(lisafsErrno(() => c.connect(fifo.fd, SOCK_STREAM)), Errno.ECONNREFUSED);
    // A socket file: opening it is refused; once nobody listens, connecting is refused too.
    Deno.removeSync(`${r}/hello.txt`);
    const l = Deno.listen({ transport: "unix", path: `${r}/hello.txt` });
    const sock = c.walk(root, ["hello.txt"]).inodes[0];
    assert.equal(lisafsErrno(() => c.openAt(sock.fd, O_RDONLY)), Errno.ENXIO);
    l.close();
    assert.equal(lisafsErrno(() => c.connect(sock.fd, SOCK_STREAM)), Errno.ECONNREFUSED);
    assert.ok(Date.now() - t0 < 5000, "no open blocked");
  });
});

/** One valid request of each message, with `fd` in every FD field. */
function samples(fd: number): [ImplementedMID, unknown][] {
  const ts = { sec: 0n, nsec: 0n };
  const list: [ImplementedMID, Req<ImplementedMID>][] = [
    [MID.FStat, { fd }],
    [MID.SetStat, { fd, mask: 0x2, mode: 0o644, uid: 0, gid: 0, size: 0n, atime: ts, mtime: ts }],
    [MID.Walk, { dirFd: fd, names: ["hello.txt"] }],
    [MID.WalkStat, { dirFd: fd, names: ["hello.txt"] }],
    [MID.OpenAt, { fd, flags: 0 }],
    [MID.OpenCreateAt, { dirFd: fd, name: "n", flags: 2, mode: 0o644, uid: 0, gid: 0 }],
    [MID.Close, { fds: [fd] }],
    [MID.FSync, { fds: [fd] }],
    [MID.PWrite, { fd, offset: 0n, data: new Uint8Array(3) }],
    [MID.PRead, { offset: 0n, fd, count: 10 }],
    [MID.MkdirAt, { dirFd: fd, name: "n", mode: 0o755, uid: 0, gid: 0 }],
    [MID.MknodAt, { dirFd: fd, name: "n", mode: S_IFIFO, uid: 0, gid: 0, major: 0, minor: 0 }],
    [MID.SymlinkAt, { dirFd: fd, name: "n", target: "t", uid: 0, gid: 0 }],
    [MID.LinkAt, { dirFd: fd, name: "n", target: fd }],
    [MID.FStatFS, { fd }],
    [MID.FAllocate, { fd, mode: 0, offset: 0n, length: 1n }],
    [MID.ReadLinkAt, { fd }],
    [MID.Flush, { fd }],
    [MID.Connect, { fd, sockType: SOCK_STREAM }],
    [MID.UnlinkAt, { dirFd: fd, name: "n", flags: 0 }],
    [MID.RenameAt, { oldDirFd: fd, oldName: "a", newDirFd: fd, newName: "b" }],
    [MID.RenameAt2, { oldDirFd: fd, oldName: "a", newDirFd: fd, newName: "b", flags: 1 }],
    [MID.Getdents64, { fd, count: 4096 }],
    [MID.FGetXattr, { fd, name: "user.a", size: 10 }],
    [MID.FSetXattr, { fd, name: "user.a", value: new Uint8Array(1), flags: 0 }],
    [MID.FListXattr, { fd, size: 100 }],
    [MID.FRemoveXattr, { fd, name: "user.a" }],
    [MID.BindAt, { dirFd: fd, name: "n", sockType: SOCK_STREAM, mode: 0o755, uid: 0, gid: 0 }],
    [MID.Listen, { fd, backlog: 1 }],
    [MID.Accept, { fd }],
    [MID.ConnectWithCreds, { fd, sockType: SOCK_STREAM, uid: 0, gid: 0 }],
  ] as [ImplementedMID, Req<ImplementedMID>][];
  return list;
}

function encodeReq(mid: ImplementedMID, req: unknown): Uint8Array<ArrayBuffer> {
  return encode(MESSAGES[mid].req as never, req as never);
}

Deno.test("unknown FD ids and FD ids of the wrong kind are EBADF for every message", async () => {
  await withGofer({ confine }, (c, g) => {
    const { root } = c.mount();
    const before = snapshot(`${g.bundle}/rootfs`);
    for (const [mid, req] of samples(987654)) {
      assert.equal(rawErrno(g.sock, mid, encodeReq(mid, req)), Errno.EBADF, `MID ${mid}`);
    }
    // An open FD where a control FD is needed, and the reverse.
    const f = c.walk(root, ["hello.txt"]).inodes[0];
    const { openFd, hostFd } = c.openAt(f.fd, O_RDONLY);
    closeFd(hostFd);
    const needsControl = [MID.Walk, MID.OpenAt, MID.MkdirAt, MID.ReadLinkAt, MID.Connect];
    for (const [mid, req] of samples(openFd)) {
      if (!needsControl.includes(mid as never)) continue;
      assert.equal(rawErrno(g.sock, mid, encodeReq(mid, req)), Errno.EBADF, `open FD to ${mid}`);
    }
    const needsOpen = [MID.PRead, MID.PWrite, MID.Getdents64, MID.FSync, MID.Flush];
    for (const [mid, req] of samples(f.fd)) {
      if (!needsOpen.includes(mid as never)) continue;
      assert.equal(rawErrno(g.sock, mid, encodeReq(mid, req)), Errno.EBADF, `control FD to ${mid}`);
    }
    for (const mid of [MID.Listen, MID.Accept]) {
      assert.equal(rawErrno(g.sock, mid, encodeReq(mid, { fd: root, backlog: 1 })), Errno.EBADF);
    }
    // Closed ids stay dead; ids are never reused.
    c.close([openFd]);
    assert.equal(lisafsErrno(() => c.pread(openFd, 0n, 1)), Errno.EBADF);
    const again = c.openAt(f.fd, O_RDONLY);
    closeFd(again.hostFd);
    assert.ok(again.openFd > openFd);
    assert.deepEqual(snapshot(`${g.bundle}/rootfs`), before);
  });
});

Deno.test("truncated, padded and garbage payloads of every message are answered and harmless", async () => {
  await withGofer({ confine }, (c, g) => {
    const { root } = c.mount();
    const before = snapshot(g.bundle).filter((l) => !l.includes("gofer.log"));
    for (const [mid, req] of samples(root)) {
      const full = encodeReq(mid, req);
      for (let n = 0; n < full.length; n++) {
        assert.equal(
          rawErrno(g.sock, mid, full.slice(0, n)),
          Errno.EINVAL,
          `MID ${mid} cut at ${n}`,
        );
      }
      const padded = new Uint8Array(full.length + 3);
      padded.set(full);
      assert.equal(rawErrno(g.sock, mid, padded), Errno.EINVAL, `MID ${mid} with trailing bytes`);
    }
    // Random bytes under every id, including ids beyond the enum.
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let mid = 0; mid < 40; mid++) {
      for (let k = 0; k < 20; k++) {
        const p = new Uint8Array(rand() % 80);
        for (let i = 0; i < p.length; i++) p[i] = rand() & 0xff;
        const e = rawErrno(g.sock, mid, p);
        assert.ok(e >= 0);
      }
    }
    // A payload of exactly the largest allowed size is read and answered.
    const max = new Uint8Array(MAX_MESSAGE_SIZE - HEADER_SIZE);
    assert.equal(rawErrno(g.sock, MID.FStat, max), Errno.EINVAL);
    assert.ok(c.fstat(root), "still serving");
    const after = snapshot(g.bundle).filter((l) => !l.includes("gofer.log"));
    assert.deepEqual(after, before);
  });
});
