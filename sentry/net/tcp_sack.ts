/**
 * Selective acknowledgment (RFC 2018): the sender's scoreboard of what the peer says it holds
 * beyond the cumulative ACK, and the next hole to retransmit in a recovery (RFC 6675's
 * NextSeg, simplified: every hole below the highest SACKed byte is taken as lost).
 *
 * Every block comes from the peer and is hostile: blocks outside the data in flight, empty or
 * reversed are ignored, and the board is bounded.
 *
 * @module
 */

import { type SackBlock, seqDiff, seqLE, seqLT } from "./tcp_header.ts";

/** Ranges kept at most; past it the oldest information is dropped (a receiver may renege). */
const MAX_RANGES = 64;

export class SackScoreboard {
  /** Disjoint, sorted ranges above sndUna that the peer holds. */
  #ranges: SackBlock[] = [];

  /** Bytes of the flight the peer holds. */
  get sacked(): number {
    let n = 0;
    for (const r of this.#ranges) n += seqDiff(r.end, r.start);
    return n;
  }

  /** The end of the highest range (undefined: nothing SACKed). */
  get highest(): number | undefined {
    return this.#ranges.at(-1)?.end;
  }

  get empty(): boolean {
    return this.#ranges.length === 0;
  }

  /**
   * Takes an ACK's blocks for the flight [una, nxt); true when one of them told something new.
   */
  update(blocks: readonly SackBlock[], una: number, nxt: number): boolean {
    let changed = false;
    for (const b of blocks) {
      // Within the flight, non-empty, and not a D-SACK (RFC 2883) below the cumulative ACK.
      if (!seqLT(b.start, b.end) || seqLT(b.start, una) || seqLT(nxt, b.end)) continue;
      if (this.#covered(b)) continue;
      this.#insert(b);
      changed = true;
    }
    return changed;
  }

  /** The cumulative ACK moved to una: what lies below it is forgotten. */
  advance(una: number): void {
    while (this.#ranges.length > 0 && seqLE(this.#ranges[0].end, una)) this.#ranges.shift();
    const first = this.#ranges[0];
    if (first && seqLT(first.start, una)) first.start = una;
  }

  clear(): void {
    this.#ranges = [];
  }

  /**
   * The first hole at or after `from` and below the highest SACKed byte, cut to at most `max`
   * bytes: [seq, length], or null when there is none.
   */
  nextHole(from: number, max: number): [number, number] | null {
    let seq = from;
    for (const r of this.#ranges) {
      if (seqLE(r.end, seq)) continue;
      if (seqLT(seq, r.start)) return [seq, Math.min(max, seqDiff(r.start, seq))];
      seq = r.end;
    }
    return null;
  }

  /** Bytes of holes in [from, highest): taken as lost and not yet sent again. */
  holesFrom(from: number): number {
    let n = 0, seq = from;
    for (const r of this.#ranges) {
      if (seqLE(r.end, seq)) continue;
      if (seqLT(seq, r.start)) n += seqDiff(r.start, seq);
      seq = r.end;
    }
    return n;
  }

  #covered(b: SackBlock): boolean {
    return this.#ranges.some((r) => seqLE(r.start, b.start) && seqLE(b.end, r.end));
  }

  #insert(b: SackBlock): void {
    let start = b.start, end = b.end;
    const out: SackBlock[] = [];
    let placed = false;
    for (const r of this.#ranges) {
      if (seqLT(r.end, start)) {
        out.push(r);
      } else if (seqLT(end, r.start)) {
        if (!placed) out.push({ start, end });
        placed = true;
        out.push(r);
      } else {
        // Overlapping or touching: merged.
        if (seqLT(r.start, start)) start = r.start;
        if (seqLT(end, r.end)) end = r.end;
      }
    }
    if (!placed) out.push({ start, end });
    out.sort((x, y) => seqDiff(x.start, y.start));
    // The board stays small: the lowest ranges matter most for the next retransmissions.
    this.#ranges = out.slice(0, MAX_RANGES);
  }
}

/**
 * The blocks a receiver reports for its out-of-order segments: merged ranges, the one holding
 * the latest arrival first (RFC 2018 section 4), at most MAX_SACK_BLOCKS.
 */
export function sackBlocks(
  segments: readonly { seq: number; data: Uint8Array }[],
  latest: number,
  max: number,
): SackBlock[] {
  const sorted = segments.map((o) => ({ start: o.seq, end: (o.seq + o.data.length) >>> 0 }))
    .sort((a, b) => seqDiff(a.start, b.start));
  const merged: SackBlock[] = [];
  for (const r of sorted) {
    const last = merged.at(-1);
    if (last && seqLE(r.start, last.end)) {
      if (seqLT(last.end, r.end)) last.end = r.end;
    } else {
      merged.push({ ...r });
    }
  }
  const first = merged.findIndex((r) => seqLE(r.start, latest) && seqLT(latest, r.end));
  if (first > 0) merged.unshift(...merged.splice(first, 1));
  return merged.slice(0, max);
}
