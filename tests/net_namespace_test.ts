/**
 * --network=sandbox and the network namespace the spec names: none gives the sandbox a new,
 * empty one (loopback only, as gVisor's runsc; runc would share the caller's), and a path to
 * the caller's own is refused, since taking its interfaces over would take them from the host.
 */

import assert from "node:assert/strict";
import { compileProg, IS_ROOT, listDir, makeBundle, makeRoot } from "./harness.ts";
import { probeTests } from "./probe.ts";

/** The host's interfaces and addresses as `ip` lists them. */
async function hostAddresses(): Promise<string> {
  const r = await new Deno.Command("ip", { args: ["-o", "addr"], stdout: "piped" }).output();
  assert.equal(r.code, 0);
  return new TextDecoder().decode(r.stdout);
}

Deno.test({
  name: "--network=sandbox refuses a spec whose network namespace is the caller's own, and " +
    "the host keeps its addresses",
  ignore: !IS_ROOT,
  async fn() {
    const hello = await compileProg("hello");
    const before = await hostAddresses();
    const root = await makeRoot();
    const bundle = await makeBundle({
      args: ["/hello"],
      files: { hello },
      config: {
        linux: { namespaces: [{ type: "network", path: "/proc/self/ns/net" }] },
      },
    });
    try {
      const r = await root.runsc(["create", "--bundle", bundle.dir, "hostns"], {
        outputFile: `${bundle.dir}/create.out`,
      }, ["--network=sandbox"]);
      assert.notEqual(r.code, 0, "the create must fail");
      assert.match(r.stderr, /network namespace "\/proc\/self\/ns\/net" is the host's/);
      assert.deepEqual(listDir(root.root), []);
      assert.equal(await hostAddresses(), before);
    } finally {
      await root.cleanup();
      await bundle.cleanup();
    }
  },
});

// With no network namespace in the spec (the test bundles name none), the interfaces the
// program sees are those of a new namespace with only loopback, as natively in one.
probeTests([{
  prog: "net_getifaddrs",
  name: "net_getifaddrs (--network=sandbox, no network namespace in the spec)",
  loopbackOnly: true,
  runscFlags: ["--network=sandbox"],
}]);
