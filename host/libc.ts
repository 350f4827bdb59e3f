/**
 * The one FFI boundary to the host's C library. Every other module reaches the host kernel
 * through the functions exported here (or through host/ files that import `libc`), so that the
 * unsafe surface is small and reviewed in one place.
 *
 * Conventions: raw functions return what libc returns (-1 with errno set on failure);
 * `check*` wrappers turn -1 into a thrown `HostError` that carries the errno and what was done.
 *
 * @module
 */

import { errnoName } from "../abi/linux/errno.ts";
import { ErrnoError } from "../abi/linux/error.ts";
import { SYS } from "../abi/linux/syscalls.ts";
import { encodeBytes } from "./utf8b.ts";

const I64 = "i64" as const;

/**
 * `Deno.dlopen(path, defs)` whose symbols are bound on first use, one by one: binding costs
 * about 0.1 ms a symbol (a trampoline is compiled for each), and a process uses a few of the
 * ones declared (the CLI about a tenth), so every role starts sooner. A bound symbol replaces
 * its getter, so later calls cost what an eagerly bound one does. Binding after a seccomp
 * filter needs nothing it forbids: the library is loaded already (found by name, no file
 * opened) and the trampoline is executable memory, as V8's own code.
 */
const lazySymbols: Record<string, unknown>[] = [];

/**
 * Binds every symbol declared so far with dlopenLazy: for a process that has time now and must
 * be quick later (a spare sandbox waiting to be taken: oci/spare.ts).
 */
export function bindAllSymbols(): void {
  for (const symbols of lazySymbols) for (const name of Object.keys(symbols)) void symbols[name];
}

export function dlopenLazy<const S extends Deno.ForeignLibraryInterface>(
  path: string,
  defs: S,
): { symbols: Deno.StaticForeignLibraryInterface<S> } {
  const symbols: Record<string, unknown> = {};
  lazySymbols.push(symbols);
  for (const name of Object.keys(defs)) {
    Object.defineProperty(symbols, name, {
      configurable: true,
      enumerable: true,
      get() {
        const bound = Deno.dlopen(path, { [name]: defs[name] }).symbols[name];
        Object.defineProperty(symbols, name, { value: bound, enumerable: true });
        return bound;
      },
    });
  }
  return { symbols: symbols as Deno.StaticForeignLibraryInterface<S> };
}

// SAFETY: every symbol below is declared with the exact C signature from glibc on x86-64 Linux.
// Variadic functions (syscall, ptrace, open, fcntl) are declared with fixed integer parameters;
// the x86-64 SysV ABI passes integer variadic arguments in the same registers as fixed ones, so
// the callee reads the values we pass.
export const libc = dlopenLazy("libc.so.6", {
  syscall: { parameters: [I64, I64, I64, I64, I64, I64, I64], result: I64 },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  getpid: { parameters: [], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  getppid: { parameters: [], result: "i32" },
  gettid: { parameters: [], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // A read that may wait (a terminal, a pipe): made on a runtime thread so that the Sentry's
  // event loop keeps running other tasks meanwhile.
  read_async: {
    name: "read",
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
  pread: { parameters: ["i32", "buffer", "usize", I64], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", I64], result: "isize" },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", I64], result: "i32" },
  dup: { parameters: ["i32"], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  dup3: { parameters: ["i32", "i32", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  lseek: { parameters: ["i32", I64, "i32"], result: I64 },
  ftruncate: { parameters: ["i32", I64], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", I64], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // The same call, made on a runtime thread so that the event loop stays free while a
  // tracee or child runs. waitpid may reap tracees of any thread in our thread group.
  waitpid_async: {
    name: "waitpid",
    parameters: ["i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // Peeks (WNOWAIT) at the next child or tracee status on a runtime thread; the JavaScript
  // thread then consumes it with waitpid, so statuses are only ever consumed by one thread.
  waitid_async: {
    name: "waitid",
    parameters: ["i32", "i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addclose: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmsg_async: {
    name: "recvmsg",
    parameters: ["i32", "buffer", "i32"],
    result: "isize",
    nonblocking: true,
  },
  // Waits for a descriptor (a packet socket, --network=sandbox) on a runtime thread, so that
  // the event loop runs meanwhile; the JavaScript thread then reads it without blocking.
  poll_async: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // Waits for the host sockets of --network=host (host/epoll.ts) on a runtime thread.
  epoll_wait_async: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  prctl: { parameters: ["i32", I64, I64, I64, I64], result: "i32" },
  setsid: { parameters: [], result: "i32" },
});

const sym = libc.symbols;

/** The calling thread's errno, read right after a failed call. */
export function errno(): number {
  // SAFETY: __errno_location returns the address of this thread's errno, valid for the
  // thread's lifetime; we read 4 bytes from it.
  return new Deno.UnsafePointerView(sym.__errno_location()!).getInt32(0);
}

/** A failed host call: carries the errno and what was being done. */
export class HostError extends ErrnoError {
  constructor(readonly op: string, errno: number) {
    super(errno, `host: ${op}: ${errnoName(errno)} (${errno})`);
  }
  get name(): string {
    return "HostError";
  }
}

/** The C library's description of errno `e` ("No such file or directory"). */
export function strerror(e: number): string {
  const p = libc.symbols.strerror(e);
  // SAFETY: strerror returns a NUL-terminated string in static storage, valid until the next
  // call from this thread; it is copied out at once.
  return p === null ? `errno ${e}` : new Deno.UnsafePointerView(p).getCString();
}

/** Throws HostError when `ret` is -1; returns `ret` otherwise. */
export function check(op: string, ret: number): number {
  if (ret === -1) throw new HostError(op, errno());
  return ret;
}

/** A NUL-terminated copy of `s` for passing to C. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = encodeBytes(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/**
 * Raw system call: returns the kernel's value, or -errno (the libc wrapper's -1 plus errno is
 * folded back into the kernel convention so callers need one comparison).
 */
export function rawSyscall(
  nr: number,
  a0: bigint = 0n,
  a1: bigint = 0n,
  a2: bigint = 0n,
  a3: bigint = 0n,
  a4: bigint = 0n,
  a5: bigint = 0n,
): bigint {
  const r = sym.syscall(BigInt(nr), a0, a1, a2, a3, a4, a5) as bigint;
  if (r === -1n) return -BigInt(errno());
  return r;
}

const RLIMIT_NOFILE = 7;

/**
 * This process's soft RLIMIT_NOFILE (prlimit64(2)): how many descriptors it may hold at once,
 * or null when it cannot be read.
 */
export function nofileLimit(): number | null {
  const lim = new BigUint64Array(2);
  // SAFETY: `lim` is referenced until the call returns, and the kernel writes its 16 bytes.
  const p = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(lim)));
  if (rawSyscall(SYS.prlimit64, 0n, BigInt(RLIMIT_NOFILE), 0n, p) < 0n) return null;
  return lim[0] > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(lim[0]);
}

/** sched_yield(2): lets another runnable thread have this CPU. */
export function schedYield(): void {
  sym.sched_yield();
}

export function closeFd(fd: number): void {
  sym.close(fd);
}

const F_DUPFD_CLOEXEC = 1030;

/**
 * Grows this process's descriptor table now to hold `n` descriptors (fewer under a lower
 * RLIMIT_NOFILE), best effort. Linux grows a table that threads share (every Deno process's) by
 * doubling it, and each growth waits for an RCU grace period (expand_fdtable's synchronize_rcu;
 * 8-26 ms measured here) while the thread that asked for a descriptor stands still: a Gofer
 * opening its 65th stalled the application's request that long. Grown once where nothing waits
 * for it, the table never grows again below n (Linux does not shrink it).
 */
export function reserveDescriptors(n: number): void {
  const top = Math.min(n, nofileLimit() ?? n) - 1;
  if (top < 64) return;
  // Any open descriptor serves as the one duplicated; stdio is open in every role.
  for (const fd of [0, 1, 2]) {
    const r = sym.fcntl(fd, F_DUPFD_CLOEXEC, BigInt(top));
    if (r >= 0) {
      sym.close(r);
      return;
    }
  }
}

/** A close-on-exec duplicate of `fd`; throws HostError (EMFILE...) on failure. */
export function dupCloexec(fd: number): number {
  const r = sym.fcntl(fd, F_DUPFD_CLOEXEC, 0n);
  if (r < 0) throw new HostError(`dup fd ${fd}`, errno());
  return r;
}

/** Writes all of `data` to `fd`, retrying on short writes and EINTR. */
export function writeAll(fd: number, data: Uint8Array<ArrayBuffer>): void {
  let off = 0;
  while (off < data.length) {
    const n = Number(sym.write(fd, data.subarray(off), BigInt(data.length - off)));
    if (n < 0) {
      const e = errno();
      if (e === 4) continue;
      throw new HostError(`write fd ${fd}`, e);
    }
    off += n;
  }
}

/** pread into `buf` at `offset`; returns bytes read. */
export function preadFd(fd: number, buf: Uint8Array<ArrayBuffer>, offset: number): number {
  for (;;) {
    const n = Number(sym.pread(fd, buf, BigInt(buf.length), BigInt(offset)));
    if (n >= 0) return n;
    const e = errno();
    if (e !== 4) throw new HostError(`pread fd ${fd}`, e);
  }
}

/**
 * Waits on a runtime thread (the event loop runs meanwhile) until `fd` has one of `events`
 * or `timeoutMs` passes: the events poll(2) reported, 0 on timeout or failure.
 */
export async function pollAsync(fd: number, events: number, timeoutMs: number): Promise<number> {
  const pfd = new Uint8Array(8);
  const v = new DataView(pfd.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, events, true);
  const r = await sym.poll_async(pfd, 1n, timeoutMs);
  return r > 0 ? v.getUint16(6, true) : 0;
}

/** Creates a pipe; returns [readEnd, writeEnd]. */
export function pipe(flags = 0): [number, number] {
  const fds = new Int32Array(2);
  check("pipe2", sym.pipe2(new Uint8Array(fds.buffer), flags));
  return [fds[0], fds[1]];
}

/** Creates a Unix socketpair; returns both ends. */
export function socketpair(type: number, flags = 0): [number, number] {
  const fds = new Int32Array(2);
  check("socketpair", sym.socketpair(1, /* AF_UNIX */ type | flags, 0, new Uint8Array(fds.buffer)));
  return [fds[0], fds[1]];
}
