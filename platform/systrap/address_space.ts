/**
 * A Systrap address space: a ptrace-platform stub process (its control thread stays traced,
 * makes the address-space changes in batches from its own registers and is killed with the
 * Sentry) whose application threads are let go of once they have installed their own filter
 * and signal stack, and then talk to the Sentry only through their regions.
 *
 * @module
 */

import { tgkill } from "../../host/ptrace.ts";
import { errnoName } from "../../abi/linux/errno.ts";
import { futexWake, mappedAddress } from "../../host/systrap.ts";
import type { MemoryFile } from "../../sentry/mm/memory_file.ts";
import { STUB_MAP_FLAGS, STUB_MEMORY_FD } from "../ptrace/stub.ts";
import { SYS } from "../../abi/linux/syscalls.ts";
import { type StubHost, Subprocess, type ThreadTimes } from "../ptrace/subprocess.ts";
import {
  ALTSTACK_OFFSET,
  AREA_BASE,
  CODE,
  CTL,
  MAX_REGIONS,
  REGION,
  setupStepName,
  STATE,
  SYSTRAP_CLONE_FLAGS,
} from "./stub.ts";
import { Doorbell } from "./doorbell.ts";
import { PROT_READ, PROT_WRITE } from "../../abi/linux/mm.ts";

const PROT_RW = PROT_READ | PROT_WRITE;

/** Idle threads kept per address space for reuse (as the ptrace platform keeps). */
const MAX_IDLE_THREADS = 8;

/** One region of memory, mapped both in the Sentry (through the memory file) and the stub. */
export interface Region {
  /** The memory file offset. */
  offset: bigint;
  /** Its address in the stub. */
  addr: bigint;
  /** The Sentry's view of it. */
  view: Uint8Array<ArrayBuffer>;
  /** The same bytes, for reading and writing words. */
  dv: DataView<ArrayBuffer>;
  i32: Int32Array<ArrayBuffer>;
  /** Every word of it, 32 bits at a time (the Sentry reads 64-bit words in halves). */
  u32: Uint32Array<ArrayBuffer>;
  /** `addr`'s halves. */
  addrLow: number;
  addrHigh: number;
  /** The Sentry's address of its first byte (for futex calls). */
  hostAddr: bigint;
}

/** An application thread of the stub, with its region. */
export interface StubThread {
  readonly space: SystrapSpace;
  readonly tid: number;
  readonly region: Region;
  /** CPU time it had used when its current task took it. */
  times: ThreadTimes;
  /** Whether it has reached its handler once since it was let go of. */
  parked: boolean;
}

/** Implements AddressSpace for Systrap. */
export class SystrapSpace extends Subprocess {
  readonly doorbell: Doorbell;
  readonly #mf: MemoryFile;
  #regions: Region[] = [];
  #idle: StubThread[] = [];
  /** Threads told to end, whose regions are reused once they have. */
  #ended: StubThread[] = [];
  #nextRegion = 1;
  #dead = false;

  constructor(host: StubHost, mf: MemoryFile) {
    super(host);
    this.#mf = mf;
    try {
      // The signal handlers are set by each thread's own set-up (stub.ts): no injection here.
      this.doorbell = new Doorbell(this, this.#mapRegion(0));
    } catch (e) {
      this.release();
      throw e;
    }
  }

  /** Maps region `i` in the stub, backed by a new piece of the memory file. */
  #mapRegion(i: number): Region {
    if (i >= MAX_REGIONS) throw new Error("systrap: no room for another stub thread");
    const len = BigInt(REGION);
    let offset = this.#mf.allocate(len);
    let view = this.#mf.slice(offset, REGION);
    if (view === null) {
      // It straddles two of the Sentry's views of the file: take the next piece.
      const straddling = offset;
      offset = this.#mf.allocate(len);
      this.#mf.free(straddling, len);
      view = this.#mf.slice(offset, REGION);
      if (view === null) throw new Error("systrap: region not contiguous");
    }
    const addr = AREA_BASE + BigInt(i) * len;
    const r = this.inject(
      SYS.mmap,
      addr,
      len,
      BigInt(PROT_RW),
      BigInt(STUB_MAP_FLAGS),
      BigInt(STUB_MEMORY_FD),
      offset,
    );
    if (r !== addr) throw new Error(`systrap: mapping region ${i} in the stub failed: ${r}`);
    const v = view as Uint8Array<ArrayBuffer>;
    const region: Region = {
      offset,
      addr,
      view: v,
      dv: new DataView(v.buffer, v.byteOffset, REGION),
      i32: new Int32Array(v.buffer, v.byteOffset, 2),
      u32: new Uint32Array(v.buffer, v.byteOffset, REGION / 4),
      addrLow: Number(addr & 0xffff_ffffn),
      addrHigh: Number(addr >> 32n),
      hostAddr: mappedAddress(v),
    };
    this.#regions.push(region);
    return region;
  }

  /**
   * A stub thread for a task, stopped in its handler and ready for a switch: a thread a
   * finished task left, or a new one. A new one is cloned untraced by the control thread,
   * runs its own set-up (signal handlers, alternate stack, then its filter) and parks (see
   * StubThread.parked), or ends and says why (setupFailure).
   */
  newStubThread(): StubThread {
    const idle = this.#idle.pop();
    if (idle) return idle;
    const region = this.#reusableRegion() ?? this.#mapRegion(this.#nextRegion++);
    const v = region.dv;
    // stack_t: the rest of the region after its control page.
    v.setBigUint64(CTL.altstack, region.addr + BigInt(ALTSTACK_OFFSET), true);
    v.setInt32(CTL.altstack + 8, 0, true);
    v.setBigUint64(CTL.altstack + 16, BigInt(REGION - ALTSTACK_OFFSET), true);
    v.setBigUint64(CTL.setupStep, 0n, true);
    Atomics.store(region.i32, CTL.state / 4, STATE.running);
    // One stop of the control thread: the new thread is untraced from its first instruction.
    const tid = Number(this.cloneAt(CODE.cloneAt, region.addr, SYSTRAP_CLONE_FLAGS));
    if (tid <= 0) throw new Error(`systrap: stub thread clone failed: ${tid}`);
    // It parks on its own: the first switch waits for that like for any stop.
    return { space: this, tid, region, times: this.watchTimes(tid), parked: false };
  }

  /**
   * Why `t` ended in its set-up, as it left it in its region (for messages only: any thread
   * of the address space can write there), or null if it did not say.
   */
  setupFailure(t: StubThread): string | null {
    const step = Number(t.region.dv.getBigUint64(CTL.setupStep, true) & 0xffn);
    if (step === 0) return null;
    const r = BigInt.asIntN(64, t.region.dv.getBigUint64(CTL.setupResult, true));
    const errno = r < 0n && r > -4096n ? errnoName(Number(-r)) : String(r);
    return `${setupStepName(step)} failed: ${errno}`;
  }

  /** Whether the host thread still exists. */
  alive(t: StubThread): boolean {
    return !this.#dead && tgkill(this.pid, t.tid, 0);
  }

  /** Sends the thread a host signal (preemption). */
  signal(t: StubThread, sig: number): void {
    tgkill(this.pid, t.tid, sig);
  }

  /** Makes a thread ahead of need: the next newStubThread takes it. */
  prepareThread(): void {
    this.#idle.push(this.newStubThread());
  }

  /**
   * The region of a thread told to end, once it has (its memory stays mapped in the stub,
   * so it is never given back to the memory file while the stub lives).
   */
  #reusableRegion(): Region | null {
    const i = this.#ended.findIndex((e) => !this.alive(e));
    if (i < 0) return null;
    const [e] = this.#ended.splice(i, 1);
    this.unwatchTimes(e.tid);
    e.region.view.fill(0, 0, ALTSTACK_OFFSET);
    return e.region;
  }

  /**
   * Takes back a thread whose task let go of it: it stays parked in its handler for the next
   * task, up to a few; beyond that it is told to end. Precondition: it is stopped.
   */
  releaseStubThread(t: StubThread, times: ThreadTimes): void {
    if (this.#dead) return;
    t.times = times;
    if (this.#idle.length < MAX_IDLE_THREADS) {
      this.#idle.push(t);
      return;
    }
    Atomics.store(t.region.i32, CTL.state / 4, STATE.exit);
    futexWake(t.region.hostAddr + BigInt(CTL.state), true);
    this.#ended.push(t);
  }

  override release(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.doorbell?.release();
    super.release();
    this.#idle = [];
    this.#ended = [];
    // Once the stub is reaped nothing maps the regions any more.
    const regions = this.#regions;
    this.#regions = [];
    setTimeout(() => {
      this.reap();
      for (const r of regions) this.#mf.free(r.offset, BigInt(REGION));
    }, 0);
  }
}
