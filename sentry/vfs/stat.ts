/**
 * struct stat and struct statx (x86-64 layouts) from file attributes.
 *
 * @module
 */

import type { Attr } from "./inode.ts";

export const STAT_SIZE = 144;
export const STATX_SIZE = 256;

/** Encodes attributes as the 144-byte struct stat that fstat(2) copies out. */
export function encodeStat(s: Attr): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(STAT_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, s.dev, true);
  v.setBigUint64(8, s.ino, true);
  v.setBigUint64(16, BigInt(s.nlink), true);
  v.setUint32(24, s.mode, true);
  v.setUint32(28, s.uid, true);
  v.setUint32(32, s.gid, true);
  v.setBigUint64(40, BigInt(s.rdev), true);
  v.setBigInt64(48, s.size, true);
  v.setBigInt64(56, BigInt(s.blksize), true);
  v.setBigInt64(64, s.blocks, true);
  [s.atimeNs, s.mtimeNs, s.ctimeNs].forEach((ns, i) => {
    v.setBigInt64(72 + i * 16, ns / 1_000_000_000n, true);
    v.setBigInt64(80 + i * 16, ns % 1_000_000_000n, true);
  });
  return b;
}

/** STATX_BASIC_STATS: what every statx answer here fills. */
export const STATX_BASIC_STATS = 0x7ff;

/** Encodes attributes as struct statx (256 bytes). */
export function encodeStatx(s: Attr, mntId = 0): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(STATX_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, STATX_BASIC_STATS | 0x1000, /* STATX_MNT_ID */ true);
  v.setUint32(4, s.blksize, true);
  v.setBigUint64(8, 0n, true); // attributes
  v.setUint32(16, s.nlink, true);
  v.setUint32(20, s.uid, true);
  v.setUint32(24, s.gid, true);
  v.setUint16(28, s.mode, true);
  v.setBigUint64(32, s.ino, true);
  v.setBigUint64(40, s.size, true);
  v.setBigUint64(48, s.blocks, true);
  v.setBigUint64(56, 0n, true); // attributes_mask
  const ts = (o: number, ns: bigint) => {
    v.setBigInt64(o, ns / 1_000_000_000n, true);
    v.setUint32(o + 8, Number(ns % 1_000_000_000n), true);
  };
  ts(64, s.atimeNs);
  ts(80, s.ctimeNs); // btime: not kept, report ctime
  ts(96, s.ctimeNs);
  ts(112, s.mtimeNs);
  const major = (d: bigint) => Number((d >> 8n) & 0xfffn);
  const minor = (d: bigint) => Number((d & 0xffn) | ((d >> 12n) & 0xfff00n));
  v.setUint32(128, major(BigInt(s.rdev)), true);
  v.setUint32(132, minor(BigInt(s.rdev)), true);
  v.setUint32(136, major(s.dev), true);
  v.setUint32(140, minor(s.dev), true);
  v.setBigUint64(144, BigInt(mntId), true);
  return b;
}
