/**
 * Memory mappings of the Sentry's own address space and the memory files behind them: the
 * memory file (sentry/mm/memory_file.ts), the KVM platform's guest memory, kvm_run pages and
 * runner threads' shared words and code (platform/kvm/).
 *
 * A mapping is handed out as an opaque pointer; views of it are made here only, each saying
 * why it stays valid.
 *
 * @module
 */

import { check, cstr, errno, HostError, libc } from "./libc.ts";

const sym = libc.symbols;
const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
const MFD_CLOEXEC = 1;

/** A new memfd named `name` (close-on-exec); throws HostError. */
export function memfdCreate(name: string): number {
  return check(`memfd_create ${name}`, sym.memfd_create(cstr(name), MFD_CLOEXEC));
}

function mapped(p: Deno.PointerObject | null, what: string): Deno.PointerObject {
  if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) throw new HostError(what, errno());
  return p;
}

/**
 * A shared, readable and writable mapping of `length` bytes of fd from `offset`, reserving no
 * swap (a sparse memory file is larger than the host's memory).
 */
export function mapShared(fd: number, length: bigint, offset = 0n): Deno.PointerObject {
  const flags = MAP_SHARED | MAP_NORESERVE;
  return mapped(sym.mmap(null, length, PROT_READ | PROT_WRITE, flags, fd, offset), `mmap fd ${fd}`);
}

/** A private anonymous mapping of length bytes, zeroed, readable and writable. */
export function mapAnonymous(length: bigint): Deno.PointerObject {
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  return mapped(sym.mmap(null, length, PROT_READ | PROT_WRITE, flags, -1, 0n), "mmap anonymous");
}

/** Makes a mapping read-only and executable (code assembled into it is final). */
export function sealCode(p: Deno.PointerObject, length: bigint): void {
  if (sym.mprotect(p, length, PROT_READ | PROT_EXEC) !== 0) {
    throw new HostError("mprotect", errno());
  }
}

/** Unmaps a mapping made here; every view of it must be dropped first. */
export function unmap(p: Deno.PointerObject, length: bigint): void {
  sym.munmap(p, length);
}

/** The bytes [offset, offset+length) of a mapping made here, viewed in place. */
export function view(p: Deno.PointerObject, length: number, offset = 0): Uint8Array<ArrayBuffer> {
  // SAFETY: p comes from mapShared or mapAnonymous, and every caller keeps the mapping for as
  // long as it uses the view: the memory file's is never unmapped, the KVM platform's are
  // unmapped only in release, after its last vCPU run and its last use of a view.
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, length, offset));
}

/** The address of p, for struct fields the kernel reads (userspace_addr) or code that runs. */
export function address(p: Deno.PointerObject): bigint {
  return BigInt(Deno.UnsafePointer.value(p));
}
