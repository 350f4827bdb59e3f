/**
 * Platform micro-benchmarks, side by side in one run: the cost of one system call round trip
 * through Context.switch (application -> Sentry -> application), and how fast application
 * code runs between switches (a CPU-bound loop), on each platform that works here.
 *
 * Also: the cost of entering and leaving KVM_RUN (immediate_exit, no guest code) made
 * synchronously on the JavaScript thread and as a nonblocking FFI call on a runtime thread,
 * the measurement behind platform/kvm/context.ts's choice.
 *
 * Then the host's own floor for the same round trip with no Sentry in it (tests/progs/
 * bench_trap_floor.c): a seccomp trap answered in the trapping thread, the trap handed to a
 * second thread (by sched_yield, as Systrap does, or by futex), and a C tracer under
 * PTRACE_SYSEMU; wall and CPU time per call. On a busy host the wall time is mostly other
 * processes' turns; the CPU time is what bounds how far apart the two platforms can be.
 *
 * Usage: deno run -A bench/platform_bench.ts [--n 5000]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { MemoryFile } from "../sentry/mm/memory_file.ts";
import { KvmPlatform } from "../platform/kvm/kvm.ts";
import { kvmRun, kvmRunAsync } from "../host/kvm.ts";
import { type Platform, PROT_EXEC, PROT_READ, PROT_WRITE } from "../platform/platform.ts";
import { PtracePlatform } from "../platform/ptrace/ptrace.ts";
import { SystrapPlatform } from "../platform/systrap/systrap.ts";
import { R, Registers } from "../platform/registers.ts";
import { compileProg } from "../tests/harness.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "5000" } },
});
const N = Math.max(100, Number(opts.n));
const LOOP = 200_000_000;

// getppid in a loop: mov eax, 110 ; syscall ; jmp back
const SYSCALL_LOOP = [0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];
// mov ecx, LOOP ; l: dec ecx ; jnz l ; mov eax, 39 ; syscall
const CPU_LOOP = [
  0xb9,
  LOOP & 0xff,
  (LOOP >> 8) & 0xff,
  (LOOP >> 16) & 0xff,
  (LOOP >>> 24) & 0xff,
  0xff,
  0xc9,
  0x75,
  0xfc,
  0xb8,
  39,
  0,
  0,
  0,
  0x0f,
  0x05,
];

async function measure(make: (mf: MemoryFile) => Platform) {
  const mf = new MemoryFile(1n << 30n);
  const p = make(mf);
  try {
    const run = (code: number[]) => {
      const as = p.newAddressSpace();
      const off = mf.allocate(4096n);
      mf.write(off, new Uint8Array(code));
      as.mapFile(0x400000n, 4096n, off, PROT_READ | PROT_EXEC);
      as.mapFile(0x500000n, 4096n, mf.allocate(4096n), PROT_READ | PROT_WRITE);
      const regs = new Registers();
      regs.r[R.cs] = 0x33n;
      regs.r[R.ss] = 0x2bn;
      regs.r[R.eflags] = 0x202n;
      regs.rip = 0x400000n;
      regs.rsp = 0x501000n;
      return { ctx: p.newContext(), as, regs };
    };
    const s = run(SYSCALL_LOOP);
    for (let i = 0; i < 200; i++) await s.ctx.switch(s.as, s.regs);
    let t0 = performance.now();
    for (let i = 0; i < N; i++) {
      await s.ctx.switch(s.as, s.regs);
      s.regs.setReturn(1n);
    }
    const syscallUs = ((performance.now() - t0) * 1e3) / N;
    const c = run(CPU_LOOP);
    t0 = performance.now();
    const r = await c.ctx.switch(c.as, c.regs);
    if (r.kind !== "syscall") throw new Error(`cpu loop ended with ${r.kind}`);
    const loopMs = performance.now() - t0;
    return { syscallUs, loopMs };
  } finally {
    p.release();
  }
}

const rows: string[][] = [["platform", "syscall round trip", `cpu loop (${LOOP / 1e6}M dec/jnz)`]];
const results: Record<string, { syscallUs: number; loopMs: number }> = {};
for (
  const [name, make] of Object.entries({
    ptrace: (mf: MemoryFile) => new PtracePlatform(mf),
    kvm: (mf: MemoryFile) => new KvmPlatform(mf),
    systrap: (mf: MemoryFile) => new SystrapPlatform(mf),
  })
) {
  try {
    const r = await measure(make);
    results[name] = r;
    rows.push([name, `${r.syscallUs.toFixed(2)} µs`, `${r.loopMs.toFixed(1)} ms`]);
  } catch (e) {
    rows.push([name, `unavailable: ${e instanceof Error ? e.message : e}`, "-"]);
  }
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join("  "));
try {
  const mf = new MemoryFile(1n << 30n);
  const p = new KvmPlatform(mf);
  const v = p.machine.acquire();
  v.run.setUint8(1, 1); // kvm_run.immediate_exit
  const time = async (f: () => Promise<number> | number) => {
    await f();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await f();
    return ((performance.now() - t0) * 1e3) / N;
  };
  const sync = await time(() => kvmRun(v.fd));
  const async = await time(() => kvmRunAsync(v.fd));
  console.log(
    `\nKVM_RUN with immediate_exit: ${sync.toFixed(2)} µs on the JavaScript thread, ` +
      `${async.toFixed(2)} µs as a nonblocking call`,
  );
  p.release();
} catch (e) {
  console.log(`\nKVM_RUN cost: unavailable: ${e instanceof Error ? e.message : e}`);
}
/** The host floor's modes (bench_trap_floor.c), in the order printed. */
const FLOOR_MODES = [
  ["trap", "trap answered in the trapping thread"],
  ["yield", "trap handed to a thread, sched_yield (Systrap's)"],
  ["futex", "trap handed to a thread, futex"],
  ["ptrace", "C tracer, PTRACE_SYSEMU (ptrace's)"],
] as const;

const floor: Record<string, { wallNs: number; cpuNs: number }> = {};
try {
  const prog = await compileProg("bench_trap_floor", { flags: ["-pthread"] });
  const frows = [["host floor (no Sentry)", "wall per call", "CPU per call"]];
  for (const [mode, what] of FLOOR_MODES) {
    const out = await new Deno.Command(prog, { args: [mode, String(N)], stdout: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    const m = /ns_per_op=([\d.]+) cpu_ns_per_op=([\d.]+)/.exec(text);
    if (!out.success || !m) throw new Error(`bench_trap_floor ${mode}: ${text.trim()}`);
    floor[mode] = { wallNs: Number(m[1]), cpuNs: Number(m[2]) };
    frows.push([
      `${mode}: ${what}`,
      `${(floor[mode].wallNs / 1e3).toFixed(2)} µs`,
      `${(floor[mode].cpuNs / 1e3).toFixed(2)} µs`,
    ]);
  }
  const fw = frows[0].map((_, c) => Math.max(...frows.map((r) => r[c].length)));
  console.log("");
  for (const r of frows) console.log(r.map((cell, c) => cell.padEnd(fw[c])).join("  "));
  console.log(
    `host floor ptrace/yield: wall ${(floor.ptrace.wallNs / floor.yield.wallNs).toFixed(2)}x, ` +
      `CPU ${(floor.ptrace.cpuNs / floor.yield.cpuNs).toFixed(2)}x`,
  );
} catch (e) {
  console.log(`\nhost floor: unavailable: ${e instanceof Error ? e.message : e}`);
}
if (results.ptrace && results.systrap) {
  console.log(
    `systrap/ptrace: syscall ${(results.systrap.syscallUs / results.ptrace.syscallUs).toFixed(2)}x`,
  );
}
if (results.ptrace && results.kvm) {
  console.log(
    `\nkvm/ptrace: syscall ${(results.kvm.syscallUs / results.ptrace.syscallUs).toFixed(2)}x, ` +
      `cpu loop ${(results.kvm.loopMs / results.ptrace.loopMs).toFixed(2)}x (${N} round trips)`,
  );
}
Deno.exit(0);
