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
import {
  CLK_TCK,
  Rusage,
  RUSAGE_CHILDREN,
  RUSAGE_SELF,
  RUSAGE_THREAD,
  Tms,
} from "../../abi/linux/rusage.ts";
import { Sysinfo } from "../../abi/linux/sysinfo.ts";
import { NSEC_PER_SEC, timevalFromNs } from "../../abi/linux/time.ts";

function encodeRusage(cpu: { user: bigint; sys: bigint }, maxRssKb: number): Uint8Array {
  return Rusage.encode({
    utime: timevalFromNs(cpu.user),
    stime: timevalFromNs(cpu.sys),
    maxrss: BigInt(maxRssKb),
  });
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
    const ticks = (ns: bigint) => ns * CLK_TCK / NSEC_PER_SEC;
    t.mm.copyOut(
      buf,
      Tms.encode({
        utime: ticks(self.user),
        stime: ticks(self.sys),
        cutime: ticks(kids.user),
        cstime: ticks(kids.sys),
      }),
    );
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
  const mem = hostMemInfo();
  const used = t.mm.mf.used;
  t.mm.copyOut(
    argPtr(t, 0),
    Sysinfo.encode({
      uptime: BigInt(Math.floor((Date.now() - t.kernel.bootTime) / 1000)),
      totalram: mem.total,
      freeram: mem.free > used ? mem.free - used : 0n,
      procs: t.kernel.tasks.size,
      memUnit: 1,
    }),
  );
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
