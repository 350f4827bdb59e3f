import assert from "node:assert/strict";
import { Errno } from "../abi/linux/errno.ts";
import { closeFd, pipe, preadFd } from "../host/libc.ts";
import { readFd } from "../host/io.ts";
import { hostKill, W, waitpid } from "../host/spawn.ts";
import {
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../host/fsops.ts";
import { sendAll } from "../host/socket.ts";
import { recvMessage, sendMessage } from "./lisafs/channel.ts";
import { decode, encode } from "./lisafs/codec.ts";
import { LisafsClient, LisafsError } from "./lisafs/client.ts";
import { ErrorResp, MAX_MESSAGE_SIZE, MESSAGES, MID } from "./lisafs/message.ts";
import { GoferProcess, HELLO, withGofer } from "./testutil.ts";

/** Runs `body` against a fresh gofer and checks that it exits with `code`. */

function assertErrno(f: () => unknown, errno: number): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof LisafsError, `expected LisafsError, got ${e}`);
    assert.equal(e.errno, errno, e.message);
    return true;
  });
}

/** Sends a raw message and returns the response's errno, or 0 for a non-Error response. */
function rawErrno(sock: number, mid: number, payload: Uint8Array<ArrayBuffer>): number {
  sendMessage(sock, mid, payload);
  const r = recvMessage(sock, MAX_MESSAGE_SIZE);
  assert.ok(r, "expected a response");
  for (const fd of r.fds) closeFd(fd);
  return r.mid === MID.Error ? decode(ErrorResp, r.payload).errno : 0;
}

Deno.test("gofer serves mount, walk, open and read, and donates the file's host FD", async () => {
  await withGofer({}, (c, g) => {
    const { root, stat } = c.mount();
    assert.match(g.logText(), /confinement not set up/);
    assert.equal(stat.mode & S_IFMT, S_IFDIR);
    const w = c.walk(root, ["hello.txt"]);
    assert.equal(w.status, "ok");
    assert.equal(w.inodes.length, 1);
    const file = w.inodes[0];
    assert.equal(file.stat.mode & S_IFMT, S_IFREG);
    assert.equal(file.stat.size, HELLO.length);
    assert.deepEqual(c.fstat(file.fd), file.stat);

    const { openFd, hostFd } = c.openAt(file.fd, O_RDONLY);
    assert.ok(hostFd >= 0, "regular file comes with a host FD");
    assert.equal(new TextDecoder().decode(c.pread(openFd, 0n, 4096)), HELLO);
    assert.equal(new TextDecoder().decode(c.pread(openFd, 6n, 4)), "from");
    const buf = new Uint8Array(4096);
    const n = preadFd(hostFd, buf, 0);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n)), HELLO);
    closeFd(hostFd);

    const nested = c.walk(root, ["dir", "sub", "file.txt"]);
    assert.equal(nested.status, "ok");
    assert.equal(nested.inodes.length, 3);
    assert.equal(nested.inodes[2].stat.size, "nested\n".length);

    c.close([file.fd, openFd, ...nested.inodes.map((i) => i.fd)]);
    assertErrno(() => c.fstat(file.fd), Errno.EBADF);
    assertErrno(() => c.pread(openFd, 0n, 1), Errno.EBADF);
  });
});

Deno.test("walk stops at a missing component and at symlinks, which it never follows", async () => {
  await withGofer({}, (c) => {
    const { root } = c.mount();
    const missing = c.walk(root, ["dir", "nope", "x"]);
    assert.equal(missing.status, "missing");
    assert.equal(missing.inodes.length, 1);

    for (
      const [names, target] of [[["abs", "passwd"], "/etc"], [["esc", "passwd"], "../../etc"], [
        ["dir", "link"],
        "../hello.txt",
      ]] as const
    ) {
      const w = c.walk(root, [...names]);
      assert.equal(w.status, "symlink", names.join("/"));
      const link = w.inodes[w.inodes.length - 1];
      assert.equal(link.stat.mode & S_IFMT, S_IFLNK);
      assert.equal(c.readLinkAt(link.fd), target);
      assertErrno(() => c.openAt(link.fd, O_RDONLY), Errno.ELOOP);
      c.close(w.inodes.map((i) => i.fd));
    }

    const ws = c.walkStat(root, ["", "esc", "passwd"]);
    assert.equal(ws.length, 2, "the root itself and the symlink, nothing beyond");
    assert.equal(ws[0].mode & S_IFMT, S_IFDIR);
    assert.equal(ws[1].mode & S_IFMT, S_IFLNK);
  });
});

Deno.test("walk refuses '..', '.', 'a/b' and '' with EINVAL", async () => {
  await withGofer({}, (c) => {
    const { root } = c.mount();
    for (const bad of ["..", ".", "dir/sub", "", "a\0b"]) {
      assertErrno(() => c.walk(root, [bad]), Errno.EINVAL);
      assertErrno(() => c.walk(root, ["dir", bad]), Errno.EINVAL);
      assertErrno(() => c.walkStat(root, ["dir", bad]), Errno.EINVAL);
    }
    assertErrno(() => c.walk(root, ["x".repeat(256)]), Errno.ENAMETOOLONG);
    // Walking from a file is ENOTDIR; the connection keeps serving.
    const f = c.walk(root, ["hello.txt"]).inodes[0];
    assertErrno(() => c.walk(f.fd, ["x"]), Errno.ENOTDIR);
    assertErrno(() => c.readLinkAt(f.fd), Errno.EINVAL);
    assert.equal(c.walk(root, ["dir"]).status, "ok");
  });
});

Deno.test("getdents64 lists a directory and rewinds on a negative count", async () => {
  await withGofer({}, (c) => {
    const { root } = c.mount();
    const { openFd, hostFd } = c.openAt(root, O_RDONLY);
    assert.equal(hostFd, -1, "directories are not donated");
    const names: string[] = [];
    for (;;) {
      const ents = c.getdents64(openFd, 4096);
      if (ents.length === 0) break;
      names.push(...ents.map((e) => e.name));
    }
    assert.deepEqual(names.sort(), [".", "..", "abs", "dir", "esc", "hello.txt"]);
    const again = c.getdents64(openFd, -4096);
    assert.equal(again.length, 6);
    assertErrno(() => c.getdents64(openFd, 10), Errno.EINVAL);
    assertErrno(() => c.pread(openFd, 0n, 10), Errno.EISDIR);
    assertErrno(() => c.openAt(root, O_WRONLY), Errno.EISDIR);
    const fs = c.fstatfs(root);
    assert.ok(fs.blockSize > 0n);
  });
});

Deno.test("errors are answered and the gofer keeps serving", async () => {
  await withGofer({}, (c, g) => {
    const { root } = c.mount();
    assertErrno(() => c.fstat(12345), Errno.EBADF);
    assertErrno(() => c.close([root, 999]), Errno.EBADF);
    c.fstat(root); // the failed Close closed nothing
    assert.equal(rawErrno(g.sock, 200, new Uint8Array(0)), Errno.ENOSYS, "unknown MID");
    assert.equal(rawErrno(g.sock, MID.Error, new Uint8Array(0)), Errno.EINVAL, "Error request");
    assert.equal(rawErrno(g.sock, MID.Channel, new Uint8Array(0)), Errno.EOPNOTSUPP, "Channel");
    assert.equal(rawErrno(g.sock, MID.FStat, new Uint8Array(3)), Errno.EINVAL, "short payload");
    const fstat = encode(MESSAGES[MID.FStat].req, { fd: root });
    const long = new Uint8Array(fstat.length + 1);
    long.set(fstat);
    assert.equal(rawErrno(g.sock, MID.FStat, long), Errno.EINVAL, "trailing bytes");
    // A Walk whose array count claims more names than the payload holds.
    const lie = new Uint8Array(12);
    new DataView(lie.buffer).setUint32(8, 0xffffffff, true);
    assert.equal(rawErrno(g.sock, MID.Walk, lie), Errno.EINVAL, "array count lie");
    assert.equal(rawErrno(g.sock, MID.FStat, fstat), 0, "still serving");
    assert.equal(rawErrno(g.sock, MID.PWrite, new Uint8Array(0)), Errno.EINVAL, "empty PWrite");
    const f = c.walk(root, ["hello.txt"]).inodes[0];
    const { openFd, hostFd } = c.openAt(f.fd, O_RDWR);
    assert.ok(hostFd >= 0);
    closeFd(hostFd);
    c.close([openFd]);
  });
});

Deno.test("a read-only root refuses writes with EROFS", async () => {
  await withGofer({ readonly: true }, (c, g) => {
    const { root } = c.mount();
    for (const mid of [MID.PWrite, MID.MkdirAt, MID.UnlinkAt, MID.SetStat, MID.OpenCreateAt]) {
      assert.equal(rawErrno(g.sock, mid, new Uint8Array(0)), Errno.EROFS, `MID ${mid}`);
    }
    const f = c.walk(root, ["hello.txt"]).inodes[0];
    assertErrno(() => c.openAt(f.fd, O_RDWR), Errno.EROFS);
    assertErrno(() => c.openAt(f.fd, O_WRONLY), Errno.EROFS);
    assertErrno(() => c.openAt(f.fd, O_RDONLY | O_TRUNC), Errno.EROFS);
    const { openFd, hostFd } = c.openAt(f.fd, O_RDONLY);
    closeFd(hostFd);
    assert.equal(new TextDecoder().decode(c.pread(openFd, 0n, 100)), HELLO);
  });
});

Deno.test("a truncated header closes the connection cleanly", async () => {
  await withGofer({ code: 1 }, (_c, g) => {
    sendAll(g.sock, new Uint8Array([1, 2, 3]));
  });
});

Deno.test("a truncated payload closes the connection cleanly", async () => {
  await withGofer({ code: 1 }, (_c, g) => {
    const h = new Uint8Array(18);
    new DataView(h.buffer).setUint32(0, 100, true);
    new DataView(h.buffer).setUint16(4, MID.FStat, true);
    sendAll(g.sock, h);
  });
});

Deno.test("an oversized payloadLen is answered with EMSGSIZE, then the gofer closes", async () => {
  await withGofer({ code: 1 }, (_c, g) => {
    const h = new Uint8Array(8);
    new DataView(h.buffer).setUint32(0, 0xffffffff, true);
    new DataView(h.buffer).setUint16(4, MID.FStat, true);
    sendAll(g.sock, h);
    const r = recvMessage(g.sock, MAX_MESSAGE_SIZE);
    assert.ok(r);
    assert.equal(r.mid, MID.Error);
    assert.equal(decode(ErrorResp, r.payload).errno, 90 /* EMSGSIZE */);
    assert.equal(recvMessage(g.sock, MAX_MESSAGE_SIZE), null, "then end of stream");
  });
});

Deno.test("descriptors sent by the client are dropped, not kept", async () => {
  await withGofer({}, (c, g) => {
    const { root } = c.mount();
    const [r, w] = pipe(O_CLOEXEC);
    sendMessage(g.sock, MID.FStat, encode(MESSAGES[MID.FStat].req, { fd: root }), [w]);
    closeFd(w);
    const resp = recvMessage(g.sock, MAX_MESSAGE_SIZE);
    assert.equal(resp?.mid, MID.FStat);
    // The gofer closed its copy of the write end: the pipe reads end of file.
    const buf = new Uint8Array(1);
    assert.equal(readFd(r, buf), 0);
    closeFd(r);
  });
});

Deno.test("the client reports a gofer that went away as EIO", () => {
  const g = new GoferProcess(false);
  try {
    const c = new LisafsClient(g.sock);
    const { root } = c.mount();
    hostKill(g.pid, 9);
    // Reap it first, so that the call cannot race with a still-running gofer.
    const st = waitpid(g.pid, 0);
    assert.equal(st && W.termSig(st.raw), 9);
    assertErrno(() => c.fstat(root), Errno.EIO);
  } finally {
    closeFd(g.sock);
    Deno.removeSync(g.bundle, { recursive: true });
  }
});

Deno.test("WalkStat answers what Walk finds, component by component", async () => {
  await withGofer({}, (c) => {
    const { root } = c.mount();
    for (
      const names of [
        ["hello.txt"],
        ["dir", "sub", "file.txt"],
        ["dir", "link"],
        ["dir", "nope"],
        ["dir", "sub", "nope", "deeper"],
        ["abs"],
        ["abs", "passwd"],
      ]
    ) {
      const w = c.walk(root, names);
      const ws = c.walkStat(root, names);
      assert.deepEqual(ws, w.inodes.map((i) => i.stat), names.join("/"));
      c.close(w.inodes.map((i) => i.fd));
    }
    // A file in the middle of a path: both fail alike.
    assertErrno(() => c.walk(root, ["hello.txt", "x"]), Errno.ENOTDIR);
    assertErrno(() => c.walkStat(root, ["hello.txt", "x"]), Errno.ENOTDIR);
  });
});
