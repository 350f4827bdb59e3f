/**
 * Control messages on --network=host sockets (sentry/net/host_socket.ts): which of them pass
 * between the application and the host socket, in either direction.
 *
 * Only messages whose data is a plain value pass: on receive, the timestamps (SO_TIMESTAMP,
 * SO_TIMESTAMPNS), IP_TOS, IP_TTL, IP_PKTINFO, IP_ORIGDSTADDR, IPV6_PKTINFO, IPV6_HOPLIMIT,
 * IPV6_TCLASS, IPV6_FLOWINFO, IPV6_ORIGDSTADDR and the error queue's IP_RECVERR and
 * IPV6_RECVERR, which the host writes only for the options the
 * application turned on; on send, IP_TTL, IP_TOS, IP_PKTINFO, IPV6_PKTINFO, IPV6_HOPLIMIT,
 * IPV6_TCLASS and IPV6_DONTFRAG on datagram sockets. SCM_RIGHTS never passes: the host cannot
 * put descriptors on an IP socket, and one that came anyway would be closed in the Sentry and
 * never shown; the application's (and its SCM_CREDENTIALS) is dropped, as Linux ignores both
 * on an IP socket, and any other SOL_SOCKET message (SO_MARK, SO_TIMESTAMPING, SCM_TXTIME...)
 * is refused with EINVAL. Every message the application gives is walked in the Sentry's own
 * copy and rebuilt, so the host sees only checked headers.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  AF_INET,
  AF_INET6,
  cmsgAlign,
  IP_ORIGDSTADDR,
  IP_PKTINFO,
  IP_RECVERR,
  IP_TOS,
  IP_TTL,
  IPV6_DONTFRAG,
  IPV6_FLOWINFO,
  IPV6_HOPLIMIT,
  IPV6_ORIGDSTADDR,
  IPV6_PKTINFO,
  IPV6_RECVERR,
  IPV6_TCLASS,
  SCM_CREDENTIALS,
  SCM_RIGHTS,
  SO_TIMESTAMP,
  SO_TIMESTAMPNS,
  SOL_IP,
  SOL_IPV6,
  SOL_SOCKET,
} from "../../abi/linux/socket.ts";
import { closeFd } from "../../host/libc.ts";

/** sizeof(struct cmsghdr) on x86-64. */
const CMSG_HDR = 16;

/** Room asked of the host for received control messages: all the listed ones fit many times. */
export const RECV_CONTROL_MAX = 1024;
/** The most control bytes one send takes (Linux's net.core.optmem_max default): ENOBUFS above. */
export const SEND_CONTROL_MAX = 20480;

const key = (level: number, type: number) => `${level}:${type}`;

/** Received messages shown to the application. */
const RECEIVED = new Set([
  key(SOL_SOCKET, SO_TIMESTAMP), // struct timeval
  key(SOL_SOCKET, SO_TIMESTAMPNS), // struct timespec
  key(SOL_IP, IP_TOS), // u8
  key(SOL_IP, IP_TTL), // int
  key(SOL_IP, IP_PKTINFO), // struct in_pktinfo
  key(SOL_IP, IP_RECVERR), // struct sock_extended_err, the offender's sockaddr_in
  key(SOL_IP, IP_ORIGDSTADDR), // struct sockaddr_in
  key(SOL_IPV6, IPV6_RECVERR), // struct sock_extended_err, sockaddr_in6
  key(SOL_IPV6, IPV6_PKTINFO), // struct in6_pktinfo
  key(SOL_IPV6, IPV6_HOPLIMIT), // int
  key(SOL_IPV6, IPV6_TCLASS), // int
  key(SOL_IPV6, IPV6_FLOWINFO), // __be32
  key(SOL_IPV6, IPV6_ORIGDSTADDR), // struct sockaddr_in6
]);

/** Messages an application may send on a datagram socket of the family, by level. */
const SENT: Record<number, { level: number; types: ReadonlySet<number> }> = {
  [AF_INET]: { level: SOL_IP, types: new Set([IP_TOS, IP_TTL, IP_PKTINFO]) },
  [AF_INET6]: {
    level: SOL_IPV6,
    types: new Set([IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_DONTFRAG, IPV6_TCLASS]),
  },
};

interface Cmsg {
  off: number;
  len: number;
  level: number;
  type: number;
}

/**
 * The headers in buf as Linux walks them (for_each_cmsghdr): while a whole header fits; a
 * header whose length is shorter than itself or runs past the buffer is `bad`.
 */
function* walk(buf: Uint8Array): Generator<Cmsg & { bad: boolean }> {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let off = 0; off + CMSG_HDR <= buf.length;) {
    const big = v.getBigUint64(off, true);
    const len = big > BigInt(buf.length) ? buf.length + 1 : Number(big);
    const bad = len < CMSG_HDR || len > buf.length - off;
    yield { off, len, level: v.getInt32(off + 8, true), type: v.getInt32(off + 12, true), bad };
    if (bad) return;
    off += cmsgAlign(len);
  }
}

/**
 * The control messages to pass to the host for an application's sendmsg(2) on a socket of
 * `family` (stream: TCP, whose sendmsg ignores every level but SOL_SOCKET), or null for none.
 * Throws EINVAL for a malformed header, a SOL_SOCKET message other than SCM_RIGHTS and
 * SCM_CREDENTIALS (dropped) and an IP-level one not listed; other levels are skipped, as Linux
 * skips them.
 */
export function sendControl(
  raw: Uint8Array,
  family: number,
  stream: boolean,
): Uint8Array<ArrayBuffer> | null {
  const keep: Cmsg[] = [];
  const allowed = SENT[family];
  for (const c of walk(raw)) {
    if (c.bad) throw new SysError(Errno.EINVAL);
    if (c.level === SOL_SOCKET) {
      // Unix sockets' own messages: Linux ignores them on any other socket.
      if (c.type === SCM_RIGHTS || c.type === SCM_CREDENTIALS) continue;
      throw new SysError(Errno.EINVAL);
    }
    if (stream || c.level !== allowed?.level) continue;
    if (!allowed.types.has(c.type)) throw new SysError(Errno.EINVAL);
    keep.push(c);
  }
  if (keep.length === 0) return null;
  const out = new Uint8Array(keep.reduce((n, c) => n + cmsgAlign(c.len), 0));
  let o = 0;
  for (const c of keep) {
    out.set(raw.subarray(c.off, c.off + c.len), o);
    o += cmsgAlign(c.len);
  }
  return out;
}

/**
 * The control messages of a host receive that the application may see, packed as they came
 * (the host already cut them to the application's room); descriptors of an SCM_RIGHTS are
 * closed here. The host's MSG_CTRUNC stands.
 */
export function receivedControl(host: Uint8Array): Uint8Array {
  const out = new Uint8Array(host.length);
  let o = 0;
  for (const c of walk(host)) {
    if (c.bad) break;
    if (c.level === SOL_SOCKET && c.type === SCM_RIGHTS) {
      const v = new DataView(host.buffer, host.byteOffset + c.off + CMSG_HDR);
      for (let i = 0; i + 4 <= c.len - CMSG_HDR; i += 4) closeFd(v.getInt32(i, true));
      continue;
    }
    if (!RECEIVED.has(key(c.level, c.type))) continue;
    const end = Math.min(c.off + cmsgAlign(c.len), host.length);
    out.set(host.subarray(c.off, end), o);
    o += end - c.off;
  }
  return out.subarray(0, o);
}
