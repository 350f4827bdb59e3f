/**
 * TCP over an imperfect link between two stacks: chosen data segments are dropped the first
 * time they cross, a hop narrower than the link answers big packets with ICMP "fragmentation
 * needed", a router answers with "host unreachable"; what the test observes is what a wire
 * would show (the sender's segments, the receiver's ACKs) and what the application sees.
 */

import assert from "node:assert/strict";
import { type IPAddress, v4Mapped } from "./address.ts";
import { decodeIPv4, encodeIPv4 } from "./ipv4.ts";
import { checksum } from "./checksum.ts";
import { Errno } from "../../abi/linux/errno.ts";
import { IPPROTO_ICMP } from "./stack.ts";
import { ETH_P_IP, type LinkEndpoint, type NetworkDispatcher } from "./link.ts";
import { IFF_UP } from "./nic.ts";
import { NetStack } from "./socket.ts";
import { decodeTCP, encodeTCP, type Segment, seqAdd, seqDiff, SYN } from "./tcp_header.ts";
import { IPPROTO_TCP } from "./stack.ts";
import { type TCPEndpoint, TCPState } from "./tcp_endpoint.ts";
import { CONGESTION_CONTROLS, type CongestionName } from "./tcp_congestion.ts";
import { TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS } from "../../abi/linux/tcp.ts";
import { settle, tryOp } from "./testutil.ts";

const MTU = 1500;
const MSS = MTU - 40;

/** One end of a point-to-point link; a batch of packets crosses per macrotask turn (an RTT). */
class LossyLink implements LinkEndpoint {
  readonly mtu = MTU;
  readonly checksumOffload = false;
  readonly arpType = 1;
  readonly hardwareAddress = new Uint8Array(6);
  peer!: LossyLink;
  dispatch: NetworkDispatcher = () => {};
  /** Decides, for each packet this end sends, whether it is lost. */
  drop: (seg: Segment, packet: Uint8Array) => boolean = () => false;
  /** Every segment this end sent, lost or not. */
  readonly sent: Segment[] = [];
  /** How long a batch takes to cross (0: the next turn of the event loop). */
  delayMs = 0;
  #pending: Uint8Array[] = [];

  attach(d: NetworkDispatcher): void {
    this.dispatch = d;
  }

  writePacket(_type: number, p: Uint8Array): void {
    const ip = decodeIPv4(p, true)!;
    const seg = decodeTCP(ip.src, ip.dst, ip.payload, true)!;
    this.sent.push({ ...seg, data: seg.data.slice() });
    if (this.drop(seg, p)) return;
    if (this.#pending.length === 0) setTimeout(() => this.#deliver(), this.delayMs);
    this.#pending.push(p.slice());
  }

  #deliver(): void {
    const batch = this.#pending;
    this.#pending = [];
    for (const p of batch) this.peer.dispatch(ETH_P_IP, p);
  }
}

function host(n: number): IPAddress {
  return v4Mapped(Uint8Array.of(10, 0, 0, n));
}

/**
 * Two stacks joined by a LossyLink: a (10.0.0.1) and b (10.0.0.2). Without timestamps unless
 * asked: the offsets the tests lose count segments of MSS bytes, and timestamps take 12.
 */
function twoStacks(sack: boolean, congestion: CongestionName = "cubic", timestamps = false) {
  const ends = [new LossyLink(), new LossyLink()];
  ends[0].peer = ends[1];
  ends[1].peer = ends[0];
  const stacks = ends.map((link, i) => {
    const ns = new NetStack();
    ns.tcp.sack = sack;
    ns.tcp.congestion = congestion;
    ns.tcp.timestamps = timestamps;
    // What is observed here is recovered without the retransmission timer: on a loaded host a
    // pause of the test's own process must not look like a loss.
    ns.tcp.rtoMinMs = 60_000;
    const nic = ns.stack.addNIC("eth0", link, IFF_UP);
    nic.addresses.push({ addr: host(i + 1), prefixLen: 120 });
    ns.stack.routes.add({ dest: host(0), prefixLen: 120, nic, gateway: null });
    return ns;
  });
  return { a: stacks[0], b: stacks[1], linkA: ends[0], linkB: ends[1] };
}

async function connect(
  a: NetStack,
  b: NetStack,
  port = 80,
): Promise<[TCPEndpoint, TCPEndpoint]> {
  const l = b.tcp.newEndpoint(true);
  l.bind(host(2), port);
  l.listen(1);
  const c = a.tcp.newEndpoint(true);
  assert.throws(() => c.connect(host(2), port), /EINPROGRESS|115/);
  for (let i = 0; i < 100 && l.acceptQueue.length === 0; i++) await settle();
  const s = l.acceptQueue.shift();
  assert.ok(s && c.connected, "the connection is established");
  return [c, s];
}

/**
 * Sends `total` bytes from a to b, dropping the first transmission of the data segments at the
 * given offsets; returns what b read and the wire's record.
 */
async function transfer(sack: boolean, total: number, lose: number[]) {
  const { a, b, linkA, linkB } = twoStacks(sack);
  const [c, s] = await connect(a, b);
  const iss = linkA.sent.find((x) => x.flags & SYN)!.seq;
  const lost = new Set(lose);
  linkA.drop = (seg) => {
    const off = seqDiff(seg.seq, iss + 1);
    if (seg.data.length === 0 || !lost.has(off)) return false;
    lost.delete(off);
    return true;
  };
  const out = new Uint8Array(total).map((_, i) => (i * 13 + (i >> 8)) & 0xff);
  const got = new Uint8Array(total);
  let sent = 0, read = 0;
  // Bounds only a hang: a recovery that needed the retransmission timer still ends.
  const deadline = performance.now() + 60_000;
  while (read < total && performance.now() < deadline) {
    if (sent < total) sent += tryOp(() => c.write(out.subarray(sent, sent + 65536), null)) ?? 0;
    for (let r; (r = tryOp(() => s.read(total - read, false))) && r.data.length > 0;) {
      got.set(r.data, read);
      read += r.data.length;
    }
    await settle();
  }
  const info = c.tcpInfo();
  c.close();
  s.close();
  return { got, out, read, iss, sent: linkA.sent, acks: linkB.sent, info };
}

/** Offsets of the data segments sent more than once, in the order they were resent. */
function resent(sent: Segment[], iss: number): number[] {
  const seen = new Set<number>();
  const again: number[] = [];
  for (const s of sent) {
    if (s.data.length === 0) continue;
    const off = seqDiff(s.seq, iss + 1);
    if (seen.has(off)) again.push(off);
    seen.add(off);
  }
  return again;
}

for (const sack of [true, false]) {
  const mode = sack ? "with SACK" : "without SACK: NewReno recovery";
  Deno.test(`tcp over a lossy link (${mode}): every byte arrives in order, only lost segments are resent`, async () => {
    // Segments 3, 5 and 9 of the first flight are lost.
    const lose = [3, 5, 9].map((i) => i * MSS);
    const r = await transfer(sack, 400_000, lose);
    assert.equal(r.read, r.out.length, "every byte was read");
    assert.deepEqual(r.got, r.out, "in order and intact");
    assert.deepEqual(resent(r.sent, r.iss), lose, "each lost segment was sent again, once");
    assert.equal(r.info.totalRetrans, lose.length, "TCP_INFO counts the retransmissions");
    assert.equal(r.info.options! & TCPI_OPT_SACK, sack ? TCPI_OPT_SACK : 0);
    if (sack) {
      // The ACKs named what arrived beyond the holes, and all three holes went out again
      // before the first of them was acknowledged (one recovery, not one per round trip).
      assert.ok(r.acks.some((a) => (a.sack?.length ?? 0) > 0), "ACKs carry SACK blocks");
      const firstRtx = r.sent.findIndex((s, i) =>
        s.data.length > 0 && r.sent.slice(0, i).some((p) => p.seq === s.seq && p.data.length)
      );
      const holes = r.sent.slice(firstRtx, firstRtx + 3).map((s) => seqDiff(s.seq, r.iss + 1));
      assert.deepEqual(holes, lose, "the three holes were resent back to back");
    } else {
      assert.ok(r.acks.every((a) => (a.sack?.length ?? 0) === 0), "no SACK blocks");
    }
  });
}

/** What each algorithm keeps of its window after a loss (RFC 5681: half; RFC 9438: 0.7). */
const REDUCTION: Record<CongestionName, [number, number]> = { reno: [0.4, 0.6], cubic: [0.6, 0.8] };

for (const cc of CONGESTION_CONTROLS) {
  Deno.test(`tcp (${cc}) starts with ten segments a round trip, doubles, and shrinks after a loss`, async () => {
    const { a, b, linkA } = twoStacks(true, cc);
    const [c, s] = await connect(a, b);
    const base = linkA.sent.find((x) => x.flags & SYN)!.seq + 1;
    // New data the sender puts on the wire in each round trip (the link carries one batch a
    // turn of the event loop), and the round in which one segment of it is lost.
    const rounds: number[] = [0];
    let high = 0, lossRound = -1;
    linkA.drop = (seg) => {
      const end = seqDiff(seg.seq, base) + seg.data.length;
      if (seg.data.length === 0 || end <= high) return false;
      rounds[rounds.length - 1] += end - high;
      high = end;
      // One segment is lost once 150 have gone: in the fourth round trip (10 + 20 + 40 before).
      if (lossRound < 0 && high > 150 * MSS) {
        lossRound = rounds.filter((n) => n > 0).length - 1;
        return true;
      }
      return false;
    };
    const total = 3_000_000;
    const out = new Uint8Array(total).fill(5);
    let sent = 0, read = 0;
    const deadline = performance.now() + 60_000;
    while (read < total && performance.now() < deadline) {
      // The sender is never short of data: only its windows limit it.
      for (let n; sent < total && (n = tryOp(() => c.write(out.subarray(sent), null)));) sent += n;
      for (let r; (r = tryOp(() => s.read(1 << 20, false))) && r.data.length > 0;) {
        read += r.data.length;
      }
      await settle();
      rounds.push(0);
    }
    c.close();
    s.close();
    assert.equal(read, total);
    // Segments a round trip; the turns in which the ACKs crossed carried none.
    const segs = rounds.filter((n) => n > 0).map((n) => Math.ceil(n / MSS));
    const shown = segs.slice(0, 12).join(" ");
    assert.ok(segs[0] <= 10, `the first round trip carries the initial window (${shown})`);
    for (let i = 1; i <= lossRound; i++) {
      assert.ok(segs[i] >= 2 * segs[i - 1] - 1, `slow start doubles the window (${shown})`);
    }
    const peakBefore = Math.max(...segs.slice(0, lossRound + 1));
    const afterLoss = Math.max(...segs.slice(lossRound + 1, lossRound + 6));
    const [least, most] = REDUCTION[cc];
    assert.ok(
      afterLoss >= peakBefore * least && afterLoss <= peakBefore * most,
      `after the loss the sender sends ${least}-${most} of its window a round trip (${shown})`,
    );
  });
}

Deno.test("SACK is used only when both SYNs permit it", async () => {
  for (const [offer, accept] of [[true, true], [true, false], [false, true]]) {
    const { a, b, linkA, linkB } = twoStacks(true);
    a.tcp.sack = offer;
    b.tcp.sack = accept;
    await connect(a, b);
    const syn = linkA.sent.find((x) => x.flags & SYN)!;
    const synAck = linkB.sent.find((x) => x.flags & SYN)!;
    assert.equal(syn.sackPermitted, offer, "the SYN offers SACK when its stack allows it");
    assert.equal(
      synAck.sackPermitted,
      offer && accept,
      `the SYN-ACK accepts it only when offered and allowed (${offer}, ${accept})`,
    );
  }
});

/** An ICMP error from a router (10.0.0.9) about packet, as it would reach its sender. */
function icmpError(packet: Uint8Array, type: number, code: number, mtu = 0): Uint8Array {
  const quote = packet.subarray(0, 20 + 8);
  const msg = new Uint8Array(8 + quote.length);
  msg[0] = type;
  msg[1] = code;
  new DataView(msg.buffer).setUint16(6, mtu);
  msg.set(quote, 8);
  new DataView(msg.buffer).setUint16(2, checksum(msg));
  const ip = decodeIPv4(packet, true)!;
  return encodeIPv4(host(9), ip.src, IPPROTO_ICMP, msg, 64, 0);
}

Deno.test("a hop narrower than the link: ICMP fragmentation needed lowers the MSS and the data goes through", async () => {
  const { a, b, linkA } = twoStacks(true);
  const [c, s] = await connect(a, b);
  const HOP = 1000;
  let reports = 0, tooBig = 0;
  linkA.drop = (_seg, p) => {
    if (p.length <= HOP) return false;
    tooBig++;
    // The router answers, and it is the only answer: the packet goes no further.
    queueMicrotask(() => linkA.dispatch(ETH_P_IP, icmpError(p, 3, 4, HOP)));
    reports++;
    return true;
  };
  const total = 200_000;
  const out = new Uint8Array(total).map((_, i) => (i * 7 + 3) & 0xff);
  const got = new Uint8Array(total);
  let sent = 0, read = 0;
  const deadline = performance.now() + 60_000;
  while (read < total && performance.now() < deadline) {
    for (let n; sent < total && (n = tryOp(() => c.write(out.subarray(sent), null)));) sent += n;
    for (let r; (r = tryOp(() => s.read(total, false))) && r.data.length > 0;) {
      got.set(r.data, read);
      read += r.data.length;
    }
    await settle();
  }
  assert.equal(read, total, "every byte crossed the narrower hop");
  assert.deepEqual(got, out);
  assert.ok(reports > 0, "the first segments were too big for the hop");
  // The segments sent before the report were too big; everything after it fits the hop.
  const first = linkA.sent.findIndex((x) => x.data.length > HOP - 40);
  const after = linkA.sent.slice(first + tooBig + 10).filter((x) => x.data.length > 0);
  assert.ok(after.length > 0 && after.every((x) => x.data.length <= HOP - 40));
  // A second connection to the same peer starts with the path's MTU.
  const [c2] = await connect(a, b, 81);
  const syn = linkA.sent.filter((x) => x.flags & SYN).at(-1)!;
  assert.equal(syn.mss, HOP - 40, "the SYN offers an MSS for the path");
  c.close();
  s.close();
  c2.close();
});

Deno.test("an ICMP error about data outside the flight is ignored (RFC 5927)", async () => {
  const { a, b, linkA } = twoStacks(true);
  const [c, s] = await connect(a, b);
  let forged = false;
  linkA.drop = (seg, p) => {
    if (seg.data.length > 0 && !forged) {
      // A blind attacker's guess: the quoted sequence number is far from the flight.
      const fake = p.slice();
      new DataView(fake.buffer).setUint32(20 + 4, (seg.seq + 0x40000000) >>> 0);
      forged = true;
      queueMicrotask(() => linkA.dispatch(ETH_P_IP, icmpError(fake, 3, 4, 600)));
    }
    return false;
  };
  assert.equal(c.write(new Uint8Array(20_000), null), 20_000);
  for (let i = 0; i < 20 && s.readable < 20_000; i++) await settle();
  assert.ok(forged);
  assert.equal(s.readable, 20_000);
  assert.ok(linkA.sent.some((x) => x.data.length === MSS), "full-size segments go on");
  assert.equal(c.takeError(), 0);
  c.close();
  s.close();
});

Deno.test("connect fails with EHOSTUNREACH when a router answers the SYN with host unreachable", async () => {
  const { a, linkA } = twoStacks(true);
  linkA.drop = (seg, p) => {
    if (seg.flags & SYN) queueMicrotask(() => linkA.dispatch(ETH_P_IP, icmpError(p, 3, 1)));
    return true;
  };
  const c = a.tcp.newEndpoint(true);
  assert.throws(() => c.connect(host(2), 80), /EINPROGRESS|115/);
  for (let i = 0; i < 20 && c.state === TCPState.SYN_SENT; i++) await settle();
  assert.equal(c.connected, false);
  assert.equal(c.takeError(), Errno.EHOSTUNREACH);
});

Deno.test("a lost last segment (no duplicate ACKs to tell) is resent by the retransmission timer", async () => {
  const { a, b, linkA } = twoStacks(true);
  // The timer is the only way here: short, so that the test is quick.
  a.tcp.rtoMinMs = 20;
  const [c, s] = await connect(a, b);
  const base = linkA.sent.find((x) => x.flags & SYN)!.seq + 1;
  const total = 10 * MSS + 100;
  let dropped = false;
  linkA.drop = (seg) => {
    // The tail: the segment that ends the data.
    if (!dropped && seqDiff(seg.seq, base) + seg.data.length === total) {
      dropped = true;
      return true;
    }
    return false;
  };
  const out = new Uint8Array(total).map((_, i) => (i * 5) & 0xff);
  assert.equal(c.write(out, null), total);
  const got: Uint8Array[] = [];
  let read = 0;
  const deadline = performance.now() + 30_000;
  while (read < total && performance.now() < deadline) {
    for (let r; (r = tryOp(() => s.read(total, false))) && r.data.length > 0;) {
      got.push(r.data);
      read += r.data.length;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(dropped);
  assert.equal(read, total);
  const all = new Uint8Array(total);
  got.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  assert.deepEqual(all, out);
  // (A pause of this process longer than the short timeout may resend more: not asserted.)
  assert.ok(resent(linkA.sent, base - 1).includes(10 * MSS), "the tail was sent again");
  assert.ok((c.tcpInfo().totalRetrans ?? 0) >= 1);
  c.close();
  s.close();
});

Deno.test("ACKs that come after the retransmission timer fired (a spurious timeout) are taken, the FIN's too", async () => {
  const { a, b, linkA, linkB } = twoStacks(true);
  a.tcp.rtoMinMs = 20;
  const [c, s] = await connect(a, b);
  const base = linkA.sent.find((x) => x.flags & SYN)!.seq + 1;
  // The receiver's ACKs are held until the sender has timed out and gone back: the whole first
  // flight and its FIN arrived, only the news of it is late.
  const held: Uint8Array[] = [];
  let hold = true;
  linkB.drop = (_seg, p) => hold && held.push(p.slice()) > 0;
  const total = 4 * MSS;
  const out = new Uint8Array(total).map((_, i) => (i * 3) & 0xff);
  assert.equal(c.write(out, null), total);
  c.shutdown(1);
  const deadline = performance.now() + 30_000;
  while (!resent(linkA.sent, base - 1).includes(0) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(
    resent(linkA.sent, base - 1).includes(0),
    "the timer fired and sent the first segment again",
  );
  hold = false;
  for (const p of held) linkA.dispatch(ETH_P_IP, p);
  const got: Uint8Array[] = [];
  let eof = false;
  while (!(eof && c.state === TCPState.FIN_WAIT2) && performance.now() < deadline) {
    for (let r; !eof && (r = tryOp(() => s.read(total, false)));) {
      if (r.data.length === 0) eof = true;
      else got.push(r.data.slice());
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const all = new Uint8Array(got.reduce((n, p) => n + p.length, 0));
  got.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  assert.deepEqual(all, out);
  assert.ok(eof, "the reader saw the end of the stream");
  assert.equal(c.state, TCPState.FIN_WAIT2, "the sender took the late ACK of its FIN");
  c.close();
  s.close();
});

Deno.test("timestamps: offered by both SYNs, on every segment after, and the echo measures the round trip", async () => {
  const { a, b, linkA, linkB } = twoStacks(true, "cubic", true);
  // Each way takes 20 ms: a round trip at least 40.
  linkA.delayMs = linkB.delayMs = 20;
  const [c, s] = await connect(a, b);
  const total = 8 * MSS;
  assert.equal(c.write(new Uint8Array(total).fill(1), null), total);
  let read = 0;
  const deadline = performance.now() + 30_000;
  // Until everything is read and acknowledged (the ACKs take 20 ms to come back).
  while ((read < total || c.unacked > 0) && performance.now() < deadline) {
    for (let r; (r = tryOp(() => s.read(total, false))) && r.data.length > 0;) {
      read += r.data.length;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(read, total);
  assert.equal(c.unacked, 0);
  const [syn, synAck] = [linkA.sent[0], linkB.sent[0]];
  assert.ok(syn.flags & SYN && syn.ts && syn.ts.ecr === 0, "the SYN offers timestamps");
  assert.equal(synAck.ts?.ecr, syn.ts.val, "the SYN-ACK accepts, echoing the SYN's");
  for (const x of [...linkA.sent, ...linkB.sent]) assert.ok(x.ts, "every segment carries them");
  // Data segments leave room for the option: MSS - 12 bytes of data each.
  assert.equal(Math.max(...linkA.sent.map((x) => x.data.length)), MSS - 12);
  const info = c.tcpInfo();
  assert.equal(info.options! & TCPI_OPT_TIMESTAMPS, TCPI_OPT_TIMESTAMPS);
  assert.equal(info.sndMss, MSS - 12);
  // (40 ms at least; a millisecond clock and a timer that fires a little early lose a few.)
  assert.ok(info.rtt! >= 30_000, `TCP_INFO's rtt (${info.rtt} us) is the round trip's`);
  assert.ok(info.rto! >= info.rtt!, "the retransmission timeout covers it");
  c.close();
  s.close();
});

Deno.test("timestamps: not used when the peer does not offer them", async () => {
  const { a, b, linkA, linkB } = twoStacks(true, "cubic", true);
  b.tcp.timestamps = false;
  const [c, s] = await connect(a, b);
  assert.equal(c.write(new Uint8Array(3 * MSS), null), 3 * MSS);
  for (let i = 0; i < 20 && s.readable < 3 * MSS; i++) await settle();
  assert.equal(s.readable, 3 * MSS);
  assert.ok(linkA.sent[0].ts, "offered");
  assert.ok([...linkA.sent.slice(1), ...linkB.sent].every((x) => !x.ts), "and then not used");
  assert.equal(Math.max(...linkA.sent.map((x) => x.data.length)), MSS);
  assert.equal(c.tcpInfo().options! & TCPI_OPT_TIMESTAMPS, 0);
  c.close();
  s.close();
});

Deno.test("PAWS: an old duplicate whose sequence number looks current is dropped and answered", async () => {
  const { a, b, linkA, linkB } = twoStacks(true, "cubic", true);
  const [c, s] = await connect(a, b);
  const packets: Uint8Array[] = [];
  linkA.drop = (seg, p) => {
    if (seg.data.length > 0) packets.push(p.slice());
    return false;
  };
  assert.equal(c.write(new Uint8Array(1000).fill(0xaa), null), 1000);
  for (let i = 0; i < 20 && s.readable < 1000; i++) await settle();
  assert.equal(s.read(1000, false).data.length, 1000);
  // The clock moves on (milliseconds), and the next segment carries a later stamp.
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(c.write(new Uint8Array(1000).fill(0xbb), null), 1000);
  for (let i = 0; i < 20 && s.readable < 1000; i++) await settle();
  assert.deepEqual(new Set(s.read(1000, false).data), new Set([0xbb]));
  // The first segment again, as if it had wandered the network while the sequence numbers
  // wrapped: its sequence number is where the stream is now, its stamp is the old one.
  const ip = decodeIPv4(packets[0], true)!;
  const old = decodeTCP(ip.src, ip.dst, ip.payload, true)!;
  const forged = encodeTCP(ip.src, ip.dst, { ...old, seq: seqAdd(old.seq, 2000) });
  const acks = linkB.sent.length;
  linkB.dispatch(ETH_P_IP, encodeIPv4(ip.src, ip.dst, IPPROTO_TCP, forged, 64, 0));
  for (let i = 0; i < 5; i++) await settle();
  assert.equal(s.readable, 0, "its bytes are not taken");
  assert.ok(linkB.sent.length > acks, "it is answered with an ACK");
  // The connection goes on.
  assert.equal(c.write(new Uint8Array(10).fill(0xcc), null), 10);
  for (let i = 0; i < 20 && s.readable < 10; i++) await settle();
  assert.deepEqual(s.read(10, false).data, new Uint8Array(10).fill(0xcc));
  c.close();
  s.close();
});
