/**
 * Many containers started, run and deleted in parallel, and what they leave on the host
 * (hostcheck.ts: processes, mounts, listening sockets, memfds, and the state root and the
 * rootfs's directories). Used by soak_test.ts (one round in the suite) and bench/soak.ts
 * (rounds for as long as asked).
 *
 * @module
 */

import { dirname } from "node:path";
import { makeBundle, makeRoot } from "../harness.ts";
import { hostChanges, hostSnapshot } from "./hostcheck.ts";

/** The outcome of a soak. */
export interface SoakResult {
  rounds: number;
  containers: number;
  /** Runs whose output or exit status was not what the script prints. */
  failures: string[];
  /** What was left behind once everything was deleted. */
  leaks: string[];
}

/**
 * Runs rounds of `parallel` containers of busybox (`rootfs`) at once, each running a small
 * script and deleted by `run` itself, until `seconds` have passed (at least one round); then
 * compares the host's footprint with the one before.
 */
export async function soak(
  opts: { rootfs: string; parallel: number; seconds: number; flags?: string[] },
  onRound?: (round: number) => void,
): Promise<SoakResult> {
  const bundle = await makeBundle({
    args: [
      "/bin/sh",
      "-c",
      "echo start; ls / >/dev/null; cat /proc/self/status >/dev/null; echo end",
    ],
    config: { root: { path: opts.rootfs, readonly: true } },
  });
  const t = await makeRoot();
  const before = hostSnapshot({
    markers: [t.root, bundle.dir],
    watch: [t.root, opts.rootfs, dirname(opts.rootfs)],
    memfds: true,
  });
  const failures: string[] = [];
  let rounds = 0;
  let containers = 0;
  const deadline = Date.now() + opts.seconds * 1000;
  try {
    do {
      onRound?.(rounds + 1);
      const runs = Array.from({ length: opts.parallel }, (_, i) => {
        const id = `soak-${rounds}-${i}`;
        return t.runsc(["run", "--bundle", bundle.dir, id], { timeoutMs: 120_000 }, opts.flags)
          .then((r) => {
            if (r.code !== 0 || r.stdout !== "start\nend\n") {
              failures.push(
                `${id}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, ` +
                  `stderr ${JSON.stringify(r.stderr.slice(-300))}`,
              );
            }
          });
      });
      await Promise.all(runs);
      rounds++;
      containers += opts.parallel;
    } while (Date.now() < deadline);
    // Processes end a moment after the CLI that deleted them returns.
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      left = hostChanges(before);
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return { rounds, containers, failures, leaks: left };
  } finally {
    await t.cleanup();
    await bundle.cleanup();
  }
}
