/**
 * Netlink sockets (AF_NETLINK) of the NETLINK_ROUTE protocol: requests are answered at
 * once from the stack (netlink_route.ts) into the socket's receive queue, one message per
 * datagram, so that a reader with a small buffer never loses part of a dump. Other netlink
 * protocols answer EPROTONOSUPPORT.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { chargeKernel, unchargeKernel } from "../mm/memory_file.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  FileDescriptionBase,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
} from "../vfs/file.ts";
import type { Attr } from "../vfs/inode.ts";
import { waitOn, type WaitQueue } from "../vfs/waiter.ts";
import { DEFAULT_BUFFER } from "./endpoint.ts";
import { NLMSG_HDRLEN, routeRequest } from "./netlink_route.ts";
import { interfaceIoctl } from "./ifioctl.ts";
import type { Stack } from "./stack.ts";
import type { Task } from "../kernel/task.ts";

export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
const MSG_PEEK = 2;
const MSG_DONTWAIT = 0x40;
/** What a queued datagram costs beyond its bytes, for the memory charge. */
const DATAGRAM_COST = 64;

let nextPortId = -4096;

export class NetlinkSocket extends FileDescriptionBase {
  #rcv: Uint8Array[] = [];
  #rcvBytes = 0;
  /** The port id (nl_pid) once bound; 0 before. */
  portId = 0;
  groups = 0;
  rcvbuf = DEFAULT_BUFFER;
  sndbuf = DEFAULT_BUFFER;

  constructor(
    readonly stack: Stack,
    readonly type: number,
    flags: number,
    readonly attr: Attr,
  ) {
    super(O_RDWR | (flags & O_NONBLOCK));
  }

  stat(_t: Task): Attr {
    return this.attr;
  }

  /** bind(2): nl_pid 0 lets the kernel choose (the process id first, as Linux). */
  bind(t: Task, pid: number, groups: number): void {
    if (this.portId !== 0 && pid !== 0 && pid !== this.portId) throw new SysError(Errno.EINVAL);
    this.groups = groups;
    if (this.portId === 0) this.portId = pid !== 0 ? pid : this.#choosePort(t);
  }

  #choosePort(t: Task): number {
    const taken = NetlinkSocket.#ports;
    if (!taken.has(t.tg.pid)) {
      taken.add(t.tg.pid);
      return t.tg.pid;
    }
    while (taken.has(nextPortId)) nextPortId--;
    taken.add(nextPortId);
    return nextPortId--;
  }
  static #ports = new Set<number>();

  /** Takes a buffer of requests from the application. */
  send(t: Task, data: Uint8Array): number {
    if (this.portId === 0) this.bind(t, 0, 0);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let o = 0; o + NLMSG_HDRLEN <= data.length;) {
      const len = v.getUint32(o, true);
      if (len < NLMSG_HDRLEN || o + len > data.length) break;
      const h = {
        len,
        type: v.getUint16(o + 4, true),
        flags: v.getUint16(o + 6, true),
        seq: v.getUint32(o + 8, true),
        pid: v.getUint32(o + 12, true),
      };
      for (const m of routeRequest(this.stack, h, data.subarray(o, o + len))) {
        const b = m.encode(this.portId >>> 0);
        // Replies beyond the receive buffer are dropped, as Linux drops them (ENOBUFS to
        // the reader would be next; a dump of our few interfaces never comes near).
        if (
          this.#rcvBytes + b.length > this.rcvbuf * 4 || !chargeKernel(b.length + DATAGRAM_COST)
        ) {
          break;
        }
        this.#rcv.push(b);
        this.#rcvBytes += b.length;
      }
      o += (len + 3) & ~3;
    }
    this.queue.notify();
    return data.length;
  }

  /** Takes (or peeks at) the next datagram, waiting unless non-blocking. */
  async recv(t: Task, flags: number): Promise<Uint8Array> {
    for (;;) {
      const d = this.#rcv[0];
      if (d) {
        if (!(flags & MSG_PEEK)) {
          this.#rcv.shift();
          this.#rcvBytes -= d.length;
          unchargeKernel(d.length + DATAGRAM_COST);
        }
        return d;
      }
      if (this.flags & O_NONBLOCK || flags & MSG_DONTWAIT) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [this.queue as WaitQueue]);
    }
  }

  override async read(t: Task, dst: Uint8Array<ArrayBuffer>): Promise<number> {
    const d = await this.recv(t, 0);
    const n = Math.min(d.length, dst.length);
    dst.set(d.subarray(0, n));
    return n;
  }

  override write(t: Task, src: Uint8Array<ArrayBuffer>): number {
    return this.send(t, src);
  }

  override ioctl(t: Task, request: number, arg: bigint): number {
    const r = interfaceIoctl(t, this.stack, request, arg);
    if (r === null) throw new SysError(Errno.ENOTTY);
    return r;
  }

  override readiness(mask: number): number {
    return ((this.#rcv.length > 0 ? POLLIN | POLLRDNORM : 0) | POLLOUT | POLLWRNORM) & mask;
  }

  override release(): void {
    for (const d of this.#rcv) unchargeKernel(d.length + DATAGRAM_COST);
    this.#rcv = [];
    if (this.portId !== 0) NetlinkSocket.#ports.delete(this.portId);
  }
}
