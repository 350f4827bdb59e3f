import assert from "node:assert/strict";
import { closeFd, socketpair } from "../../host/libc.ts";
import { sendAll } from "../../host/socket.ts";
import { closeAll, FramingError, Receiver, recvMessage, sendMessage } from "./channel.ts";

Deno.test("channel carries a message larger than the socket buffer, with descriptors", () => {
  const [a, b] = socketpair(1, /* SOCK_STREAM */ 0o2000000 /* SOCK_CLOEXEC */);
  const [x, y] = socketpair(1, 0o2000000);
  try {
    const payload = new Uint8Array(600_000).map((_, i) => i * 7);
    const worker = new Worker(new URL("../testdata/recv_worker.ts", import.meta.url), {
      type: "module",
    });
    return new Promise<void>((resolve, reject) => {
      worker.onmessage = (e) => {
        try {
          assert.deepEqual(e.data, {
            mid: 12,
            len: payload.length,
            sum: payload.reduce((s, v) => s + v, 0),
            fds: 2,
          });
          resolve();
        } catch (err) {
          reject(err);
        } finally {
          worker.terminate();
        }
      };
      worker.postMessage(b);
      // The receiver drains the stream while this send blocks on a full socket buffer.
      sendMessage(a, 12, payload, [x, y]);
    });
  } finally {
    // Closing while the worker may still hold received FDs is fine: they are its copies.
    setTimeout(() => [a, b, x, y].forEach(closeFd), 0);
  }
});

Deno.test("channel returns null at a clean end of stream", () => {
  const [a, b] = socketpair(1, 0o2000000);
  closeFd(a);
  assert.equal(recvMessage(b, 1 << 20), null);
  closeFd(b);
});

Deno.test("a receiver keeps what it read ahead: messages sent together come out one by one", () => {
  const [a, b] = socketpair(1, 0o2000000);
  const [x, y] = socketpair(1, 0o2000000);
  try {
    // Sent before any is received: the first read takes in all three.
    sendMessage(a, 5, new Uint8Array([1, 2, 3]));
    sendMessage(a, 6, new Uint8Array(0), [x]);
    // A header and its payload in two writes, and a payload longer than the read-ahead.
    const big = new Uint8Array(70_000).map((_, i) => i % 251);
    const h = new Uint8Array(8);
    new DataView(h.buffer).setUint32(0, big.length, true);
    new DataView(h.buffer).setUint16(4, 7, true);
    sendAll(a, h);
    sendAll(a, big);
    sendAll(a, new Uint8Array([9, 0, 0])); // the start of a header, then the end of stream
    closeFd(a);
    const r = new Receiver(b);
    const m1 = r.recv(1 << 20)!;
    assert.deepEqual([m1.mid, [...m1.payload]], [5, [1, 2, 3]]);
    const m2 = r.recv(1 << 20)!;
    assert.equal(m1.fds.length, 0, "the descriptor came with the second message");
    assert.deepEqual([m2.mid, m2.payload.length, m2.fds.length], [6, 0, 1]);
    closeAll(m2.fds);
    const m3 = r.recv(1 << 20)!;
    assert.equal(m3.mid, 7);
    assert.deepEqual(m3.payload, big);
    assert.throws(() => r.recv(1 << 20), (e: unknown) => e instanceof FramingError);
  } finally {
    [b, x, y].forEach(closeFd);
  }
});

Deno.test("a receiver refuses a payload over its limit and returns null at a clean end", () => {
  const [a, b] = socketpair(1, 0o2000000);
  try {
    sendMessage(a, 1, new Uint8Array(100));
    const r = new Receiver(b);
    assert.throws(() => r.recv(64), (e: unknown) => e instanceof FramingError && e.errno === 90);
    const [c, d] = socketpair(1, 0o2000000);
    closeFd(c);
    assert.equal(new Receiver(d).recv(64), null);
    closeFd(d);
  } finally {
    [a, b].forEach(closeFd);
  }
});
