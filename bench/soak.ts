/**
 * The soak: `parallel` containers at a time started, run and deleted for `seconds`, then
 * what runsc-ts left on the host (tests/security/soak.ts). Prints containers per second and the
 * leaks (none expected).
 *
 * Usage: deno run -A bench/soak.ts [--parallel 20] [--seconds 120] [--platform ptrace]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { busyboxRootfs } from "../tests/rootfs.ts";
import { soak } from "../tests/security/soak.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    parallel: { type: "string", default: "20" },
    seconds: { type: "string", default: "120" },
    platform: { type: "string", default: "ptrace" },
  },
});
const tty = Deno.stderr.isTerminal();
const t0 = performance.now();
const r = await soak({
  rootfs: await busyboxRootfs(),
  parallel: Number(opts.parallel),
  seconds: Number(opts.seconds),
  flags: [`--platform=${opts.platform}`],
}, (n) => {
  if (tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[Kround ${n}`));
});
const s = (performance.now() - t0) / 1000;
if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
console.log(
  `${r.containers} containers in ${r.rounds} rounds of ${opts.parallel} (${opts.platform}), ` +
    `${s.toFixed(1)} s: ${(r.containers / s).toFixed(2)} containers/s`,
);
console.log(`failed runs: ${r.failures.length}`);
for (const f of r.failures.slice(0, 10)) console.log(`  ${f}`);
console.log(`left behind: ${r.leaks.length ? "" : "nothing"}`);
for (const l of r.leaks) console.log(`  ${l}`);
if (r.failures.length || r.leaks.length) Deno.exitCode = 1;
