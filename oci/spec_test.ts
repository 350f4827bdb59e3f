import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultSpec, initSpec, loadSpec, SpecError, validateSpec } from "./spec.ts";

function bundle(): string {
  const dir = Deno.makeTempDirSync({ prefix: "runsc-spec-test-" });
  Deno.mkdirSync(join(dir, "rootfs"));
  return dir;
}

function good(): Record<string, unknown> {
  const s = defaultSpec() as unknown as Record<string, unknown>;
  return structuredClone(s);
}

function expectError(json: unknown, dir: string, re: RegExp): void {
  assert.throws(() => validateSpec(json, dir), (e) => {
    assert(e instanceof SpecError, `not a SpecError: ${e}`);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("validateSpec() accepts the default spec", () => {
  const dir = bundle();
  try {
    const s = validateSpec(good(), dir);
    assert.deepEqual(initSpec(s).args, ["sh"]);
    assert.equal(initSpec(s).hostname, "runsc");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("validateSpec() names the field that is wrong", () => {
  const dir = bundle();
  try {
    const cwd = good();
    (cwd.process as Record<string, unknown>).cwd = "tmp";
    expectError(cwd, dir, /^config\.json: process\.cwd must be absolute, got "tmp"$/);

    const noArgs = good();
    (noArgs.process as Record<string, unknown>).args = [];
    expectError(noArgs, dir, /process\.args must be a non-empty array of strings/);

    const badArgs = good();
    (badArgs.process as Record<string, unknown>).args = ["sh", 3];
    expectError(badArgs, dir, /process\.args must be a non-empty array of strings/);

    const env = good();
    (env.process as Record<string, unknown>).env = ["NOEQUALS"];
    expectError(env, dir, /process\.env\[0\] must have the form KEY=VALUE/);

    const uid = good();
    (uid.process as Record<string, unknown>).user = { uid: -1, gid: 0 };
    expectError(uid, dir, /process\.user\.uid/);

    const rl = good();
    (rl.process as Record<string, unknown>).rlimits = [{ type: "RLIMIT_NOPE", soft: 1, hard: 1 }];
    expectError(rl, dir, /process\.rlimits\[0\]\.type/);

    const root = good();
    root.root = { path: "missing" };
    expectError(root, dir, new RegExp(`root\\.path "missing" does not exist in bundle ${dir}`));

    const mounts = good();
    mounts.mounts = [{ destination: "relative" }];
    expectError(mounts, dir, /mounts\[0\]\.destination must be an absolute path/);

    const noVersion = good();
    delete noVersion.ociVersion;
    expectError(noVersion, dir, /ociVersion/);

    expectError([], dir, /must be a JSON object/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadSpec() names the file when it is missing or not JSON", () => {
  const dir = bundle();
  try {
    assert.throws(() => loadSpec(dir), new RegExp(`cannot read ${dir}/config\\.json`));
    Deno.writeTextFileSync(join(dir, "config.json"), "{ nope");
    assert.throws(() => loadSpec(dir), new RegExp(`${dir}/config\\.json is not valid JSON`));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("initSpec() turns process.capabilities into sets; absent sets, or none at all, are empty", () => {
  const dir = bundle();
  try {
    const s = good();
    const p = s.process as Record<string, unknown>;
    p.capabilities = {
      bounding: ["CAP_KILL", "CAP_CHOWN"],
      effective: ["CAP_KILL", "CAP_CHOWN"],
      permitted: ["CAP_KILL"],
      ambient: ["CAP_KILL"],
    };
    const caps = initSpec(validateSpec(s, dir)).capabilities!;
    assert.equal(caps.bounding, (1n << 5n) | 1n);
    // Linux's invariants: effective within permitted, ambient within permitted and inheritable.
    assert.equal(caps.effective, 1n << 5n);
    assert.equal(caps.permitted, 1n << 5n);
    assert.equal(caps.inheritable, 0n);
    assert.equal(caps.ambient, 0n);
    assert.equal(initSpec(validateSpec(good(), dir)).noNewPrivileges, true);
    // Absent, as runc: no capability at all, for root too.
    delete p.capabilities;
    assert.deepEqual(initSpec(validateSpec(s, dir)).capabilities, {
      bounding: 0n,
      effective: 0n,
      permitted: 0n,
      inheritable: 0n,
      ambient: 0n,
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("validateSpec() refuses unknown capabilities and malformed sets", () => {
  const dir = bundle();
  try {
    const s = good();
    const p = s.process as Record<string, unknown>;
    p.capabilities = { bounding: ["CAP_FLY"] };
    expectError(s, dir, /process\.capabilities\.bounding: unknown capability "CAP_FLY"/);
    p.capabilities = { effective: "CAP_KILL" };
    expectError(s, dir, /process\.capabilities\.effective must be an array of names/);
    p.capabilities = {};
    p.noNewPrivileges = "yes";
    expectError(s, dir, /process\.noNewPrivileges must be a boolean/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
