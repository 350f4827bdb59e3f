/**
 * Guest physical memory: the memory file, mapped once more into the Sentry for KVM.
 *
 * KVM needs the host address of the memory it backs the guest with; the platform maps the
 * memory file itself rather than reach into MemoryFile's own mapping, so that it owns (and
 * unmaps) what it registered. Both mappings are MAP_SHARED views of the same memfd, so what
 * the Sentry copies in through MemoryFile is what the guest sees, and hole punching in the
 * memory file reaches KVM through the host's MMU notifiers.
 *
 * @module
 */

import { address, mapShared, unmap, view } from "../../host/mman.ts";
import { PAGE_SIZE as PAGE } from "../../abi/linux/mm.ts";
import type { MemoryFile } from "../../sentry/mm/memory_file.ts";

export class PhysicalMemory {
  readonly base: Deno.PointerObject;
  readonly size: bigint;
  #tables = new Map<number, Uint32Array<ArrayBuffer>>();
  #released = false;

  constructor(readonly mf: MemoryFile) {
    this.size = mf.size;
    this.base = mapShared(mf.fd, mf.size);
  }

  /** Host address of guest physical address 0. */
  get hostAddress(): bigint {
    return address(this.base);
  }

  /** A zeroed page of the memory file, for kernel structures or page tables. */
  allocatePage(): number {
    return Number(this.mf.allocate(BigInt(PAGE)));
  }

  freePage(phys: number): void {
    this.#tables.delete(phys);
    this.mf.free(BigInt(phys), BigInt(PAGE));
  }

  /** The page at phys as 1024 32-bit words (a page table: 512 entries as low/high pairs). */
  table(phys: number): Uint32Array<ArrayBuffer> {
    let t = this.#tables.get(phys);
    if (!t) {
      t = new Uint32Array(view(this.base, PAGE, phys).buffer);
      this.#tables.set(phys, t);
    }
    return t;
  }

  /** Bytes [phys, phys+length). Precondition: inside the memory file. */
  bytes(phys: number, length: number): Uint8Array<ArrayBuffer> {
    return view(this.base, length, phys);
  }

  /** 64-bit words [phys, phys+8*words). */
  words(phys: number, words: number): BigUint64Array<ArrayBuffer> {
    return new BigUint64Array(view(this.base, words * 8, phys).buffer);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#tables.clear();
    unmap(this.base, this.size);
  }
}
