/**
 * The Sentry's TCP over loopback alone, in this process: no platform, no system calls. One
 * endpoint writes 64 KiB pieces from a stream buffer (as the socket layer copies them in from
 * the application), the other reads them out into a buffer of its own, in turns of the
 * microtask queue. What a stream costs the stack per 64 KiB, against what the same stream costs
 * inside a sandbox (bench/workloads.ts "TCP loopback"), tells the stack from the rest.
 *
 * The first pass runs cold (the JIT has seen none of it); later ones warm.
 *
 * Usage: deno run -A bench/tcp_stack.ts [--mib N] [--runs R]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { NetStack } from "../sentry/net/socket.ts";
import { connectedPair, tryOp } from "../sentry/net/testutil.ts";
import { streamBuffer } from "../sentry/net/tcp_header.ts";
import { release } from "../sentry/net/buffer_pool.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: { mib: { type: "string", default: "256" }, runs: { type: "string", default: "4" } },
});
const MIB = Math.max(1, Number(opts.mib));
const RUNS = Math.max(1, Number(opts.runs));
const PIECE = 65536;

const ns = new NetStack();
const [, client, server] = await connectedPair(ns);
const src = new Uint8Array(PIECE).fill(0x74);
const dst = new Uint8Array(PIECE);

/** Milliseconds to move `mib` MiB from client to server. */
async function stream(mib: number): Promise<number> {
  const total = mib << 20;
  let sent = 0, got = 0;
  const t0 = performance.now();
  while (got < total) {
    if (sent < total) {
      const b = streamBuffer(PIECE);
      b.set(src);
      sent += tryOp(() => client.write(b, null, true)) ?? 0;
      release(b);
    }
    // The loopback delivers on a microtask.
    await null;
    for (;;) {
      const r = tryOp(() => server.read(PIECE, false));
      if (!r || r.data.length === 0) break;
      dst.set(r.data);
      got += r.data.length;
    }
    await null;
  }
  return performance.now() - t0;
}

for (let i = 0; i < RUNS; i++) {
  const ms = await stream(MIB);
  const mbs = (MIB * 1.048576) / (ms / 1000);
  const us = (ms * 1000) / (MIB * 16);
  console.log(
    `${i === 0 ? "cold" : "warm"}: ${MIB} MiB in ${ms.toFixed(1)} ms, ` +
      `${mbs.toFixed(0)} MB/s, ${us.toFixed(2)} us per 64 KiB`,
  );
}
Deno.exit(0);
