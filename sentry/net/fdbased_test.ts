/**
 * The packet socket device fed hostile frames: a Unix datagram socket stands for the packet
 * socket (each write one frame, its virtio_net_hdr first), and the test sees which frames
 * reach the link and how.
 */

import assert from "node:assert/strict";
import { closeFd, socketpair } from "../../host/libc.ts";
import { hostSetsockopt } from "../../host/hostinet.ts";
import { writeFd } from "../../host/io.ts";
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VNET_HDR_SIZE } from "../../host/packet.ts";
import { log } from "../../log.ts";
import { finish, sumBytes } from "./checksum.ts";
import { PacketSocketDevice, withChecksum } from "./fdbased.ts";

const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;

/** A virtio_net_hdr asking for the checksum from `start`, stored at `start + off`. */
function vnetHdr(start: number, off: number): Uint8Array {
  const h = new Uint8Array(VNET_HDR_SIZE);
  h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h[6] = start & 0xff, h[7] = start >> 8;
  h[8] = off & 0xff, h[9] = off >> 8;
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/** Writes each frame to a device's socket and returns what reached the link, in order. */
async function deliver(frames: Uint8Array<ArrayBuffer>[]): Promise<{
  got: Uint8Array[];
  stats: PacketSocketDevice["stats"];
}> {
  const [ours, peer] = socketpair(SOCK_DGRAM, SOCK_NONBLOCK);
  const big = new Int32Array([1 << 20]);
  for (const fd of [ours, peer]) {
    // SO_SNDBUF and SO_RCVBUF: room for a frame of 64 KiB and more.
    for (const opt of [7, 8]) {
      assert.equal(hostSetsockopt(fd, 1, opt, new Uint8Array(big.buffer)), 0);
    }
  }
  const got: Uint8Array[] = [];
  const dev = new PacketSocketDevice(ours, 1500, new Uint8Array(6), log);
  const end = new Uint8Array(VNET_HDR_SIZE + 14); // a marker: the last frame
  end.fill(0xee, VNET_HDR_SIZE);
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  dev.start((f) => {
    if (f.length === 14 && f.every((b) => b === 0xee)) done();
    else got.push(f);
  });
  try {
    for (const f of [...frames, end]) {
      const n = writeFd(peer, f);
      assert.equal(Number(n), f.length, `frame of ${f.length} bytes written`);
    }
    // Bounds a hang only: the frames are all waiting before the device's first read.
    let timer!: ReturnType<typeof setTimeout>;
    const hang = new Promise<never>((_, rej) =>
      timer = setTimeout(() => rej(new Error("the last frame never reached the link")), 60_000)
    );
    await Promise.race([finished, hang]).finally(() => clearTimeout(timer));
  } finally {
    dev.close();
    closeFd(peer);
  }
  return { got, stats: dev.stats };
}

Deno.test("fdbased: a frame longer than the buffer is dropped, not handed on cut", async () => {
  const eth = new Uint8Array(14).fill(1);
  const huge = concat(new Uint8Array(VNET_HDR_SIZE), eth, new Uint8Array(70_000).fill(7));
  const ok = concat(new Uint8Array(VNET_HDR_SIZE), eth, Uint8Array.of(1, 2, 3));
  const { got, stats } = await deliver([huge, ok]);
  // Lengths first: a diff of a 64 KiB array would take minutes to print.
  assert.deepEqual(got.map((f) => f.length), [17]);
  assert.deepEqual(got, [concat(eth, Uint8Array.of(1, 2, 3))]);
  assert.equal(stats.dropped, 1);
});

Deno.test("fdbased: frames with a short header or checksum offsets outside them are dropped", async () => {
  const eth = new Uint8Array(14).fill(2);
  const payload = Uint8Array.from({ length: 40 }, (_, i) => i);
  const frames = [
    Uint8Array.of(1, 2, 3), // shorter than the virtio_net_hdr
    concat(vnetHdr(13, 0), eth, payload), // the checksum would start in the Ethernet header
    concat(vnetHdr(14, 39), eth, payload), // the checksum's 2 bytes end past the frame
    concat(vnetHdr(0xffff, 0xffff), eth, payload), // both offsets far beyond it
    concat(vnetHdr(14 + 40, 0), eth, payload), // starts at the frame's very end
  ];
  const { got, stats } = await deliver(frames);
  assert.deepEqual(got, []);
  assert.equal(stats.dropped, frames.length);
});

Deno.test("fdbased: a checksum the header asks for is completed within the frame", () => {
  const eth = new Uint8Array(14).fill(3);
  // A UDP header and data; its checksum field holds the pseudo-header's sum (0 here).
  const payload = Uint8Array.from({ length: 20 }, (_, i) => i === 6 || i === 7 ? 0 : i * 3);
  const f = withChecksum(concat(vnetHdr(14, 6), eth, payload))!;
  assert.equal(f.length, 14 + 20);
  // The sum over the payload with the stored checksum in it verifies as 0.
  assert.equal(finish(sumBytes(f.subarray(14))), 0);
  assert.deepEqual(f.subarray(0, 14), eth);
});
