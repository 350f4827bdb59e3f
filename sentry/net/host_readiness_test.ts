/**
 * HostReadiness with pipes standing for host sockets: a pipe's read end is ready for nothing
 * until its write end is written, so each notification seen is a change the host reported.
 */

import assert from "node:assert/strict";
import { closeFd, pipe, writeAll } from "../../host/libc.ts";
import { WaitQueue } from "../vfs/waiter.ts";
import { HostReadiness } from "./host_readiness.ts";

const O_NONBLOCK = 0o4000;
/** Bounds a wait that should end at once, so that a bug fails the test instead of hanging it. */
const HANG_MS = 10_000;

/** Resolves once cond() holds; rejects after HANG_MS. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + HANG_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${HANG_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("HostReadiness wakes a watched descriptor's queue when it becomes readable, and stops once nobody waits", async () => {
  const [r, w] = pipe(O_NONBLOCK);
  const readiness = new HostReadiness();
  const q = new WaitQueue();
  try {
    const id = readiness.watch(r, q);
    assert.ok(id > 0);
    let woken = 0;
    const unsubscribe = q.subscribe(() => woken++);
    readiness.run();
    writeAll(w, Uint8Array.of(1));
    await until("woken", () => woken > 0);
    unsubscribe();
    // Nobody waits: the wait on the host ends by itself (an op left pending fails the test).
    await until("stopped", () => !readiness.running);
    readiness.unwatch(id, r);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

Deno.test("HostReadiness wakes nothing for a descriptor no longer watched", async () => {
  const [r, w] = pipe(O_NONBLOCK);
  const [r2, w2] = pipe(O_NONBLOCK);
  const readiness = new HostReadiness();
  const old = new WaitQueue(), next = new WaitQueue();
  let oldWoken = 0, nextWoken = 0;
  const unsubscribe = [old.subscribe(() => oldWoken++), next.subscribe(() => nextWoken++)];
  try {
    const id = readiness.watch(r, old);
    readiness.unwatch(id, r);
    assert.ok(readiness.watch(r2, next) > 0);
    readiness.run();
    // The first write is reported before the second, were r still watched.
    writeAll(w, Uint8Array.of(1));
    writeAll(w2, Uint8Array.of(2));
    await until("woken", () => nextWoken > 0);
    assert.equal(oldWoken, 0);
    for (const u of unsubscribe) u();
    await until("stopped", () => !readiness.running);
  } finally {
    for (const fd of [r, w, r2, w2]) closeFd(fd);
  }
});
