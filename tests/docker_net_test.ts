/**
 * Docker's network with runsc-ts: a dockerd of the test's own whose default bridge is a
 * Linux bridge the test makes (no iptables: Docker's userland proxy forwards the published
 * port), so that Docker gives each container a veth of that bridge through its prestart hook
 * (libnetwork-setkey). `docker run -p` of a busybox httpd must then answer on the host's
 * loopback under runsc-ts (--network=sandbox: the interface is taken over after the hook) as
 * it does under runc.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DENO, MAIN } from "./harness.ts";
import { busyboxRootfs } from "./rootfs.ts";
import { Engine, ensureDocker, exists } from "./docker.ts";
import { must, run } from "./net_peer.ts";

const OURS = "runsc-ts";

const skip = await ensureDocker();
if (skip) console.warn(`docker_net_test: skipped: ${skip}`);

/** The body of http://127.0.0.1:port/, retried until the server answers. */
async function fetchBody(port: number): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/index.html`);
      return `${r.status} ${await r.text()}`;
    } catch (e) {
      if (Date.now() > deadline) return `unreachable: ${(e as Error).message}`;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

Deno.test({
  name: "docker run -p: a busybox httpd in runsc-ts answers on the host as under runc",
  ignore: skip !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rdn-" });
    const parents = [...Deno.readDirSync("/sys/fs/cgroup")].map((e) =>
      `/sys/fs/cgroup/${e.name}/docker`
    ).filter((p) => !exists(p));
    const n = 100 + Math.floor(Math.random() * 100);
    const bridge = `rdnbr${n}`;
    await must("ip", "link", "add", "name", bridge, "type", "bridge");
    let engine: Engine | string | null = null;
    try {
      await must("ip", "addr", "add", `10.96.${n}.1/24`, "dev", bridge);
      await must("ip", "link", "set", bridge, "up");
      const launcher = join(dir, "runsc-ts");
      Deno.writeTextFileSync(
        launcher,
        `#!/bin/sh\nexec ${DENO} run -A --quiet ${MAIN} "$@"\n`,
        { mode: 0o755 },
      );
      Deno.writeTextFileSync(
        join(dir, "daemon.json"),
        JSON.stringify({ "log-level": "warn", runtimes: { [OURS]: { path: launcher } } }),
      );
      engine = await Engine.start(dir, bridge);
      if (typeof engine === "string") {
        console.warn(`docker_net_test: skipped: ${engine}`);
        return;
      }
      const d = engine;
      const rootfs = await busyboxRootfs();
      const tar = join(dir, "bb.tar");
      await must("tar", "-C", rootfs, "-cf", tar, ".");
      await d.ok(["import", "-c", "ENV PATH=/bin", tar, "bb:t"]);
      const results: string[] = [];
      for (const rt of ["runc", OURS]) {
        const port = 20000 + Math.floor(Math.random() * 20000);
        const c = `web-${rt}`;
        await d.ok([
          "run",
          "-d",
          "--name",
          c,
          "--runtime",
          rt,
          "-p",
          `127.0.0.1:${port}:80`,
          "bb:t",
          "sh",
          "-c",
          "mkdir -p /tmp/www && echo hello from httpd > /tmp/www/index.html && " +
          "exec httpd -f -p 80 -h /tmp/www",
        ]);
        try {
          results.push(await fetchBody(port));
        } finally {
          await d.docker(["rm", "-f", c]);
        }
      }
      assert.equal(results[0], "200 hello from httpd\n");
      assert.equal(results[1], results[0]);
    } finally {
      if (engine && typeof engine !== "string") await engine.stop();
      await run("ip", "link", "del", bridge);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      for (const p of parents) await Deno.remove(p).catch(() => {});
    }
  },
});
