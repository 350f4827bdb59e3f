/**
 * TCP endpoints over the loopback stack without a sandbox: the endpoints never wait, so a
 * test drives them and lets the loopback deliver between steps.
 */

import assert from "node:assert/strict";
import { LOOPBACK6, v4Mapped } from "./address.ts";
import { decodeIPv4, encodeIPv4, IPV4_HEADER_SIZE } from "./ipv4.ts";
import { ETH_P_IP, type LinkEndpoint, type NetworkDispatcher } from "./link.ts";
import { IFF_UP } from "./nic.ts";
import { IPPROTO_TCP } from "./stack.ts";
import { ACK, decodeTCP, encodeTCP, SYN } from "./tcp_header.ts";
import { NetStack } from "./socket.ts";
import type { TCPEndpoint } from "./tcp_endpoint.ts";
import { TCP_AUTO_BUFFER } from "./endpoint.ts";
import { connectedPair, settle, tryOp, watchLoopback } from "./testutil.ts";
import type { LoopbackEndpoint } from "./loopback.ts";
import { SysError } from "../../abi/linux/error.ts";
import { Errno } from "../../abi/linux/errno.ts";

/** shutdown(2)'s how for the sending side. */
const SHUT_WR = 1;

/** What the endpoint has buffered (its reads hand out one chunk at a time). */
function readAll(ep: TCPEndpoint): Uint8Array {
  const parts: Uint8Array[] = [];
  while (ep.readable > 0) parts.push(ep.read(ep.readable, false).data);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

Deno.test("tcp endpoints echo a megabyte through the loopback in both directions", async () => {
  const ns = new NetStack();
  const [, c, s] = await connectedPair(ns);
  const total = 1 << 20;
  const out = new Uint8Array(total).map((_, i) => (i * 7) & 0xff);
  let sent = 0, echoed = 0, back = 0;
  const pending: Uint8Array[] = [];
  for (let round = 0; round < 100000 && back < total; round++) {
    if (sent < total) sent += tryOp(() => c.write(out.subarray(sent, sent + 100000), null)) ?? 0;
    const r = tryOp(() => s.read(65536, false));
    // Kept across sends: a copy (the view's pooled buffer may be reused once consumed).
    if (r) pending.push(r.data.slice());
    while (pending.length) {
      const n = tryOp(() => s.write(pending[0], null));
      if (n === null) break;
      echoed += n;
      if (n < pending[0].length) {
        pending[0] = pending[0].subarray(n);
        break;
      }
      pending.shift();
    }
    const b = tryOp(() => c.read(1 << 20, false));
    if (b) {
      for (let i = 0; i < b.data.length; i++) {
        if (b.data[i] !== out[back + i]) throw new Error(`byte ${back + i} differs`);
      }
      back += b.data.length;
    }
    await settle();
  }
  assert.equal(back, total, `echoed ${echoed}, sent ${sent}`);
});

Deno.test("a connection to a port nobody listens on is refused with a reset", async () => {
  const ns = new NetStack();
  const c = ns.tcp.newEndpoint(false);
  assert.throws(() => c.connect(LOOPBACK6, 9), /EINPROGRESS|115/);
  await settle();
  assert.equal(c.connected, false);
  assert.equal(c.takeError(), 111);
  // The socket may try again, and reaches a listener this time.
  const l = ns.tcp.newEndpoint(false);
  l.bind(LOOPBACK6, 0);
  l.listen(1);
  assert.equal(c.remoteAddr, null, "no peer after a refusal");
  assert.throws(() => c.connect(LOOPBACK6, l.localPort), /EINPROGRESS|115/);
  await settle();
  assert.ok(c.connected);
  assert.notEqual(c.localPort, 0);
  assert.equal(c.write(Uint8Array.of(1, 2, 3), null), 3);
  await settle();
  assert.deepEqual(l.acceptQueue.shift()?.read(10, false).data, Uint8Array.of(1, 2, 3));
});

/** A link whose far end the test plays: what the stack sends is kept; the test injects. */
class WireLink implements LinkEndpoint {
  readonly mtu = 1500;
  readonly checksumOffload = false;
  readonly arpType = 1;
  readonly hardwareAddress = new Uint8Array(6);
  readonly sent: Uint8Array[] = [];
  dispatch: NetworkDispatcher = () => {};
  attach(d: NetworkDispatcher): void {
    this.dispatch = d;
  }
  writePacket(_type: number, p: Uint8Array): void {
    this.sent.push(p.slice());
  }
}

/**
 * A connection accepted by the stack from a peer the test plays over a WireLink: `seg` sends
 * the peer's segments, `fromUs` decodes the stack's last one.
 */
function wireConnection() {
  const ns = new NetStack();
  const wire = new WireLink();
  const nic = ns.stack.addNIC("wire0", wire, IFF_UP);
  const us = v4Mapped(Uint8Array.of(10, 0, 0, 2)), peer = v4Mapped(Uint8Array.of(10, 0, 0, 1));
  nic.addresses.push({ addr: us, prefixLen: 120 });
  ns.stack.routes.add({
    dest: v4Mapped(Uint8Array.of(10, 0, 0, 0)),
    prefixLen: 120,
    nic,
    gateway: null,
  });
  const l = ns.tcp.newEndpoint(true);
  l.bind(us, 80);
  l.listen(1);
  const seg = (seq: number, ack: number, flags: number, data = new Uint8Array(0)) =>
    wire.dispatch(
      ETH_P_IP,
      encodeIPv4(
        peer,
        us,
        IPPROTO_TCP,
        encodeTCP(peer, us, {
          sport: 5555,
          dport: 80,
          seq,
          ack,
          flags,
          window: 65535,
          mss: flags & SYN ? 1000 : null,
          wscale: null,
          data,
        }),
        64,
        0,
      ),
    );
  const fromUs = (i = -1) => {
    const p = decodeIPv4(wire.sent.at(i)!, true)!;
    return decodeTCP(p.src, p.dst, p.payload, true)!;
  };
  seg(1000, 0, SYN);
  const iss = fromUs().seq;
  seg(1001, iss + 1, ACK);
  const s = l.acceptQueue.shift();
  assert.ok(s, "the connection is established");
  return { wire, s, seg, fromUs, iss };
}

Deno.test("a segment that arrives after a gap is kept and delivered once the gap fills", async () => {
  const { s, seg, fromUs, iss } = wireConnection();
  const enc = new TextEncoder();
  seg(1004, iss + 1, ACK, enc.encode("def"));
  assert.equal(fromUs().ack, 1001, "a duplicate ACK names the gap");
  seg(1001, iss + 1, ACK, enc.encode("abc"));
  await settle();
  assert.equal(fromUs().ack, 1007, "the filled gap is acknowledged with what followed it");
  assert.equal(new TextDecoder().decode(readAll(s)), "abcdef");
  s.close();
});

Deno.test("three duplicate ACKs resend the lost segment at once, and a partial ACK the next", () => {
  const { wire, s, seg, fromUs, iss } = wireConnection();
  assert.equal(s.write(new Uint8Array(5000).fill(7), null), 5000);
  const first = iss + 1;
  assert.deepEqual(wire.sent.slice(-5).map((_, i) => fromUs(i - 5).seq - first), [
    0,
    1000,
    2000,
    3000,
    4000,
  ]);
  // The segment at 1000 was lost: the one before it is acknowledged, and the three after it
  // each bring a duplicate of that ACK.
  seg(1001, first + 1000, ACK);
  const before = wire.sent.length;
  for (let i = 0; i < 3; i++) seg(1001, first + 1000, ACK);
  assert.equal(wire.sent.length, before + 1, "resent after the third, not before");
  assert.equal(fromUs().seq, first + 1000);
  assert.equal(fromUs().data.length, 1000);
  // The segment at 3000 was lost too: the ACK up to it makes it go at once.
  seg(1001, first + 3000, ACK);
  assert.equal(fromUs().seq, first + 3000);
  s.close();
});

Deno.test("a reader that keeps up sends no window updates; one that frees a full buffer does", async () => {
  const ns = new NetStack();
  const [, c, s] = await connectedPair(ns);
  const lo = ns.stack.nics[0].link as unknown as { packets: number };
  const chunk = new Uint8Array(65536).fill(7);
  const rounds = 16;
  let before = 0;
  for (let i = -2; i < rounds; i++) {
    // Two rounds first: the window of the handshake (unscaled, 64 KiB) opens to the buffer's.
    if (i === 0) before = lo.packets;
    assert.equal(c.write(chunk, null), chunk.length);
    await settle();
    assert.equal(readAll(s).length, chunk.length);
    await settle();
  }
  // Per write: one packet (loopback carries the 65536 bytes whole, where its MTU would cut
  // them into two) and one ACK that carries the window; the reads add nothing.
  assert.equal(lo.packets - before, rounds * 2);

  // The receiver's buffer filled: the writer waits for the window, and a read opens it.
  let sent = 0;
  for (let i = 0; i < 1000; i++) {
    const n = tryOp(() => c.write(chunk, null));
    if (n === null) break;
    sent += n;
    await settle();
  }
  await settle();
  const first = readAll(s).length;
  assert.ok(first > 0 && first < sent, "the window closed with data still to send");
  // The window update lets the rest through at once (a persist probe would take 200 ms).
  await settle();
  await settle();
  assert.equal(first + readAll(s).length, sent);
});

Deno.test("a window-limited stream of large writes keeps its segments on the writes' boundaries", async () => {
  const ns = new NetStack();
  const [, c, s] = await connectedPair(ns);
  const segs: { seq: number; len: number }[] = [];
  watchLoopback(ns, (t) => {
    if (t.sport === c.localPort && t.data.length > 0) segs.push({ seq: t.seq, len: t.data.length });
  });
  const chunk = new Uint8Array(65536).fill(3);
  const total = 48 * chunk.length;
  let sent = 0, read = 0;
  for (let round = 0; round < 10000 && read < total; round++) {
    // The writer stays ahead: the reader's buffer fills, and each read opens the window by
    // less than a write. Whole writes only (a write cut short would make a chunk of its own).
    while (sent < total && c.unacked + chunk.length <= TCP_AUTO_BUFFER) {
      assert.equal(c.write(chunk, null), chunk.length);
      sent += chunk.length;
    }
    const r = tryOp(() => s.read(20000, false));
    if (r) read += r.data.length;
    await settle();
  }
  assert.equal(read, total);
  const base = segs[0].seq;
  // Each segment begins a write or ends one (a write is one full segment and a tail).
  const astray = segs.filter(({ seq, len }) =>
    ((seq - base) >>> 0) % chunk.length !== 0 && ((seq - base + len) >>> 0) % chunk.length !== 0
  );
  assert.deepEqual(astray, [], "no segment straddles two writes or starts inside one");
});

Deno.test("a write that finds room in the send buffer is taken whole, up to 64 KiB past it", async () => {
  const ns = new NetStack();
  const [, c] = await connectedPair(ns);
  // Nobody reads: the peer's window and then the send buffer fill. Writes of an odd size
  // never end exactly at the limit.
  const chunk = new Uint8Array(50000);
  let queued = 0;
  for (let i = 0; i < 1000; i++) {
    const n = tryOp(() => c.write(chunk, null));
    await settle();
    if (n === null) break;
    assert.equal(n, chunk.length, `write ${i} was taken whole`);
    queued += n;
  }
  assert.ok(c.unacked > TCP_AUTO_BUFFER && c.unacked < TCP_AUTO_BUFFER + 65536, `${c.unacked}`);
  assert.ok(queued > c.unacked, "the peer holds the rest");
});

Deno.test("loopback carries a 256 KiB write in one packet whole, over IPv4 and IPv6, parsed or as bytes", async () => {
  for (const [v6, parsed] of [[false, true], [true, true], [false, false], [true, false]]) {
    const ns = new NetStack();
    (ns.stack.nics[0].link as LoopbackEndpoint).parsed = parsed;
    let l: TCPEndpoint, c: TCPEndpoint, s: TCPEndpoint;
    if (v6) {
      l = ns.tcp.newEndpoint(false);
      l.bind(LOOPBACK6, 0);
      l.listen(1);
      c = ns.tcp.newEndpoint(false);
      assert.throws(() => c.connect(LOOPBACK6, l.localPort), /EINPROGRESS|115/);
      await settle();
      s = l.acceptQueue.shift()!;
    } else {
      [l, c, s] = await connectedPair(ns);
    }
    assert.ok(s && c.connected);
    // A first write: the handshake's window (unscaled, 64 KiB) opens to the buffer's.
    assert.equal(c.write(new Uint8Array(1000), null), 1000);
    await settle();
    assert.equal(readAll(s).length, 1000);
    await settle();
    const sizes: number[] = [];
    watchLoopback(ns, (_, length) => sizes.push(length));
    // Every byte distinct within 251 (a prime): a piece out of place shows.
    const data = new Uint8Array(256 << 10).map((_, i) => i % 251);
    assert.equal(c.write(data, null), data.length);
    await settle();
    const got = readAll(s);
    assert.equal(got.length, data.length);
    assert.ok(got.every((b, i) => b === i % 251), "the bytes arrive as written");
    // Past 16 bits of IP length: the data went in one packet (the rest are ACKs).
    const big = sizes.filter((n) => n > 0xffff);
    assert.equal(big.length, 1, `packets ${sizes}`);
    assert.ok(big[0] > data.length, "headers and all the data");
    l.close();
  }
});

Deno.test("an IPv4 length of 0 stands for a length past 16 bits only from loopback, and never on a short packet", () => {
  const a = v4Mapped(Uint8Array.of(10, 0, 0, 1));
  const small = encodeIPv4(a, a, IPPROTO_TCP, new Uint8Array(100), 64, 0);
  assert.ok(decodeIPv4(small, true));
  small[2] = small[3] = 0;
  assert.equal(decodeIPv4(small, false), null);
  const large = encodeIPv4(a, a, IPPROTO_TCP, new Uint8Array(0x10000), 64, 0);
  assert.equal((large[2] << 8) | large[3], 0);
  assert.equal(decodeIPv4(large, false, true)?.payload.length, 0x10000);
  // From a link that sends no such packets (an Ethernet device), the same is malformed.
  assert.equal(decodeIPv4(large, false), null);
  assert.equal(large.length, IPV4_HEADER_SIZE + 0x10000);
});

/** The errno write fails with, or 0 when it takes the byte. */
function writeErrno(ep: TCPEndpoint): number {
  try {
    ep.write(Uint8Array.of(1), null);
    return 0;
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
}

Deno.test("wouldBlock says true exactly where write fails with EAGAIN, in each state", async () => {
  const ns = new NetStack();
  // The handshake not done yet.
  const l = ns.tcp.newEndpoint(true);
  l.bind(v4Mapped(Uint8Array.of(127, 0, 0, 1)), 0);
  l.listen(1);
  const early = ns.tcp.newEndpoint(true);
  assert.throws(
    () => early.connect(v4Mapped(Uint8Array.of(127, 0, 0, 1)), l.localPort),
    /EINPROGRESS/,
  );
  assert.equal(early.wouldBlock(), true);
  assert.equal(writeErrno(early), Errno.EAGAIN);
  // Connected with room; then full, the peer reading nothing.
  const [, c, s] = await connectedPair(ns);
  assert.equal(c.wouldBlock(), false);
  assert.equal(writeErrno(c), 0);
  const piece = new Uint8Array(1 << 16);
  for (let i = 0; i < 1000 && !c.wouldBlock(); i++) {
    c.write(piece, null);
    await settle();
  }
  assert.equal(c.wouldBlock(), true, "the send buffer fills while the peer reads nothing");
  assert.equal(writeErrno(c), Errno.EAGAIN);
  assert.equal(c.takesWhole(1), false);
  // Room again once the peer reads: the ACK that opens its window frees the send buffer.
  while (s.readable > 0) s.read(s.readable, false);
  await settle();
  assert.equal(c.wouldBlock(), false);
  // Shut for writing: EPIPE, never a wait.
  c.shutdown(SHUT_WR);
  assert.equal(c.wouldBlock(), false);
  assert.equal(writeErrno(c), Errno.EPIPE);
  // A pending error (a refused connection): write takes it and fails with it.
  const refused = ns.tcp.newEndpoint(false);
  assert.throws(() => refused.connect(LOOPBACK6, 9), /EINPROGRESS/);
  await settle();
  assert.equal(refused.wouldBlock(), false);
  assert.equal(writeErrno(refused), Errno.ECONNREFUSED);
});

Deno.test("tryRead says null where read fails with EAGAIN, and both hand out what arrived", async () => {
  const ns = new NetStack();
  const [, c, s] = await connectedPair(ns);
  assert.equal(s.tryRead(10, false), null);
  assert.throws(() => s.read(10, false), (e) => e instanceof SysError && e.errno === Errno.EAGAIN);
  c.write(Uint8Array.of(4, 5, 6), null);
  await settle();
  assert.deepEqual(s.tryRead(10, true)?.data, Uint8Array.of(4, 5, 6));
  assert.deepEqual(s.tryRead(10, false)?.data, Uint8Array.of(4, 5, 6));
  assert.equal(s.tryRead(10, false), null);
  // At the end of the stream: an empty result, not null.
  c.shutdown(SHUT_WR);
  await settle();
  assert.equal(s.tryRead(10, false)?.data.length, 0);
});
