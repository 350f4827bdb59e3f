/**
 * sysinfo(2)'s struct sysinfo on x86-64.
 *
 * @module
 */

import { array, i64, struct, u16, u32, u64 } from "./layout.ts";

/** struct sysinfo: memory sizes are in units of mem_unit bytes. */
export const Sysinfo = struct("sysinfo", 112, {
  uptime: [0, i64],
  loads: [8, array(u64, 3)],
  totalram: [32, u64],
  freeram: [40, u64],
  sharedram: [48, u64],
  bufferram: [56, u64],
  totalswap: [64, u64],
  freeswap: [72, u64],
  procs: [80, u16],
  totalhigh: [88, u64],
  freehigh: [96, u64],
  memUnit: [104, u32],
});
