import assert from "node:assert/strict";
import { closeFd, socketpair } from "../../host/libc.ts";
import { recvMessage, sendMessage } from "./channel.ts";

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
