import assert from "node:assert/strict";
import { UsageError } from "./flags.ts";
import { fileConfig, formatOverlay2, parseOverlay2 } from "./overlay.ts";
import { globalConfig } from "./global.ts";
import { parseFlags } from "./flags.ts";
import { GLOBAL_FLAGS } from "./global.ts";

Deno.test("parseOverlay2() reads none, both scopes, every medium, the guide's form and size", () => {
  assert.deepEqual(parseOverlay2("none"), { scope: "none" });
  assert.deepEqual(parseOverlay2("root:memory"), { scope: "root", medium: "memory" });
  assert.deepEqual(parseOverlay2("all:self"), { scope: "all", medium: "self" });
  assert.deepEqual(parseOverlay2("root:dir=/var/tmp/x/"), {
    scope: "root",
    medium: "dir",
    dir: "/var/tmp/x/",
  });
  assert.deepEqual(parseOverlay2("root:/scratch"), {
    scope: "root",
    medium: "dir",
    dir: "/scratch",
  });
  assert.deepEqual(parseOverlay2("all:memory,size=512m"), {
    scope: "all",
    medium: "memory",
    size: 512 << 20,
  });
  assert.equal(parseOverlay2("root:self,size=4096").size, 4096);
  assert.equal(parseOverlay2("root:self,size=2G").size, 2 * 2 ** 30);
});

Deno.test("parseOverlay2() refuses malformed values with a message naming the flag", () => {
  for (
    const bad of [
      "",
      "root",
      "mounts:memory",
      "root:disk",
      "root:dir=relative",
      "root:relative",
      "root:memory,size=",
      "root:memory,size=12x",
      "root:memory,size=0",
      "root:memory,foo=1",
      "root:memory,size=1,size=2",
    ]
  ) {
    assert.throws(() => parseOverlay2(bad), (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.match(e.message, /--overlay2=/);
      return true;
    }, bad);
  }
});

Deno.test("formatOverlay2() gives the canonical form that parses back to the same value", () => {
  for (
    const v of ["none", "root:self", "all:memory,size=1024", "root:dir=/x", "root:/y,size=1k"]
  ) {
    const p = parseOverlay2(v);
    assert.deepEqual(parseOverlay2(formatOverlay2(p)), p, v);
  }
  assert.equal(formatOverlay2(parseOverlay2("root:/y,size=1k")), "root:dir=/y,size=1024");
});

Deno.test("fileConfig() defaults: root:self; --file-access=shared alone turns it to none", () => {
  assert.equal(formatOverlay2(fileConfig({}).overlay2), "root:self");
  assert.equal(fileConfig({}).fileAccess, "exclusive");
  assert.equal(fileConfig({}).fileAccessMounts, "shared");
  const shared = fileConfig({ fileAccess: "shared" });
  assert.equal(formatOverlay2(shared.overlay2), "none");
  assert.equal(shared.fileAccess, "shared");
  assert.equal(formatOverlay2(fileConfig({ overlay: true }).overlay2), "all:memory");
  assert.equal(
    formatOverlay2(fileConfig({ overlay: true, overlay2: "all:memory" }).overlay2),
    "all:memory",
  );
  assert.equal(
    formatOverlay2(fileConfig({ fileAccess: "shared", overlay2: "none" }).overlay2),
    "none",
  );
});

Deno.test("fileConfig() refuses shared access with an explicit root overlay, naming both flags", () => {
  for (const given of [{ overlay2: "root:self" }, { overlay2: "all:memory" }, { overlay: true }]) {
    assert.throws(() => fileConfig({ fileAccess: "shared", ...given }), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /--file-access=shared/);
      assert.match(e.message, /--overlay/);
      return true;
    });
  }
  assert.throws(
    () => fileConfig({ overlay: true, overlay2: "root:self" }),
    /--overlay .*--overlay2/,
  );
  assert.throws(() => fileConfig({ fileAccessMounts: "both" }), /--file-access-mounts/);
});

Deno.test("globalConfig() passes the canonical --overlay2 on, never the legacy --overlay", () => {
  const conf = (args: string[]) => globalConfig(parseFlags(args, GLOBAL_FLAGS).values);
  assert.ok(conf([]).passOn.includes("--overlay2=root:self"));
  const legacy = conf(["--overlay"]);
  assert.ok(legacy.passOn.includes("--overlay2=all:memory"));
  assert.ok(!legacy.passOn.includes("--overlay"));
  const shared = conf(["--file-access=shared"]);
  assert.ok(shared.passOn.includes("--overlay2=none"));
  assert.ok(shared.passOn.includes("--file-access=shared"));
  assert.equal(shared.files.overlay2.scope, "none");
  assert.ok(conf(["--overlay2=root:/tmp/fs"]).passOn.includes("--overlay2=root:dir=/tmp/fs"));
  assert.throws(() => conf(["--overlay2=root:bogus"]), UsageError);
  assert.throws(() => conf(["--file-access=shared", "--overlay2=root:memory"]), UsageError);
});
