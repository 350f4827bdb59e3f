/**
 * The peer of tests/net_veth_test.ts, run in the peer's own network namespace (`ip netns exec`)
 * so that nothing of the test reaches the host's: it serves the clients of a net_peer
 * (tests/progs/net_peer.c) at the veth's other end, then pings it, sends it malformed frames
 * (tests/progs/net_frames.c) and reaches its servers.
 *
 * `deno run -A tests/net_veth_peer.ts '<PeerArgs as JSON>'` prints `ready` once its servers
 * listen (net_peer may start then), and at the end what it saw (Seen) as JSON on one line.
 *
 * @module
 */

import dgram from "node:dgram";
import { must, reachServers, run, welcome } from "./net_peer.ts";

export interface PeerArgs {
  /** net_peer's addresses, and the peer's own. */
  ip: string;
  ip6: string;
  peerIp: string;
  peerIp6: string;
  /** The peer's end of the veth, and the MAC address of net_peer's end. */
  hostIf: string;
  mac: string;
  port: number;
  /** The compiled net_frames. */
  frames: string;
}

/** What the peer saw of one run of net_peer. */
export interface Seen {
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

async function playPeer(a: PeerArgs): Promise<Seen> {
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
  const port = a.port;
  const listener = Deno.listen({ hostname: a.peerIp, port: port + 1 });
  const listener6 = Deno.listen({ hostname: a.peerIp6, port: port + 1 });
  const udp = dgram.createSocket("udp4");
  await new Promise<void>((r) => udp.bind(port + 3, a.peerIp, () => r()));
  udp.on("message", (msg, rinfo) => {
    seen.udpServerGot = msg.toString();
    udp.send(`pong: ${msg}`, rinfo.port, rinfo.address);
  });
  console.log("ready");
  try {
    // net_peer is up once its client reaches us (the test bounds the wait).
    seen.tcpServerGot = await welcome(await listener.accept(), true);
    seen.tcp6ServerGot = await welcome(await listener6.accept());

    seen.ping = (await run("busybox", "ping", "-c", "1", "-W", "5", a.ip)).ok;
    // An echo of 3000 bytes comes in fragments and is answered in fragments.
    seen.bigPing = (await run("busybox", "ping", "-c", "1", "-W", "5", "-s", "3000", a.ip)).ok;
    seen.ping6 = (await run("busybox", "ping", "-6", "-c", "1", "-W", "5", a.ip6)).ok;
    seen.bigPing6 = (await run("busybox", "ping", "-6", "-c", "1", "-W", "5", "-s", "3000", a.ip6))
      .ok;
    const sent = await must(a.frames, a.hostIf, a.mac, a.ip, "3000");
    if (!/^sent \d+ frames/.test(sent)) throw new Error(`net_frames: ${sent}`);

    Object.assign(seen, await reachServers(a.ip, port));
    return seen;
  } finally {
    listener.close();
    listener6.close();
    udp.close();
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await playPeer(JSON.parse(Deno.args[0]))));
  Deno.exit(0);
}
