/**
 * Packet sockets (AF_PACKET, SOCK_RAW) on a host interface: how the Sentry's stack exchanges
 * Ethernet frames with the container's network namespace (--network=sandbox). `runsc boot`
 * opens one per interface before it confines itself; afterwards only read, write and poll are
 * made on it, which the Sentry's filter already allows for every descriptor (host/filters.ts):
 * no socket of this family can be made once the filter is in place.
 *
 * struct sockaddr_ll (x86-64): {u16 family; be16 protocol; i32 ifindex; u16 hatype;
 * u8 pkttype; u8 halen; u8 addr[8]} (20 bytes).
 *
 * @module
 */

import { closeFd, errno, HostError, libc, pollAsync, rawSyscall } from "./libc.ts";
import { addr } from "./socket.ts";

const SYS_socket = 41;
const SYS_recvfrom = 45;
const SYS_bind = 49;
const SYS_setns = 308;
const SYS_setsockopt = 54;
const SOL_PACKET = 263;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
/** The packet socket's receive queue: a few times the stack's largest TCP window. */
const PACKET_RCVBUF = 4 << 20;
const PACKET_VNET_HDR = 15;
/**
 * struct virtio_net_hdr {u8 flags; u8 gso_type; u16 hdr_len; u16 gso_size; u16 csum_start;
 * u16 csum_offset}: in front of every frame read from or written to a packet socket of ours.
 */
export const VNET_HDR_SIZE = 10;
/** virtio_net_hdr.flags: the transport checksum is to be completed (csum_start, csum_offset). */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const ETH_P_ALL = 0x0003;
const SOCKADDR_LL_SIZE = 20;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const EAGAIN = 11;
const EINTR = 4;
const POLLIN = 1;
const CLONE_NEWNET = 0x4000_0000;
/** pkttype of a frame this host sent (seen by every ETH_P_ALL socket on the interface). */
const PACKET_OUTGOING = 4;

/** ETH_P_ALL in network byte order, as socket(2) and sockaddr_ll take it. */
const ALL_BE = ((ETH_P_ALL & 0xff) << 8) | (ETH_P_ALL >> 8);

/**
 * Moves the calling thread into the network namespace `nsFd` refers to (setns(2)). Only this
 * thread moves: the sockets it makes afterwards belong to that namespace.
 */
export function enterNetworkNamespace(nsFd: number): void {
  const r = rawSyscall(SYS_setns, BigInt(nsFd), BigInt(CLONE_NEWNET));
  if (r < 0n) throw new HostError(`setns network namespace fd ${nsFd}`, Number(-r));
}

/** A non-blocking packet socket bound to interface `ifindex`, receiving every protocol. */
export function openPacketSocket(ifindex: number): number {
  const fd = rawSyscall(
    SYS_socket,
    BigInt(AF_PACKET),
    BigInt(SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC),
    BigInt(ALL_BE),
  );
  if (fd < 0n) throw new HostError(`socket AF_PACKET (interface ${ifindex})`, Number(-fd));
  // Frames the host's own stack sends through the interface may leave their transport
  // checksum to the hardware (CHECKSUM_PARTIAL) and be segmentation-offload frames larger than
  // the MTU; a virtio_net_hdr in front of each frame says so, so that the Sentry can complete
  // the checksum instead of dropping the frame as corrupt.
  const one = new Int32Array([1]);
  const so = rawSyscall(
    SYS_setsockopt,
    fd,
    BigInt(SOL_PACKET),
    BigInt(PACKET_VNET_HDR),
    addr(new Uint8Array(one.buffer)),
    4n,
  );
  if (so < 0n) {
    closeFd(Number(fd));
    throw new HostError(`setsockopt PACKET_VNET_HDR (interface ${ifindex})`, Number(-so));
  }
  // The stack's TCP window (1 MiB) can bring that much at once, in offloaded frames of up to
  // 64 KiB: the default queue (about 200 KB) would drop most of a burst while the Sentry is
  // busy, and the peer would back off for seconds. SO_RCVBUFFORCE (root, before the
  // capabilities go) passes net.core.rmem_max; without it SO_RCVBUF gets what that allows.
  const size = new Int32Array([PACKET_RCVBUF]);
  for (const opt of [SO_RCVBUFFORCE, SO_RCVBUF]) {
    const r = rawSyscall(
      SYS_setsockopt,
      fd,
      BigInt(SOL_SOCKET),
      BigInt(opt),
      addr(new Uint8Array(size.buffer)),
      4n,
    );
    if (r >= 0n) break;
  }
  const sa = new Uint8Array(SOCKADDR_LL_SIZE);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, ALL_BE, true);
  v.setInt32(4, ifindex, true);
  const r = rawSyscall(SYS_bind, fd, addr(sa), BigInt(sa.length));
  if (r < 0n) {
    closeFd(Number(fd));
    throw new HostError(`bind AF_PACKET to interface ${ifindex}`, Number(-r));
  }
  return Number(fd);
}

/**
 * Reads one frame that arrived on the interface into `buf`, its virtio_net_hdr first: their
 * whole length, even when only `buf.length` bytes of them fit (MSG_TRUNC: the caller drops a
 * frame that was cut rather than parse half of one), 0 for a frame this host sent (skipped),
 * or -1 when none is waiting.
 * Throws HostError on another error.
 */
export function recvFrame(fd: number, buf: Uint8Array<ArrayBuffer>, from: PacketAddress): number {
  for (;;) {
    from.len[0] = SOCKADDR_LL_SIZE;
    const n = rawSyscall(
      SYS_recvfrom,
      BigInt(fd),
      addr(buf),
      BigInt(buf.length),
      BigInt(MSG_DONTWAIT | MSG_TRUNC),
      addr(from.sa),
      addr(from.lenBytes),
    );
    if (n >= 0n) return from.sa[10] === PACKET_OUTGOING ? 0 : Number(n);
    if (n === BigInt(-EINTR)) continue;
    if (n === BigInt(-EAGAIN)) return -1;
    throw new HostError(`recvfrom packet socket fd ${fd}`, Number(-n));
  }
}

/** The buffers recvFrame fills with the sender's sockaddr_ll, kept across calls. */
export class PacketAddress {
  readonly sa = new Uint8Array(SOCKADDR_LL_SIZE);
  readonly len = new Uint32Array(1);
  readonly lenBytes = new Uint8Array(this.len.buffer);
}

/**
 * Sends one whole frame, preceded by a virtio_net_hdr in `buf` (zeroes: no offload asked;
 * sentry/net/fdbased.ts fills it for checksum and segmentation offload); false when the frame
 * was dropped (the socket's queue full).
 */
export function sendFrame(fd: number, frame: Uint8Array<ArrayBuffer>): boolean {
  for (;;) {
    const n = libc.symbols.write(fd, frame, BigInt(frame.length));
    if (n >= 0) return true;
    // A full queue (EAGAIN, ENOBUFS) or an interface gone down: the frame is lost, as on a
    // wire; the transports retransmit.
    if (errno() !== EINTR) return false;
  }
}

/**
 * Waits on a runtime thread (the event loop runs meanwhile) until `fd` is readable or
 * `timeoutMs` passes; true when readable.
 */
export async function waitReadable(fd: number, timeoutMs: number): Promise<boolean> {
  return ((await pollAsync(fd, POLLIN, timeoutMs)) & POLLIN) !== 0;
}
