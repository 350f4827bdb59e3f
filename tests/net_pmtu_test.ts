/**
 * Path MTU discovery with --network=sandbox: the sandbox's veth leads to a router namespace
 * whose link toward the peer (the host's namespace) is narrower (MTU 1400) than both ends'
 * (1500), so the peer's MSS lets the sandbox send segments the router cannot forward: it
 * answers each with ICMP "fragmentation needed", and only a stack that lowers its MSS gets
 * its 2 MiB through. The same server (tests/progs/net_peer.c, servers only) runs natively in
 * the same set-up, and the peer must see both alike. The peer is a namespace of its own too, so
 * that nothing of the test reaches the host's (other tests run at the same time).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { must, run, type ServersSeen } from "./net_peer.ts";

const SKIP = !IS_ROOT
  ? "needs root (network namespaces, veth)"
  : !(await run("ip", "-V").catch(() => ({ ok: false }))).ok
  ? "needs ip (iproute2)"
  : "";
if (SKIP) console.warn(`net_pmtu tests skipped: ${SKIP}`);

const HOP_MTU = 1400;

/**
 * sandbox namespace (10.98.N.2) ── router namespace ──(MTU 1400)── peer namespace
 * (10.97.N.2). The peer reaches 10.98.N.0/24 through the router.
 */
interface Path {
  ns: string;
  router: string;
  peer: string;
  ip: string;
  /** The link and route names the host's namespace must not get. */
  peerIf: string;
  innerNet: string;
  cleanup(): Promise<void>;
}

async function makePath(n: number): Promise<Path> {
  const tag = `${Deno.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  const ns = `runsc-pmtu-${tag}`, router = `runsc-pmtr-${tag}`, peer = `runsc-pmtp-${tag}`;
  const sIf = `rps${tag}`, sPeer = `rpr${tag}`, hIf = `rph${tag}`, hPeer = `rpo${tag}`;
  const inner = `10.98.${n}`, outer = `10.97.${n}`;
  await must("ip", "netns", "add", ns);
  await must("ip", "netns", "add", router);
  await must("ip", "netns", "add", peer);
  // Deleting a namespace deletes its end of each veth, and so the pair.
  const cleanup = async () => {
    await run("ip", "netns", "del", ns);
    await run("ip", "netns", "del", router);
    await run("ip", "netns", "del", peer);
  };
  try {
    // The sandbox's side: a veth into the router namespace, made there.
    await must("ip", "-n", router, "link", "add", sPeer, "type", "veth", "peer", "name", sIf);
    await must("ip", "-n", router, "link", "set", sIf, "netns", ns);
    await must("ip", "-n", ns, "addr", "add", `${inner}.2/24`, "dev", sIf);
    await must("ip", "-n", ns, "link", "set", sIf, "up");
    await must("ip", "-n", ns, "link", "set", "lo", "up");
    await must("ip", "-n", ns, "route", "add", "default", "via", `${inner}.1`);
    await must("ip", "-n", router, "addr", "add", `${inner}.1/24`, "dev", sPeer);
    await must("ip", "-n", router, "link", "set", sPeer, "up");
    // The peer's side: the router's end is the narrow hop. Made in the peer's namespace, so
    // that neither end is ever in the host's.
    await must("ip", "-n", peer, "link", "add", hIf, "type", "veth", "peer", "name", hPeer);
    await must("ip", "-n", peer, "link", "set", hPeer, "netns", router);
    await must("ip", "-n", router, "addr", "add", `${outer}.1/24`, "dev", hPeer);
    await must("ip", "-n", router, "link", "set", hPeer, "mtu", String(HOP_MTU), "up");
    await must("ip", "-n", peer, "addr", "add", `${outer}.2/24`, "dev", hIf);
    await must("ip", "-n", peer, "link", "set", hIf, "up");
    await must("ip", "-n", peer, "link", "set", "lo", "up");
    await must("ip", "-n", peer, "route", "add", `${inner}.0/24`, "via", `${outer}.1`);
    await must("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    return { ns, router, peer, ip: `${inner}.2`, peerIf: hIf, innerNet: `${inner}.0/24`, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** How many ICMP destination unreachables the router sent (/proc/net/snmp). */
async function routerUnreachables(p: Path): Promise<number> {
  const snmp = await must("ip", "netns", "exec", p.router, "cat", "/proc/net/snmp");
  const rows = snmp.split("\n").filter((l) => l.startsWith("Icmp:"));
  const names = rows[0].split(/\s+/), values = rows[1].split(/\s+/);
  return Number(values[names.indexOf("OutDestUnreachs")]);
}

/**
 * Reaches the servers from the peer's namespace (net_peer.ts run there), failing rather than
 * waiting for ever on a stalled connection.
 */
async function reach(p: Path, port: number): Promise<ServersSeen> {
  const script = join(import.meta.dirname!, "net_peer.ts");
  const r = await new Deno.Command("ip", {
    args: ["netns", "exec", p.peer, Deno.execPath(), "run", "-A", "--quiet", script, "reach"]
      .concat([p.ip, String(port)]),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(90_000),
  }).output();
  const dec = new TextDecoder();
  if (!r.success) {
    throw new Error(`the servers were not reached from the peer: ${dec.decode(r.stderr)}`);
  }
  return JSON.parse(dec.decode(r.stdout));
}

/** The host's namespace has neither the peer's link nor its route (another test's view). */
async function assertHostUntouched(p: Path): Promise<void> {
  assert.equal((await must("ip", "route", "show", p.innerNet)).trim(), "");
  assert.ok(!(await run("ip", "link", "show", p.peerIf)).ok, `${p.peerIf} is in the host's`);
}

Deno.test({
  name: "--network=sandbox: a hop narrower than the veth answers with fragmentation needed, " +
    "and the sandbox's 2 MiB still reach the peer, as natively",
  ignore: SKIP !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const prog = await compileProg("net_peer");
    const port = 20000 + Math.floor(Math.random() * 10000);
    const subnet = 100 + Math.floor(Math.random() * 100);
    const args = ["10.97.0.1", String(port), "server-only"];

    const np = await makePath(subnet);
    let native: ServersSeen, nativeOut: string, nativeIcmp: number;
    try {
      const r = run("ip", "netns", "exec", np.ns, prog, ...args);
      await assertHostUntouched(np);
      native = await reach(np, port);
      nativeOut = (await r).out;
      nativeIcmp = await routerUnreachables(np);
    } finally {
      await np.cleanup();
    }

    const p = await makePath(subnet);
    const root = await makeRoot();
    const bundle = await makeBundle({
      args: ["/net_peer", ...args],
      files: { "net_peer": prog },
      config: {
        linux: {
          namespaces: [
            { type: "pid" },
            { type: "network", path: `/var/run/netns/${p.ns}` },
            { type: "ipc" },
            { type: "uts" },
            { type: "mount" },
          ],
        },
      },
    });
    try {
      const sandboxRun = root.runsc(["run", "--bundle", bundle.dir, `pmtu-${port}`], {
        timeoutMs: 120_000,
      });
      const sandboxed = await reach(p, port);
      const r = await sandboxRun;
      assert.match(native.tcpClientBulk, /^2097152 bytes, hash \w+, 0 wrong$/);
      assert.ok(nativeIcmp > 0, "natively, the router reported the narrower hop");
      assert.ok(await routerUnreachables(p) > 0, "the router reported the narrower hop");
      assert.deepEqual(sandboxed, native);
      assert.equal(r.stdout + r.stderr, nativeOut);
      assert.equal(r.code, 0);
    } finally {
      await root.cleanup();
      await bundle.cleanup();
      await p.cleanup();
    }
  },
});
