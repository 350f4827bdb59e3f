/**
 * The runtime CLI from the outside, without running a container: spec, version, help, flag and
 * command errors (stderr, --log lines, exit 128), and create refusing broken bundles cleanly.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { validateSpec } from "../oci/spec.ts";
import { listDir, makeBundle, makeRoot, runsc } from "./harness.ts";

Deno.test("runsc spec writes a valid default config.json and refuses to overwrite it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "rootfs"));
    const r = await runsc(["spec", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    const spec = validateSpec(JSON.parse(await Deno.readTextFile(join(dir, "config.json"))), dir);
    assert.equal(spec.ociVersion, "1.1.0");
    assert.deepEqual(spec.process?.args, ["sh"]);
    const again = await runsc(["spec", `--bundle=${dir}`]);
    assert.equal(again.code, 128);
    assert.match(again.stderr, /config\.json exists/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runsc --version prints the version and the spec version", async () => {
  const r = await runsc(["--version"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^runsc version \S+/);
  assert.match(r.stdout, /^spec: 1\.1\.0$/m);
});

Deno.test("runsc help and runsc flags list the commands and global flags", async () => {
  const help = await runsc(["help"]);
  assert.equal(help.code, 0);
  for (const c of ["create", "start", "run", "state", "list", "kill", "wait", "delete", "spec"]) {
    assert.match(help.stdout, new RegExp(`^  ${c} `, "m"));
  }
  const flags = await runsc(["flags"]);
  assert.equal(flags.code, 0);
  assert.match(flags.stdout, /--root value\n.*\(default \/var\/run\/runsc\)/);
  assert.match(flags.stdout, /--platform value\n.*\(default systrap\)/);
  const kill = await runsc(["help", "kill"]);
  assert.match(kill.stdout, /Usage: runsc kill \[flags\] <container-id> \[signal\]/);
});

Deno.test("an unknown command exits 128 with a JSON error line in --log", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const logFile = join(dir, "runsc.log");
    const r = await runsc(["--log", logFile, "--log-format=json", "frobnicate"]);
    assert.equal(r.code, 128);
    assert.match(r.stderr, /^runsc: unknown command "frobnicate"/);
    const lines = (await Deno.readTextFile(logFile)).trim().split("\n");
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]);
    assert.equal(entry.level, "error");
    assert.match(entry.msg, /unknown command "frobnicate"/);
    assert.ok(!Number.isNaN(Date.parse(entry.time)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unknown flag exits 128, and is still logged to --log", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const logFile = join(dir, "runsc.log");
    const r = await runsc([`--log=${logFile}`, "--log-format", "json", "--bogus", "list"]);
    assert.equal(r.code, 128);
    assert.match(r.stderr, /^runsc: flag provided but not defined: -bogus/);
    assert.match(JSON.parse(await Deno.readTextFile(logFile)).msg, /-bogus/);
    const cmdFlag = await runsc(["--root", dir, "list", "--nope"]);
    assert.equal(cmdFlag.code, 128);
    assert.match(cmdFlag.stderr, /flag provided but not defined for list: -nope/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("commands refuse bad ids, unknown containers and missing arguments", async () => {
  const t = await makeRoot();
  try {
    const state = await t.runsc(["state", "nope"]);
    assert.equal(state.code, 128);
    assert.match(state.stderr, /container "nope" does not exist/);
    const bad = await t.runsc(["state", "../etc"]);
    assert.equal(bad.code, 128);
    assert.match(bad.stderr, /invalid container id/);
    const missing = await t.runsc(["start"]);
    assert.equal(missing.code, 128);
    assert.match(missing.stderr, /"start" expects <container-id>/);
    const sig = await t.runsc(["kill", "c1", "SIGNOPE"]);
    assert.equal(sig.code, 128);
    assert.match(sig.stderr, /invalid signal "SIGNOPE"/);
    const list = await t.runsc(["list", "--format", "json"]);
    assert.equal(list.code, 0);
    assert.deepEqual(JSON.parse(list.stdout), []);
  } finally {
    await t.cleanup();
  }
});

Deno.test("create with a broken config.json names the field, exits 128 and leaves nothing", async () => {
  const t = await makeRoot();
  const b = await makeBundle({ args: ["/hello"], cwd: "tmp" });
  const c = await makeBundle({ args: ["/hello"], rawConfig: "{ not json" });
  try {
    const r = await t.runsc(["create", "--bundle", b.dir, "c1"]);
    assert.equal(r.code, 128);
    assert.match(r.stderr, /config\.json: process\.cwd must be absolute, got "tmp"/);
    assert.deepEqual(listDir(t.root), []);

    const j = await t.runsc(["create", "--bundle", c.dir, "c1"]);
    assert.equal(j.code, 128);
    assert.match(j.stderr, new RegExp(`${c.dir}/config\\.json is not valid JSON`));
    assert.deepEqual(listDir(t.root), []);

    const noBundle = await t.runsc(["create", "--bundle", join(b.dir, "nope"), "c1"]);
    assert.equal(noBundle.code, 128);
    assert.match(noBundle.stderr, /cannot read .*config\.json: no such file/);
    assert.deepEqual(listDir(t.root), []);
  } finally {
    await b.cleanup();
    await c.cleanup();
    await t.cleanup();
  }
});

Deno.test("--debug-log=DIR/ names the CLI's file after a container id only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "runsc-debuglog-" });
  try {
    // `state` of a bad id fails, but its log is opened first: a path as the first argument
    // must not become directories under DIR.
    const r = await runsc(["--debug", `--debug-log=${dir}/`, "state", "a/b"]);
    assert.notEqual(r.code, 0);
    assert.deepEqual(listDir(dir), ["runsc.state.log"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
