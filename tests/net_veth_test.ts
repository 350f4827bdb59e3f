/**
 * --network=sandbox: the sandbox takes over the interface of the network namespace its spec
 * names (a veth pair this test makes), and the peer end of the veth, in the host's namespace,
 * talks to it: TCP and UDP both ways and ping, with malformed frames sent at it in between
 * (tests/progs/net_frames.c). The same program (tests/progs/net_peer.c) runs natively in a
 * namespace set up the same way, and both runs must be seen alike from the peer.
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { must, reachServers, run, welcome } from "./net_peer.ts";

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

/** A namespace with one end of a veth pair (addressed .2/24, default route via .1). */
interface Veth {
  ns: string;
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
  const ns = `runsc-veth-${tag}`;
  const hostIf = `rvh${tag}`, nsIf = `rvc${tag}`;
  const peerIp = `10.99.${subnet}.1`, ip = `10.99.${subnet}.2`;
  const peerIp6 = `fd99:${subnet}::1`, ip6 = `fd99:${subnet}::2`;
  await must("ip", "netns", "add", ns);
  const cleanup = async () => {
    await run("ip", "netns", "del", ns);
    await run("ip", "link", "del", hostIf);
  };
  try {
    await must("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    await must("ip", "link", "set", nsIf, "netns", ns);
    await must("ip", "addr", "add", `${peerIp}/24`, "dev", hostIf);
    await must("ip", "addr", "add", `${peerIp6}/64`, "dev", hostIf, "nodad");
    await must("ip", "link", "set", hostIf, "up");
    await must("ip", "-n", ns, "addr", "add", `${ip}/24`, "dev", nsIf);
    await must("ip", "-n", ns, "addr", "add", `${ip6}/64`, "dev", nsIf, "nodad");
    await must("ip", "-n", ns, "link", "set", nsIf, "up");
    await must("ip", "-n", ns, "link", "set", "lo", "up");
    await must("ip", "-n", ns, "route", "add", "default", "via", peerIp);
    const mac = JSON.parse(await must("ip", "-n", ns, "-j", "link", "show", nsIf))[0].address;
    return { ns, hostIf, peerIp, ip, peerIp6, ip6, mac, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** What the peer saw of one run of net_peer. */
interface Seen {
  tcpServerGot: string;
  udpServerGot: string;
  ping: boolean;
  bigPing: boolean;
  ping6: boolean;
  bigPing6: boolean;
  tcp6ServerGot: string;
  tcpClientGot: string;
  tcpClientBulk: string;
  udpClientGot: string;
}

/**
 * Plays the peer of a net_peer started with `start` (which returns its output when it
 * exits): serves its clients, then pings it, sends it malformed frames and reaches its
 * servers.
 */
async function peer(
  v: Veth,
  port: number,
  frames: string,
  start: () => Promise<string>,
): Promise<{ seen: Seen; output: string }> {
  const seen: Seen = {
    tcpServerGot: "",
    udpServerGot: "",
    ping: false,
    bigPing: false,
    ping6: false,
    bigPing6: false,
    tcp6ServerGot: "",
    tcpClientGot: "",
    tcpClientBulk: "",
    udpClientGot: "",
  };
  const listener = Deno.listen({ hostname: v.peerIp, port: port + 1 });
  const listener6 = Deno.listen({ hostname: v.peerIp6, port: port + 1 });
  const udp = dgram.createSocket("udp4");
  await new Promise<void>((r) => udp.bind(port + 3, v.peerIp, () => r()));
  udp.on("message", (msg, rinfo) => {
    seen.udpServerGot = msg.toString();
    udp.send(`pong: ${msg}`, rinfo.port, rinfo.address);
  });
  const output = start();
  try {
    // The container is up once its client reaches us.
    const c = await Promise.race([
      listener.accept(),
      output.then((o) => Promise.reject(new Error(`exited early: ${o}`))),
    ]);
    seen.tcpServerGot = await welcome(c, true);
    seen.tcp6ServerGot = await welcome(await listener6.accept());

    seen.ping = (await run("busybox", "ping", "-c", "1", "-W", "5", v.ip)).ok;
    // An echo of 3000 bytes comes in fragments and is answered in fragments.
    seen.bigPing = (await run("busybox", "ping", "-c", "1", "-W", "5", "-s", "3000", v.ip)).ok;
    seen.ping6 = (await run("busybox", "ping", "-6", "-c", "1", "-W", "5", v.ip6)).ok;
    seen.bigPing6 = (await run("busybox", "ping", "-6", "-c", "1", "-W", "5", "-s", "3000", v.ip6))
      .ok;
    const sent = await must(frames, v.hostIf, v.mac, v.ip, "3000");
    assert.match(sent, /^sent \d+ frames/);

    Object.assign(seen, await reachServers(v.ip, port));
    return { seen, output: await output };
  } finally {
    listener.close();
    listener6.close();
    udp.close();
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
