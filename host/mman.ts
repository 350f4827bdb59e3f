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
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
/** memfd seals (fcntl F_ADD_SEALS). */
export const F_SEAL = { SEAL: 1, SHRINK: 2, GROW: 4, WRITE: 8 } as const;

/** A new memfd named `name` (close-on-exec); throws HostError. */
export function memfdCreate(name: string): number {
  return check(`memfd_create ${name}`, sym.memfd_create(cstr(name), MFD_CLOEXEC));
}

/**
 * A new memfd of `size` bytes (close-on-exec) that can never grow past it: writes beyond fail
 * with EPERM instead of taking more memory. For output of processes we hand it to and cannot
 * bound otherwise. Throws HostError.
 */
export function boundedMemfd(name: string, size: number): number {
  const fd = check(
    `memfd_create ${name}`,
    sym.memfd_create(cstr(name), MFD_CLOEXEC | MFD_ALLOW_SEALING),
  );
  try {
    check(`ftruncate ${name}`, sym.ftruncate(fd, BigInt(size)));
    addSeals(fd, F_SEAL.GROW | F_SEAL.SEAL);
  } catch (e) {
    sym.close(fd);
    throw e;
  }
  return fd;
}

/** A new memfd holding `data` (close-on-exec), sealed: it can be read, never changed. */
export function sealedMemfd(name: string, data: Uint8Array<ArrayBuffer>): number {
  const fd = check(
    `memfd_create ${name}`,
    sym.memfd_create(cstr(name), MFD_CLOEXEC | MFD_ALLOW_SEALING),
  );
  try {
    let off = 0;
    while (off < data.length) {
      const n = Number(sym.pwrite(fd, data.subarray(off), BigInt(data.length - off), BigInt(off)));
      if (n < 0) check(`write ${name}`, n);
      off += n;
    }
    addSeals(fd, F_SEAL.WRITE | F_SEAL.GROW | F_SEAL.SHRINK | F_SEAL.SEAL);
  } catch (e) {
    sym.close(fd);
    throw e;
  }
  return fd;
}

function addSeals(fd: number, seals: number): void {
  check(`fcntl F_ADD_SEALS fd ${fd}`, sym.fcntl(fd, F_ADD_SEALS, BigInt(seals)));
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
