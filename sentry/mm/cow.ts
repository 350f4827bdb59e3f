/**
 * Copy-on-write after fork: a memory file range that several address spaces map read-only
 * until one of them writes to it.
 *
 * The unit is the VMA: a write to a VMA that still shares its pages copies that VMA's pages
 * that hold data (holes stay holes); a VMA that finds nobody else mapping its part of the
 * range takes that part over without copying. The range returns to the memory file when its
 * last user goes, less the parts users took over (their owners free them).
 *
 * @module
 */

import type { MemoryFile } from "./memory_file.ts";

/** What a VMA needs for copy-on-write: its place in the memory file. */
export interface CowUser {
  start: bigint;
  end: bigint;
  fileOffset: bigint;
}

export class CowRange {
  /** VMAs (of any address space) that map part of the range and may not write to it. */
  readonly users = new Set<CowUser>();
  /** Parts taken over by a VMA that became the only one mapping them. */
  #claimed: [bigint, bigint][] = [];
  #released = false;

  constructor(readonly mf: MemoryFile, readonly off: bigint, readonly len: bigint) {}

  /** True if another user maps any byte that u maps. */
  sharedWithOthers(u: CowUser): boolean {
    const a = u.fileOffset;
    const b = u.fileOffset + (u.end - u.start);
    for (const o of this.users) {
      if (o === u) continue;
      const c = o.fileOffset;
      const d = o.fileOffset + (o.end - o.start);
      if (c < b && a < d) return true;
    }
    return false;
  }

  /** u leaves having taken over its part of the range (it frees it itself later). */
  claim(u: CowUser): void {
    this.#claimed.push([u.fileOffset, u.fileOffset + (u.end - u.start)]);
    this.leave(u);
  }

  /** u no longer maps the range; the last one out returns what nobody took over. */
  leave(u: CowUser): void {
    this.users.delete(u);
    if (this.users.size > 0 || this.#released) return;
    this.#released = true;
    const claimed = this.#claimed.sort((x, y) => (x[0] < y[0] ? -1 : 1));
    let pos = this.off;
    const end = this.off + this.len;
    for (const [s, e] of claimed) {
      if (s > pos) this.mf.free(pos, s - pos);
      if (e > pos) pos = e;
    }
    if (pos < end) this.mf.free(pos, end - pos);
  }
}
