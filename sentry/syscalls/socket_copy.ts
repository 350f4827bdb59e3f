/**
 * The socklen_t conventions every socket family shares: an address or option value goes out
 * cut to the length the caller offered, and the length word says what was (or would have
 * been) written.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { decodeValue, i32 } from "../../abi/linux/layout.ts";
import { Msghdr } from "../../abi/linux/socket.ts";
import type { Task } from "../kernel/task.ts";

/** The socklen_t at lenAddr; EINVAL when negative. */
export function copyInSocklen(t: Task, lenAddr: bigint): number {
  const have = decodeValue(i32, t.mm.copyIn(lenAddr, 4));
  if (have < 0) throw new SysError(Errno.EINVAL);
  return have;
}

/**
 * Copies an address out to (addr, *lenAddr) as accept(2), getsockname(2) and recvfrom(2) do:
 * cut to the caller's length, with *lenAddr set to the address's whole length. A NULL addr
 * asks for nothing.
 */
export function copyOutAddress(t: Task, addr: bigint, lenAddr: bigint, enc: Uint8Array): void {
  if (addr === 0n) return;
  const have = copyInSocklen(t, lenAddr);
  t.mm.copyOut(addr, enc.subarray(0, Math.min(have, enc.length)));
  t.mm.writeU32(lenAddr, enc.length);
}

/**
 * Copies an option value out as getsockopt(2) does: cut to *lenAddr, which becomes the length
 * written. `have` is *lenAddr as read before the option was looked up (copyInSocklen), so that
 * a bad length fails first, as on Linux.
 */
export function copyOutOptval(
  t: Task,
  valAddr: bigint,
  lenAddr: bigint,
  have: number,
  out: Uint8Array,
): void {
  const n = Math.min(have, out.length);
  t.mm.copyOut(valAddr, out.subarray(0, n));
  t.mm.writeU32(lenAddr, n);
}

/**
 * Writes recvmsg(2)'s results into the msghdr at addr: msg_controllen, msg_flags, and, when
 * the caller gave a name buffer, the sender's address (`from`) cut to msg_namelen, with
 * msg_namelen set to its whole length (0 for a sender without an address). Without a name
 * buffer msg_namelen is left as it was, as on Linux.
 */
export function copyOutMsgResult(
  t: Task,
  addr: bigint,
  m: { name: bigint; namelen: number },
  controllen: number,
  flags: number,
  from: Uint8Array | null,
): void {
  const at = (f: "controllen" | "flags" | "namelen") => addr + BigInt(Msghdr.offsetOf(f));
  t.mm.writeU64(at("controllen"), BigInt(controllen));
  t.mm.writeU32(at("flags"), flags);
  if (m.name === 0n) return;
  const enc = from ?? new Uint8Array(0);
  t.mm.copyOut(m.name, enc.subarray(0, Math.min(m.namelen, enc.length)));
  t.mm.writeU32(at("namelen"), enc.length);
}
