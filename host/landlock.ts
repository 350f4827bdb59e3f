/**
 * Landlock scoping (Linux 6.12, Landlock ABI 6): a process of ours in its own Landlock domain
 * can neither connect to an abstract Unix socket nor signal a process that is outside that
 * domain (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, LANDLOCK_SCOPE_SIGNAL). No file or network
 * access is handled, so the domain changes nothing else; as every Landlock domain does, it
 * also keeps ptrace to processes inside it, which is where the ptrace and systrap stubs are
 * when they are made after it.
 *
 * Why: with --network=host the Sentry shares the host's network namespace, where the abstract
 * names of the host's daemons (containerd's, D-Bus's...) live, and seccomp cannot read a
 * sockaddr: connect(2) is allowed (glibc's name lookup needs it). The application never
 * reaches them (its Unix sockets live in the Sentry), but a compromised Sentry could.
 *
 * Both calls run before the seccomp filter is installed, which therefore does not list them.
 *
 * @module
 */

import { HostError, rawSyscall } from "./libc.ts";
import { SYS } from "../abi/linux/syscalls.ts";
import { landlockEverywhere } from "./threads.ts";

/** landlock_create_ruleset flag: return the ABI version instead of a ruleset. */
const LANDLOCK_CREATE_RULESET_VERSION = 1n;
export const LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET = 1n << 0n;
export const LANDLOCK_SCOPE_SIGNAL = 1n << 1n;
/** The first ABI with `scoped` in struct landlock_ruleset_attr. */
const SCOPE_ABI = 6;

/** The Landlock ABI version of the running kernel, or 0 when Landlock is absent or off. */
export function landlockAbi(): number {
  const v = rawSyscall(SYS.landlock_create_ruleset, 0n, 0n, LANDLOCK_CREATE_RULESET_VERSION);
  // ENOSYS (no Landlock), EOPNOTSUPP (built in but not enabled at boot).
  return v < 0n ? 0 : Number(v);
}

/** What scopeEverywhere applied, for --debug. */
export interface LandlockScope {
  abi: number;
  scoped: string[];
}

/**
 * Puts every thread of this process (and so every thread and process it makes afterwards) in
 * a new Landlock domain scoped for abstract Unix sockets and signals. Returns null, applying
 * nothing, on a kernel older than ABI 6; throws HostError if the kernel has it and it fails.
 */
export function scopeEverywhere(): LandlockScope | null {
  const abi = landlockAbi();
  if (abi < SCOPE_ABI) return null;
  // struct landlock_ruleset_attr { handled_access_fs; handled_access_net; scoped } (u64 each)
  const attr = new BigUint64Array([
    0n,
    0n,
    LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL,
  ]);
  // SAFETY: attr stays referenced until the synchronous call returns; the kernel only reads it.
  const fd = rawSyscall(
    SYS.landlock_create_ruleset,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(attr))),
    BigInt(attr.byteLength),
    0n,
  );
  if (fd < 0n) throw new HostError("landlock_create_ruleset", Number(-fd));
  try {
    landlockEverywhere(Number(fd));
  } finally {
    rawSyscall(SYS.close, fd);
  }
  return { abi, scoped: ["abstract_unix_socket", "signal"] };
}
