/**
 * --network=sandbox: the sandbox takes over the interface of the network namespace its spec
 * names (a veth pair this test makes), and the peer end of the veth, in a namespace of its own
 * (tests/net_veth_peer.ts), talks to it: TCP and UDP both ways and ping, with malformed frames
 * sent at it in between (tests/progs/net_frames.c). The same program (tests/progs/net_peer.c)
 * runs natively in a namespace set up the same way, and both runs must be seen alike from the
 * peer.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { must, run } from "./net_peer.ts";
import type { PeerArgs, Seen } from "./net_veth_peer.ts";

function haveIp(): boolean {
  try {
    return new Deno.Command("ip", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

function haveBusybox(): boolean {
  try {
    return Deno.statSync("/usr/bin/busybox").isFile;
  } catch {
    return false;
  }
}

const SKIP = !IS_ROOT
  ? "needs root (network namespaces, veth)"
  : !haveIp()
  ? "needs ip (iproute2: tools/setup.sh installs it)"
  : !haveBusybox()
  ? "needs busybox (ping)"
  : "";
if (SKIP) console.warn(`net_veth tests skipped: ${SKIP}`);

/**
 * A namespace with one end of a veth pair (addressed .2/24, default route via .1), the other
 * end (.1) in the peer's namespace: neither is ever in the host's.
 */
interface Veth {
  ns: string;
  peerNs: string;
  hostIf: string;
  peerIp: string;
  ip: string;
  peerIp6: string;
  ip6: string;
  mac: string;
  cleanup(): Promise<void>;
}

async function makeVeth(subnet: number): Promise<Veth> {
  const tag = `${Deno.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  const ns = `runsc-veth-${tag}`, peerNs = `runsc-vethp-${tag}`;
  const hostIf = `rvh${tag}`, nsIf = `rvc${tag}`;
  const peerIp = `10.99.${subnet}.1`, ip = `10.99.${subnet}.2`;
  const peerIp6 = `fd99:${subnet}::1`, ip6 = `fd99:${subnet}::2`;
  await must("ip", "netns", "add", ns);
  await must("ip", "netns", "add", peerNs);
  // Deleting a namespace deletes its end of the veth, and so the pair.
  const cleanup = async () => {
    await run("ip", "netns", "del", ns);
    await run("ip", "netns", "del", peerNs);
  };
  try {
    const p = ["-n", peerNs];
    await must("ip", ...p, "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    await must("ip", ...p, "link", "set", nsIf, "netns", ns);
    await must("ip", ...p, "addr", "add", `${peerIp}/24`, "dev", hostIf);
    await must("ip", ...p, "addr", "add", `${peerIp6}/64`, "dev", hostIf, "nodad");
    await must("ip", ...p, "link", "set", hostIf, "up");
    await must("ip", ...p, "link", "set", "lo", "up");
    await must("ip", "-n", ns, "addr", "add", `${ip}/24`, "dev", nsIf);
    await must("ip", "-n", ns, "addr", "add", `${ip6}/64`, "dev", nsIf, "nodad");
    await must("ip", "-n", ns, "link", "set", nsIf, "up");
    await must("ip", "-n", ns, "link", "set", "lo", "up");
    await must("ip", "-n", ns, "route", "add", "default", "via", peerIp);
    const mac = JSON.parse(await must("ip", "-n", ns, "-j", "link", "show", nsIf))[0].address;
    return { ns, peerNs, hostIf, peerIp, ip, peerIp6, ip6, mac, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** How long the peer may take once net_peer has ended (it is then done or stuck). */
const PEER_GRACE_MS = 30_000;

/**
 * Plays the peer of a net_peer started with `start` (which returns its output when it
 * exits): tests/net_veth_peer.ts, run in the peer's namespace, serves its clients, then pings
 * it, sends it malformed frames and reaches its servers.
 */
async function peer(
  v: Veth,
  port: number,
  frames: string,
  start: () => Promise<string>,
): Promise<{ seen: Seen; output: string }> {
  const args: PeerArgs = { ...v, port, frames };
  const script = join(import.meta.dirname!, "net_veth_peer.ts");
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", v.peerNs, Deno.execPath(), "run", "-A", "--quiet", script]
      .concat([JSON.stringify(args)]),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const readUntil = async (done: (t: string) => boolean) => {
    while (!done(text)) {
      const r = await lines.read();
      if (r.done) break;
      text += r.value;
    }
  };
  await readUntil((t) => t.includes("ready\n"));
  if (!text.includes("ready\n")) {
    await child.status;
    throw new Error(`the peer did not start: ${text}${await stderr}`);
  }
  text = text.slice(text.indexOf("ready\n") + "ready\n".length);
  const output = start();
  let grace: ReturnType<typeof setTimeout> | undefined;
  const arm = () => grace = setTimeout(() => child.kill("SIGKILL"), PEER_GRACE_MS);
  void output.then(arm, arm);
  try {
    await readUntil(() => false);
    const status = await child.status;
    if (!status.success) {
      throw new Error(
        `the peer failed (${status.code}): ${await stderr}; net_peer said: ${await output}`,
      );
    }
    return { seen: JSON.parse(text), output: await output };
  } finally {
    clearTimeout(grace);
  }
}

Deno.test({
  name: "--network=sandbox: the container owns the veth's address: TCP, UDP and ping both ways, " +
    "malformed frames dropped, as natively",
  ignore: SKIP !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const prog = await compileProg("net_peer");
    const frames = await compileProg("net_frames");
    const port = 20000 + Math.floor(Math.random() * 10000);
    const subnet = 100 + Math.floor(Math.random() * 100);

    const nativeVeth = await makeVeth(subnet);
    let native;
    try {
      native = await peer(nativeVeth, port, frames, async () => {
        const r = await run(
          "ip",
          "netns",
          "exec",
          nativeVeth.ns,
          prog,
          nativeVeth.peerIp,
          String(port),
          nativeVeth.peerIp6,
        );
        return r.out;
      });
    } finally {
      await nativeVeth.cleanup();
    }

    const v = await makeVeth(subnet);
    const root = await makeRoot();
    const bundle = await makeBundle({
      args: ["/net_peer", v.peerIp, String(port), v.peerIp6],
      files: { "net_peer": prog },
      config: {
        linux: {
          namespaces: [
            { type: "pid" },
            { type: "network", path: `/var/run/netns/${v.ns}` },
            { type: "ipc" },
            { type: "uts" },
            { type: "mount" },
          ],
        },
      },
    });
    try {
      const sandboxed = await peer(v, port, frames, async () => {
        const r = await root.runsc(["run", "--bundle", bundle.dir, `veth-${port}`], {
          timeoutMs: 120_000,
        });
        return r.stdout + r.stderr;
      });
      assert.equal(native.seen.tcpClientGot, "echo: hello from the peer");
      assert.equal(native.seen.ping, true);
      assert.equal(native.seen.ping6, true);
      assert.equal(native.seen.bigPing, true);
      assert.equal(native.seen.bigPing6, true);
      assert.match(native.output, /udp client big datagram answered whole: 1/);
      assert.match(native.output, /tcp client bulk: 2097152 bytes, hash \w+, 0 wrong/);
      assert.match(native.seen.tcpClientBulk, /^2097152 bytes, hash \w+, 0 wrong/);
      assert.deepEqual(sandboxed.seen, native.seen);
      assert.equal(sandboxed.output, native.output);
      // Nothing of the test is in the host's namespace (other tests run at the same time).
      assert.ok(!(await run("ip", "link", "show", v.hostIf)).ok, `${v.hostIf} is in the host's`);
      // The host's kernel answers nothing for the address while the sandbox holds it.
      const left = await must("ip", "-n", v.ns, "-j", "addr", "show");
      assert.doesNotMatch(left, new RegExp(v.ip.replaceAll(".", "\\.")));
    } finally {
      await root.cleanup();
      await bundle.cleanup();
      await v.cleanup();
    }
  },
});
