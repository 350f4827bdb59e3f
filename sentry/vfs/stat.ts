/**
 * struct stat (x86-64 layout) from file attributes.
 *
 * @module
 */

import type { Stat } from "../../gofer/lisafs/client.ts";

export const STAT_SIZE = 144;

/** Encodes attributes as the 144-byte struct stat that fstat(2) copies out. */
export function encodeStat(s: Stat, dev: bigint = s.dev): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(STAT_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, dev, true);
  v.setBigUint64(8, s.ino, true);
  v.setBigUint64(16, BigInt(s.nlink), true);
  v.setUint32(24, s.mode, true);
  v.setUint32(28, s.uid, true);
  v.setUint32(32, s.gid, true);
  v.setBigUint64(40, BigInt(s.rdev), true);
  v.setBigInt64(48, BigInt(s.size), true);
  v.setBigInt64(56, BigInt(s.blksize), true);
  v.setBigInt64(64, BigInt(s.blocks), true);
  const times = [s.atimeNs, s.mtimeNs, s.ctimeNs];
  times.forEach((ns, i) => {
    v.setBigInt64(72 + i * 16, ns / 1_000_000_000n, true);
    v.setBigInt64(80 + i * 16, ns % 1_000_000_000n, true);
  });
  return b;
}
