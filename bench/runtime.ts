/**
 * Whole-runtime benchmarks: each workload natively, under our runsc, and under gVisor's runsc
 * (ptrace platform, --network=none) when it is installed, measured side by side in one run, with
 * ratios to native taken pair by pair.
 *
 * Usage: deno task bench [--runs N] [--only NAME] [--platform ptrace]
 * Progress goes to stderr when it is a terminal; the table goes to stdout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { compileProg, makeBundle, makeRoot, runsc } from "../tests/harness.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "5" },
    only: { type: "string" },
    platform: { type: "string", default: "ptrace" },
  },
});
const RUNS = Math.max(1, Number(opts.runs));
const GVISOR = ["/usr/bin/runsc", "/usr/local/bin/runsc"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
const tty = Deno.stderr.isTerminal();
function progress(msg: string): void {
  if (tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${msg}`));
}

/** What a workload measures: wall time of the whole run, or a figure the program prints. */
type Measure = { kind: "wall" } | { kind: "reported"; key: string; unit: string };

interface Workload {
  name: string;
  prog: string;
  args: string[];
  measure: Measure;
  /** Other tests/progs programs the workload runs, placed at /<name> in the rootfs. */
  extra?: string[];
}

const perOp: Measure = { kind: "reported", key: "ns_per_op", unit: "ns/op" };

const WORKLOADS: Workload[] = [
  { name: "run static true (wall)", prog: "true", args: [], measure: { kind: "wall" } },
  {
    name: "getppid (in sandbox)",
    prog: "getppid_loop",
    args: ["20000"],
    measure: perOp,
  },
  {
    name: "fork+exec+wait true",
    prog: "bench_fork_exec",
    args: ["100"],
    measure: perOp,
    extra: ["true"],
  },
  { name: "thread create+join", prog: "bench_threads", args: ["300"], measure: perOp },
  { name: "futex ping-pong", prog: "bench_futex", args: ["5000"], measure: perOp },
  { name: "signal round trip", prog: "bench_signal", args: ["5000"], measure: perOp },
  { name: "first touch per page", prog: "bench_touch", args: ["64"], measure: perOp },
];

type Runner = "native" | "runsc-ts" | "gvisor";

interface Sample {
  ms: number;
  stdout: string;
}

async function timed(cmd: string, args: string[]): Promise<Sample> {
  const t0 = performance.now();
  const r = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(r.stderr)}`);
  }
  return { ms, stdout: new TextDecoder().decode(r.stdout) };
}

function value(w: Workload, s: Sample): number {
  if (w.measure.kind === "wall") return s.ms;
  const m = new RegExp(`${w.measure.key}=([0-9.]+)`).exec(s.stdout);
  if (!m) throw new Error(`${w.name}: no ${w.measure.key}= in output: ${s.stdout}`);
  return Number(m[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function bench(w: Workload): Promise<Map<Runner, number[]>> {
  const exe = await compileProg(w.prog);
  const files: Record<string, string> = { [w.prog]: exe };
  for (const e of w.extra ?? []) files[e] = await compileProg(e);
  const bundle = await makeBundle({ args: [`/${w.prog}`, ...w.args], files });
  const root = await makeRoot();
  const groot = await Deno.makeTempDir({ prefix: "runsc-gvisor-root-" });
  const results = new Map<Runner, number[]>([["native", []], ["runsc-ts", []]]);
  if (GVISOR) results.set("gvisor", []);
  try {
    // Warm-up (compile caches, page cache), then the runners interleaved run by run so that
    // drift in the machine's load affects each alike.
    await runsc(["--root", root.root, "run", "--bundle", bundle.dir, "warm"]);
    for (let i = 0; i < RUNS; i++) {
      progress(`${w.name}: run ${i + 1}/${RUNS}`);
      // Natively in a chroot of the same rootfs, so that paths mean the same (a chroot adds
      // well under a millisecond to the start-up measurement).
      const native = await timed("/usr/sbin/chroot", [bundle.rootfs, `/${w.prog}`, ...w.args]);
      results.get("native")!.push(value(w, native));
      const ours = await timed(Deno.execPath(), [
        "run",
        "-A",
        join(import.meta.dirname!, "..", "main.ts"),
        "--root",
        root.root,
        `--platform=${opts.platform}`,
        "run",
        "--bundle",
        bundle.dir,
        `b${i}`,
      ]);
      results.get("runsc-ts")!.push(value(w, ours));
      if (GVISOR) {
        const g = await timed(GVISOR, [
          "--root",
          groot,
          "--platform=ptrace",
          "--network=none",
          "run",
          "--bundle",
          bundle.dir,
          `g${i}`,
        ]);
        results.get("gvisor")!.push(value(w, g));
      }
    }
  } finally {
    await root.cleanup();
    await Deno.remove(groot, { recursive: true }).catch(() => {});
    await bundle.cleanup();
  }
  return results;
}

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined) return "-";
  return `${v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : v.toFixed(0)} ${unit}`;
}

const rows: string[][] = [[
  "workload",
  "native",
  "runsc-ts",
  "gVisor",
  "ts/native",
  "gVisor/native",
  "ts/gVisor",
]];
for (const w of WORKLOADS) {
  if (opts.only && !w.name.includes(opts.only)) continue;
  const r = await bench(w);
  const unit = w.measure.kind === "wall" ? "ms" : w.measure.unit;
  const n = median(r.get("native")!);
  const ts = median(r.get("runsc-ts")!);
  const g = r.has("gvisor") ? median(r.get("gvisor")!) : undefined;
  // Ratios pair by pair: run i of each runner against run i of native.
  const pairRatio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]));
  const tsN = pairRatio(r.get("runsc-ts")!, r.get("native")!);
  const gN = g !== undefined ? pairRatio(r.get("gvisor")!, r.get("native")!) : undefined;
  const tsG = g !== undefined ? pairRatio(r.get("runsc-ts")!, r.get("gvisor")!) : undefined;
  rows.push([
    w.name,
    fmt(n, unit),
    fmt(ts, unit),
    fmt(g, unit),
    `${tsN.toFixed(1)}x`,
    gN !== undefined ? `${gN.toFixed(1)}x` : "-",
    tsG !== undefined ? `${tsG.toFixed(2)}x` : "-",
  ]);
}
progress("");
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join("  "));
console.log(
  `\n${RUNS} runs each, medians; platform ${opts.platform}` +
    (GVISOR ? `; gVisor: ${GVISOR} --platform=ptrace --network=none` : "; gVisor not installed"),
);
