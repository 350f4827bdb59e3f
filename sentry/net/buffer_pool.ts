/**
 * Reusable buffers for TCP's data path: the piece a write copies from the application (its
 * send buffer's chunk, and the packet built around it in place) and the packet a segment is
 * copied into. A fresh ArrayBuffer per write costs a zeroed allocation and, at throughput,
 * the garbage collector's time; these are taken from a free list instead.
 *
 * A pooled buffer counts its holders: whoever took it (allocate) and every queue that keeps
 * a view of it (send and receive buffers, out-of-order segments, a link's queue of packets
 * not yet delivered) holds one reference, given back with release. It returns to the free
 * list only when the last one is gone, so bytes another socket may still read are never
 * handed out again. A holder that forgets to release only keeps the buffer from the pool
 * (the garbage collector takes it); one that keeps a view without retaining would be a bug,
 * which is why views of pooled buffers stay inside sentry/net.
 *
 * A reused buffer still holds its last user's bytes: allocate hands out a view of exactly the
 * bytes asked for, and its callers write every byte of what they pass on (a short copy from
 * the application is cut to what was copied; headers are written whole).
 *
 * @module
 */

import { giveRoom } from "./ipv4.ts";

/** Room for headers in front of a payload (TCP's largest and IPv6's, rounded up). */
const HEADER_SLACK = 128;
/**
 * The sizes a buffer comes in: payloads of 16, 64 and 256 KiB with their headers' room (a
 * 64 KiB write takes a 64 KiB buffer, not the next class). Smaller requests are not pooled.
 */
const CLASSES = [16 << 10, 64 << 10, 256 << 10].map((n) => n + HEADER_SLACK);
/** Idle buffers kept per class, at most this many bytes' worth (the rest is left to the GC). */
const FREE_BYTES_PER_CLASS = 4 << 20;
/** Below this a fresh allocation is as cheap as the pool's book-keeping. */
const MIN_POOLED = 4 << 10;

interface Entry {
  /** Index in CLASSES. */
  cls: number;
  refs: number;
}

const entries = new WeakMap<ArrayBufferLike, Entry>();
const free: ArrayBuffer[][] = CLASSES.map(() => []);

/** Counters for tests and benchmarks: buffers made, and taken again from the free list. */
export const poolStats = { made: 0, reused: 0 };

function classOf(size: number): number {
  for (let i = 0; i < CLASSES.length; i++) if (size <= CLASSES[i]) return i;
  return -1;
}

/**
 * A view of n bytes with `room` bytes before them for headers (given with giveRoom, as
 * transportBuffer does), held once by the caller, who releases it when done. Its bytes are
 * whatever the buffer last held: the caller overwrites all n of them or passes on fewer.
 */
export function allocate(n: number, room: number): Uint8Array<ArrayBuffer> {
  const size = room + n;
  const cls = size >= MIN_POOLED ? classOf(size) : -1;
  let ab: ArrayBuffer;
  if (cls < 0) {
    ab = new ArrayBuffer(size);
  } else {
    const reused = free[cls].pop();
    if (reused) poolStats.reused++;
    else poolStats.made++;
    ab = reused ?? new ArrayBuffer(CLASSES[cls]);
    entries.set(ab, { cls, refs: 1 });
  }
  const v = new Uint8Array(ab, room, n);
  giveRoom(v);
  return v;
}

/** Whether v is a view of a pooled buffer (tests). */
export function isPooled(v: Uint8Array): boolean {
  return entries.has(v.buffer);
}

/** Another holder keeps a view of v's buffer (nothing for a buffer not pooled). */
export function retain(v: Uint8Array): void {
  const e = entries.get(v.buffer);
  if (e) e.refs++;
}

/**
 * A holder of v's buffer is done with it: the last one puts it back on the free list. Each
 * holder releases exactly once (one release too many would free a buffer someone still
 * reads): the queues pair each release with the retain of the chunk they drop.
 */
export function release(v: Uint8Array): void {
  const e = entries.get(v.buffer);
  if (!e || --e.refs > 0) return;
  entries.delete(v.buffer);
  const list = free[e.cls];
  if ((list.length + 1) * CLASSES[e.cls] <= FREE_BYTES_PER_CLASS) {
    list.push(v.buffer as ArrayBuffer);
  }
}
