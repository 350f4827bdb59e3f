/**
 * The virtual machine: /dev/kvm, one VM whose guest physical memory is the memory file, the
 * kernel half shared by every address space (descriptor tables only), and the vCPUs with
 * their privileged state.
 *
 * @module
 */

import {
  blockSignal,
  CPUID_ENTRY_SIZE,
  deleteTimer,
  gettid,
  ioctl,
  ioctlBuf,
  KREG,
  KVM,
  KVM_API_VERSION,
  KvmError,
  openKvm,
  putDtable,
  putSegment,
  REGS_SIZE,
  type Segment,
  sigset,
  SREGS,
  SREGS_SIZE,
  threadTimer,
  XCRS_SIZE,
  XSAVE_SIZE,
} from "../../host/kvm.ts";
import { closeFd } from "../../host/libc.ts";
import { mapShared, unmap, view } from "../../host/mman.ts";
import type { MemoryFile } from "../../sentry/mm/memory_file.ts";
import { PROT_READ } from "../platform.ts";
import { PageTables } from "./page_tables.ts";
import { Runners } from "./runner.ts";
import { PhysicalMemory } from "./physical.ts";
import {
  assembleTrampoline,
  GDT_LIMIT,
  IDT_LIMIT,
  KERNEL_BASE,
  OFF,
  PAGE,
  regionBase,
  SEL,
  type TrampolineMap,
  TSS_LIMIT,
  userPages,
  writeTables,
} from "./ring0.ts";

/** Where the one-page slot that zapShadowTables toggles sits, beyond the memory file. */
const ZAP_SLOT_GPA = 1n << 41n;
/** Page-table pages of released trees kept before a zap is made for them (4 MiB). */
const QUARANTINE_PAGES = 1024;

/** The signal that kicks the JavaScript thread out of KVM_RUN (see context.ts). */
export const KICK_SIGNAL = 40; // SIGRTMIN+6 in glibc's numbering
/** How long guest code runs before the event loop gets a turn. */
const KICK_PERIOD_NS = 10_000_000n;

const CR0_PE = 1, CR0_MP = 2, CR0_ET = 0x10, CR0_NE = 0x20, CR0_WP = 0x10000, CR0_PG = 0x8000_0000;
const CR4_PAE = 0x20, CR4_PGE = 0x80, CR4_OSFXSR = 0x200, CR4_OSXMMEXCPT = 0x400;
const CR4_OSXSAVE = 0x40000;
/** CPUID leaf 1 ecx: XSAVE supported. */
const CPUID1_ECX_XSAVE = 1 << 26;
const EFER_SCE = 1, EFER_LME = 0x100, EFER_LMA = 0x400, EFER_NXE = 0x800;
const MSR_STAR = 0xc000_0081, MSR_LSTAR = 0xc000_0082, MSR_CSTAR = 0xc000_0083;
const MSR_SFMASK = 0xc000_0084;
const MSR_FS_BASE = 0xc000_0100, MSR_GS_BASE = 0xc000_0101;
/** rflags bits cleared on syscall: TF, IF, DF, IOPL, NT, AC, as on Linux. */
const SYSCALL_MASK = 0x47700n;

/** The kernel-half address as the page-table code takes it (bits 0-47, a safe number). */
function kva(va: bigint): number {
  return Number(va & 0xffff_ffff_ffffn);
}

/** One vCPU and its region of the kernel half. */
export class Vcpu {
  readonly fd: number;
  readonly region: bigint;
  readonly runMap: Deno.PointerObject;
  /** The kvm_run page's exit_reason, read after each KVM_RUN. */
  readonly run: DataView;
  /** Where this vCPU's trampoline, save page and MMIO page sit in every address space. */
  readonly userPages: bigint;
  /**
   * The trampoline's save page (user_regs_struct order) in the address space this vCPU last
   * ran: each address space has its own for each vCPU (address_space.ts says why).
   */
  userSave: BigUint64Array<ArrayBuffer> = new BigUint64Array(27);
  /** The same save page as a whole, for the exception frame at its top (EXC_FRAME). */
  userFrame: BigUint64Array<ArrayBuffer> = new BigUint64Array(512);
  /** The page tables this vCPU last ran (its root is in its CR3). */
  tables: PageTables | null = null;
  /** The FS and GS bases the guest holds (null: unknown, write them). */
  fsBase: bigint | null = null;
  gsBase: bigint | null = null;
  /**
   * Where the vCPU stopped: "trampoline", at an exit of the trampoline, or where it starts,
   * at its restore path (the next entry leaves the registers in the save page); "user", in
   * application code after a kick (the next entry sets the registers with KVM_SET_REGS).
   */
  mode: "user" | "trampoline" = "trampoline";
  /**
   * The FPU state is a former owner's (a released vCPU taken again): the next owner's own
   * state or the initial one must replace it before the guest runs or anyone reads it.
   */
  staleFp = false;
  /** kvm_regs for KVM_GET_REGS/KVM_SET_REGS. */
  readonly kregs: BigUint64Array<ArrayBuffer>;
  #regs = new Uint8Array(REGS_SIZE);
  #msrs = new Uint8Array(8 + 2 * 16);
  #sregs = new Uint8Array(SREGS_SIZE);

  constructor(readonly m: Machine, readonly id: number) {
    this.fd = ioctl(m.vm, KVM.CREATE_VCPU, id, `create vcpu ${id}`);
    this.kregs = new BigUint64Array(this.#regs.buffer);
    this.region = regionBase(id);
    this.runMap = mapShared(this.fd, BigInt(m.runSize));
    this.run = new DataView(view(this.runMap, m.runSize).buffer);

    // Region: the IDT, then the GDT and TSS.
    const idt = m.mem.allocatePage(), data = m.mem.allocatePage();
    const kt = m.kernelTables;
    kt.map(kva(this.region), PAGE, idt, PROT_READ, true);
    kt.map(kva(this.region) + PAGE, PAGE, data, PROT_READ, true);
    this.userPages = userPages(id);
    writeTables(
      this.region,
      this.userPages,
      m.trampoline,
      m.mem.bytes(idt, PAGE),
      m.mem.bytes(data, PAGE),
    );

    ioctlBuf(this.fd, KVM.SET_CPUID2, m.cpuid, "set cpuid");
    this.#setSregs(m.kernelTables.root);
    this.#setMsrs();
    if (m.xsave) this.#setXcr0();
    const mask = new Uint8Array(12);
    new DataView(mask.buffer).setUint32(0, 8, true);
    mask.set(m.runMask, 4);
    ioctlBuf(this.fd, KVM.SET_SIGNAL_MASK, mask, "set signal mask");
    // Start in the trampoline's restore path: the first switch fills the save page.
    this.getRegs();
    this.kregs[KREG.rip] = this.userPages + BigInt(m.trampoline.exited);
    this.kregs[KREG.rflags] = 0x202n;
    this.setRegs();
  }

  /** The faulting address of the last page fault (CR2), which CPL3 code cannot read. */
  getCr2(): bigint {
    ioctlBuf(this.fd, KVM.GET_SREGS, this.#sregs, "get sregs");
    return new DataView(this.#sregs.buffer).getBigUint64(SREGS.cr2, true);
  }

  /**
   * Puts the vCPU in long mode at CPL3 (KVM lets the privilege level be chosen only before
   * the first run) with this region's tables and the given root.
   */
  #setSregs(cr3: number): void {
    const b = new Uint8Array(SREGS_SIZE);
    const v = new DataView(b.buffer);
    const flat = { base: 0n, limit: 0xffff_ffff, present: 1, dpl: 0, s: 1, g: 1 };
    const code: Segment = { ...flat, selector: SEL.userCs, dpl: 3, type: 0xb, db: 0, l: 1 };
    const data: Segment = { ...flat, selector: SEL.userDs, dpl: 3, type: 0x3, db: 1, l: 0 };
    // Null selectors in ds/es/fs/gs, as in a Linux process: nothing for an exception's delivery
    // to reload, so the FS and GS bases set with KVM_SET_MSRS stay.
    const nul: Segment = { ...data, selector: 0 };
    putSegment(v, SREGS.cs, code);
    putSegment(v, SREGS.ss, data);
    for (const s of [SREGS.ds, SREGS.es, SREGS.fs, SREGS.gs]) putSegment(v, s, nul);
    putSegment(v, SREGS.tr, {
      base: this.region + BigInt(OFF.tss),
      limit: TSS_LIMIT,
      selector: SEL.tss,
      type: 0xb,
      present: 1,
      dpl: 0,
      db: 0,
      s: 0,
      l: 0,
      g: 0,
    });
    putSegment(v, SREGS.ldt, {
      base: 0n,
      limit: 0,
      selector: 0,
      type: 2,
      present: 0,
      dpl: 0,
      db: 0,
      s: 0,
      l: 0,
      g: 0,
      unusable: 1,
    });
    putDtable(v, SREGS.gdt, this.region + BigInt(OFF.gdt), GDT_LIMIT);
    putDtable(v, SREGS.idt, this.region + BigInt(OFF.idt), IDT_LIMIT);
    v.setBigUint64(
      SREGS.cr0,
      BigInt(CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP) | BigInt(CR0_PG),
      true,
    );
    v.setBigUint64(SREGS.cr3, BigInt(cr3), true);
    const cr4 = CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT | (this.m.xsave ? CR4_OSXSAVE : 0);
    v.setBigUint64(SREGS.cr4, BigInt(cr4), true);
    v.setBigUint64(SREGS.efer, BigInt(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE), true);
    ioctlBuf(this.fd, KVM.SET_SREGS, b, "set sregs");
  }

  #setMsrs(): void {
    const msrs: [number, bigint][] = [
      // syscall: CS 0x10 / SS 0x18; sysret (unused) would give 0x33 / 0x2b.
      [MSR_STAR, (BigInt(SEL.user32Cs) << 48n) | (BigInt(SEL.kernelCs) << 32n)],
      [MSR_LSTAR, this.userPages],
      [MSR_CSTAR, this.userPages],
      [MSR_SFMASK, SYSCALL_MASK],
    ];
    const b = new Uint8Array(8 + 16 * msrs.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, msrs.length, true);
    msrs.forEach(([index, value], i) => {
      v.setUint32(8 + 16 * i, index, true);
      v.setBigUint64(8 + 16 * i + 8, value, true);
    });
    const n = ioctlBuf(this.fd, KVM.SET_MSRS, b, "set msrs");
    if (n !== msrs.length) throw new KvmError(`set msrs: only ${n} of ${msrs.length} set`, 22);
  }

  /** XCR0: every state component the host offers, so glibc picks AVX routines as natively. */
  #setXcr0(): void {
    const b = new Uint8Array(XCRS_SIZE);
    const v = new DataView(b.buffer);
    v.setUint32(0, 1, true);
    v.setUint32(8, 0, true);
    v.setBigUint64(16, this.m.xcr0, true);
    ioctlBuf(this.fd, KVM.SET_XCRS, b, "set xcr0");
  }

  /** Reads the vCPU's general registers into kregs. */
  getRegs(): BigUint64Array<ArrayBuffer> {
    ioctlBuf(this.fd, KVM.GET_REGS, this.#regs, "get regs");
    return this.kregs;
  }

  /** Writes kregs to the vCPU. */
  setRegs(): void {
    ioctlBuf(this.fd, KVM.SET_REGS, this.#regs, "set regs");
  }

  /** Sets the FS and GS bases of a vCPU stopped at CPL3. */
  setBases(fs: bigint, gs: bigint): void {
    const v = new DataView(this.#msrs.buffer);
    v.setUint32(0, 2, true);
    v.setUint32(8, MSR_FS_BASE, true);
    v.setBigUint64(16, fs, true);
    v.setUint32(24, MSR_GS_BASE, true);
    v.setBigUint64(32, gs, true);
    ioctlBuf(this.fd, KVM.SET_MSRS, this.#msrs, "set fs/gs base");
  }

  /** Loads a page-table root into a vCPU stopped at CPL3 (and so flushes its TLB). */
  setCr3(cr3: number): void {
    ioctlBuf(this.fd, KVM.GET_SREGS, this.#sregs, "get sregs");
    new DataView(this.#sregs.buffer).setBigUint64(SREGS.cr3, BigInt(cr3), true);
    ioctlBuf(this.fd, KVM.SET_SREGS, this.#sregs, "set sregs");
  }

  getXsave(): Uint8Array<ArrayBuffer> {
    const b = new Uint8Array(XSAVE_SIZE);
    ioctlBuf(this.fd, KVM.GET_XSAVE, b, "get xsave");
    return b;
  }

  setXsave(b: Uint8Array<ArrayBuffer>): void {
    ioctlBuf(this.fd, KVM.SET_XSAVE, b, "set xsave");
  }
}

/** The VM: device, memory, shared kernel half, vCPU pool. */
export class Machine {
  readonly kvm: number;
  readonly vm: number;
  readonly mem: PhysicalMemory;
  readonly runSize: number;
  readonly cpuid: Uint8Array<ArrayBuffer>;
  readonly xcr0: bigint;
  /** Whether guests may use XSAVE (and so AVX): only when KVM offers it in CPUID. */
  readonly xsave: boolean;
  /** Bytes of the standard-format XSAVE area that hold state (CPUID 0xd.0 ecx), at least 576. */
  readonly xsaveSize: number;
  /** The page holding the syscall trampoline (every vCPU's user pages map it). */
  readonly trampolinePage: number;
  readonly trampoline: TrampolineMap;
  /** The kernel half's PDPT, shared by every address space's PML4. */
  readonly kernelPdpt: number;
  /** A tree holding only the kernel half: the root vCPUs start with. */
  readonly kernelTables: PageTables;
  /** The signal mask KVM_RUN runs with: every signal blocked but KICK_SIGNAL. */
  readonly runMask: Uint8Array<ArrayBuffer>;
  /** Host threads that run vCPUs besides the JavaScript thread (runner.ts). */
  readonly runners: Runners;
  /**
   * The context whose vCPU the JavaScript thread runs itself (context.ts): at most one at a
   * time, since KVM_RUN holds the thread.
   */
  inlineOwner: object | null = null;
  #timer: number;
  #vcpus: Vcpu[] = [];
  #free: Vcpu[] = [];
  #initialXsave: Uint8Array<ArrayBuffer> | null = null;
  #released = false;

  constructor(mf: MemoryFile, devicePath: string) {
    this.kvm = openKvm(devicePath);
    try {
      const version = ioctl(this.kvm, KVM.GET_API_VERSION, 0, "get api version");
      if (version !== KVM_API_VERSION) {
        throw new KvmError(`${devicePath} speaks KVM API ${version}, not ${KVM_API_VERSION}`, 22);
      }
      this.vm = ioctl(this.kvm, KVM.CREATE_VM, 0, "create vm");
    } catch (e) {
      closeFd(this.kvm);
      throw e;
    }
    this.mem = new PhysicalMemory(mf);
    this.#setSlot(mf.size);
    this.#setSlot(BigInt(PAGE), 1, ZAP_SLOT_GPA);
    this.runSize = ioctl(this.kvm, KVM.GET_VCPU_MMAP_SIZE, 0, "get vcpu mmap size");
    this.cpuid = supportedCpuid(this.kvm);
    this.xcr0 = xcr0From(this.cpuid);
    this.xsave = enableXsave(this.cpuid, this.xcr0);
    this.xsaveSize = xsaveSize(this.cpuid, this.xcr0);

    this.kernelPdpt = this.mem.allocatePage();
    this.kernelTables = new PageTables(this.mem);
    this.kernelTables.share(kva(KERNEL_BASE), this.kernelPdpt);
    this.trampoline = assembleTrampoline();
    this.trampolinePage = this.mem.allocatePage();
    this.mem.bytes(this.trampolinePage, PAGE).set(this.trampoline.bytes);

    blockSignal(KICK_SIGNAL);
    // Inside KVM_RUN only a kick gets through: a process signal (SIGCHLD, or the event
    // loop's own) goes to a thread that is not running a guest, rather than ending a run.
    this.runMask = sigset(KICK_SIGNAL);
    const m = new DataView(this.runMask.buffer);
    m.setBigUint64(0, ~m.getBigUint64(0, true) & 0xffff_ffff_ffff_ffffn, true);
    this.#timer = threadTimer(KICK_SIGNAL, gettid(), KICK_PERIOD_NS);
    this.runners = new Runners(KICK_SIGNAL);
  }

  /**
   * Registers the memory file as guest memory at guest physical 0 (slot 0), or the one-page
   * slot kept for dropping shadows (slot 1, see zapShadowTables); size 0 removes it.
   */
  #setSlot(size: bigint, slot = 0, gpa = 0n): void {
    const region = new Uint8Array(32);
    const rv = new DataView(region.buffer);
    rv.setUint32(0, slot, true);
    rv.setBigUint64(8, gpa, true); // slot 0: memory file offset 0
    rv.setBigUint64(16, size, true);
    rv.setBigUint64(24, this.mem.hostAddress, true);
    ioctlBuf(this.vm, KVM.SET_USER_MEMORY_REGION, region, "register the memory file");
  }

  /**
   * Makes KVM forget every translation it derived from the page tables. KVM may shadow guest
   * page tables (it does on this kind of host) and only notices changes the guest itself
   * writes; the Sentry writes them from outside, so after a present entry changed, the
   * shadows must go. Moving a memory slot drops them all.
   */
  zapShadowTables(): void {
    // With vCPUs running on runner threads, the memory-slot change makes KVM kick them and
    // wait until none uses an old shadow: the shoot-down is done when this returns.
    // Moving (or removing) a slot makes KVM drop every shadow page, whatever the slot holds.
    // A one-page slot, moved between two addresses: one ioctl of about 70 µs here, where
    // removing and re-adding it took two (250 µs) and toggling the whole file tens of ms.
    this.#zapSlotMoved = !this.#zapSlotMoved;
    this.#setSlot(BigInt(PAGE), 1, ZAP_SLOT_GPA + (this.#zapSlotMoved ? BigInt(PAGE) : 0n));
    this.zaps++;
    for (const p of this.#quarantine) this.mem.freePage(p);
    this.#quarantine = [];
  }
  #zapSlotMoved = false;
  /** How many times the shadows were dropped (for tests and measurement). */
  zaps = 0;

  /**
   * Page-table pages of released trees, kept from reuse until the next zap: KVM may still
   * hold shadows of them, which a new tree reusing the pages could be given. Waiting for a
   * zap that happens anyway (most address-space changes need one) spares one per exit and
   * exec; past QUARANTINE_PAGES a zap is made for them alone.
   */
  #quarantine: number[] = [];

  /** Takes the pages of a released tree (see #quarantine). */
  retireTablePages(pages: number[]): void {
    for (const p of pages) this.#quarantine.push(p);
    if (this.#quarantine.length > QUARANTINE_PAGES) this.zapShadowTables();
  }

  /**
   * A vCPU for a new context: a released one, whose FPU state is stale (Vcpu.staleFp), or a
   * new one. The reset is left to the context: a new thread or process brings its own state,
   * and each vCPU ioctl costs about as much as an exit here.
   */
  acquire(): Vcpu {
    const v = this.#free.pop();
    if (v) {
      v.staleFp = true;
      return v;
    }
    const n = new Vcpu(this, this.#vcpus.length);
    this.#vcpus.push(n);
    this.#initialXsave ??= n.getXsave();
    return n;
  }

  /** The FPU state a new vCPU starts with, as KVM_GET_XSAVE gives it (a copy). */
  initialXsave(): Uint8Array<ArrayBuffer> {
    return this.#initialXsave!.slice();
  }

  /** Returns a vCPU to the pool: KVM cannot destroy one vCPU, only the whole VM. */
  releaseVcpu(v: Vcpu): void {
    this.#free.push(v);
  }

  /** Called when a page-table tree is released: no vCPU may keep it as its root. */
  forgetTables(t: PageTables): void {
    for (const v of this.#vcpus) {
      if (v.tables === t) {
        v.tables = null;
        // Its CR3 still names t's root, which stays out of reuse until the next zap; the
        // next switch loads another root before the guest runs (setCr3, or the restore path).
      }
    }
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.runners.release();
    deleteTimer(this.#timer);
    for (const v of this.#vcpus) {
      unmap(v.runMap, BigInt(this.runSize));
      closeFd(v.fd);
    }
    closeFd(this.vm);
    closeFd(this.kvm);
    this.mem.release();
  }
}

/** KVM_GET_SUPPORTED_CPUID as a struct kvm_cpuid2 ready for KVM_SET_CPUID2. */
function supportedCpuid(kvm: number): Uint8Array<ArrayBuffer> {
  for (let n = 64;; n *= 2) {
    const b = new Uint8Array(8 + n * CPUID_ENTRY_SIZE);
    new DataView(b.buffer).setUint32(0, n, true);
    try {
      ioctlBuf(kvm, KVM.GET_SUPPORTED_CPUID, b, "get supported cpuid");
    } catch (e) {
      if (e instanceof KvmError && e.errno === 7 /* E2BIG */ && n < 4096) continue;
      throw e;
    }
    const nent = new DataView(b.buffer).getUint32(0, true);
    return b.slice(0, 8 + nent * CPUID_ENTRY_SIZE);
  }
}

function cpuidEntry(cpuid: Uint8Array<ArrayBuffer>, fn: number, idx: number): DataView | null {
  const v = new DataView(cpuid.buffer);
  const n = v.getUint32(0, true);
  for (let i = 0; i < n; i++) {
    const e = 8 + i * CPUID_ENTRY_SIZE;
    if (v.getUint32(e, true) === fn && v.getUint32(e + 4, true) === idx) {
      return new DataView(cpuid.buffer, e, CPUID_ENTRY_SIZE);
    }
  }
  return null;
}

/** The XCR0 bits leaf 0xd offers (x87 and SSE at least). */
function xcr0From(cpuid: Uint8Array<ArrayBuffer>): bigint {
  const e = cpuidEntry(cpuid, 0xd, 0);
  if (!e) return 3n;
  // eax (offset 12) and edx (offset 24) of the entry: the supported user state components.
  const bits = BigInt(e.getUint32(12, true)) | (BigInt(e.getUint32(24, true)) << 32n);
  // Only user state (not supervisor-only components, which XCR0 cannot enable anyway).
  return (bits & 0xffn) | 3n;
}

/** The standard-format area that holds the components in xcr0: the end of the last one. */
function xsaveSize(cpuid: Uint8Array<ArrayBuffer>, xcr0: bigint): number {
  let end = 512 + 64;
  for (let i = 2; i < 64; i++) {
    const e = (xcr0 >> BigInt(i)) & 1n ? cpuidEntry(cpuid, 0xd, i) : null;
    // eax (offset 12): the component's size; ebx (16): its offset.
    if (e) end = Math.max(end, e.getUint32(16, true) + e.getUint32(12, true));
  }
  return Math.min(XSAVE_SIZE, end);
}

/**
 * Whether guests get XSAVE (CR4.OSXSAVE and XCR0, and so AVX): when KVM offers it in leaf 1
 * or offers state components beyond x87 and SSE in leaf 0xd (some hosts report only the
 * latter). Leaf 1 then says XSAVE too, as the guest's CR4 requires; the OSXSAVE bit is KVM's
 * to keep in step with CR4.
 */
function enableXsave(cpuid: Uint8Array<ArrayBuffer>, xcr0: bigint): boolean {
  const e = cpuidEntry(cpuid, 1, 0);
  if (!e) return false;
  const ecx = e.getUint32(20, true);
  if (!(ecx & CPUID1_ECX_XSAVE) && xcr0 === 3n) return false;
  e.setUint32(20, ecx | CPUID1_ECX_XSAVE, true);
  return true;
}
