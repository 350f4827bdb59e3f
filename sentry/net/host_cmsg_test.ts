/**
 * The control-message filter of host sockets fed what a real IP socket never gives (descriptors
 * from the host, broken headers), beside what tests/progs/net_host.c checks against Linux.
 */

import assert from "node:assert/strict";
import { SysError } from "../../abi/linux/error.ts";
import { Errno } from "../../abi/linux/errno.ts";
import { pipe } from "../../host/libc.ts";
import { receivedControl, sendControl } from "./host_cmsg.ts";

/** One control message: header (len as given, or the real one) and data, 8-byte padded. */
function cmsg(level: number, type: number, data: Uint8Array, len?: bigint): Uint8Array {
  const out = new Uint8Array((16 + data.length + 7) & ~7);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, len ?? BigInt(16 + data.length), true);
  v.setInt32(8, level, true);
  v.setInt32(12, type, true);
  out.set(data, 16);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

const int = (n: number) => new Uint8Array(new Int32Array([n]).buffer);

Deno.test("host_cmsg: descriptors a host receive carried are closed and never shown", () => {
  const [r, w] = pipe();
  const stamp = cmsg(1, 29, new Uint8Array(16).fill(5)); // SO_TIMESTAMP
  const rights = cmsg(1, 1, new Uint8Array(new Int32Array([r, w]).buffer)); // SCM_RIGHTS
  const ttl = cmsg(0, 2, int(64)); // IP_TTL
  const got = receivedControl(concat(stamp, rights, ttl));
  assert.deepEqual(got, concat(stamp, ttl));
  for (const fd of [r, w]) {
    assert.throws(() => Deno.lstatSync(`/proc/self/fd/${fd}`), Deno.errors.NotFound, `fd ${fd}`);
  }
});

Deno.test("host_cmsg: unlisted or broken received messages are dropped", () => {
  const cred = cmsg(1, 2, new Uint8Array(12)); // SCM_CREDENTIALS
  const orig = cmsg(0, 7, new Uint8Array(8)); // IP_RETOPTS: not listed
  const ttl = cmsg(0, 2, int(7));
  const broken = cmsg(0, 1, int(1), 8n); // shorter than its header: the walk stops
  assert.deepEqual(receivedControl(concat(cred, orig, ttl, broken, ttl)), ttl);
});

Deno.test("host_cmsg: a send's messages are checked and rebuilt", () => {
  const ttl = cmsg(0, 2, int(7));
  const tos = cmsg(0, 1, int(0x28));
  const rights = cmsg(1, 1, int(0));
  const other = cmsg(0x1234, 1, int(1));
  const v6 = cmsg(41, 52, int(9)); // IPV6_HOPLIMIT
  // SCM_RIGHTS and unknown levels are dropped; the IP ones kept, in order.
  assert.deepEqual(sendControl(concat(ttl, rights, other, tos), 2, false), concat(ttl, tos));
  assert.deepEqual(sendControl(concat(v6), 10, false), v6);
  // A stream passes none (TCP ignores them), but still checks SOL_SOCKET and the headers.
  assert.equal(sendControl(concat(ttl, rights), 2, true), null);
  const einval = (raw: Uint8Array, family = 2, stream = false) =>
    assert.throws(
      () => sendControl(raw, family, stream),
      (e) => e instanceof SysError && e.errno === Errno.EINVAL,
    );
  einval(cmsg(1, 36, int(1))); // SO_MARK
  einval(cmsg(1, 36, int(1)), 2, true);
  einval(cmsg(0, 99, int(1))); // an unlisted SOL_IP type
  einval(cmsg(41, 57, int(1)), 10); // IPV6_RTHDR: unlisted
  einval(cmsg(0, 2, int(7), 8n)); // shorter than its header
  einval(cmsg(0, 2, int(7), 1n << 63n)); // far past the buffer
  einval(concat(ttl, cmsg(0, 2, int(7), 4096n)));
});
