/**
 * An application address space on the KVM platform: one page-table tree whose user half maps
 * memory-file pages, and whose kernel half is the machine's, shared by every tree.
 *
 * @module
 */

import type { AddressSpace } from "../platform.ts";
import type { Machine } from "./machine.ts";
import { PageTables } from "./page_tables.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "../platform.ts";
import type { Vcpu } from "./machine.ts";
import { KERNEL_BASE, MMIO_PHYS, PAGE } from "./ring0.ts";

/** Implements AddressSpace for KVM: mapFile and unmap only write page-table entries. */
export class KvmAddressSpace implements AddressSpace {
  readonly tables: PageTables;
  #released = false;

  constructor(readonly machine: Machine) {
    this.tables = new PageTables(machine.mem);
    this.tables.share(Number(KERNEL_BASE & 0xffff_ffff_ffffn), machine.kernelPdpt);
  }

  /**
   * The save page of each vCPU that ran here. A save page holds a task's registers between
   * its trampoline and the Sentry, and the application can write it (it runs at CPL3 like
   * the trampoline). Were it one page per vCPU, shared by every address space the vCPU ran,
   * a process could read and rewrite the registers of another process's task that runs on
   * that vCPU later; one page per (address space, vCPU) leaves a process only its own.
   */
  #saves = new Map<
    number,
    { page: number; words: BigUint64Array<ArrayBuffer>; frame: BigUint64Array<ArrayBuffer> }
  >();

  /**
   * Maps v's trampoline, save page and MMIO page here (once), and points v.userSave at this
   * address space's save page for it.
   */
  enterVcpu(v: Vcpu): void {
    let save = this.#saves.get(v.id);
    if (!save) {
      const page = this.machine.mem.allocatePage();
      const mem = this.machine.mem;
      save = { page, words: mem.words(page, 27), frame: mem.words(page, PAGE / 8) };
      this.#saves.set(v.id, save);
      const base = Number(v.userPages);
      this.tables.map(base, PAGE, this.machine.trampolinePage, PROT_READ | PROT_EXEC);
      this.tables.map(base + PAGE, PAGE, page, PROT_READ | PROT_WRITE);
      this.tables.map(base + 2 * PAGE, PAGE, Number(MMIO_PHYS), PROT_READ | PROT_WRITE);
    }
    v.userSave = save.words;
    v.userFrame = save.frame;
  }

  /** Implements AddressSpace.mapFile: guest physical addresses are memory-file offsets. */
  mapFile(addr: bigint, length: bigint, fileOffset: bigint, prot: number): void {
    this.tables.map(Number(addr), Number(length), Number(fileOffset), prot);
    this.#shootDown();
  }

  /** Implements AddressSpace.unmap. */
  unmap(addr: bigint, length: bigint): void {
    this.tables.unmap(Number(addr), Number(length));
    this.#shootDown();
  }

  /**
   * When entries changed while vCPUs run on runner threads, KVM's shadows go now, before the
   * caller reuses what was unmapped; otherwise the next switch drops them (context.ts).
   */
  #shootDown(): void {
    const t = this.tables;
    if (t.zappedGeneration === t.generation || this.machine.runners.busy === 0) return;
    this.machine.zapShadowTables();
    t.zappedGeneration = t.generation;
  }

  /** Implements AddressSpace.release: the tree's pages go back to the memory file. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.machine.forgetTables(this.tables);
    this.machine.retireTablePages(this.tables.release());
    for (const { page } of this.#saves.values()) this.machine.mem.freePage(page);
    this.#saves.clear();
  }
}
