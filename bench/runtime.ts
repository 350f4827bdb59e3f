/**
 * Whole-runtime benchmarks: each workload natively, under our runsc, and under gVisor's runsc
 * (ptrace platform, --network=none) when it is installed, measured side by side in one run, with
 * ratios to native taken pair by pair. The workloads are in workloads.ts.
 *
 * Usage: deno task bench [--runs N] [--only NAME[,NAME...]] [--platform ptrace[,systrap,kvm]]
 *   [--baseline REV]
 * After the workloads, the start-up table (bench/startup.ts: run, create, start, delete, 10 at
 * once, beside gVisor and runc, and each of our processes' start-up); `--only start-up` runs it
 * alone.
 * Each platform named is a column of its own (ours), all measured in the same run. With
 * `--baseline REV` the same platforms also run from a checkout of git revision REV (a temporary
 * worktree), so that the cost or gain of a change is measured side by side in one run.
 * Progress goes to stderr when it is a terminal; the table goes to stdout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { compileProg, makeBundle } from "../tests/harness.ts";
import { type Metric, type Workload, WORKLOADS } from "./workloads.ts";
import { startupBench } from "./startup.ts";
import { type VethNetwork, vethNetwork } from "./veth.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "5" },
    only: { type: "string" },
    platform: { type: "string", default: "ptrace" },
    baseline: { type: "string" },
  },
});
const RUNS = Math.max(1, Number(opts.runs));
/** How long one run may take before it is killed and counted as failed. */
const TIMEOUT_MS = 120_000;
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

/**
 * "native", "gvisor", ours on a platform ("ts:ptrace", "ts:kvm"), or the baseline revision's
 * ("base:ptrace").
 */
type Runner = string;
const PLATFORMS = opts.platform.split(",").map((p) => p.trim()).filter((p) => p);
const OURS: Runner[] = PLATFORMS.map((p) => `ts:${p}`);
const HERE = join(import.meta.dirname!, "..");
/** The baseline revision's checkout, when asked for. */
const BASE = opts.baseline ? await checkout(opts.baseline) : undefined;
const BASES: Runner[] = BASE ? PLATFORMS.map((p) => `base:${p}`) : [];
const RUNNERS: Runner[] = ["native", ...OURS, ...BASES, "gvisor"];
/** A runner's column heading. */
const heading = (r: Runner) =>
  r === "gvisor"
    ? "gVisor"
    : r.startsWith("ts:")
    ? `runsc-ts ${r.slice(3)}`
    : r.startsWith("base:")
    ? `runsc-ts@${BASE!.name} ${r.slice(5)}`
    : r;
/** The main.ts a runner of ours runs. */
const mainOf = (r: Runner) => join(r.startsWith("base:") ? BASE!.dir : HERE, "main.ts");

/** A detached worktree of `rev` in a temporary directory, removed when the bench ends. */
async function checkout(rev: string): Promise<{ dir: string; name: string }> {
  const git = async (...args: string[]) => {
    const r = await new Deno.Command("git", { args: ["-C", HERE, ...args], stderr: "piped" })
      .output();
    if (!r.success) {
      throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
    }
    return new TextDecoder().decode(r.stdout).trim();
  };
  const sha = await git("rev-parse", "--verify", `${rev}^{commit}`);
  const dir = await Deno.makeTempDir({ prefix: "runsc-bench-base-" });
  await git("worktree", "add", "--detach", dir, sha);
  globalThis.addEventListener("unload", () => {
    new Deno.Command("git", { args: ["-C", HERE, "worktree", "remove", "--force", dir] })
      .outputSync();
  });
  return { dir, name: sha.slice(0, 8) };
}

/** One run's figures: a number per metric key, or why that metric has none. */
type Sample = Map<string, number | { failed: string }>;

function metricsOf(w: Workload): Metric[] {
  return w.measure.kind === "wall" ? [{ key: "wall", unit: "ms" }] : w.measure.metrics;
}

/** The last non-empty line of a text. */
function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => l.trim()).at(-1)?.trim() ?? "";
}

/** Footnotes collected while running: refusals, and failures too long for a cell. */
const notes: string[] = [];
/** The number of a footnote (the same text keeps one number). */
function note(text: string): number {
  if (!notes.includes(text)) notes.push(text);
  return notes.indexOf(text) + 1;
}

/** Runs a command to its end (or kills it after TIMEOUT_MS) and reads its figures. */
async function sample(w: Workload, cmd: string, args: string[]): Promise<Sample> {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, TIMEOUT_MS);
  const t0 = performance.now();
  const r = await child.output().finally(() => clearTimeout(timer));
  const ms = performance.now() - t0;
  const stdout = new TextDecoder().decode(r.stdout);
  const why = timedOut
    ? `timed out after ${TIMEOUT_MS / 1000} s`
    : lastLine(new TextDecoder().decode(r.stderr)) || `exit status ${r.code}`;
  const s: Sample = new Map();
  for (const m of metricsOf(w)) {
    if (m.key === "wall") {
      s.set(m.key, r.success ? ms : { failed: why });
      continue;
    }
    const got = new RegExp(`^${m.key}=(.*)$`, "m").exec(stdout)?.[1].trim();
    if (got !== undefined && /^[0-9.]+$/.test(got)) s.set(m.key, Number(got));
    else s.set(m.key, { failed: got?.replace(/^failed: /, "") || why });
  }
  return s;
}

/** Whether a sample has no figure at all (the run as a whole failed). */
const dead = (s: Sample) => [...s.values()].every((v) => typeof v !== "number");

/** The command line for one runner; `id` names the container. */
function command(
  w: Workload,
  runner: Runner,
  bundle: string,
  rootfs: string,
  state: string,
  id: string,
  net?: VethNetwork,
): [string, string[]] {
  const prog = [`/${w.prog}`, ...w.args];
  if (runner === "native" && net) {
    // In the veth's namespace, as the sandboxes' stacks are.
    return ["ip", ["netns", "exec", net.ns, "/usr/sbin/chroot", rootfs, ...prog]];
  }
  if (runner === "native") {
    // In a chroot of the same rootfs, so that paths mean the same (a chroot adds well under a
    // millisecond to start-up); tmpfs mounts of the spec are mounted in a private namespace.
    const tmpfs = ((w.config?.mounts ?? []) as { destination: string; type: string }[])
      .filter((m) => m.type === "tmpfs").map((m) => m.destination);
    if (!tmpfs.length) return ["/usr/sbin/chroot", [rootfs, ...prog]];
    const script = tmpfs.map((d) => `mkdir -p "$0${d}" && mount -t tmpfs tmpfs "$0${d}" && `)
      .join("") + 'exec chroot "$0" "$@"';
    return ["/usr/bin/unshare", [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
      rootfs,
      ...prog,
    ]];
  }
  if (runner.startsWith("ts:") || runner.startsWith("base:")) {
    return [Deno.execPath(), [
      "run",
      "-A",
      "--quiet",
      mainOf(runner),
      "--root",
      state,
      `--platform=${runner.slice(runner.indexOf(":") + 1)}`,
      ...w.flags ?? [],
      "run",
      "--bundle",
      bundle,
      id,
    ]];
  }
  return [GVISOR!, [
    "--root",
    state,
    "--platform=ptrace",
    "--network=none",
    ...w.gvisorFlags ?? w.flags ?? [],
    "run",
    "--bundle",
    bundle,
    id,
  ]];
}

/** What happened to one runner: its samples, or why it has none. */
type Outcome = { samples: Sample[] } | { refused: number } | { failed: Sample };

async function bench(w: Workload): Promise<Map<Runner, Outcome>> {
  const files: Record<string, string> = { [w.prog]: await compileProg(w.prog) };
  for (const e of w.extra ?? []) files[e] = await compileProg(e);
  // A veth workload's peer is the same program, run natively outside the namespace.
  const net = w.veth ? await vethNetwork(files[w.prog]) : undefined;
  const config = net
    ? {
      ...w.config,
      linux: {
        namespaces: [
          { type: "pid" },
          { type: "network", path: `/var/run/netns/${net.ns}` },
          { type: "ipc" },
          { type: "uts" },
          { type: "mount" },
        ],
      },
    }
    : w.config;
  const bundle = await makeBundle({ args: [`/${w.prog}`, ...w.args], files, config });
  progress(`${w.name}: preparing the rootfs`);
  await w.prepare?.(bundle.rootfs);
  const state: Record<Runner, string> = {
    ours: await Deno.makeTempDir({ prefix: "runsc-root-" }),
    base: await Deno.makeTempDir({ prefix: "runsc-base-root-" }),
    gvisor: await Deno.makeTempDir({ prefix: "runsc-gvisor-root-" }),
    native: "",
  };
  for (const r of OURS) state[r] = state.ours;
  for (const r of BASES) state[r] = state.base;
  const runners = RUNNERS.filter((r) => r !== "gvisor" || GVISOR);
  const out = new Map<Runner, Outcome>();
  let n = 0;
  const run = async (r: Runner) => {
    await net?.reset();
    const id = `${r[0]}${r.at(-1)}${n++}`;
    return await sample(w, ...command(w, r, bundle.dir, bundle.rootfs, state[r], id, net));
  };
  try {
    // Warm-up (compile caches, page cache); a runner that fails outright here is not run again.
    for (const r of runners) {
      progress(`${w.name}: warm-up ${r}`);
      const s = await run(r);
      if (!dead(s)) out.set(r, { samples: [] });
      else if (r === "gvisor" && (w.gvisorFlags ?? w.flags)?.length) {
        const flags = (w.gvisorFlags ?? w.flags)!.join(" ");
        const why = (s.values().next().value as { failed: string }).failed;
        out.set(r, { refused: note(`gVisor's runsc refused ${flags}: ${why}`) });
      } else out.set(r, { failed: s });
    }
    // The runners interleaved run by run, so that drift in the machine's load affects each alike.
    for (let i = 0; i < RUNS; i++) {
      for (const r of runners) {
        const o = out.get(r)!;
        if (!("samples" in o)) continue;
        progress(`${w.name}: run ${i + 1}/${RUNS} ${r}`);
        // A run that fails outright after the warm-up worked is tried once more (the machine is
        // shared, and sandboxes sometimes fail to start under load) before the runner is given up.
        let s = await run(r);
        if (dead(s)) s = await run(r);
        if (dead(s)) out.set(r, { failed: s });
        else o.samples.push(s);
      }
    }
  } finally {
    await cleanup(state.ours, mainOf(OURS[0]), state.gvisor);
    await cleanup(state.base, BASES.length ? mainOf(BASES[0]) : "", "");
    await bundle.cleanup();
    await net?.close();
  }
  return out;
}

/** Deletes what runs left behind (after a failure or a timeout) and the state roots. */
async function cleanup(ours: string, main: string, gvisor: string): Promise<void> {
  const ids = (dir: string) => {
    try {
      return [...Deno.readDirSync(dir)].filter((e) => e.isDirectory);
    } catch {
      return [];
    }
  };
  for (const e of main ? ids(ours) : []) {
    await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        main,
        "--root",
        ours,
        "delete",
        "--force",
        e.name,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
  }
  for (const e of GVISOR && gvisor ? ids(gvisor) : []) {
    await new Deno.Command(GVISOR!, {
      args: ["--root", gvisor, "delete", "--force", e.name],
      stdout: "null",
      stderr: "null",
    }).output();
  }
  await Deno.remove(ours, { recursive: true }).catch(() => {});
  if (gvisor) await Deno.remove(gvisor, { recursive: true }).catch(() => {});
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function fmt(v: number, unit: string): string {
  return `${v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : v.toFixed(0)} ${unit}`;
}

/** One metric of one runner: its values run by run, or the table cell that says why not. */
function series(o: Outcome | undefined, r: Runner, key: string): number[] | string {
  if (!o) return "-";
  if ("refused" in o) return `- [${o.refused}]`;
  const all = "failed" in o ? [o.failed] : o.samples;
  const bad = all.map((s) => s.get(key)).find((v) => typeof v !== "number");
  if (!bad) return all.map((s) => s.get(key) as number);
  const why = (bad as { failed: string }).failed;
  return why.length <= 50 ? `failed: ${why}` : `failed [${note(`${r}: ${why}`)}]`;
}

/** The slowdown of `a` against `ref`, run by run (>1: slower), as a median. */
function slowdown(m: Metric, a: number[] | string, ref: number[] | string): string {
  if (typeof a === "string" || typeof ref === "string") return "-";
  const n = Math.min(a.length, ref.length);
  const r = a.slice(0, n).map((x, i) => m.higherIsBetter ? ref[i] / x : x / ref[i]);
  const v = median(r);
  return `${v < 10 ? v.toFixed(2) : v.toFixed(1)}x`;
}

const rows: string[][] = [[
  "workload",
  ...RUNNERS.map(heading),
  ...OURS.map((r) => `${heading(r)}/native`),
  "gVisor/native",
  ...OURS.map((r) => `${heading(r)}/gVisor`),
  ...BASES.map((_, i) => `${heading(OURS[i])}/baseline`),
]];
// --only takes one or more name fragments, comma-separated.
const only = opts.only?.split(",").map((o) => o.trim()).filter((o) => o) ?? [];
const selected = WORKLOADS.filter((w) => only.length === 0 || only.some((o) => w.name.includes(o)));
for (const w of selected) {
  const r = await bench(w);
  for (const m of metricsOf(w)) {
    const s = new Map(RUNNERS.map((x) => [x, series(r.get(x), x, m.key)]));
    const cell = (v: number[] | string) => typeof v === "string" ? v : fmt(median(v), m.unit);
    rows.push([
      m.label ? `${w.name}: ${m.label}` : w.name,
      ...RUNNERS.map((x) => cell(s.get(x)!)),
      ...OURS.map((x) => slowdown(m, s.get(x)!, s.get("native")!)),
      slowdown(m, s.get("gvisor")!, s.get("native")!),
      ...OURS.map((x) => slowdown(m, s.get(x)!, s.get("gvisor")!)),
      ...BASES.map((b, i) => slowdown(m, s.get(OURS[i])!, s.get(b)!)),
    ]);
  }
}
progress("");
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
if (selected.length) {
  for (const r of rows) {
    console.log(r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
  }
  console.log(
    `\n${RUNS} runs each, medians; our platforms: ${PLATFORMS.join(", ")}` +
      (BASE ? `; baseline: ${BASE.name} (${opts.baseline})` : "") +
      (GVISOR ? `; gVisor: ${GVISOR} --platform=ptrace --network=none` : "; gVisor not installed") +
      ".\nSlowdowns are medians of run-by-run ratios, >1 meaning slower: time over time, or for " +
      "MB/s the\ninverse (reference MB/s over MB/s). Flags after a workload's name go to both " +
      "runsc's.",
  );
  notes.forEach((n, i) => console.log(`[${i + 1}] ${n}`));
}
if (!opts.only || "start-up".includes(opts.only)) {
  if (selected.length) console.log("");
  await startupBench(RUNS, progress);
}
