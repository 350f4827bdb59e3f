/**
 * Start-up benchmarks (issue 16), side by side in one run: `run` of a static true, `create`,
 * `start` and `delete` each on its own, and 10 containers run at once, under our runsc (from
 * source and from the one-file bundle), gVisor's runsc (`--platform=ptrace --network=none`) and
 * runc, each where installed. Then the start-up of each of our processes (CLI, boot, gofer), read
 * from the `--debug` timeline (log.ts phases): milliseconds since each process's runtime began.
 *
 * Run by bench/runtime.ts (`deno task bench`, or `--only start-up`), or alone:
 * `deno run -A bench/startup.ts [--runs N]`.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { compileProg, makeBundle } from "../tests/harness.ts";
import { endSpares } from "../oci/spare.ts";

const HERE = join(import.meta.dirname!, "..");
const MAIN = join(HERE, "main.ts");

function installed(paths: string[]): string | undefined {
  return paths.find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

/** Spares kept by the `--spare` runtime: as many as the containers started at once. */
const SPARES = 10;

/** One runtime under test: how to call its CLI with a state root. */
interface Runtime {
  name: string;
  argv(root: string, args: string[]): string[];
  /** Waits, untimed, for what the runtime prepares between containers (a spare sandbox). */
  settle?(root: string): Promise<void>;
}

/**
 * Waits until `count` spares under `root` (oci/spare.ts) listen, as they do between containers
 * that do not come back to back; bounded, so a runtime that made none is not waited for.
 */
async function sparesReady(root: string, count: number): Promise<void> {
  const listening = () => {
    let n = 0;
    try {
      for (const e of Deno.readDirSync(root)) {
        if (!/^\+spare\./.test(e.name)) continue;
        try {
          const dir = join(root, Deno.readLinkSync(join(root, e.name)));
          if (Deno.lstatSync(join(dir, "ctl.sock")).isSocket) n++;
        } catch { /* taken meanwhile, or not bound yet */ }
      }
    } catch { /* no root yet */ }
    return n;
  };
  for (let i = 0; i < 2000 && listening() < count; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  // Bound just before each confines itself and loads nothing more: a moment for that.
  await new Promise((r) => setTimeout(r, 20));
}

function runtimes(bundleJs: string | null): Runtime[] {
  const deno = Deno.execPath();
  const out: Runtime[] = [{
    name: "runsc-ts",
    argv: (root, args) => [deno, "run", "-A", "--quiet", MAIN, "--root", root, ...args],
  }];
  if (bundleJs) {
    out.push({
      name: "runsc-ts bundle",
      argv: (root, args) => [deno, "run", "-A", "--quiet", bundleJs, "--root", root, ...args],
    });
    out.push({
      name: "bundle --spare",
      argv: (root, args) => [
        deno,
        "run",
        "-A",
        "--quiet",
        bundleJs,
        "--root",
        root,
        "--spare",
        `--spare-count=${SPARES}`,
        ...args,
      ],
      settle: (root) => sparesReady(root, SPARES),
    });
  }
  const gvisor = installed(["/usr/bin/runsc", "/usr/local/bin/runsc"]);
  if (gvisor) {
    out.push({
      name: "gVisor",
      argv: (root, args) => [
        gvisor,
        "--root",
        root,
        "--platform=ptrace",
        "--network=none",
        ...args,
      ],
    });
  }
  const runc = installed(["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/bin/runc"]);
  if (runc) {
    out.push({
      name: "runc",
      argv: (root, args) => [runc, "--root", root, ...args],
    });
  }
  return out;
}

/**
 * Runs argv to its end; returns its wall time in ms, or throws. Its output is not read: after
 * `create` the sandbox holds the CLI's stdio, so a pipe would not end before `delete`.
 */
async function timed(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  const ms = performance.now() - t0;
  if (!r.success) throw new Error(`${argv.join(" ")}: exit status ${r.code}`);
  return ms;
}

/**
 * Waits until the container has stopped (its program exited), untimed: by polling its state, as
 * runc has no `wait` and gVisor's refuses a container that has already exited.
 */
async function waitStopped(rt: Runtime, root: string, id: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = await new Deno.Command(rt.argv(root, [])[0], {
      args: rt.argv(root, ["state", id]).slice(1),
      stdout: "piped",
      stderr: "null",
    }).output();
    if (new TextDecoder().decode(r.stdout).includes('"stopped"')) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

type Metric = "run" | "create" | "start" | "delete" | "10 at once";
const METRICS: Metric[] = ["run", "create", "start", "delete", "10 at once"];

/**
 * One round of every metric for one runtime. A metric that fails is left out of the round (its
 * error in `errors`) and the others are still measured: one failure under load (runc's, once in
 * a while, among 10 at once) must not hide a runtime's whole column.
 */
async function round(
  rt: Runtime,
  bundle: string,
  root: string,
  n: number,
  errors: string[],
): Promise<Map<Metric, number>> {
  const m = new Map<Metric, number>();
  const id = (s: string) => `b${n}${s}`;
  const measure = async (metric: Metric, f: () => Promise<number>) => {
    try {
      m.set(metric, await f());
      return true;
    } catch (e) {
      errors.push(`${metric}: ${(e as Error).message}`);
      return false;
    }
  };
  await rt.settle?.(root);
  await measure("run", () => timed(rt.argv(root, ["run", "--bundle", bundle, id("r")])));
  await rt.settle?.(root);
  const created = await measure(
    "create",
    () => timed(rt.argv(root, ["create", "--bundle", bundle, id("c")])),
  );
  if (created && await measure("start", () => timed(rt.argv(root, ["start", id("c")])))) {
    await waitStopped(rt, root, id("c"));
    await measure("delete", () => timed(rt.argv(root, ["delete", id("c")])));
  }
  await rt.settle?.(root);
  await measure("10 at once", async () => {
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => timed(rt.argv(root, ["run", "--bundle", bundle, id(`p${i}`)])),
      ),
    );
    return performance.now() - t0;
  });
  return m;
}

/**
 * The `phase` lines of our debug logs: role -> phase -> ms since that process began, and role ->
 * the CPU time (ms, every thread) it had used by its last phase.
 */
function readPhases(
  dir: string,
): { ms: Map<string, Map<string, number>>; cpu: Map<string, number> } {
  const out = new Map<string, Map<string, number>>();
  const cpu = new Map<string, number>();
  for (const e of Deno.readDirSync(dir)) {
    const text = Deno.readTextFileSync(join(dir, e.name));
    const re = / phase (\w+): ([^{\n]+?) \{"ms":([0-9.]+)(?:,"cpu":([0-9.]+))?/g;
    for (const m of text.matchAll(re)) {
      const role = m[1] === "create" || m[1] === "start" || m[1] === "run" || m[1] === "delete"
        ? "cli"
        : m[1];
      if (!out.has(role)) out.set(role, new Map());
      out.get(role)!.set(`${m[1]}: ${m[2]}`, Number(m[3]));
      if (m[4] !== undefined) cpu.set(role, Math.max(cpu.get(role) ?? 0, Number(m[4])));
    }
  }
  return { ms: out, cpu };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const fmt = (ms: number) => `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
    .join("\n");
}

/** Builds the bundle as `deno task bundle` does, into `dir`; null if that fails. */
async function buildBundle(dir: string): Promise<string | null> {
  const out = join(dir, "runsc.js");
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", MAIN, "-o", out],
    stderr: "null",
  }).output();
  return r.success ? out : null;
}

/** Runs the start-up benchmarks `runs` times each and prints their tables to stdout. */
export async function startupBench(runs: number, progress: (msg: string) => void): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "runsc-bench-startup-" });
  const b = await makeBundle({
    args: ["/true"],
    files: { true: await compileProg("true") },
    // The namespaces and /proc that runc needs; the runsc's take them as given.
    config: {
      linux: { namespaces: ["pid", "mount", "ipc", "uts", "network"].map((type) => ({ type })) },
      mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
    },
  });
  await Deno.mkdir(join(b.rootfs, "proc"));
  // runc's default capabilities: runc refuses a set beyond the host's bounding set (which may
  // lack some, as CAP_SYS_RESOURCE on these machines), and `true` needs none.
  const caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
  const config = JSON.parse(await Deno.readTextFile(join(b.dir, "config.json")));
  config.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
  await Deno.writeTextFile(join(b.dir, "config.json"), JSON.stringify(config));
  const all = runtimes(await buildBundle(work));
  // The timeline of the build users run (README: the bundle), else of the sources.
  const timeline = all.find((r) => r.name === "runsc-ts bundle") ?? all[0];
  const samples = new Map<string, Map<Metric, number[]>>();
  const failed = new Map<string, string>();
  const notes = new Map<string, string>();
  const phases: ReturnType<typeof readPhases>[] = [];
  try {
    for (const rt of all) {
      samples.set(rt.name, new Map(METRICS.map((m) => [m, []])));
    }
    // Warm-up (Deno's caches, the page cache), then the runtimes interleaved round by round.
    for (let i = -1; i < runs; i++) {
      for (const rt of all) {
        if (failed.has(rt.name)) continue;
        progress(`start-up: ${i < 0 ? "warm-up" : `run ${i + 1}/${runs}`} ${rt.name}`);
        const root = join(work, `root-${rt.name.replaceAll(" ", "-")}`);
        const errors: string[] = [];
        const m = await round(rt, b.dir, root, i + 1, errors);
        if (i >= 0) { for (const [k, v] of m) samples.get(rt.name)!.get(k)!.push(v); }
        // One that fails at everything (not installed right) is not tried again.
        if (m.size === 0) failed.set(rt.name, errors.join("; "));
        else if (errors.length) notes.set(rt.name, errors.at(-1)!);
      }
      if (i >= 0) {
        // Our processes' own start-up, from one more `run` with the --debug timeline.
        const logs = join(work, `logs-${i}`);
        const root = join(work, "root-phases");
        await timed(timeline.argv(root, [
          "--debug",
          `--debug-log=${logs}/`,
          "run",
          "--bundle",
          b.dir,
          `ph${i}`,
        ])).catch(() => {});
        try {
          phases.push(readPhases(logs));
        } catch { /* no logs: the run failed */ }
      }
    }
  } finally {
    for (const rt of all) {
      const root = join(work, `root-${rt.name.replaceAll(" ", "-")}`);
      let ids: string[] = [];
      try {
        ids = [...Deno.readDirSync(root)].filter((e) => e.isDirectory).map((e) => e.name);
      } catch { /* never used */ }
      for (const id of ids.filter((i) => !i.startsWith("+"))) {
        await timed(rt.argv(root, ["delete", "--force", id])).catch(() => {});
      }
      // Spares end by themselves after minutes; the bench ends its own now.
      await endSpares(root);
    }
    await b.cleanup();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  progress("");

  const gv = samples.get("gVisor");
  // Ours against gVisor: from source, and with spares (the bundle).
  const versus = gv ? ["runsc-ts", "bundle --spare"].filter((n) => samples.has(n)) : [];
  const rows = [[
    "start-up",
    ...all.map((r) => r.name),
    ...versus.map((n) => `${n}/gVisor`),
  ]];
  const med = (name: string, m: Metric) => {
    const xs = samples.get(name)!.get(m)!;
    return xs.length ? median(xs) : null;
  };
  for (const m of METRICS) {
    const theirs = gv ? med("gVisor", m) : null;
    rows.push([
      m,
      ...all.map((r) => {
        const v = med(r.name, m);
        const k = samples.get(r.name)!.get(m)!.length;
        return v === null ? "failed" : fmt(v) + (k < runs ? ` (${k}/${runs})` : "");
      }),
      ...versus.map((n) => {
        const ours = med(n, m);
        return ours !== null && theirs !== null ? `${(ours / theirs).toFixed(2)}x` : "-";
      }),
    ]);
  }
  console.log(table(rows));
  console.log(
    `\n${runs} runs each, medians; "10 at once": wall time until 10 parallel \`run\`s all ended.` +
      `\n"bundle --spare": \`runsc --spare --spare-count=${SPARES}\`, measured with its spares` +
      ` ready (an untimed wait before run, create and 10 at once).`,
  );
  for (const [name, why] of failed) console.log(`${name} failed: ${why}`);
  for (const [name, why] of notes) console.log(`${name}: some runs failed, the last: ${why}`);

  // Each of our processes' start-up: the medians of its phases, in the order they happen.
  if (phases.length) {
    console.log(
      `\n${timeline.name} start-up by process (ms since that process's runtime began, medians;` +
        " cpu: its CPU time by its last phase, every thread):",
    );
    const roles = ["cli", "boot", "gofer"];
    for (const role of roles) {
      const names = new Map<string, number[]>();
      for (const p of phases) {
        for (const [k, v] of p.ms.get(role) ?? []) names.set(k, [...(names.get(k) ?? []), v]);
      }
      const line = [...names].map(([k, v]) => [k, median(v)] as const)
        .sort((a, b) => a[1] - b[1]).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
      const cpus = phases.flatMap((p) => p.cpu.has(role) ? [p.cpu.get(role)!] : []);
      const cpu = cpus.length ? ` (cpu ${fmt(median(cpus))})` : "";
      console.log(`  ${role}${cpu}: ${line || "-"}`);
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string" } } });
  const tty = Deno.stderr.isTerminal();
  await startupBench(Math.max(1, Number(values.runs ?? "5")), (msg) => {
    if (tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${msg}`));
  });
}
