/**
 * Start-up (issue 16): the `--debug` timeline of every role, what a confined Sentry and Gofer
 * hold open of the host, and the program's builds (source, bundle, compiled).
 *
 * These need root (the sandbox's namespaces and ptrace); without it they are skipped.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hostProcesses } from "../oci/container.ts";
import { PLATFORMS } from "./probe.ts";
import {
  compileProg,
  IS_ROOT,
  MAIN,
  makeBundle,
  makeRoot,
  readOr,
  REPO,
  writableHostFiles,
} from "./harness.ts";

const SKIP = IS_ROOT ? "" : "needs root";
if (SKIP) console.warn(`startup_test: skipped: ${SKIP}`);

function startupTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: SKIP !== "", sanitizeResources: false, sanitizeOps: false, fn });
}

/** The `phase` names of a debug log, in order. */
function phases(text: string): string[] {
  return [...text.matchAll(/ phase ([^{\n]+?) \{"ms":[0-9.]+/g)].map((m) => m[1]);
}

startupTest(
  "--debug prints the start-up and tear-down phases of the CLI, boot and gofer",
  async () => {
    const t = await makeRoot();
    const logs = await Deno.makeTempDir({ prefix: "runsc-timeline-" });
    const b = await makeBundle({ args: ["/true"], files: { true: await compileProg("true") } });
    try {
      const r = await t.runsc(["run", "--bundle", b.dir, "tl"], {}, [
        "--debug",
        `--debug-log=${logs}/`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      // Torn down by killing the namespaces' inits: nothing left, nothing said on the way.
      assert.equal(r.stderr, "");
      const left = hostProcesses().filter((p) => p.argv.includes("tl") && p.argv.includes("--id"));
      assert.deepEqual(left, []);
      const cli = phases(readOr(join(logs, "runsc.tl.run.log")));
      const boot = phases(readOr(join(logs, "runsc.tl.boot.log")));
      const gofer = phases(readOr(join(logs, "runsc.gofer.log")));
      assert.deepEqual(cli, [
        "cli: loaded",
        "create: gofer and boot spawned",
        "create: sandbox ready",
        "start: started",
        "run: exited",
        "delete: processes gone",
        "delete: removed",
      ]);
      // delete kills the sandbox's inits: the Sentry may or may not reach its own tear-down
      // first (a loaded host decides), so its last phases are a prefix of that tear-down.
      const tearDown = ["boot: destroying", "boot: destroyed"];
      const started = boot.slice(0, boot.length - boot.filter((p) => tearDown.includes(p)).length);
      assert.deepEqual(started, [
        "boot: loaded",
        "boot: sentry loaded",
        "boot: platform ready",
        "boot: mounts ready (gofer handshake)",
        "boot: init loaded",
        "boot: ready",
        "boot: init runs",
        "boot: init exited",
      ]);
      assert.deepEqual(boot.slice(started.length), tearDown.slice(0, boot.length - started.length));
      assert.deepEqual(gofer, ["gofer: loaded", "gofer: mounts opened", "gofer: serving"]);
    } finally {
      await t.cleanup();
      await b.cleanup();
      await Deno.remove(logs, { recursive: true });
    }
  },
);

for (const platform of PLATFORMS) {
  startupTest(
    `a running Sentry and Gofer hold no writable host file (Deno's caches, inherited fds) (${platform})`,
    async () => {
      const t = await makeRoot();
      const b = await makeBundle({ args: ["/true"], files: { true: await compileProg("true") } });
      const dir = await Deno.makeTempDir({ prefix: "runsc-fds-" });
      const out = join(dir, "out");
      const leaked = join(dir, "leaked");
      try {
        // The caller leaves a writable descriptor inheritable (as a shell or containerd may).
        const argv = [
          Deno.execPath(),
          "run",
          "-A",
          "--quiet",
          MAIN,
          "--root",
          t.root,
          `--platform=${platform}`,
        ];
        const r = await new Deno.Command("/bin/sh", {
          args: [
            "-c",
            'exec 7>>"$0"; out="$1"; shift; exec "$@" >"$out" 2>"$out.err"',
            leaked,
            out,
            ...argv,
            "create",
            "--bundle",
            b.dir,
            "fds",
          ],
        }).output();
        assert.equal(r.code, 0, readOr(`${out}.err`));
        const st = JSON.parse(Deno.readTextFileSync(join(t.root, "fds", "state.json")));
        const gofer = Number(
          Deno.readTextFileSync(`/proc/${st.goferPid}/task/${st.goferPid}/children`).trim()
            .split(" ")[0],
        );
        assert.ok(gofer > 0, "the gofer runs below its nsinit");
        // The kvm platform's device is the one host file the Sentry keeps open read-write; its
        // exit record is its nsinit's to write (host/nsinit.ts).
        const device = platform === "kvm" ? ["/dev/kvm"] : [];
        assert.deepEqual(writableHostFiles(st.pid, [out, `${out}.err`, ...device]), [], "Sentry");
        assert.deepEqual(writableHostFiles(gofer, []), [], "Gofer");
        for (const pid of [st.pid, gofer]) {
          const targets = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => {
            try {
              return Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
            } catch {
              return "";
            }
          });
          assert.ok(!targets.includes(leaked), `process ${pid} inherited the caller's descriptor`);
        }
      } finally {
        await t.cleanup();
        await b.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

/** Builds the one-file bundle as `deno task bundle` does, into `dir`; returns its path. */
async function bundleInto(dir: string): Promise<string> {
  const out = join(dir, "runsc.js");
  for (
    const args of [
      ["bundle", "--quiet", MAIN, "-o", out],
      ["run", "-A", "--quiet", join(REPO, "tools", "stamp_bundle.ts"), out],
    ]
  ) {
    const r = await new Deno.Command(Deno.execPath(), { args, stderr: "piped" }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
  }
  return out;
}

/** Runs `program` (argv[0] and its leading arguments) with `args`; stdout to a file. */
async function runProgram(program: string[], args: string[], out: string) {
  const r = await new Deno.Command("/bin/sh", {
    args: ["-c", 'out="$0"; exec "$@" >"$out" 2>"$out.err"', out, ...program, ...args],
  }).output();
  return { code: r.code, stdout: readOr(out), stderr: readOr(`${out}.err`) };
}

/** Creates, inspects and deletes a container with `program`; the boot's argv must name `file`. */
async function lifecycleWith(program: string[], file: string, dir: string): Promise<void> {
  const t = await makeRoot();
  const b = await makeBundle({ args: ["/true"], files: { true: await compileProg("true") } });
  try {
    const root = ["--root", t.root];
    const out = join(dir, "out");
    let r = await runProgram(program, [...root, "create", "--bundle", b.dir, "one"], out);
    assert.equal(r.code, 0, r.stderr);
    const st = JSON.parse(Deno.readTextFileSync(join(t.root, "one", "state.json")));
    const argv = Deno.readTextFileSync(`/proc/${st.pid}/cmdline`).split("\0");
    assert.ok(argv.includes("boot") && argv.some((a) => a === file), argv.join(" "));
    // Whatever cache this build keeps, the confined processes cannot write it.
    const gofer = Number(
      Deno.readTextFileSync(`/proc/${st.goferPid}/task/${st.goferPid}/children`).trim()
        .split(" ")[0],
    );
    assert.deepEqual(writableHostFiles(st.pid, [out, `${out}.err`]), [], "Sentry");
    assert.deepEqual(writableHostFiles(gofer, []), [], "Gofer");
    r = await runProgram(program, [...root, "start", "one"], out);
    assert.equal(r.code, 0, r.stderr);
    r = await runProgram(program, [...root, "wait", "one"], out);
    assert.equal(r.code, 0, r.stderr);
    r = await runProgram(program, [...root, "delete", "one"], out);
    assert.equal(r.code, 0, r.stderr);
    r = await runProgram(program, [...root, "run", "--bundle", b.dir, "two"], out);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await t.cleanup();
    await b.cleanup();
  }
}

startupTest("the bundle names its build and runs every role from its one file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "runsc-dist-" });
  try {
    const js = await bundleInto(dir);
    const program = [Deno.execPath(), "run", "-A", "--quiet", js];
    const v = await runProgram(program, ["--version"], join(dir, "v"));
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^build: bundle, revision [0-9a-f]{12}/m);
    const src = await runProgram(
      [Deno.execPath(), "run", "-A", "--quiet", MAIN],
      ["--version"],
      join(dir, "s"),
    );
    assert.match(src.stdout, /^build: source(, revision [0-9a-f]{12})?$/m);
    await lifecycleWith(program, js, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * `deno compile` needs Deno's runtime (denort), downloaded from the internet unless DENORT_BIN
 * names a local copy or it was downloaded before; where neither holds the test cannot run.
 */
function denortAvailable(): boolean {
  if (Deno.env.get("DENORT_BIN")) return true;
  const home = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");
  try {
    return [...Deno.readDirSync(join(home, "dl", "release", `v${Deno.version.deno}`))]
      .some((e) => e.name.startsWith("denort-"));
  } catch {
    return false;
  }
}

Deno.test({
  name: "the compiled binary names its build and re-executes itself as boot and gofer",
  ignore: SKIP !== "" || !denortAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runsc-compiled-" });
    try {
      const js = await bundleInto(dir);
      const bin = join(dir, "runsc");
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["compile", "-A", "--quiet", "--output", bin, js],
        stderr: "piped",
      }).output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      const v = await runProgram([bin], ["--version"], join(dir, "v"));
      assert.match(v.stdout, /^build: compiled, revision [0-9a-f]{12}/m);
      await lifecycleWith([bin], bin, dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The modules `entry` loads before any dynamic import runs (its static import closure). */
async function staticModules(entry: string): Promise<string[]> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", join(REPO, entry)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  const graph = JSON.parse(new TextDecoder().decode(r.stdout)) as {
    roots: string[];
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const bySpec = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...graph.roots];
  while (todo.length) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpec.get(s)?.dependencies ?? []) {
      if (!d.isDynamic && d.code) todo.push(d.code.specifier);
    }
  }
  const base = `file://${REPO}/`;
  return [...seen].filter((s) => s.startsWith(base)).map((s) => s.slice(base.length));
}

Deno.test("each role loads only its own code: the CLI no Sentry, the gofer neither Sentry nor CLI", async () => {
  const kernel = (m: string) =>
    /^(platform\/|boot\/sandbox_impl\.ts|sentry\/(kernel\/(kernel|task)\.ts|mm\/|fs\/|vfs\/|loader\/|syscalls\/table))/
      .test(m);
  const main = await staticModules("main.ts");
  assert.deepEqual(
    main.filter((m) =>
      !["main.ts", "oci/flags.ts", "oci/global.ts", "oci/overlay.ts", "path.ts"].includes(m)
    ),
    [],
  );
  const cli = await staticModules("oci/cli.ts");
  assert.deepEqual(cli.filter(kernel), [], "the CLI's modules");
  assert.ok(!cli.includes("host/filters.ts"), "the CLI loads the seccomp filters");
  const gofer = await staticModules("gofer/gofer.ts");
  assert.deepEqual(
    gofer.filter((m) => kernel(m) || m.startsWith("oci/cmd/") || m === "oci/cli.ts"),
    [],
    "the gofer's modules",
  );
  const boot = await staticModules("boot/boot.ts");
  const sentry = await staticModules("boot/sandbox_impl.ts");
  assert.deepEqual(
    sentry.filter((m) => /^platform\/(ptrace|kvm)\//.test(m)),
    [],
    "the Sentry loads a platform before it knows which",
  );
  assert.deepEqual(
    boot.filter((m) =>
      m.startsWith("oci/cmd/") || m.startsWith("gofer/lisafs/server") || m === "gofer/fsgofer.ts"
    ),
    [],
    "the boot's modules",
  );
});
