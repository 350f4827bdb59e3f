/**
 * The KVM platform: the Sentry is the VMM. Guest physical memory is the memory file, the
 * Sentry writes the page tables, descriptor tables and the few bytes of CPL0 code, and every
 * system call or exception of the application leaves the guest as a KVM exit that becomes a
 * SwitchResult.
 *
 * Files: machine.ts (the VM and its vCPUs), ring0.ts (CPL0 code, GDT, IDT, TSS),
 * page_tables.ts, physical.ts (guest memory), address_space.ts, context.ts.
 *
 * @module
 */

import { KvmError } from "../../host/kvm.ts";
import type { MemoryFile } from "../../sentry/mm/memory_file.ts";
import type { AddressSpace, Context, Platform } from "../platform.ts";
import { KvmAddressSpace } from "./address_space.ts";
import { KvmContext } from "./context.ts";
import { Machine } from "./machine.ts";
import { USER_PAGES_BASE } from "./ring0.ts";

import { XFEATURE_MASK_USER_DYNAMIC } from "../../host/cpuid.ts";

export { KvmError };

/** The default KVM device (--platform_device_path). */
export const DEFAULT_DEVICE = "/dev/kvm";

/** Implements Platform with KVM. */
export class KvmPlatform implements Platform {
  readonly name = "kvm";
  /** The lower half up to the vCPUs' user pages (ring0.ts). */
  readonly maxUserAddress = USER_PAGES_BASE;
  readonly machine: Machine;

  /** Opens the device and builds the VM; throws KvmError when KVM is missing or unusable. */
  constructor(mf: MemoryFile, devicePath = DEFAULT_DEVICE) {
    this.machine = new Machine(mf, devicePath);
  }

  /** Implements Platform.xfeatures: the guest's XCR0, which has no dynamic feature. */
  get xfeatures(): bigint {
    return this.machine.xcr0 & ~XFEATURE_MASK_USER_DYNAMIC;
  }

  /** Implements Platform.newAddressSpace. */
  newAddressSpace(): AddressSpace {
    return new KvmAddressSpace(this.machine);
  }

  /** Implements Platform.newContext. */
  newContext(): Context {
    return new KvmContext(this.machine);
  }

  release(): void {
    this.machine.release();
  }
}
