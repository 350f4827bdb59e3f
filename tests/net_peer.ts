/**
 * The peer's side of tests/progs/net_peer.c (tests/net_veth_test.ts, tests/net_host_test.ts):
 * its servers reached the way a native client reaches them, and its clients answered.
 *
 * @module
 */

import dgram from "node:dgram";

/** Runs a host command; its success and output. */
export async function run(cmd: string, ...args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** Runs a host command that must succeed; its output. */
export async function must(cmd: string, ...args: string[]): Promise<string> {
  const r = await run(cmd, ...args);
  if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.out}`);
  return r.out;
}

/** Reads a whole connection until the other end closes it. */
export async function readAll(c: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const buf = new Uint8Array(65536);
    const n = await c.read(buf);
    if (n === null) break;
    parts.push(buf.subarray(0, n));
  }
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return all;
}

/** Answers one line of a client of ours with a welcome (and BULK with `bulk`); returns the line. */
export async function welcome(c: Deno.Conn, bulk = false): Promise<string> {
  const buf = new Uint8Array(256);
  const n = await c.read(buf);
  const line = new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim();
  await c.write(new TextEncoder().encode(`welcome, ${line}\n`));
  for (let off = 0; bulk && off < BULK.length;) off += await c.write(BULK.subarray(off));
  c.close();
  return line;
}

/** net_peer.c's bulk data: 2 MiB of a pattern. */
export const BULK = Uint8Array.from({ length: 2 << 20 }, (_, i) => (i * 7) % 251);

/** What net_peer prints of bulk data: its length and hash. */
export function bulkSummary(b: Uint8Array): string {
  let hash = 0, bad = 0;
  for (let i = 0; i < b.length; i++) {
    hash = (Math.imul(hash, 31) + b[i]) >>> 0;
    if (b[i] !== (i * 7) % 251) bad++;
  }
  return `${b.length} bytes, hash ${hash.toString(16).padStart(8, "0")}, ${bad} wrong`;
}

export async function retry<T>(what: string, f: () => Promise<T>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** What the peer saw of net_peer's servers. */
export interface ServersSeen {
  tcpClientGot: string;
  tcpClientBulk: string;
  udpClientGot: string;
}

/**
 * Reaches net_peer's servers at ip: a line and 2 MiB back over TCP (port), a datagram and
 * its answer over UDP (port + 2), sent again until answered.
 */
export async function reachServers(ip: string, port: number): Promise<ServersSeen> {
  const conn = await retry("connect", () => Deno.connect({ hostname: ip, port }));
  await conn.write(new TextEncoder().encode("hello from the peer\n"));
  const got = await readAll(conn);
  const nl = got.indexOf(10) + 1;
  const tcpClientGot = new TextDecoder().decode(got.subarray(0, nl)).trim();
  const tcpClientBulk = bulkSummary(got.subarray(nl));
  conn.close();

  const client = dgram.createSocket(ip.includes(":") ? "udp6" : "udp4");
  const reply = new Promise<string>((r) => client.on("message", (m) => r(m.toString())));
  const timer = setInterval(() => client.send("datagram from the peer", port + 2, ip), 300);
  client.send("datagram from the peer", port + 2, ip);
  const udpClientGot = await Promise.race([
    reply,
    new Promise<string>((r) => setTimeout(() => r("(no reply)"), 15_000)),
  ]);
  clearInterval(timer);
  client.close();
  return { tcpClientGot, tcpClientBulk, udpClientGot };
}

// `deno run -A tests/net_peer.ts reach IP PORT`: reachServers from a process of its own, so that
// a test can start it in a network namespace (`ip netns exec`); prints what it saw as JSON.
if (import.meta.main) {
  const [what, ip, port] = Deno.args;
  if (what !== "reach" || !ip || !(Number(port) > 0)) {
    console.error("usage: net_peer.ts reach IP PORT");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await reachServers(ip, Number(port))));
  Deno.exit(0);
}
