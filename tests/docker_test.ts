/**
 * Docker drives runsc-ts as it drives runc: a dockerd of the test's own (its own --data-root,
 * --exec-root, socket and pidfile; no bridge, no iptables), configured with `runsc install`,
 * runs a busybox image imported from a rootfs tarball. Each scenario runs under runc and under
 * runsc-ts, and what Docker reports (output, exit status) must be the same: runc's run is the
 * expected result.
 *
 * Needs root and Debian's docker.io and containerd (installed with apt-get when missing); the
 * test is skipped with the reason where dockerd cannot start. Uses the engine's own client,
 * /usr/bin/docker (/usr/local/bin/docker may be a newer client than the engine).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DENO, MAIN, readOr, runsc, waitFor } from "./harness.ts";
import { busyboxRootfs } from "./rootfs.ts";
import { Engine, ensureDocker, exists } from "./docker.ts";

const OURS = "runsc-ts";
/** Our runtime again with other flags: the writable layer in memory; no overlay, shared files. */
const VARIANTS: [string, string][] = [
  ["runsc-ts-mem", "--overlay2=root:memory"],
  ["runsc-ts-shared", "--file-access=shared"],
];

/** `docker args...` through `script`, so that the client has a terminal (`-it`). */
async function withTerminal(
  sock: string,
  args: string[],
  input: string[],
): Promise<{ code: number; text: string }> {
  const quoted = ["/usr/bin/docker", "-H", sock, ...args].map((a) => `'${a}'`).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qec", quoted, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const w = child.stdin.getWriter();
  // Typed after the shell is up, one line at a time, as a user would.
  for (const line of input) {
    await new Promise((r) => setTimeout(r, 1500));
    await w.write(new TextEncoder().encode(line));
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const r = await child.output();
  clearTimeout(timer);
  await w.close().catch(() => {});
  return { code: r.code, text: new TextDecoder().decode(r.stdout).replaceAll("\r", "") };
}

/** Every host process whose argv names `dir` (our containers' boot, gofer, shims). */
function processesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const argv = readOr(`/proc/${e.name}/cmdline`);
    if (argv.includes(dir)) out.push(`${e.name}: ${argv.replaceAll("\0", " ").slice(0, 120)}`);
  }
  return out;
}

/** The containers' cgroups (ids) under the freezer hierarchy's docker parent. */
function dockerCgroups(): string[] {
  const parent = "/sys/fs/cgroup/freezer/docker";
  return exists(parent)
    ? [...Deno.readDirSync(parent)].filter((e) => e.isDirectory).map((e) => e.name)
    : [];
}

const skip = await ensureDocker();
if (skip) console.warn(`docker_test: skipped: ${skip}`);

Deno.test({
  name: "docker runs containers with runsc-ts as it does with runc",
  ignore: skip !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "rdk-" });
    // The engine makes a "docker" parent cgroup in each hierarchy; ours go when we do.
    const parents = [...Deno.readDirSync("/sys/fs/cgroup")].map((e) =>
      `/sys/fs/cgroup/${e.name}/docker`
    )
      .filter((p) => !exists(p));
    // Other engines on the host (other tests') have theirs; only new ones can be ours.
    const cgroupsBefore = new Set(dockerCgroups());
    // What Docker runs: main.ts from source, through a launcher.
    const launcher = join(dir, "runsc-ts");
    Deno.writeTextFileSync(
      launcher,
      `#!/bin/sh\nexec ${DENO} run -A --quiet ${MAIN} "$@"\n`,
      { mode: 0o755 },
    );
    Deno.writeTextFileSync(join(dir, "daemon.json"), '{"log-level": "warn"}\n');
    const inst = await runsc([
      "install",
      `--config_file=${join(dir, "daemon.json")}`,
      `--runtime=${OURS}`,
      `--path=${launcher}`,
    ]);
    assert.equal(inst.code, 0, inst.stderr);
    // The same under other configurations: runtime flags after `--`.
    for (const [name, flag] of VARIANTS) {
      const r = await runsc([
        "install",
        `--config_file=${join(dir, "daemon.json")}`,
        `--runtime=${name}`,
        `--path=${launcher}`,
        "--",
        flag,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const daemon = JSON.parse(readOr(join(dir, "daemon.json")));
    assert.equal(daemon["log-level"], "warn", "install keeps the other keys");
    assert.deepEqual(daemon.runtimes[OURS], { path: launcher });

    const engine = await Engine.start(dir);
    if (typeof engine === "string") {
      // dockerd is installed: one that will not start with the daemon.json `install` wrote
      // is a failure, not a skip.
      await Deno.remove(dir, { recursive: true });
      assert.fail(`docker_test: ${engine}`);
    }
    const d = engine;
    try {
      // The image: busybox, imported from a tarball of the rootfs.
      const rootfs = await busyboxRootfs();
      const tar = join(dir, "bb.tar");
      const tr = await new Deno.Command("tar", { args: ["-C", rootfs, "-cf", tar, "."] }).output();
      assert.ok(tr.success);
      await d.ok(["import", "-c", "ENV PATH=/bin", tar, "bb:t"]);
      const vol = join(dir, "vol");
      Deno.mkdirSync(vol);
      Deno.writeTextFileSync(join(vol, "f"), "from the host\n");

      /** `docker run --rm` under runc and ours (and `also`): the same output and status. */
      const same = async (
        name: string,
        runArgs: string[],
        cmd: string[],
        also: string[] = [],
      ) => {
        await t.step(name, async () => {
          const run = (rt: string) =>
            d.docker(["run", "--rm", "--runtime", rt, ...runArgs, "bb:t", ...cmd]);
          const want = await run("runc");
          for (const rt of [OURS, ...also]) {
            const got = await run(rt);
            assert.equal(got.stdout, want.stdout, `${rt}: stdout; stderr: ${got.stderr}`);
            assert.equal(got.code, want.code, `${rt}: exit status; stderr: ${got.stderr}`);
          }
        });
      };
      const variants = VARIANTS.map(([n]) => n);
      await same("output", [], ["echo", "hi"], variants);
      await same("exit status 3", [], ["sh", "-c", "exit 3"]);
      await same("init ignores a signal it has no handler for", [], [
        "sh",
        "-c",
        "kill -TERM $$; echo survived",
      ]);
      // Docker's 127 and 126 come from the text of create's error.
      await same("a missing executable", [], ["/nonexistent"]);
      await same("a command not in PATH", [], ["nonexistent-cmd"]);
      await same("a file that is not executable", [], ["/bin/.."]);
      await same("-e and -w", ["-e", "A=b", "-w", "/tmp"], ["sh", "-c", "echo $A; pwd"]);
      await same("--user 1000", ["--user", "1000"], ["id"]);
      await same("bind mount", ["-v", `${vol}:/vol`], ["cat", "/vol/f"], variants);
      await same("--read-only", ["--read-only"], [
        "sh",
        "-c",
        "touch /x 2>/dev/null; echo $?",
      ], variants);
      await same("--tmpfs", ["--tmpfs", "/t"], [
        "sh",
        "-c",
        "echo a > /t/a && cat /t/a; echo b > /b && cat /b",
      ], variants);
      await same("--init", ["--init"], ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"]);
      await same("--memory", ["--memory", "64m"], [
        "sh",
        "-c",
        "head -c 1000000 /dev/zero | wc -c",
      ]);

      /** A detached container under both runtimes; `fn` gets its name. */
      const detached = async (
        name: string,
        cmd: string[],
        fn: (c: string, rt: string) => Promise<string>,
      ) => {
        await t.step(name, async () => {
          const results: string[] = [];
          for (const rt of ["runc", OURS]) {
            const c = `${name.replace(/[^a-z0-9]/g, "")}-${rt}`;
            await d.ok(["run", "-d", "--name", c, "--runtime", rt, "bb:t", ...cmd]);
            try {
              results.push(await fn(c, rt));
            } finally {
              await d.docker(["rm", "-f", c]);
            }
          }
          assert.equal(results[1], results[0]);
        });
      };
      const trapTerm = ["sh", "-c", 'trap "exit 143" TERM; echo up; while :; do sleep 0.1; done'];
      await detached("logs exec stop", trapTerm, async (c) => {
        let logs = "";
        for (let i = 0; i < 100 && !logs.includes("up"); i++) {
          logs = await d.ok(["logs", c]);
          if (!logs.includes("up")) await new Promise((r) => setTimeout(r, 100));
        }
        const ex = await d.docker(["exec", c, "sh", "-c", "echo in-exec; exit 4"]);
        const u = await d.ok(["exec", "-u", "1000", c, "id", "-u"]);
        await d.ok(["stop", "-t", "10", c]);
        const code = await d.ok(["inspect", "-f", "{{.State.ExitCode}}", c]);
        return [logs, ex.stdout, ex.code, u, code].join("|");
      });
      await detached("stop waits for its timeout, then kills", ["sleep", "1000"], async (c) => {
        const t0 = Date.now();
        await d.ok(["stop", "-t", "1", c]);
        const waited = Date.now() - t0 >= 900;
        return [waited, await d.ok(["inspect", "-f", "{{.State.ExitCode}}", c])].join("|");
      });
      await detached("kill, wait, start, restart", ["sleep", "1000"], async (c) => {
        await d.ok(["kill", c]);
        const w = await d.ok(["wait", c]);
        await d.ok(["start", c]);
        await d.ok(["restart", "-t", "1", c]);
        const st = await d.ok(["inspect", "-f", "{{.State.Status}}", c]);
        return [w, st].join("|");
      });
      await detached("pause, unpause, update, stats, top", ["sleep", "1000"], async (c) => {
        await d.ok(["pause", c]);
        const paused = await d.ok(["inspect", "-f", "{{.State.Status}}", c]);
        await d.ok(["unpause", c]);
        const again = await d.ok(["exec", c, "echo", "back"]);
        await d.ok(["update", "--memory", "64m", "--memory-swap", "64m", c]);
        const stats = await d.ok(["stats", "--no-stream", "--format", "{{.Name}}", c]);
        const top = await d.ok(["top", c]);
        return [paused, again, stats.replace(/-(runc|runsc-ts)/, ""), top.includes("PID")]
          .join("|");
      });
      await detached("cp in and out", ["sleep", "1000"], async (c) => {
        await d.ok(["cp", join(vol, "f"), `${c}:/copied`]);
        const inside = await d.ok(["exec", c, "cat", "/copied"]);
        const out = join(dir, `out-${c}`);
        await d.ok(["cp", `${c}:/bin/busybox`, out]);
        const same = Deno.statSync(out).size === Deno.statSync("/bin/busybox").size;
        return [inside, same].join("|");
      });

      await t.step("-it: a real terminal, for run and exec", async () => {
        const sock = `unix://${dir}/d.sock`;
        const shell = ["tty; echo $((1+2))\n", "exit 7\n"];
        const results: string[] = [];
        for (const rt of ["runc", OURS]) {
          const r = await withTerminal(
            sock,
            ["run", "--rm", "-it", "--runtime", rt, "bb:t", "sh"],
            shell,
          );
          const c = `it-${rt}`;
          await d.ok(["run", "-d", "--name", c, "--runtime", rt, "bb:t", "sleep", "1000"]);
          const e = await withTerminal(sock, ["exec", "-it", c, "sh"], shell);
          await d.docker(["rm", "-f", c]);
          results.push(`${r.code}|${r.text}|${e.code}|${e.text}`);
        }
        assert.equal(results[1], results[0]);
        assert.match(results[0], /^7\|[\s\S]*\/dev\/pts\/0\n3\n/);
      });

      await t.step("commit, with files shared (no overlay)", async () => {
        const results: string[] = [];
        for (const rt of ["runc", "runsc-ts-shared"]) {
          const c = `commit-${rt}`;
          await d.ok([
            "run",
            "-d",
            "--name",
            c,
            "--runtime",
            rt,
            "bb:t",
            "sh",
            "-c",
            "echo made > /made; sleep 1000",
          ]);
          await new Promise((r) => setTimeout(r, 500));
          await d.ok(["commit", c, `bb:${c}`]);
          await d.docker(["rm", "-f", c]);
          results.push(await d.ok(["run", "--rm", "--runtime", "runc", `bb:${c}`, "cat", "/made"]));
          await d.ok(["rmi", `bb:${c}`]);
        }
        assert.equal(results[1], results[0]);
      });

      await t.step("ctr run --runc-binary", async () => {
        const sock = join(dir, "x", "containerd", "containerd.sock");
        const ctr = (args: string[], stdin: "null" | "piped" = "null") =>
          new Deno.Command("ctr", {
            args: ["-a", sock, "-n", "rdk", ...args],
            stdin,
            stdout: "piped",
            stderr: "piped",
          });
        const saved = join(dir, "bb-image.tar");
        await d.ok(["save", "-o", saved, "bb:t"]);
        const im = await ctr(["images", "import", saved]).output();
        assert.ok(im.success, new TextDecoder().decode(im.stderr));
        const results: string[] = [];
        for (const bin of ["runc", launcher]) {
          const r = await ctr([
            "run",
            "--rm",
            "--runc-binary",
            bin,
            "docker.io/library/bb:t",
            "c1",
            "sh",
            "-c",
            "echo ctr-hi; exit 3",
          ]).output();
          results.push(`${r.code}|${new TextDecoder().decode(r.stdout)}`);
        }
        assert.equal(results[1], results[0]);
        assert.equal(results[0], "3|ctr-hi\n");
      });

      await t.step("10 containers in parallel", async () => {
        const runs = await Promise.all(
          Array.from(
            { length: 10 },
            (_, i) => d.docker(["run", "--rm", "--runtime", OURS, "bb:t", "echo", `n${i}`]),
          ),
        );
        runs.forEach((r, i) => {
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, `n${i}\n`);
        });
      });

      await t.step("nothing is left behind", async () => {
        assert.equal(await d.ok(["ps", "-aq"]), "");
        const ourRoot = join(dir, "x", "runtime-runc");
        assert.ok(
          await waitFor(() => processesUnder(ourRoot).length === 0, 10_000),
          `left running: ${processesUnder(ourRoot).join("\n")}`,
        );
        const states = exists(join(ourRoot, "moby"))
          ? [...Deno.readDirSync(join(ourRoot, "moby"))]
          : [];
        assert.deepEqual(states.map((e) => e.name), [], "no state left");
        // Our create puts the sandbox in the spec's cgroup (/docker/<id>); delete removes it.
        const cgroups = dockerCgroups().filter((c) => !cgroupsBefore.has(c));
        assert.deepEqual(cgroups, [], "no cgroup left");
        // Containers' root filesystems are unmounted (the engine keeps only its own).
        const rootfsMounts = readOr("/proc/mounts").split("\n").filter((l) =>
          l.includes(dir) && (l.includes("/merged ") || l.includes("runtime-runc"))
        );
        assert.deepEqual(rootfsMounts, [], "no container mount left");
      });

      await t.step("uninstall keeps the rest of daemon.json", async () => {
        const r = await runsc([
          "uninstall",
          `--config_file=${join(dir, "daemon.json")}`,
          `--runtime=${OURS}`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const after = JSON.parse(readOr(join(dir, "daemon.json")));
        assert.equal(after["log-level"], "warn");
        assert.deepEqual(Object.keys(after.runtimes).sort(), VARIANTS.map(([n]) => n).sort());
      });
    } finally {
      const left = (await d.docker(["ps", "-aq"])).stdout.split("\n").filter((l) => l);
      if (left.length) await d.docker(["rm", "-f", ...left]);
      await d.stop();
      // The engine's own mounts (overlay2 layers, netns) under the directory go with it.
      for (const line of readOr("/proc/mounts").split("\n").reverse()) {
        const m = line.split(" ")[1];
        if (m?.startsWith(dir)) await new Deno.Command("umount", { args: ["-l", m] }).output();
      }
      await Deno.remove(dir, { recursive: true });
      for (const p of parents) {
        try {
          Deno.removeSync(p);
        } catch { /* not made, or not empty */ }
      }
    }
  },
});
