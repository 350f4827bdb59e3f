/**
 * The gofer as the CLI starts it: confined in its own namespaces, the overlay filestore made
 * in the rootfs at create and removed at delete, and the flag combinations that are refused.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { namespaces } from "../host/namespace.ts";

const SKIP = IS_ROOT ? "" : "needs root";

function cliTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: SKIP !== "", sanitizeResources: false, sanitizeOps: false, fn });
}

cliTest("create starts a confined gofer and a root:self filestore; delete removes it", async () => {
  const hello = await compileProg("hello");
  const t = await makeRoot();
  const b = await makeBundle({
    args: ["/bin/hello"],
    files: { "/bin/hello": hello },
    config: { root: { path: "rootfs", readonly: false } },
  });
  try {
    const c = await t.runsc(["create", "--bundle", b.dir, "cfs"], {
      outputFile: join(b.dir, "out"),
    });
    assert.equal(c.code, 0, c.stderr);
    // The default overlay, root:self, has its file, unlinked at once (filestore.ts).
    const filestore = join(b.rootfs, ".gvisor.filestore.cfs");
    assert.throws(() => Deno.statSync(filestore), "the filestore has no name in the rootfs");
    const st = JSON.parse(Deno.readTextFileSync(join(t.root, "cfs", "state.json")));
    assert.ok(st.goferPid > 0);
    // The recorded pid is nsinit's; the gofer is its child, in its own namespaces.
    const kids = Deno.readTextFileSync(`/proc/${st.goferPid}/task/${st.goferPid}/children`);
    const gofer = Number(kids.trim().split(" ")[0]);
    assert.match(Deno.readTextFileSync(`/proc/${gofer}/cmdline`), /gofer/);
    // Its descriptor table was grown once, at start (host/libc.ts reserveDescriptors): it does
    // not grow, each time at an RCU grace period's wait, while the gofer serves.
    // So was the Sentry's, by nsinit before it forked (host/nsinit.ts ROOM_HEX).
    for (const pid of [gofer, st.pid]) {
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      const fdSize = Number(/FDSize:\s+(\d+)/.exec(status)![1]);
      assert.ok(fdSize >= 4096, `FDSize ${fdSize} of ${pid}`);
    }
    const theirs = namespaces(gofer), ours = namespaces("self");
    for (const k of ["mnt", "ipc", "uts", "net", "pid"]) assert.notEqual(theirs[k], ours[k], k);
    const d = await t.runsc(["delete", "--force", "cfs"]);
    assert.equal(d.code, 0, d.stderr);
    assert.throws(() => Deno.statSync(filestore), "the filestore goes with the container");
  } finally {
    await t.cleanup();
    await b.cleanup();
  }
});

cliTest("--file-access=shared alone means no overlay and no filestore", async () => {
  const hello = await compileProg("hello");
  const t = await makeRoot();
  const b = await makeBundle({
    args: ["/bin/hello"],
    files: { "/bin/hello": hello },
    config: { root: { path: "rootfs", readonly: false } },
  });
  try {
    const c = await t.runsc(
      ["create", "--bundle", b.dir, "cshared"],
      { outputFile: join(b.dir, "out") },
      ["--file-access=shared"],
    );
    assert.equal(c.code, 0, c.stderr);
    assert.throws(() => Deno.statSync(join(b.rootfs, ".gvisor.filestore.cshared")));
    assert.equal((await t.runsc(["delete", "--force", "cshared"])).code, 0);
  } finally {
    await t.cleanup();
    await b.cleanup();
  }
});

Deno.test("shared file access with an explicit root overlay is refused, naming both flags", async () => {
  const t = await makeRoot();
  try {
    for (const flag of ["--overlay2=root:self", "--overlay2=all:memory", "--overlay"]) {
      const r = await t.runsc(["list"], {}, ["--file-access=shared", flag]);
      assert.notEqual(r.code, 0, flag);
      assert.match(r.stderr, /--file-access=shared/);
      assert.match(r.stderr, /--overlay/);
    }
    const bad = await t.runsc(["list"], {}, ["--overlay2=root:nowhere"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--overlay2=root:nowhere/);
  } finally {
    await t.cleanup();
  }
});
