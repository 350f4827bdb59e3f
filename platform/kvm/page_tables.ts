/**
 * x86-64 4-level page tables kept in memory-file pages. Guest physical addresses are memory
 * file offsets (machine.ts registers the whole file as guest memory), so a page-table entry
 * holds the offset of the page it maps.
 *
 * Tables are edited as pairs of 32-bit words (low word: address bits 12-31 and flags; high
 * word: address bits 32-51 and NX) to keep BigInt out of the per-page loop.
 *
 * @module
 */

import { PAGE_SIZE as PAGE, PROT_EXEC, PROT_WRITE } from "../../abi/linux/mm.ts";
import type { PhysicalMemory } from "./physical.ts";

const P = 1, W = 2, U = 4, A = 0x20, D = 0x40, G = 0x100;
const NX_HI = 0x8000_0000;
/** Intermediate entries allow everything; the leaf decides. */
const TABLE_FLAGS = P | W | U | A;
const TWO32 = 0x1_0000_0000;

/**
 * Whether a present leaf entry (oldLo, oldHi) changing to (newLo, newHi) takes something
 * away: another page, or write, user or execute rights.
 */
function narrows(oldLo: number, oldHi: number, newLo: number, newHi: number): boolean {
  if (!(newLo & P)) return true;
  if ((oldLo & ~0xfff) !== (newLo & ~0xfff) || (oldHi & ~NX_HI) !== (newHi & ~NX_HI)) return true;
  if (oldLo & W && !(newLo & W)) return true;
  if (oldLo & U && !(newLo & U)) return true;
  return !(oldHi & NX_HI) && (newHi & NX_HI) !== 0;
}

/** Index of the level-`level` table entry for va (level 3: PML4 ... level 0: PT). */
function index(va: number, level: number): number {
  return Math.floor(va / 2 ** (12 + 9 * level)) % 512;
}

/** A tree of page tables rooted at a PML4. */
export class PageTables {
  readonly root: number;
  /** Table pages allocated under the root for the user half (the kernel half is shared). */
  #pages: number[] = [];
  /**
   * Bumped whenever a present entry is removed, or changed to another page or to fewer
   * rights: the guest's cached translations (TLB, and KVM's shadows of the tables) must be
   * dropped before the tree runs again. Entries added, or given more rights over the same
   * page, need nothing: a cached translation that allows less only faults, and the fault
   * makes KVM walk the tables again (as a CPU's TLB miss would).
   */
  generation = 0;
  /** The generation at which KVM last dropped its shadows of these tables (machine.ts). */
  zappedGeneration = 0;

  constructor(readonly mem: PhysicalMemory, root?: number) {
    this.root = root ?? this.#newTable();
  }

  #newTable(): number {
    const p = this.mem.allocatePage();
    this.#pages.push(p);
    return p;
  }

  /** The leaf table (PT) for va, creating missing levels when `create`; null if absent. */
  #leafTable(va: number, create: boolean): Uint32Array | null {
    let table = this.root;
    for (let level = 3; level > 0; level--) {
      const t = this.mem.table(table);
      const i = index(va, level) * 2;
      if ((t[i] & P) === 0) {
        if (!create) return null;
        const next = this.#newTable();
        t[i] = (next % TWO32) | TABLE_FLAGS;
        t[i + 1] = Math.floor(next / TWO32);
      }
      table = (t[i] & ~0xfff) >>> 0;
      table += t[i + 1] * TWO32;
    }
    return this.mem.table(table);
  }

  /**
   * Maps [va, va+length) to physical [phys, phys+length) with prot (PROT_*). `kernel` pages
   * are global and, unless `user` too, supervisor-only. PROT_NONE leaves them not present.
   */
  map(
    va: number,
    length: number,
    phys: number,
    prot: number,
    kernel = false,
    user = !kernel,
  ): void {
    if (prot === 0) return this.unmap(va, length);
    let lo = P | A | (prot & PROT_WRITE ? D : 0) | (kernel ? G : 0) | (user ? U : 0);
    if (prot & PROT_WRITE) lo |= W;
    const nx = prot & PROT_EXEC ? 0 : NX_HI;
    const end = va + length;
    let dirty = false;
    while (va < end) {
      const t = this.#leafTable(va, true)!;
      const first = index(va, 0);
      const n = Math.min(512 - first, (end - va) / PAGE);
      for (let j = 0; j < n; j++, phys += PAGE) {
        const i = (first + j) * 2;
        const newLo = ((phys % TWO32) | lo) >>> 0;
        const newHi = (Math.floor(phys / TWO32) | nx) >>> 0;
        if (t[i] & P && narrows(t[i], t[i + 1], newLo, newHi)) dirty = true;
        t[i] = newLo;
        t[i + 1] = newHi;
      }
      va += n * PAGE;
    }
    if (dirty) this.generation++;
  }

  /** Removes every mapping in [va, va+length). */
  unmap(va: number, length: number): void {
    const end = va + length;
    let dirty = false;
    while (va < end) {
      const t = this.#leafTable(va, false);
      const first = index(va, 0);
      const n = Math.min(512 - first, (end - va) / PAGE);
      if (t) {
        for (let j = 0; j < n; j++) {
          const i = (first + j) * 2;
          if (t[i] & P) dirty = true;
          t[i] = 0;
          t[i + 1] = 0;
        }
      }
      va += n * PAGE;
    }
    if (dirty) this.generation++;
  }

  /** Points the PML4 entry for va (a kernel-half entry) at a table shared between trees. */
  share(va: number, table: number): void {
    const t = this.mem.table(this.root);
    const i = index(va, 3) * 2;
    t[i] = (table % TWO32) | P | W | A;
    t[i + 1] = Math.floor(table / TWO32);
  }

  /**
   * Gives up the tree: returns every table page it allocated, for the caller to free once
   * no translation cached from them can be used (Machine.retireTablePages).
   */
  release(): number[] {
    const pages = this.#pages;
    this.#pages = [];
    return pages;
  }
}
