/**
 * One Gofer round trip, outside any sandbox: a gofer (confined as `runsc create` starts it, when
 * root) serving a small root, and a client in this process timing WalkStat of one file, which
 * is what `stat` costs inside a sandbox under --file-access=shared besides the Sentry's part.
 *
 * Measured twice, alternately: with the gofer in this process's session, and in a session of
 * its own, as `runsc create` starts it. With the kernel's autogroups each session is a task
 * group of its own, and a hand-off between two groups waits behind every other group runnable
 * on a busy CPU; that is why the sandbox's processes share a cgroup (oci/cgroup.ts).
 *
 * Usage: deno run -A bench/lisafs_rt.ts [--count N] [--runs R]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GoferProcess } from "../gofer/testutil.ts";
import { LisafsClient } from "../gofer/lisafs/client.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: { count: { type: "string", default: "2000" }, runs: { type: "string", default: "5" } },
});
const COUNT = Math.max(1, Number(opts.count));
const RUNS = Math.max(1, Number(opts.runs));

/** Microseconds per WalkStat over COUNT calls, against a fresh gofer. */
async function once(setsid: boolean): Promise<number> {
  const g = new GoferProcess({ confine: Deno.uid() === 0, setsid });
  try {
    const c = new LisafsClient(g.sock);
    const { root } = c.mount();
    c.walkStat(root, ["hello.txt"]);
    const t0 = performance.now();
    for (let i = 0; i < COUNT; i++) c.walkStat(root, ["hello.txt"]);
    return (performance.now() - t0) * 1000 / COUNT;
  } finally {
    await g.stop();
  }
}

const samples: Record<string, number[]> = { "this session": [], "its own session": [] };
for (let r = 0; r < RUNS; r++) {
  samples["this session"].push(await once(false));
  samples["its own session"].push(await once(true));
}
const load = Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
console.log(`WalkStat round trip, us (median of ${RUNS} runs of ${COUNT}; load ${load}):`);
for (const [name, s] of Object.entries(samples)) {
  s.sort((a, b) => a - b);
  console.log(
    `  gofer in ${name.padEnd(15)} ${s[s.length >> 1].toFixed(1).padStart(7)}` +
      `  (min ${s[0].toFixed(1)}, max ${s[s.length - 1].toFixed(1)})`,
  );
}
