/**
 * /proc/net: tcp, tcp6, udp, udp6 (one line per endpoint, in Linux's layout: addresses
 * as the host-order hex of each 32-bit word), dev (per-interface counters), if_inet6.
 *
 * @module
 */

import type { Kernel } from "../kernel/kernel.ts";
import { isV4 } from "./address.ts";
import { NetStack } from "./socket.ts";
import type { TransportEndpoint } from "./stack.ts";
import { TCPEndpoint, TCPState } from "./tcp_endpoint.ts";

/** Who owns an endpoint, for the uid and inode columns. */
export interface ProcInfo {
  uid: number;
  ino: bigint;
}

function hex32(b: Uint8Array, at: number): string {
  // The word as the kernel prints it: its in-memory (little-endian) value.
  const v = (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
  return v.toString(16).toUpperCase().padStart(8, "0");
}

function addr(a: Uint8Array | null, port: number, v6: boolean): string {
  const p = port.toString(16).toUpperCase().padStart(4, "0");
  if (!a) return (v6 ? "0".repeat(32) : "00000000") + ":" + p;
  const h = v6 ? [0, 4, 8, 12].map((i) => hex32(a, i)).join("") : hex32(a, 12);
  return `${h}:${p}`;
}

type Ep = TransportEndpoint & { procInfo?: ProcInfo | null };

function table(eps: Ep[], v6: boolean, tcp: boolean): string {
  const head = v6
    ? "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    : "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n";
  const lines = eps.filter((e) => e.localPort !== 0 && isV4(e.localAddr) !== v6).map(
    (e, i) => {
      let st = 7, tx = 0, rx = 0;
      if (tcp && e instanceof TCPEndpoint) {
        st = e.state;
        tx = e.unacked;
        rx = e.state === TCPState.LISTEN ? e.acceptQueue.length : e.readable;
      }
      const q = `${tx.toString(16).toUpperCase().padStart(8, "0")}:${
        rx.toString(16).toUpperCase().padStart(8, "0")
      }`;
      const uid = e.procInfo?.uid ?? 0, ino = e.procInfo?.ino ?? 0n;
      return `${String(i).padStart(4)}: ${addr(e.localAddr, e.localPort, v6)} ${
        addr(e.remoteAddr, e.remotePort, v6)
      } ${st.toString(16).toUpperCase().padStart(2, "0")} ${q} 00:00000000 00000000 ${
        String(uid).padStart(5)
      } ${String(0).padStart(8)} ${ino} 1 0000000000000000 20 4 0 10 -1\n`;
    },
  );
  return head + lines.join("");
}

function dev(k: Kernel): string {
  let s = "Inter-|   Receive                                                |  Transmit\n" +
    " face |bytes    packets errs drop fifo frame compressed multicast|" +
    "bytes    packets errs drop fifo colls carrier compressed\n";
  for (const nic of NetStack.of(k).stack.nics) {
    const st = nic.stats;
    const n = (v: number, w: number) => String(v).padStart(w);
    s += `${nic.name.padStart(6)}:${n(st.rxBytes, 8)} ${n(st.rxPackets, 7)} ${n(0, 4)} ${
      n(st.rxDropped, 4)
    } ${n(0, 4)} ${n(0, 5)} ${n(0, 10)} ${n(0, 9)} ${n(st.txBytes, 8)} ${n(st.txPackets, 7)} ${
      n(0, 4)
    } ${n(0, 4)} ${n(0, 4)} ${n(0, 5)} ${n(0, 7)} ${n(0, 10)}\n`;
  }
  return s;
}

function ifInet6(k: Kernel): string {
  let s = "";
  for (const nic of NetStack.of(k).stack.nics) {
    for (const a of nic.addresses) {
      if (isV4(a.addr)) continue;
      const h = Array.from(a.addr, (b) => b.toString(16).padStart(2, "0")).join("");
      const idx = nic.index.toString(16).padStart(2, "0");
      s += `${h} ${idx} ${a.prefixLen.toString(16).padStart(2, "0")} 10 80 ${
        nic.name.padStart(8)
      }\n`;
    }
  }
  return s;
}

/** The files of /proc/net, by name, each made when opened. */
export function procNetFiles(k: Kernel): Record<string, () => string> {
  const ns = () => NetStack.of(k);
  return {
    tcp: () => table(ns().tcp.table.all(), false, true),
    tcp6: () => table(ns().tcp.table.all(), true, true),
    udp: () => table(ns().udp.table.all(), false, false),
    udp6: () => table(ns().udp.table.all(), true, false),
    dev: () => dev(k),
    if_inet6: () => ifInet6(k),
  };
}
