import assert from "node:assert/strict";
import { type FlagDef, parseFlags, UsageError } from "./flags.ts";
import { GLOBAL_FLAGS, globalConfig } from "./global.ts";

const DEFS: FlagDef[] = [
  { name: "root", kind: "string", default: "/var/run/runsc", help: "" },
  { name: "debug", kind: "bool", default: false, help: "" },
  { name: "format", kind: "string", default: "text", choices: ["text", "json"], help: "" },
  { name: "quiet", kind: "bool", default: false, aliases: ["q"], help: "" },
];

Deno.test("parseFlags() accepts --flag=value and --flag value", () => {
  assert.equal(parseFlags(["--root=/a"], DEFS).values.root, "/a");
  assert.equal(parseFlags(["--root", "/b"], DEFS).values.root, "/b");
  assert.equal(parseFlags(["-root", "/c"], DEFS).values.root, "/c");
});

Deno.test("parseFlags() applies defaults and reads booleans with and without a value", () => {
  const none = parseFlags([], DEFS).values;
  assert.equal(none.root, "/var/run/runsc");
  assert.equal(none.debug, false);
  assert.equal(parseFlags(["--debug"], DEFS).values.debug, true);
  assert.equal(parseFlags(["--debug=false"], DEFS).values.debug, false);
  assert.equal(parseFlags(["-q"], DEFS).values.quiet, true);
});

Deno.test("parseFlags() stops at the first positional word unless interleaved", () => {
  const r = parseFlags(["--debug", "create", "--root", "x"], DEFS);
  assert.deepEqual(r.rest, ["create", "--root", "x"]);
  assert.equal(r.values.root, "/var/run/runsc");
  const i = parseFlags(["c1", "--quiet", "KILL"], DEFS, { interleaved: true });
  assert.deepEqual(i.rest, ["c1", "KILL"]);
  assert.equal(i.values.quiet, true);
  assert.deepEqual(parseFlags(["--", "--debug"], DEFS).rest, ["--debug"]);
});

Deno.test("parseFlags() rejects unknown flags, missing values and bad choices", () => {
  assert.throws(() => parseFlags(["--nope"], DEFS), (e) => {
    assert(e instanceof UsageError);
    assert.match(e.message, /flag provided but not defined: -nope/);
    return true;
  });
  assert.throws(() => parseFlags(["--root"], DEFS), /flag needs an argument: --root/);
  assert.throws(() => parseFlags(["--format=xml"], DEFS), /must be one of text, json/);
  assert.throws(() => parseFlags(["--debug=maybe"], DEFS), /invalid boolean/);
});

Deno.test("parseFlags() records given flags in normal form", () => {
  const r = parseFlags(["--root", "/x", "--debug", "boot"], DEFS);
  assert.deepEqual(r.given, ["--root=/x", "--debug"]);
});

Deno.test("globalConfig() passes on the flags boot and gofer need", () => {
  const { values } = parseFlags(
    ["--debug", "--platform", "kvm", "--strace", "--network=none", "--systemd-cgroup"],
    GLOBAL_FLAGS,
  );
  const c = globalConfig(values);
  assert.equal(c.platform, "kvm");
  assert(c.passOn.includes("--debug"));
  assert(c.passOn.includes("--platform=kvm"));
  assert(c.passOn.includes("--strace"));
  assert(c.passOn.includes("--root=/var/run/runsc"));
  assert(!c.passOn.some((f) => f.startsWith("--systemd-cgroup")));
});

Deno.test("globalConfig() makes path flags absolute, keeping a directory's slash", () => {
  const { values } = parseFlags(
    ["--root", "r", "--log=l.json", "--debug-log", "logs/"],
    GLOBAL_FLAGS,
  );
  const c = globalConfig(values);
  const cwd = Deno.cwd();
  assert.equal(c.root, `${cwd}/r`);
  assert.equal(c.log, `${cwd}/l.json`);
  assert.equal(c.debugLog, `${cwd}/logs/`);
  assert(c.passOn.includes(`--debug-log=${cwd}/logs/`));
  assert(c.passOn.includes(`--log=${cwd}/l.json`));
});

Deno.test("globalConfig() leaves the platform to boot unless it was given (systrap by default)", () => {
  const none = parseFlags(["--debug"], GLOBAL_FLAGS);
  const c = globalConfig(none.values, none.given);
  assert.equal(c.platform, "systrap");
  assert(!c.passOn.some((f) => f.startsWith("--platform")), c.passOn.join(" "));
  const ptrace = parseFlags(["--platform=ptrace"], GLOBAL_FLAGS);
  assert(globalConfig(ptrace.values, ptrace.given).passOn.includes("--platform=ptrace"));
  const systrap = parseFlags(["--platform", "systrap"], GLOBAL_FLAGS);
  assert(globalConfig(systrap.values, systrap.given).passOn.includes("--platform=systrap"));
});
