/**
 * The cost of host/'s typed wrappers against the raw libc symbols they wrap, for the calls the
 * Sentry and the ptrace platform make per system call or per I/O: each group's baseline is the
 * raw call, so that `deno bench` shows what a wrapper adds (it should add nothing measurable
 * beside a system call).
 *
 * Usage: deno bench -A host/wrappers_bench.ts
 *
 * @module
 */

import { libc, schedYield } from "./libc.ts";
import { fstatInto, pollNow, pwriteFd, STAT_SIZE } from "./io.ts";
import { clockGettime } from "./time.ts";
import { memfdCreate } from "./mman.ts";

const ts = new Uint8Array(16);
const st = new Uint8Array(STAT_SIZE);
const fd = memfdCreate("wrappers-bench");
const data = new Uint8Array(64);

Deno.bench("clock_gettime raw", { group: "clock_gettime", baseline: true }, () => {
  libc.symbols.clock_gettime(1, ts);
});
Deno.bench("clock_gettime host/time.ts", { group: "clock_gettime" }, () => {
  clockGettime(1, ts);
});

Deno.bench("sched_yield raw", { group: "sched_yield", baseline: true }, () => {
  libc.symbols.sched_yield();
});
Deno.bench("sched_yield host/libc.ts", { group: "sched_yield" }, () => {
  schedYield();
});

Deno.bench("fstat raw", { group: "fstat", baseline: true }, () => {
  libc.symbols.fstat(fd, st);
});
Deno.bench("fstat host/io.ts", { group: "fstat" }, () => {
  fstatInto(fd, st);
});

Deno.bench("pwrite raw", { group: "pwrite", baseline: true }, () => {
  libc.symbols.pwrite(fd, data, BigInt(data.length), 0n);
});
Deno.bench("pwrite host/io.ts", { group: "pwrite" }, () => {
  pwriteFd(fd, data, 0n);
});

// The old sentry/fs/host.ts hostPoll, as it was: a fresh pollfd per call.
function pollBefore(fd: number, events: number): number {
  const pfd = new Uint8Array(8);
  const v = new DataView(pfd.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, events, true);
  const ptr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(pfd)));
  const r = libc.symbols.syscall(7n, ptr, 1n, 0n, 0n, 0n, 0n) as bigint;
  if (r < 0n) return 0;
  return v.getUint16(6, true);
}
Deno.bench("poll as before", { group: "poll", baseline: true }, () => {
  pollBefore(fd, 1);
});
Deno.bench("poll host/io.ts", { group: "poll" }, () => {
  pollNow(fd, 1);
});
