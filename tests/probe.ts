/**
 * Behaviour probes: a tests/progs/*.c program runs natively and in the sandbox, and both runs
 * must print the same output and end with the same status. Each *_test.ts file lists its
 * probes and calls probeTests().
 *
 * The suite is a parameter of the platform: RUNSC_TEST_PLATFORMS (comma-separated, default
 * "ptrace") names the platforms every probe runs on.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";

export const PLATFORMS: string[] = (Deno.env.get("RUNSC_TEST_PLATFORMS") ?? "ptrace").split(",");

export interface Probe {
  /** tests/progs/<prog>.c */
  prog: string;
  args?: string[];
  /** Build with -static-pie. */
  pie?: boolean;
  /** Extra files in the rootfs (see makeBundle). */
  files?: Record<string, string | { text: string; mode?: number }>;
  /** Text on stdin (default none: /dev/null). */
  stdin?: string;
  /** Extra environment, KEY=VALUE. */
  env?: string[];
}

interface Outcome {
  stdout: string;
  /** Exit code, or 128 + signal as a shell (and `runsc run`) reports it. */
  status: number;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSYS: 31,
};

/**
 * Runs the program natively in a chroot laid out like the sandbox's rootfs (the program at
 * /<prog> and the probe's files), so that paths mean the same thing in both runs.
 */
async function native(exe: string, p: Probe): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "runsc-native-" });
  try {
    await populate(dir, { [p.prog]: exe, ...p.files });
    const child = new Deno.Command("/usr/sbin/chroot", {
      args: [dir, `/${p.prog}`, ...(p.args ?? [])],
      cwd: "/",
      env: Object.fromEntries(["PATH=/usr/bin:/bin", ...(p.env ?? [])].map((e) => {
        const i = e.indexOf("=");
        return [e.slice(0, i), e.slice(i + 1)];
      })),
      clearEnv: true,
      stdin: p.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (p.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(p.stdin));
      await w.close();
    }
    const r = await child.output();
    const status = r.signal ? 128 + (SIGNALS[r.signal] ?? 0) : r.code;
    return { stdout: new TextDecoder().decode(r.stdout), status };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Puts files into a root directory as makeBundle does (host copies, or text). */
async function populate(
  root: string,
  files: Record<string, string | { text: string; mode?: number }>,
): Promise<void> {
  for (const [path, src] of Object.entries(files)) {
    const dest = join(root, path);
    await Deno.mkdir(dirname(dest), { recursive: true });
    if (typeof src === "string") {
      await Deno.copyFile(src, dest);
      await Deno.chmod(dest, 0o755);
    } else {
      await Deno.writeTextFile(dest, src.text, { mode: src.mode ?? 0o644 });
    }
  }
}

/** Registers one test per probe and platform. */
export function probeTests(probes: Probe[]): void {
  if (!IS_ROOT) {
    console.warn("probe tests skipped: running containers needs root");
  }
  for (const platform of PLATFORMS) {
    for (const probe of probes) {
      const label = `${probe.prog}${probe.args?.length ? " " + probe.args.join(" ") : ""}${
        probe.pie ? " (static-pie)" : ""
      }`;
      Deno.test({
        name: `${label} behaves the same in the sandbox (${platform}) as natively`,
        ignore: !IS_ROOT,
        async fn() {
          const exe = await compileProg(probe.prog, { pie: probe.pie });
          const want = await native(exe, probe);
          const bundle = await makeBundle({
            args: [`/${probe.prog}`, ...(probe.args ?? [])],
            files: { [probe.prog]: exe, ...probe.files },
            env: ["PATH=/usr/bin:/bin", ...(probe.env ?? [])],
          });
          const root = await makeRoot();
          try {
            const got = await root.runsc(
              ["run", "--bundle", bundle.dir, "probe"],
              { stdin: probe.stdin },
              [`--platform=${platform}`],
            );
            assert.equal(got.stdout, want.stdout, `stdout differs; stderr: ${got.stderr}`);
            assert.equal(got.code, want.status, `status differs; stderr: ${got.stderr}`);
          } finally {
            await root.cleanup();
            await bundle.cleanup();
          }
        },
      });
    }
  }
}
