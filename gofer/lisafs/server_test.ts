/**
 * The protocol side of the server on its own: dispatch, errors and the read-only refusal, over
 * file operations written here, with no host file and no Gofer process.
 */

import assert from "node:assert/strict";
import { Errno } from "../../abi/linux/errno.ts";
import { decode, encode } from "./codec.ts";
import { ErrorResp, MESSAGES, MID, type Stat } from "./message.ts";
import { Connection, type FileOps, LinuxError, type ServedMount, Server } from "./server.ts";

const STAT: Stat = {
  mode: 0o100644,
  nlink: 1,
  uid: 7,
  gid: 8,
  rdev: 0,
  blksize: 4096,
  size: 5,
  blocks: 8,
  ino: 42n,
  dev: 1n,
  atimeNs: 1n,
  mtimeNs: 2n,
  ctimeNs: 3n,
};

/** File operations that answer FStat of id 1 and record every call; the rest is ENOSYS. */
function fakeOps(calls: string[]): FileOps {
  const ops: Partial<FileOps> = {
    [MID.FStat]: (c, { fd }) => {
      calls.push(`fstat ${fd}`);
      if (fd === 2) throw new LinuxError(Errno.EACCES, "fd 2 is private");
      if (fd === 3) throw new TypeError("a bug in the implementation");
      c.get(fd);
      return { resp: STAT };
    },
    [MID.MkdirAt]: (_c, { name }) => {
      calls.push(`mkdir ${name}`);
      throw new LinuxError(Errno.EEXIST, "exists");
    },
  };
  // A server answers ENOSYS for what its operations leave out.
  return ops as FileOps;
}

function connection(calls: string[], readonly: boolean): Connection {
  const mount: ServedMount = { path: "/", fd: -1, readonly };
  const c = new Connection(new Server(fakeOps(calls)), -1, [mount]);
  c.add({ kind: "control", host: -1, mount });
  return c;
}

function errnoOf(reply: { mid: number; payload: Uint8Array<ArrayBuffer> }): number {
  assert.equal(reply.mid, MID.Error);
  return decode(ErrorResp, reply.payload).errno;
}

Deno.test("Server announces the messages its file operations implement", () => {
  assert.deepEqual(new Server(fakeOps([])).supported, [MID.FStat, MID.MkdirAt]);
});

Deno.test("Connection.handle() decodes, dispatches and encodes one request", () => {
  const calls: string[] = [];
  const c = connection(calls, false);
  const reply = c.handle(MID.FStat, encode(MESSAGES[MID.FStat].req, { fd: 1 }));
  assert.equal(reply.mid, MID.FStat);
  assert.deepEqual(decode(MESSAGES[MID.FStat].resp, reply.payload), STAT);
  assert.deepEqual(calls, ["fstat 1"]);
});

Deno.test("Connection.handle() answers each failure with one Error message", () => {
  const calls: string[] = [];
  const c = connection(calls, false);
  const fstat = (fd: number) => c.handle(MID.FStat, encode(MESSAGES[MID.FStat].req, { fd }));
  assert.equal(errnoOf(fstat(2)), Errno.EACCES, "the implementation's errno");
  assert.equal(errnoOf(fstat(9)), Errno.EBADF, "an unknown FD id");
  assert.equal(errnoOf(fstat(3)), Errno.EIO, "a bug is EIO");
  assert.equal(errnoOf(c.handle(MID.FStat, new Uint8Array(3))), Errno.EINVAL, "a short payload");
  assert.equal(errnoOf(c.handle(MID.Walk, new Uint8Array(0))), Errno.ENOSYS, "not implemented");
  assert.equal(errnoOf(c.handle(MID.Channel, new Uint8Array(0))), Errno.EOPNOTSUPP);
  assert.equal(errnoOf(c.handle(MID.Error, new Uint8Array(0))), Errno.EINVAL);
  assert.equal(errnoOf(c.handle(999, new Uint8Array(0))), Errno.ENOSYS, "an unknown id");
  assert.deepEqual(calls, ["fstat 2", "fstat 9", "fstat 3"]);
});

Deno.test("a write message never reaches the file operations when every mount is read-only", () => {
  const req = encode(MESSAGES[MID.MkdirAt].req, {
    dirFd: 1,
    name: "d",
    mode: 0o755,
    uid: 0,
    gid: 0,
  });
  const calls: string[] = [];
  assert.equal(errnoOf(connection(calls, true).handle(MID.MkdirAt, req)), Errno.EROFS);
  assert.deepEqual(calls, []);
  assert.equal(errnoOf(connection(calls, false).handle(MID.MkdirAt, req)), Errno.EEXIST);
  assert.deepEqual(calls, ["mkdir d"]);
});
