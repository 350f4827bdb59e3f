/**
 * `docker run --rm <busybox> true` through a dockerd of our own: runc, our runsc (main.ts from
 * source through a launcher, as Docker runs it), and gVisor's runsc (`--platform=ptrace
 * --network=none`) when installed. Prints the median wall time of each over the runs (10 by
 * default), measured in one run, interleaved so that the machine's load falls on all alike.
 *
 * Usage: deno run -A bench/docker.ts [--runs N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { DENO, MAIN } from "../tests/harness.ts";
import { busyboxRootfs } from "../tests/rootfs.ts";
import { Engine, ensureDocker, exists } from "../tests/docker.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "10" } },
});
const RUNS = Math.max(1, Number(opts.runs));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const why = await ensureDocker();
if (why) {
  console.error(`bench/docker: cannot run: ${why}`);
  Deno.exit(1);
}
const dir = await Deno.makeTempDir({ prefix: "rdb-" });
const launcher = join(dir, "runsc-ts");
Deno.writeTextFileSync(launcher, `#!/bin/sh\nexec ${DENO} run -A --quiet ${MAIN} "$@"\n`, {
  mode: 0o755,
});
const runtimes: Record<string, unknown> = { "runsc-ts": { path: launcher } };
const gvisor = ["/usr/bin/runsc", "/usr/local/bin/runsc"].find(exists);
if (gvisor) {
  runtimes.gvisor = { path: gvisor, runtimeArgs: ["--platform=ptrace", "--network=none"] };
}
Deno.writeTextFileSync(join(dir, "daemon.json"), JSON.stringify({ runtimes }));
const engine = await Engine.start(dir);
if (typeof engine === "string") {
  console.error(`bench/docker: ${engine}`);
  Deno.exit(1);
}
try {
  const tar = join(dir, "bb.tar");
  await new Deno.Command("tar", { args: ["-C", await busyboxRootfs(), "-cf", tar, "."] })
    .output();
  await engine.ok(["import", "-c", "ENV PATH=/bin", tar, "bb:bench"]);
  const names = ["runc", "runsc-ts", ...(gvisor ? ["gvisor"] : [])];
  const times = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let i = 0; i < RUNS + 1; i++) {
    for (const rt of names) {
      const t0 = performance.now();
      const r = await engine.docker(["run", "--rm", "--runtime", rt, "bb:bench", "true"]);
      const ms = performance.now() - t0;
      if (r.code !== 0) throw new Error(`${rt}: ${r.stderr}`);
      if (i > 0) times.get(rt)!.push(ms); // the first round warms caches
    }
  }
  const base = median(times.get("runc")!);
  console.log(`docker run --rm busybox true, median of ${RUNS} (ms; ratio to runc)`);
  for (const rt of names) {
    const m = median(times.get(rt)!);
    console.log(`  ${rt.padEnd(9)} ${m.toFixed(0).padStart(6)}  ${(m / base).toFixed(2)}x`);
  }
} finally {
  await engine.stop();
  for (const line of Deno.readTextFileSync("/proc/mounts").split("\n").reverse()) {
    const m = line.split(" ")[1];
    if (m?.startsWith(dir)) await new Deno.Command("umount", { args: ["-l", m] }).output();
  }
  await Deno.remove(dir, { recursive: true });
}
