/**
 * Resource usage and system information: getrusage(2), times(2), sysinfo(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

const RUSAGE_SELF = 0;
const RUSAGE_CHILDREN = -1;
const RUSAGE_THREAD = 1;
const RUSAGE_SIZE = 144;
/** USER_HZ: the unit of times(2). */
const CLK_TCK = 100n;

function encodeRusage(cpu: { user: bigint; sys: bigint }, maxRssKb: number): Uint8Array {
  const b = new Uint8Array(RUSAGE_SIZE);
  const v = new DataView(b.buffer);
  const tv = (o: number, ns: bigint) => {
    v.setBigInt64(o, ns / 1_000_000_000n, true);
    v.setBigInt64(o + 8, (ns % 1_000_000_000n) / 1000n, true);
  };
  tv(0, cpu.user);
  tv(16, cpu.sys);
  v.setBigInt64(32, BigInt(maxRssKb), true);
  return b;
}

/** Implements Linux syscall getrusage(2): CPU times and an approximate peak RSS. */
function getrusage(t: Task): number {
  const who = argInt(t, 0);
  let cpu;
  switch (who) {
    case RUSAGE_SELF:
      cpu = t.tg.cpuTime();
      break;
    case RUSAGE_THREAD:
      cpu = t.ctx.cpuTime();
      break;
    case RUSAGE_CHILDREN:
      cpu = t.tg.cpuChildren;
      break;
    default:
      throw new SysError(Errno.EINVAL);
  }
  const rss = who === RUSAGE_CHILDREN ? 0 : Number(t.mm.mf.used / 1024n);
  t.mm.copyOut(argPtr(t, 1), encodeRusage(cpu, rss));
  return 0;
}

/** Implements Linux syscall times(2): returns clock ticks since the sandbox started. */
function times(t: Task): bigint {
  const buf = argPtr(t, 0);
  if (buf !== 0n) {
    const self = t.tg.cpuTime();
    const kids = t.tg.cpuChildren;
    const b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    const ticks = (ns: bigint) => ns * CLK_TCK / 1_000_000_000n;
    v.setBigInt64(0, ticks(self.user), true);
    v.setBigInt64(8, ticks(self.sys), true);
    v.setBigInt64(16, ticks(kids.user), true);
    v.setBigInt64(24, ticks(kids.sys), true);
    t.mm.copyOut(buf, b);
  }
  return BigInt(Date.now() - t.kernel.bootTime) * CLK_TCK / 1000n;
}

/** The host's memory, which the sandbox reports as its own. */
function hostMemInfo(): { total: bigint; free: bigint } {
  try {
    const m = Deno.readTextFileSync("/proc/meminfo");
    const kb = (k: string) =>
      BigInt(/\d+/.exec(m.split("\n").find((l) => l.startsWith(k)) ?? "0")![0]);
    return { total: kb("MemTotal:") * 1024n, free: kb("MemAvailable:") * 1024n };
  } catch {
    return { total: 1n << 30n, free: 1n << 29n };
  }
}

/** Implements Linux syscall sysinfo(2). */
function sysinfo(t: Task): number {
  const b = new Uint8Array(112);
  const v = new DataView(b.buffer);
  const mem = hostMemInfo();
  const used = t.mm.mf.used;
  v.setBigInt64(0, BigInt(Math.floor((Date.now() - t.kernel.bootTime) / 1000)), true);
  v.setBigUint64(32, mem.total, true);
  v.setBigUint64(40, mem.free > used ? mem.free - used : 0n, true);
  v.setUint16(80, t.kernel.tasks.size, true);
  v.setUint32(104, 1, true); // mem_unit
  t.mm.copyOut(argPtr(t, 0), b);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  getrusage: {
    handler: getrusage,
    support: "partial",
    note: "CPU times and max RSS; other counters are 0",
    args: ["d", "x"],
  },
  times: { handler: times, args: ["x"] },
  sysinfo: {
    handler: sysinfo,
    support: "partial",
    note: "memory is the host's; load averages and swap are 0",
    args: ["x"],
  },
};
