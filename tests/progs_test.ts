/**
 * Behaviour probes: each tests/progs/*.c program below runs natively and in the sandbox, and
 * both runs must print the same output and end with the same status.
 *
 * The suite is a parameter of the platform: RUNSC_TEST_PLATFORMS (comma-separated, default
 * "ptrace") names the platforms it runs on.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";

const PLATFORMS = (Deno.env.get("RUNSC_TEST_PLATFORMS") ?? "ptrace").split(",");

interface Probe {
  prog: string;
  args?: string[];
  pie?: boolean;
}

const PROBES: Probe[] = [
  { prog: "mmap_anon" },
  { prog: "mmap_anon", pie: true },
  { prog: "bad_args" },
  { prog: "process_info", args: ["first"] },
  { prog: "segv" },
  { prog: "exit_code", args: ["42"] },
];

interface Outcome {
  stdout: string;
  /** Exit code, or 128 + signal as a shell (and `runsc run`) reports it. */
  status: number;
}

async function native(exe: string, name: string, args: string[]): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "runsc-native-" });
  try {
    const path = join(dir, name);
    await Deno.copyFile(exe, path);
    await Deno.chmod(path, 0o755);
    const r = await new Deno.Command(path, {
      args,
      cwd: "/",
      env: { PATH: "/usr/bin:/bin" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const status = r.signal ? 128 + (Deno.build.os === "linux" ? signo(r.signal) : 0) : r.code;
    return { stdout: new TextDecoder().decode(r.stdout), status };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function signo(name: Deno.Signal): number {
  const table: Record<string, number> = { SIGSEGV: 11, SIGKILL: 9, SIGABRT: 6, SIGBUS: 7 };
  return table[name] ?? 0;
}

for (const platform of PLATFORMS) {
  for (const probe of PROBES) {
    const label = `${probe.prog}${probe.pie ? " (static-pie)" : ""}`;
    Deno.test({
      name: `${label} behaves the same in the sandbox (${platform}) as natively`,
      ignore: !IS_ROOT,
      async fn() {
        const exe = await compileProg(probe.prog, { pie: probe.pie });
        const args = probe.args ?? [];
        const want = await native(exe, probe.prog, args);
        const bundle = await makeBundle({
          args: [`/${probe.prog}`, ...args],
          files: { [probe.prog]: exe },
        });
        const root = await makeRoot();
        try {
          const got = await root.runsc(
            ["run", "--bundle", bundle.dir, "probe"],
            {},
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

if (!IS_ROOT) console.warn("progs_test: skipped: running containers needs root");
