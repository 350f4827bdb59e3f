/**
 * TCP endpoints over the loopback stack without a sandbox: the endpoints never wait, so a
 * test drives them and lets the loopback deliver between steps.
 */

import assert from "node:assert/strict";
import { SysError } from "../../abi/linux/error.ts";
import { LOOPBACK4, LOOPBACK6 } from "./address.ts";
import { NetStack } from "./socket.ts";
import type { TCPEndpoint } from "./tcp_endpoint.ts";

/** Lets the loopback deliver what is queued (microtasks and a macrotask turn). */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

function tryOp<T>(f: () => T): T | null {
  try {
    return f();
  } catch (e) {
    if (e instanceof SysError && e.errno === 11) return null;
    throw e;
  }
}

async function connected(ns: NetStack): Promise<[TCPEndpoint, TCPEndpoint, TCPEndpoint]> {
  const l = ns.tcp.newEndpoint(true);
  l.bind(LOOPBACK4, 0);
  l.listen(8);
  const c = ns.tcp.newEndpoint(true);
  assert.throws(() => c.connect(LOOPBACK4, l.localPort), /EINPROGRESS|115/);
  await settle();
  const s = l.acceptQueue.shift();
  assert.ok(s, "a connection is waiting for accept");
  assert.ok(c.connected);
  return [l, c, s];
}

Deno.test("tcp endpoints echo a megabyte through the loopback in both directions", async () => {
  const ns = new NetStack();
  const [, c, s] = await connected(ns);
  const total = 1 << 20;
  const out = new Uint8Array(total).map((_, i) => (i * 7) & 0xff);
  let sent = 0, echoed = 0, back = 0;
  const pending: Uint8Array[] = [];
  for (let round = 0; round < 100000 && back < total; round++) {
    if (sent < total) sent += tryOp(() => c.write(out.subarray(sent, sent + 100000), null)) ?? 0;
    const r = tryOp(() => s.read(65536, false));
    if (r) pending.push(r.data);
    while (pending.length) {
      const n = tryOp(() => s.write(pending[0], null));
      if (n === null) break;
      echoed += n;
      if (n < pending[0].length) {
        pending[0] = pending[0].subarray(n);
        break;
      }
      pending.shift();
    }
    const b = tryOp(() => c.read(1 << 20, false));
    if (b) {
      for (let i = 0; i < b.data.length; i++) {
        if (b.data[i] !== out[back + i]) throw new Error(`byte ${back + i} differs`);
      }
      back += b.data.length;
    }
    await settle();
  }
  assert.equal(back, total, `echoed ${echoed}, sent ${sent}`);
});

Deno.test("a connection to a port nobody listens on is refused with a reset", async () => {
  const ns = new NetStack();
  const c = ns.tcp.newEndpoint(false);
  assert.throws(() => c.connect(LOOPBACK6, 9), /EINPROGRESS|115/);
  await settle();
  assert.equal(c.connected, false);
  assert.equal(c.takeError(), 111);
  // The socket may try again, and reaches a listener this time.
  const l = ns.tcp.newEndpoint(false);
  l.bind(LOOPBACK6, 0);
  l.listen(1);
  assert.equal(c.remoteAddr, null, "no peer after a refusal");
  assert.throws(() => c.connect(LOOPBACK6, l.localPort), /EINPROGRESS|115/);
  await settle();
  assert.ok(c.connected);
  assert.notEqual(c.localPort, 0);
  assert.equal(c.write(Uint8Array.of(1, 2, 3), null), 3);
  await settle();
  assert.deepEqual(l.acceptQueue.shift()?.read(10, false).data, Uint8Array.of(1, 2, 3));
});
