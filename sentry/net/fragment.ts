/**
 * IPv4 and IPv6 fragmentation (RFC 791, RFC 8200): a datagram longer than its link's MTU
 * leaves in fragments (a UDP datagram or an echo of a few KiB over Ethernet), and arriving
 * fragments are put back together before the transport sees them.
 *
 * Fragments come from a peer that controls them: reassembly is bounded (bytes held, datagrams
 * in progress, a lifetime), a fragment that overlaps another drops its datagram (RFC 5722's
 * rule, which IPv4 stacks apply too against overlap attacks), and no datagram may exceed
 * 65535 bytes.
 *
 * @module
 */

import { isV4 } from "./address.ts";
import { checksum } from "./checksum.ts";
import { FRAG_HEADER_SIZE, IPV6_HEADER_SIZE, NEXTHDR_FRAGMENT } from "./ipv6.ts";
import type { NetworkPacket } from "./ipv4.ts";

const FLAG_MF = 0x2000;
/** How long a datagram may take to arrive whole (Linux's ipfrag_time). */
const REASSEMBLY_MS = 30_000;
/** Bytes held across every datagram in progress (Linux's ipfrag_high_thresh is 4 MiB). */
const MAX_HELD = 4 << 20;
/** Datagrams in progress at once. */
const MAX_DATAGRAMS = 256;
/** Fragments one datagram may have: a peer cannot make one datagram cost a thousand records. */
const MAX_FRAGMENTS = 128;
const MAX_DATAGRAM = 0xffff;

let nextId6 = 1;

/**
 * Splits an IPv6 packet (the fixed header, then the transport's) into fragments of at most
 * mtu, each with a fragment header (RFC 8200 section 4.5).
 */
export function fragmentIPv6(pkt: Uint8Array, mtu: number): Uint8Array[] {
  const step = Math.floor((mtu - IPV6_HEADER_SIZE - FRAG_HEADER_SIZE) / 8) * 8;
  const payload = pkt.subarray(IPV6_HEADER_SIZE);
  const id = nextId6++ >>> 0;
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += step) {
    const part = payload.subarray(off, Math.min(off + step, payload.length));
    const f = new Uint8Array(IPV6_HEADER_SIZE + FRAG_HEADER_SIZE + part.length);
    f.set(pkt.subarray(0, IPV6_HEADER_SIZE));
    const v = new DataView(f.buffer);
    v.setUint16(4, FRAG_HEADER_SIZE + part.length);
    f[6] = NEXTHDR_FRAGMENT;
    f[IPV6_HEADER_SIZE] = pkt[6];
    const more = off + part.length < payload.length;
    v.setUint16(IPV6_HEADER_SIZE + 2, off | (more ? 1 : 0));
    v.setUint32(IPV6_HEADER_SIZE + 4, id);
    f.set(part, IPV6_HEADER_SIZE + FRAG_HEADER_SIZE);
    out.push(f);
  }
  return out;
}

/** Splits an IPv4 packet (header without options or with) into fragments of at most mtu. */
export function fragmentIPv4(pkt: Uint8Array, mtu: number): Uint8Array[] {
  const ihl = (pkt[0] & 0xf) * 4;
  const step = Math.floor((mtu - ihl) / 8) * 8;
  const payload = pkt.subarray(ihl);
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += step) {
    const part = payload.subarray(off, Math.min(off + step, payload.length));
    const f = new Uint8Array(ihl + part.length);
    f.set(pkt.subarray(0, ihl));
    f.set(part, ihl);
    const v = new DataView(f.buffer);
    v.setUint16(2, f.length);
    const more = off + part.length < payload.length;
    v.setUint16(6, (more ? FLAG_MF : 0) | (off / 8));
    v.setUint16(10, 0);
    v.setUint16(10, checksum(f.subarray(0, ihl)));
    out.push(f);
  }
  return out;
}

interface Fragment {
  offset: number;
  data: Uint8Array;
}

interface Datagram {
  fragments: Fragment[];
  /** The payload's length, once the last fragment has come. */
  total: number;
  held: number;
  first: NetworkPacket | null;
  timer: ReturnType<typeof setTimeout>;
}

/** IPv4 reassembly for one stack. */
export class Reassembler {
  readonly #pending = new Map<string, Datagram>();
  #held = 0;
  /** Datagrams given up (timed out, overlapping, over a bound), for the debug log. */
  dropped = 0;

  /**
   * Takes a fragment (pkt decoded, its header checked; id, offset in bytes and more from the
   * header). Returns the whole datagram once its last missing piece arrives, else null.
   */
  add(pkt: NetworkPacket, id: number, offset: number, more: boolean): NetworkPacket | null {
    const data = pkt.payload;
    // Every fragment but the last carries a multiple of 8 bytes.
    if ((more && data.length % 8 !== 0) || offset + data.length > MAX_DATAGRAM - 20) {
      return null;
    }
    const k = `${pkt.src.join(".")}/${pkt.dst.join(".")}/${pkt.protocol}/${id}`;
    let d = this.#pending.get(k);
    if (!d) {
      if (this.#pending.size >= MAX_DATAGRAMS) {
        this.#drop(this.#pending.keys().next().value!);
      }
      d = {
        fragments: [],
        total: -1,
        held: 0,
        first: null,
        timer: setTimeout(() => this.#drop(k), REASSEMBLY_MS),
      };
      this.#pending.set(k, d);
    }
    const end = offset + data.length;
    const overlaps = d.fragments.some((f) => offset < f.offset + f.data.length && f.offset < end);
    const badEnd = !more && d.total >= 0 && d.total !== end ||
      (d.total >= 0 && end > d.total) ||
      (!more && d.fragments.some((f) => f.offset + f.data.length > end));
    if (
      overlaps || badEnd || d.fragments.length >= MAX_FRAGMENTS ||
      this.#held + data.length > MAX_HELD
    ) {
      this.#drop(k);
      return null;
    }
    d.fragments.push({ offset, data: data.slice() });
    d.held += data.length;
    this.#held += data.length;
    if (!more) d.total = end;
    if (offset === 0) d.first = pkt;
    if (d.total < 0 || d.held !== d.total || !d.first) return null;
    // Without overlaps, as many bytes as the whole means every byte is there.
    const payload = new Uint8Array(d.total);
    for (const f of d.fragments) payload.set(f.data, f.offset);
    const first = d.first;
    this.#forget(k, d);
    // The whole packet as it would have come unfragmented (ICMP errors quote its start).
    const v4 = isV4(first.src);
    const ihl = v4 ? first.raw.length - first.payload.length : IPV6_HEADER_SIZE;
    const raw = new Uint8Array(ihl + payload.length);
    raw.set(first.raw.subarray(0, ihl));
    raw.set(payload, ihl);
    const v = new DataView(raw.buffer);
    if (v4) {
      v.setUint16(2, raw.length);
      v.setUint16(6, 0);
      v.setUint16(10, 0);
      v.setUint16(10, checksum(raw.subarray(0, ihl)));
    } else {
      v.setUint16(4, payload.length);
      raw[6] = first.protocol;
    }
    return { ...first, payload: raw.subarray(ihl), raw, fragment: undefined };
  }

  #drop(k: string): void {
    const d = this.#pending.get(k);
    if (!d) return;
    this.dropped++;
    this.#forget(k, d);
  }

  #forget(k: string, d: Datagram): void {
    clearTimeout(d.timer);
    this.#held -= d.held;
    this.#pending.delete(k);
  }

  /** Stops every timer (the stack is going away). */
  close(): void {
    for (const [k, d] of this.#pending) this.#forget(k, d);
  }
}
