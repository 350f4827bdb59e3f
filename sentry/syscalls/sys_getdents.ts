/**
 * Directory listing: getdents64(2) and getdents(2).
 *
 * A listing is packed into records once and kept with the entries array it came from (a
 * WeakMap, so it goes when the array does): inodes that cache their listing (the gofer's, with
 * exclusive access) hand out the same array at every open, and each call is then one copy of
 * the records that fit.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import type { DirEntry } from "../vfs/inode.ts";
import { accessOk, argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { encodeBytes } from "../../host/utf8b.ts";
import type { SyscallDef } from "./table.ts";
import { Dirent64, LinuxDirent } from "../../abi/linux/file.ts";

const NON_ASCII = /[\u0080-\uffff]/;

const D_INO = Dirent64.offsetOf("ino");
const D_OFF = Dirent64.offsetOf("off");
const D_RECLEN = Dirent64.offsetOf("reclen");
const D_TYPE = Dirent64.offsetOf("type");

/** The most one call lists; Linux has no limit, but copying more at once gains nothing. */
const MAX_COUNT = 1 << 20;

/** A list's entries as records back to back; record i spans starts[i] to starts[i + 1]. */
interface Packed {
  bytes: Uint8Array;
  starts: Uint32Array;
  /** What the offsets in the records were computed from. */
  base: number;
}

/** Packed lists by layout: [0] the 64-bit one, [1] the old one. */
const packedLists = new WeakMap<readonly DirEntry[], [Packed?, Packed?]>();

/**
 * Records for list in the 64-bit layout: ino (8), d_off (8), reclen (2), type (1), the name
 * and a NUL; in the old one (getdents): ino, d_off, reclen, the name, a NUL and the type in the
 * record's last byte. Each is padded with zeros to 8 bytes.
 */
function pack(list: readonly DirEntry[], base: number, old: boolean): Packed {
  const head = old ? LinuxDirent.size : Dirent64.size;
  const tail = old ? 2 : 1;
  // Most names are ASCII, written a character a byte; only the others are encoded.
  const names = list.map((e) => NON_ASCII.test(e.name) ? encodeBytes(e.name) : null);
  const starts = new Uint32Array(list.length + 1);
  let size = 0;
  for (let i = 0; i < list.length; i++) {
    starts[i] = size;
    size += (head + (names[i]?.length ?? list[i].name.length) + tail + 7) & ~7;
  }
  starts[list.length] = size;
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < list.length; i++) {
    const o = starts[i];
    const reclen = starts[i + 1] - o;
    const next = base + i + 1;
    // The fields sit at the same offsets in both layouts; d_off is written as two halves so
    // that packing a large listing makes no BigInt per record.
    v.setBigUint64(o + D_INO, list[i].ino, true);
    v.setUint32(o + D_OFF, next >>> 0, true);
    v.setUint32(o + D_OFF + 4, Math.floor(next / 0x1_0000_0000), true);
    v.setUint16(o + D_RECLEN, reclen, true);
    const encoded = names[i];
    if (encoded) bytes.set(encoded, o + head);
    else {
      const name = list[i].name;
      for (let j = 0; j < name.length; j++) bytes[o + head + j] = name.charCodeAt(j);
    }
    bytes[old ? o + reclen - 1 : o + D_TYPE] = list[i].type;
  }
  return { bytes, starts, base };
}

function packed(list: readonly DirEntry[], base: number, old: boolean): Packed {
  let layouts = packedLists.get(list);
  if (!layouts) packedLists.set(list, layouts = [undefined, undefined]);
  const k = old ? 1 : 0;
  let p = layouts[k];
  if (p?.base !== base) layouts[k] = p = pack(list, base, old);
  return p;
}

/**
 * Implements Linux syscalls getdents64(2) and, with old, getdents(2): as many whole records as
 * fit in count bytes, EINVAL when entries remain but not one fits.
 */
function getdentsCommon(t: Task, old: boolean): number {
  const f = t.fdTable.get(argInt(t, 0));
  const addr = argPtr(t, 1);
  const count = Math.min(argU32(t, 2), MAX_COUNT);
  accessOk(t, addr, BigInt(count));
  let written = 0;
  let offered = false;
  f.iterDirents(t, (list, from, base) => {
    if (from >= list.length) return from;
    offered = true;
    const { bytes, starts } = packed(list, base, old);
    // The last record that ends within the room left.
    const limit = starts[from] + count - written;
    let lo = from;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= limit) lo = mid;
      else hi = mid - 1;
    }
    if (lo > from) {
      t.mm.copyOut(addr + BigInt(written), bytes.subarray(starts[from], starts[lo]));
      written += starts[lo] - starts[from];
    }
    return lo;
  });
  if (written === 0 && offered) throw new SysError(Errno.EINVAL);
  return written;
}

export const syscalls: Record<string, SyscallDef> = {
  getdents64: { handler: (t) => getdentsCommon(t, false), args: ["d", "x", "d"] },
  getdents: { handler: (t) => getdentsCommon(t, true), args: ["d", "x", "d"] },
};
