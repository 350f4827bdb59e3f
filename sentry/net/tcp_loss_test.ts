/**
 * TCP over a lossy link between two stacks: chosen data segments are dropped the first time
 * they cross, and what the test observes is what a wire would show (the sender's segments,
 * the receiver's ACKs) and what the application reads.
 */

import assert from "node:assert/strict";
import { SysError } from "../../abi/linux/error.ts";
import { type IPAddress, v4Mapped } from "./address.ts";
import { decodeIPv4 } from "./ipv4.ts";
import { ETH_P_IP, type LinkEndpoint, type NetworkDispatcher } from "./link.ts";
import { IFF_UP } from "./nic.ts";
import { NetStack } from "./socket.ts";
import { decodeTCP, type Segment, seqDiff, SYN } from "./tcp_header.ts";
import type { TCPEndpoint } from "./tcp_endpoint.ts";

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
  drop: (seg: Segment) => boolean = () => false;
  /** Every segment this end sent, lost or not. */
  readonly sent: Segment[] = [];
  #pending: Uint8Array[] = [];

  attach(d: NetworkDispatcher): void {
    this.dispatch = d;
  }

  writePacket(_type: number, p: Uint8Array): void {
    const ip = decodeIPv4(p, true)!;
    const seg = decodeTCP(ip.src, ip.dst, ip.payload, true)!;
    this.sent.push({ ...seg, data: seg.data.slice() });
    if (this.drop(seg)) return;
    if (this.#pending.length === 0) setTimeout(() => this.#deliver(), 0);
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

/** Two stacks joined by a LossyLink: a (10.0.0.1) and b (10.0.0.2). */
function twoStacks(sack: boolean) {
  const ends = [new LossyLink(), new LossyLink()];
  ends[0].peer = ends[1];
  ends[1].peer = ends[0];
  const stacks = ends.map((link, i) => {
    const ns = new NetStack();
    ns.tcp.sack = sack;
    const nic = ns.stack.addNIC("eth0", link, IFF_UP);
    nic.addresses.push({ addr: host(i + 1), prefixLen: 120 });
    ns.stack.routes.add({ dest: host(0), prefixLen: 120, nic, gateway: null });
    return ns;
  });
  return { a: stacks[0], b: stacks[1], linkA: ends[0], linkB: ends[1] };
}

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

function tryOp<T>(f: () => T): T | null {
  try {
    return f();
  } catch (e) {
    if (e instanceof SysError && e.errno === 11) return null;
    throw e;
  }
}

async function connect(a: NetStack, b: NetStack): Promise<[TCPEndpoint, TCPEndpoint]> {
  const l = b.tcp.newEndpoint(true);
  l.bind(host(2), 80);
  l.listen(1);
  const c = a.tcp.newEndpoint(true);
  assert.throws(() => c.connect(host(2), 80), /EINPROGRESS|115/);
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
  c.close();
  s.close();
  return { got, out, read, iss, sent: linkA.sent, acks: linkB.sent };
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
  const mode = sack ? "with SACK" : "NewReno without SACK";
  Deno.test(`tcp over a lossy link (${mode}): every byte arrives in order, only lost segments are resent`, async () => {
    // Segments 3, 5 and 9 of the first flight are lost.
    const lose = [3, 5, 9].map((i) => i * MSS);
    const r = await transfer(sack, 400_000, lose);
    assert.equal(r.read, r.out.length, "every byte was read");
    assert.deepEqual(r.got, r.out, "in order and intact");
    assert.deepEqual(resent(r.sent, r.iss), lose, "each lost segment was sent again, once");
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

Deno.test("tcp starts with ten segments a round trip, doubles, and halves after a loss", async () => {
  const { a, b, linkA } = twoStacks(true);
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
  const afterLoss = segs.slice(lossRound + 1, lossRound + 6);
  assert.ok(
    Math.max(...afterLoss) <= peakBefore * 0.6,
    `after the loss the sender sends about half a window a round trip (${shown})`,
  );
});

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
