/**
 * Test worker: receives one framed message on the socket it is given and reports its shape.
 *
 * @module
 */

import { closeAll, recvMessage } from "../lisafs/channel.ts";

// This file runs as a worker; deno check types it as a main module, hence the narrow cast.
const worker = self as unknown as {
  onmessage: (e: MessageEvent<number>) => void;
  postMessage(v: unknown): void;
};

worker.onmessage = (e) => {
  const m = recvMessage(e.data, 1 << 20);
  if (!m) {
    worker.postMessage(null);
    return;
  }
  closeAll(m.fds);
  worker.postMessage({
    mid: m.mid,
    len: m.payload.length,
    sum: m.payload.reduce((s, v) => s + v, 0),
    fds: m.fds.length,
  });
};
