/**
 * Platform micro-benchmarks, side by side in one run: the cost of one system call round trip
 * through Context.switch (application -> Sentry -> application), and how fast application
 * code runs between switches (a CPU-bound loop), on each platform that works here.
 *
 * Also: the cost of entering and leaving KVM_RUN (immediate_exit, no guest code) made
 * synchronously on the JavaScript thread and as a nonblocking FFI call on a runtime thread,
 * the measurement behind platform/kvm/context.ts's choice.
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
if (results.ptrace && results.kvm) {
  console.log(
    `\nkvm/ptrace: syscall ${(results.kvm.syscallUs / results.ptrace.syscallUs).toFixed(2)}x, ` +
      `cpu loop ${(results.kvm.loopMs / results.ptrace.loopMs).toFixed(2)}x (${N} round trips)`,
  );
}
Deno.exit(0);
