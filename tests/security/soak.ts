/**
 * Many containers started, run and deleted in parallel, and what they leave on the host: the
 * processes, memfds, mounts and state directories of runsc-ts before and after. Used by
 * soak_test.ts (one round in the suite) and bench/soak.ts (rounds for as long as asked).
 *
 * @module
 */

import { dirname } from "node:path";
import { listDir, makeBundle, makeRoot, readOr } from "../harness.ts";

/** What runsc-ts holds on the host at one moment. */
export interface HostFootprint {
  /** pid -> cmdline of every process of ours: stubs, and runsc processes under `root`. */
  processes: Map<number, string>;
  /** Host-wide count of open memfd descriptors named runsc-*. */
  memfds: number;
  /** This process's mount table (mount namespace of the test), one line per mount. */
  mounts: Set<string>;
  /** Entries of the state root and of the directories watched (e.g. beside a rootfs). */
  state: string[];
}

/** Every process of runsc-ts on the host whose command line names `root`, and every stub. */
function ourProcesses(root: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of listDir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = readOr(`/proc/${e}/cmdline`).split("\0").join(" ").trim();
    if (cmd.startsWith("runsc-stub") || cmd.includes(root)) out.set(Number(e), cmd);
  }
  return out;
}

/** Open descriptors, in every process, of memfds whose name starts with "runsc". */
function countMemfds(): number {
  let n = 0;
  for (const pid of listDir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    for (const fd of listDir(`/proc/${pid}/fd`)) {
      try {
        if (Deno.readLinkSync(`/proc/${pid}/fd/${fd}`).startsWith("/memfd:runsc")) n++;
      } catch { /* closed meanwhile */ }
    }
  }
  return n;
}

/**
 * A reading of runsc-ts's footprint for state root `root`, also listing `watch` (directories
 * where a container may leave files, such as the rootfs's parent for `--overlay2=root:self`).
 */
export function footprint(root: string, watch: string[] = []): HostFootprint {
  return {
    processes: ourProcesses(root),
    memfds: countMemfds(),
    mounts: new Set(
      readOr("/proc/self/mountinfo").split("\n").map((l) =>
        // Mount ids and parent ids change with unrelated activity; the rest names the mount.
        l.split(" ").slice(2).join(" ")
      ).filter((l) => l),
    ),
    state: [root, ...watch].flatMap((d) => listDir(d).map((e) => `${d}/${e}`)),
  };
}

/** What `after` holds that `before` did not, as readable lines (empty: nothing leaked). */
export function leaks(before: HostFootprint, after: HostFootprint): string[] {
  const out: string[] = [];
  for (const [pid, cmd] of after.processes) {
    if (!before.processes.has(pid)) out.push(`process ${pid}: ${cmd}`);
  }
  if (after.memfds > before.memfds) out.push(`memfds: ${before.memfds} -> ${after.memfds}`);
  for (const m of after.mounts) if (!before.mounts.has(m)) out.push(`mount: ${m}`);
  for (const s of after.state) if (!before.state.includes(s)) out.push(`state: ${s}`);
  return out;
}

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
  const watch = [opts.rootfs, dirname(opts.rootfs)];
  const before = footprint(t.root, watch);
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
      left = leaks(before, footprint(t.root, watch));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return { rounds, containers, failures, leaks: left };
  } finally {
    await t.cleanup();
    await bundle.cleanup();
  }
}
