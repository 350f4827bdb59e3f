/**
 * The Ethernet link without a host: a device that records what the link writes and lets the
 * test hand it frames, as a peer on the wire would.
 */

import assert from "node:assert/strict";
import { v4Mapped } from "./address.ts";
import { checksum } from "./checksum.ts";
import { ETH_HEADER_SIZE, EthernetEndpoint, type FrameDevice } from "./ethernet.ts";
import { ETH_P_IP } from "./link.ts";
import { IFF_UP } from "./nic.ts";
import { NetStack } from "./socket.ts";

const OUR_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);
const PEER_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
const OUR_IP = [10, 0, 0, 2];
const PEER_IP = [10, 0, 0, 1];

class FakeDevice implements FrameDevice {
  readonly mtu = 1500;
  readonly mac = OUR_MAC;
  readonly headroom = 0;
  readonly offloads = false;
  readonly written: Uint8Array[] = [];
  onFrame: (f: Uint8Array) => void = () => {};
  start(onFrame: (f: Uint8Array) => void): void {
    this.onFrame = onFrame;
  }
  write(buf: Uint8Array<ArrayBuffer>): void {
    this.written.push(buf.slice());
  }
  close(): void {}
}

/** A stack (its protocols too) with one Ethernet interface 10.0.0.2/24 on a fake device. */
function stackWithEthernet(): { ns: NetStack; dev: FakeDevice; link: EthernetEndpoint } {
  const ns = new NetStack();
  const dev = new FakeDevice();
  const link = new EthernetEndpoint(dev);
  const nic = ns.stack.addNIC("eth0", link, IFF_UP);
  link.addresses = () => nic.addresses;
  nic.addresses.push({ addr: v4Mapped(Uint8Array.from(OUR_IP)), prefixLen: 120 });
  ns.stack.routes.add({
    dest: v4Mapped(Uint8Array.of(10, 0, 0, 0)),
    prefixLen: 120,
    nic,
    gateway: null,
  });
  return { ns, dev, link };
}

function frame(dst: Uint8Array, type: number, payload: number[] | Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HEADER_SIZE + payload.length);
  f.set(dst, 0);
  f.set(PEER_MAC, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(payload, ETH_HEADER_SIZE);
  return f;
}

function arp(op: number, targetMAC: number[], targetIP: number[]): number[] {
  return [0, 1, 8, 0, 6, 4, 0, op, ...PEER_MAC, ...PEER_IP, ...targetMAC, ...targetIP];
}

Deno.test("ethernet answers an ARP request for its address, to the asker", () => {
  const { dev } = stackWithEthernet();
  dev.onFrame(frame(new Uint8Array(6).fill(0xff), 0x0806, arp(1, [0, 0, 0, 0, 0, 0], OUR_IP)));
  assert.equal(dev.written.length, 1);
  const r = dev.written[0];
  assert.deepEqual([...r.subarray(0, 6)], [...PEER_MAC]);
  assert.deepEqual([...r.subarray(12, 14)], [8, 6]);
  const a = r.subarray(ETH_HEADER_SIZE);
  assert.equal(a[7], 2, "a reply");
  assert.deepEqual([...a.subarray(8, 14)], [...OUR_MAC]);
  assert.deepEqual([...a.subarray(14, 18)], OUR_IP);
  assert.deepEqual([...a.subarray(24, 28)], PEER_IP);
  // Not for us: no answer.
  dev.onFrame(
    frame(new Uint8Array(6).fill(0xff), 0x0806, arp(1, [0, 0, 0, 0, 0, 0], [10, 0, 0, 9])),
  );
  assert.equal(dev.written.length, 1);
});

Deno.test("ethernet resolves a next hop with ARP before it sends, then sends to its address", () => {
  const { dev, link } = stackWithEthernet();
  // An answer nobody asked for teaches nothing.
  dev.onFrame(frame(OUR_MAC, 0x0806, arp(2, [...OUR_MAC], OUR_IP)));
  assert.equal(dev.written.length, 0);
  const pkt = new Uint8Array(20);
  pkt.set([0x45, 0, 0, 20], 0);
  pkt.set(OUR_IP, 12);
  pkt.set(PEER_IP, 16);
  link.writePacket(ETH_P_IP, pkt);
  assert.equal(dev.written.length, 1, "only a solicitation goes out");
  const req = dev.written[0];
  assert.deepEqual([...req.subarray(0, 6)], [255, 255, 255, 255, 255, 255]);
  assert.equal(req[ETH_HEADER_SIZE + 7], 1, "an ARP request");
  // The answer asked for releases the packet.
  dev.onFrame(frame(OUR_MAC, 0x0806, arp(2, [...OUR_MAC], OUR_IP)));
  assert.equal(dev.written.length, 2);
  const sent = dev.written[1];
  assert.deepEqual([...sent.subarray(0, 6)], [...PEER_MAC]);
  assert.deepEqual([...sent.subarray(ETH_HEADER_SIZE)], [...pkt]);
  link.close();
});

Deno.test("ethernet drops every malformed or random frame without throwing", () => {
  const { dev, link } = stackWithEthernet();
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
  const types = [0x0800, 0x86dd, 0x0806, 0x8100, 0x1234];
  for (let i = 0; i < 20000; i++) {
    const len = rnd() % 200;
    const p = Uint8Array.from({ length: len }, () => rnd() & 0xff);
    // Often a plausible header, so that the parsers behind it see the rest.
    if (len >= 20 && i % 3 === 0) {
      // A valid IPv4 header for us: the transport's parser gets the random rest.
      p.set([0x45, 0, len >> 8, len & 0xff, 0, 0, 0, 0, 64, [1, 6, 17][i % 9 / 3 | 0], 0, 0]);
      p.set(PEER_IP, 12);
      p.set(OUR_IP, 16);
      const c = checksum(p.subarray(0, 20));
      p[10] = c >> 8;
      p[11] = c & 0xff;
    }
    if (len >= 40 && i % 3 === 1) p[0] = 0x60;
    const dst = i % 2 ? OUR_MAC : Uint8Array.of(0x33, 0x33, 0xff, 0, 0, 2);
    dev.onFrame(frame(dst, types[i % types.length], p));
    dev.onFrame(frame(dst, types[i % types.length], p).subarray(0, rnd() % 20));
  }
  assert.ok(link.drops.short > 0 && link.drops.unknownType > 0 && link.drops.badARP > 0);
  link.close();
});
