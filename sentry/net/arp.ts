/**
 * ARP (RFC 826) for IPv4 over Ethernet: answers requests for the interface's addresses,
 * solicits next hops for the neighbour cache and learns from the answers.
 *
 * Every ARP packet comes from a peer that controls it: its lengths and types are checked
 * before any field is read, and a sender address that is not a unicast host is ignored.
 *
 * @module
 */

import { type IPAddress, isV4, v4Bytes, v4Mapped } from "./address.ts";

export const ETH_P_ARP = 0x0806;
const ARPHRD_ETHER = 1;
const ETH_P_IP = 0x0800;
const ARPOP_REQUEST = 1;
const ARPOP_REPLY = 2;
/** Ethernet/IPv4 ARP: 8 bytes of header, two 6-byte hardware and two 4-byte addresses. */
export const ARP_SIZE = 28;

/** One Ethernet/IPv4 ARP packet. */
export interface ARPPacket {
  op: number;
  senderMAC: Uint8Array;
  senderIP: IPAddress;
  targetMAC: Uint8Array;
  targetIP: IPAddress;
}

/** Parses an Ethernet/IPv4 ARP packet; null for anything else or a short one. */
export function decodeARP(b: Uint8Array): ARPPacket | null {
  if (b.length < ARP_SIZE) return null;
  const htype = (b[0] << 8) | b[1], ptype = (b[2] << 8) | b[3];
  if (htype !== ARPHRD_ETHER || ptype !== ETH_P_IP || b[4] !== 6 || b[5] !== 4) return null;
  const op = (b[6] << 8) | b[7];
  if (op !== ARPOP_REQUEST && op !== ARPOP_REPLY) return null;
  return {
    op,
    senderMAC: b.slice(8, 14),
    senderIP: v4Mapped(b.subarray(14, 18)),
    targetMAC: b.slice(18, 24),
    targetIP: v4Mapped(b.subarray(24, 28)),
  };
}

/** Builds an ARP packet. */
export function encodeARP(p: ARPPacket): Uint8Array {
  const b = new Uint8Array(ARP_SIZE);
  b.set([0, ARPHRD_ETHER, ETH_P_IP >> 8, ETH_P_IP & 0xff, 6, 4, 0, p.op]);
  b.set(p.senderMAC.subarray(0, 6), 8);
  b.set(v4Bytes(p.senderIP), 14);
  b.set(p.targetMAC.subarray(0, 6), 18);
  b.set(v4Bytes(p.targetIP), 24);
  return b;
}

/** A request for target from the interface's sender address. */
export function arpRequest(mac: Uint8Array, sender: IPAddress, target: IPAddress): Uint8Array {
  return encodeARP({
    op: ARPOP_REQUEST,
    senderMAC: mac,
    senderIP: sender,
    targetMAC: new Uint8Array(6),
    targetIP: target,
  });
}

/** Whether p is a request (an answer is owed when its target is ours). */
export function isRequest(p: ARPPacket): boolean {
  return p.op === ARPOP_REQUEST;
}

/** The reply to request p from mac, which holds p.targetIP. */
export function arpReply(p: ARPPacket, mac: Uint8Array): Uint8Array {
  return encodeARP({
    op: ARPOP_REPLY,
    senderMAC: mac,
    senderIP: p.targetIP,
    targetMAC: p.senderMAC,
    targetIP: p.senderIP,
  });
}

/** Whether an IPv4 address may name a neighbour: not 0.0.0.0/8, multicast or broadcast. */
export function isUnicastHost(a: IPAddress): boolean {
  if (!isV4(a)) return false;
  const first = a[12];
  if (first === 0 || first >= 224) return false;
  return true;
}
