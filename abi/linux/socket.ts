/**
 * The Linux socket ABI on x86-64: address families, socket types, levels, options and message
 * flags, and the structs sockets pass (sockaddr_*, msghdr, mmsghdr, iovec, cmsghdr, ucred,
 * linger).
 *
 * @module
 */

import {
  be16,
  be32,
  bytes,
  decodeValue,
  encodeValue,
  i32,
  struct,
  u16,
  u32,
  u64,
  u8,
} from "./layout.ts";

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
/** socket(2)'s type flags are the file's O_NONBLOCK and O_CLOEXEC. */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const SOL_IP = 0;
export const SOL_SOCKET = 1;
export const SOL_TCP = 6;
export const SOL_IPV6 = 41;
export const SOL_NETLINK = 270;

export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DONTROUTE = 5;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_OOBINLINE = 10;
export const SO_PRIORITY = 12;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_PASSCRED = 16;
export const SO_PEERCRED = 17;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const SO_ACCEPTCONN = 30;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;

export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
/** The most descriptors one SCM_RIGHTS message carries. */
export const SCM_MAX_FD = 253;

export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_WAITALL = 0x100;
export const MSG_ERRQUEUE = 0x2000;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_WAITFORONE = 0x10000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

/** IPPROTO_IP options and control messages (in.h). */
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_PKTINFO = 8;
export const IP_RECVERR = 11;
/** The option that asks for IP_ORIGDSTADDR messages has the same number. */
export const IP_RECVORIGDSTADDR = 20;
export const IP_ORIGDSTADDR = 20;
export const IP_RECVTTL = 12;
export const IP_RECVTOS = 13;

/** IPPROTO_IPV6 options and control messages (in6.h); the 2292 ones are RFC 2292's API. */
export const IPV6_2292PKTINFO = 2;
/** getsockopt on TCP: the control messages of the last segment received. */
export const IPV6_2292PKTOPTIONS = 6;
export const IPV6_2292HOPLIMIT = 8;
export const IPV6_FLOWINFO = 11;
export const IPV6_RECVERR = 25;
export const IPV6_FLOWINFO_SEND = 33;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_DONTFRAG = 62;
export const IPV6_RECVTCLASS = 66;
export const IPV6_TCLASS = 67;
export const IPV6_AUTOFLOWLABEL = 70;
export const IPV6_RECVORIGDSTADDR = 74;
export const IPV6_ORIGDSTADDR = 74;
/** The flow label's bits in sin6_flowinfo and the header's first word. */
export const IPV6_FLOWLABEL_MASK = 0xfffff;

/** Socket queue ioctls (sockios.h): SIOCINQ is FIONREAD, SIOCOUTQ is TIOCOUTQ. */
export const SIOCINQ = 0x541b;
export const SIOCOUTQ = 0x5411;
/** A TCP socket's bytes not yet sent (sockios.h). */
export const SIOCOUTQNSD = 0x894b;
export const SIOCATMARK = 0x8905;

/** SOL_SOCKET timestamps a receive gives (SO_TIMESTAMP_OLD, SO_TIMESTAMPNS_OLD on x86-64). */
export const SO_TIMESTAMP = 29;
export const SO_TIMESTAMPNS = 35;

/** SOL_SOCKET control messages a send takes besides SCM_RIGHTS/SCM_CREDENTIALS. */
export const SO_MARK = 36;
export const SO_TIMESTAMPING_OLD = 37;
export const SCM_TXTIME = 61;

/** struct in_pktinfo (IP_PKTINFO): the interface, the local address, the header's dst. */
export const InPktinfo = struct("in_pktinfo", 12, {
  ifindex: [0, i32],
  specDst: [4, bytes(4)],
  addr: [8, bytes(4)],
});

/** struct in6_pktinfo (IPV6_PKTINFO). */
export const In6Pktinfo = struct("in6_pktinfo", 20, { addr: [0, bytes(16)], ifindex: [16, i32] });

/** sizeof(struct sockaddr_storage): the longest address a socket call reads. */
export const SOCKADDR_STORAGE_SIZE = 128;

/** The address family every sockaddr starts with. */
export const SockaddrFamily = struct("sockaddr", 2, { family: [0, u16] });

/** struct sockaddr_un: the path is NUL-terminated, or abstract when it starts with NUL. */
export const UNIX_PATH_MAX = 108;
export const SockaddrUn = struct("sockaddr_un", 2 + UNIX_PATH_MAX, {
  family: [0, u16],
  path: [2, bytes(UNIX_PATH_MAX)],
});

/** struct sockaddr_in: port and address in network byte order. */
export const SockaddrIn = struct("sockaddr_in", 16, {
  family: [0, u16],
  port: [2, be16],
  addr: [4, bytes(4)],
});

/** struct sockaddr_in6. */
export const SockaddrIn6 = struct("sockaddr_in6", 28, {
  family: [0, u16],
  port: [2, be16],
  flowinfo: [4, be32],
  addr: [8, bytes(16)],
  scopeId: [24, u32],
});
/** The sockaddr_in6 of RFC 2133, without sin6_scope_id: Linux accepts it. */
export const SIN6_LEN_RFC2133 = 24;

/** struct sockaddr_nl. */
export const SockaddrNl = struct("sockaddr_nl", 12, {
  family: [0, u16],
  pid: [4, u32],
  groups: [8, u32],
});

/** struct sockaddr_ll. */
export const SockaddrLl = struct("sockaddr_ll", 20, {
  family: [0, u16],
  protocol: [2, be16],
  ifindex: [4, i32],
  hatype: [8, u16],
  pkttype: [10, u8],
  halen: [11, u8],
  addr: [12, bytes(8)],
});

/** struct msghdr. */
export const Msghdr = struct("msghdr", 56, {
  name: [0, u64],
  namelen: [8, u32],
  iov: [16, u64],
  iovlen: [24, u64],
  control: [32, u64],
  controllen: [40, u64],
  flags: [48, i32],
});

/** struct mmsghdr: a msghdr and the byte count of its message. */
export const Mmsghdr = struct("mmsghdr", 64, { hdr: [0, Msghdr], len: [56, u32] });

/** struct cmsghdr; its data follows, and the next header starts CMSG_ALIGN'd. */
export const Cmsghdr = struct("cmsghdr", 16, { len: [0, u64], level: [8, i32], type: [12, i32] });

/** CMSG_ALIGN: control messages are 8-byte aligned. */
export function cmsgAlign(n: number): number {
  return (n + 7) & ~7;
}

/** struct ucred (SCM_CREDENTIALS, SO_PEERCRED). */
export const Ucred = struct("ucred", 12, { pid: [0, i32], uid: [4, u32], gid: [8, u32] });

/** struct linger (SO_LINGER). */
export const Linger = struct("linger", 8, { onoff: [0, i32], linger: [4, i32] });

/** An int option's value as getsockopt(2) returns it. */
export function encodeIntOpt(v: number): Uint8Array<ArrayBuffer> {
  return encodeValue(i32, v);
}

/** An int option from setsockopt(2)'s bytes; null when they are shorter than an int. */
export function decodeIntOpt(v: Uint8Array): number | null {
  return v.length < 4 ? null : decodeValue(i32, v);
}
