/**
 * The interface ioctls every socket answers (Linux's dev_ioctl): SIOCGIFCONF, SIOCGIFNAME,
 * SIOCGIFINDEX, SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFBRDADDR, SIOCGIFMTU,
 * SIOCGIFHWADDR, SIOCGIFTXQLEN, from the stack's interfaces. Setting anything is EPERM.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { isV4, v4Bytes } from "./address.ts";
import type { NIC } from "./nic.ts";
import type { Stack } from "./stack.ts";

const SIOCGIFNAME = 0x8910, SIOCGIFCONF = 0x8912, SIOCGIFFLAGS = 0x8913;
const SIOCGIFADDR = 0x8915, SIOCGIFBRDADDR = 0x8919, SIOCGIFNETMASK = 0x891b;
const SIOCGIFMTU = 0x8921, SIOCGIFHWADDR = 0x8927, SIOCGIFINDEX = 0x8933;
const SIOCGIFTXQLEN = 0x8942;
/** The requests that change an interface: SIOCSIFFLAGS...SIOCSIFTXQLEN and friends. */
const SETTERS = new Set([0x8914, 0x8916, 0x8918, 0x891a, 0x891c, 0x8922, 0x8924, 0x8943]);
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;
const AF_INET = 2;

function nameOf(req: Uint8Array): string {
  const raw = req.subarray(0, IFNAMSIZ);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
}

function sockaddrIn(addr: Uint8Array): Uint8Array {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint16(0, AF_INET, true);
  b.set(addr, 4);
  return b;
}

function netmask(prefixLen: number): Uint8Array {
  const m = new Uint8Array(4);
  for (let i = 0; i < prefixLen; i++) m[i >> 3] |= 0x80 >> (i & 7);
  return m;
}

function ipv4Of(nic: NIC) {
  return nic.addresses.find((a) => isV4(a.addr)) ?? null;
}

/** Answers an interface ioctl, or returns null when request is not one. */
export function interfaceIoctl(t: Task, stack: Stack, request: number, arg: bigint): number | null {
  if (SETTERS.has(request)) throw new SysError(Errno.EPERM);
  if (request === SIOCGIFCONF) {
    const hdr = new DataView(t.mm.copyIn(arg, 16).buffer);
    const len = hdr.getInt32(0, true);
    const buf = hdr.getBigUint64(8, true);
    const entries: Uint8Array[] = [];
    for (const nic of stack.nics) {
      const a = ipv4Of(nic);
      if (!a) continue;
      const r = new Uint8Array(IFREQ_SIZE);
      r.set(new TextEncoder().encode(nic.name).subarray(0, IFNAMSIZ - 1));
      r.set(sockaddrIn(v4Bytes(a.addr)), IFNAMSIZ);
      entries.push(r);
    }
    if (buf === 0n) {
      t.mm.writeU32(arg, entries.length * IFREQ_SIZE);
      return 0;
    }
    if (len < 0) throw new SysError(Errno.EINVAL);
    const fit = Math.min(entries.length, Math.floor(len / IFREQ_SIZE));
    for (let i = 0; i < fit; i++) t.mm.copyOut(buf + BigInt(i * IFREQ_SIZE), entries[i]);
    t.mm.writeU32(arg, fit * IFREQ_SIZE);
    return 0;
  }
  const known = [
    SIOCGIFNAME,
    SIOCGIFFLAGS,
    SIOCGIFADDR,
    SIOCGIFBRDADDR,
    SIOCGIFNETMASK,
    SIOCGIFMTU,
    SIOCGIFHWADDR,
    SIOCGIFINDEX,
    SIOCGIFTXQLEN,
  ];
  if (!known.includes(request)) return null;
  const req = t.mm.copyIn(arg, IFREQ_SIZE);
  const v = new DataView(req.buffer);
  let nic: NIC | undefined;
  if (request === SIOCGIFNAME) {
    const index = v.getInt32(IFNAMSIZ, true);
    nic = stack.nics.find((n) => n.index === index);
    if (!nic) throw new SysError(Errno.ENODEV);
    req.fill(0, 0, IFNAMSIZ);
    req.set(new TextEncoder().encode(nic.name).subarray(0, IFNAMSIZ - 1));
    t.mm.copyOut(arg, req);
    return 0;
  }
  const name = nameOf(req);
  nic = stack.nics.find((n) => n.name === name);
  if (!nic) throw new SysError(Errno.ENODEV);
  const out = req.subarray(IFNAMSIZ);
  out.fill(0);
  const a = ipv4Of(nic);
  switch (request) {
    case SIOCGIFINDEX:
      v.setInt32(IFNAMSIZ, nic.index, true);
      break;
    case SIOCGIFFLAGS:
      v.setInt16(IFNAMSIZ, nic.flags & 0xffff, true);
      break;
    case SIOCGIFMTU:
      v.setInt32(IFNAMSIZ, nic.link.mtu, true);
      break;
    case SIOCGIFTXQLEN:
      v.setInt32(IFNAMSIZ, 1000, true);
      break;
    case SIOCGIFHWADDR:
      v.setUint16(IFNAMSIZ, nic.link.arpType, true);
      out.set(nic.link.hardwareAddress, 2);
      break;
    case SIOCGIFADDR:
    case SIOCGIFNETMASK:
    case SIOCGIFBRDADDR:
      if (!a) throw new SysError(Errno.EADDRNOTAVAIL);
      out.set(
        sockaddrIn(
          request === SIOCGIFADDR
            ? v4Bytes(a.addr)
            : request === SIOCGIFNETMASK
            ? netmask(a.prefixLen - 96)
            : new Uint8Array(4),
        ),
      );
      break;
  }
  t.mm.copyOut(arg, req);
  return 0;
}
