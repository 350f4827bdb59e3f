/**
 * A queue of bytes kept as the chunks they arrived in: TCP's send and receive buffers.
 * Appending never copies what is already queued; reading copies out. Each chunk holds a
 * reference to its buffer while queued (buffer_pool.ts), so a pooled buffer is not reused
 * before the queue is done with it.
 *
 * @module
 */

import { release, retain } from "./buffer_pool.ts";

export class ByteQueue {
  #chunks: Uint8Array[] = [];
  /** Bytes already taken from the first chunk. */
  #head = 0;
  length = 0;

  push(b: Uint8Array): void {
    if (b.length === 0) return;
    retain(b);
    this.#chunks.push(b);
    this.length += b.length;
  }

  /**
   * The n bytes starting `offset` bytes in (fewer if the queue is shorter): a view when
   * they lie in one chunk (chunks are never written after they are queued), else a copy.
   */
  peek(offset: number, n: number): Uint8Array {
    n = Math.max(0, Math.min(n, this.length - offset));
    const c0 = this.#chunks[0];
    if (c0 && this.#head + offset + n <= c0.length) {
      return c0.subarray(this.#head + offset, this.#head + offset + n);
    }
    const out = new Uint8Array(n);
    this.copyTo(offset, n, out);
    return out;
  }

  /**
   * Up to n bytes from the front that lie in one chunk, as a view (no copy): a reader that
   * copies them straight out takes the queue a chunk at a time. The view stays valid after
   * consume only until the next pooled allocation: it is copied out at once.
   */
  front(n: number): Uint8Array {
    const c0 = this.#chunks[0];
    if (!c0) return new Uint8Array(0);
    return c0.subarray(this.#head, this.#head + Math.min(n, c0.length - this.#head));
  }

  /**
   * The n bytes starting `offset` bytes in when they begin a chunk as it was queued and lie
   * in it: that chunk's view (a buffer made with room before it keeps it); null otherwise.
   */
  chunkStart(offset: number, n: number): Uint8Array | null {
    let at = -this.#head;
    for (const c of this.#chunks) {
      if (at === offset) return n <= c.length ? c.subarray(0, n) : null;
      at += c.length;
      if (at > offset) return null;
    }
    return null;
  }

  /**
   * How many of the n bytes from `offset` come before the first chunk of at least `min`
   * bytes that begins inside them (n if none does): a segment cut there lets the next one
   * start that chunk, and be built around it in place.
   */
  beforeLargeChunk(offset: number, n: number, min: number): number {
    let at = -this.#head;
    for (const c of this.#chunks) {
      if (at >= offset + n) break;
      if (at > offset && c.length >= min) return at - offset;
      at += c.length;
    }
    return n;
  }

  /**
   * Copies the n bytes starting `offset` bytes in to dst (which has room for them), walking
   * the chunks: a segment that spans two chunks is built with one copy, not two.
   */
  copyTo(offset: number, n: number, dst: Uint8Array): void {
    let skip = offset + this.#head, o = 0;
    for (const c of this.#chunks) {
      if (o >= n) break;
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const k = Math.min(c.length - skip, n - o);
      dst.set(c.subarray(skip, skip + k), o);
      o += k;
      skip = 0;
    }
    // Asked for more than is queued (a bug of the caller's): dst may be a reused buffer, and
    // what it last held must not go out.
    if (o < n) dst.fill(0, o, n);
  }

  /** Drops n bytes from the front. */
  consume(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    while (n > 0) {
      const c = this.#chunks[0];
      const left = c.length - this.#head;
      if (n >= left) {
        n -= left;
        release(this.#chunks.shift()!);
        this.#head = 0;
      } else {
        this.#head += n;
        n = 0;
      }
    }
  }

  clear(): void {
    for (const c of this.#chunks) release(c);
    this.#chunks = [];
    this.#head = 0;
    this.length = 0;
  }
}
