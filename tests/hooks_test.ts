/**
 * OCI hooks that `runsc create` runs: prestart and createRuntime get the container's state
 * on stdin, in order, before the container starts; a failing hook fails the create.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot, readOr } from "./harness.ts";

for (const spare of [false, true]) {
  Deno.test({
    name: `create runs prestart then createRuntime hooks with the state on stdin${
      spare ? " (--spare: a spec with hooks gets its own sandbox)" : ""
    }`,
    ignore: !IS_ROOT,
    async fn() {
      const hello = await compileProg("hello");
      const root = await makeRoot();
      const out = await Deno.makeTempDir({ prefix: "runsc-hooks-" });
      const hook = (name: string) => ({
        path: "/bin/sh",
        args: ["sh", "-c", `cat > ${join(out, name)}; echo ${name} >> ${join(out, "order")}`],
      });
      const bundle = await makeBundle({
        args: ["/hello"],
        files: { hello },
        config: { hooks: { prestart: [hook("prestart")], createRuntime: [hook("createRuntime")] } },
      });
      const flags = spare ? ["--spare"] : [];
      try {
        // With --spare, a ready spare is there to be taken, which would skip the hooks.
        if (spare) assert.equal((await root.runsc(["spare"], {}, flags)).code, 0);
        const r = await root.runsc(["run", "--bundle", bundle.dir, "hooked"], {}, flags);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readOr(join(out, "order")), "prestart\ncreateRuntime\n");
        const state = JSON.parse(readOr(join(out, "prestart")));
        assert.equal(state.id, "hooked");
        assert.equal(state.bundle, bundle.dir);
        assert.ok(Number.isInteger(state.pid) && state.pid > 0);
        assert.deepEqual(JSON.parse(readOr(join(out, "createRuntime"))), state);
      } finally {
        if (spare) await root.runsc(["spare", "--stop"], {}, flags);
        await root.cleanup();
        await bundle.cleanup();
        await Deno.remove(out, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "a failing hook fails the create and leaves no container",
  ignore: !IS_ROOT,
  async fn() {
    const hello = await compileProg("hello");
    const root = await makeRoot();
    const bundle = await makeBundle({
      args: ["/hello"],
      files: { hello },
      config: { hooks: { prestart: [{ path: "/bin/sh", args: ["sh", "-c", "exit 3"] }] } },
    });
    try {
      const r = await root.runsc(["create", "--bundle", bundle.dir, "badhook"]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /hook \/bin\/sh failed/);
      const list = await root.runsc(["list", "--quiet"]);
      assert.equal(list.stdout.trim(), "");
    } finally {
      await root.cleanup();
      await bundle.cleanup();
    }
  },
});
