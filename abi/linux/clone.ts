/**
 * clone3(2)'s struct clone_args on x86-64 (its third version, 88 bytes).
 *
 * @module
 */

import { struct, u64 } from "./layout.ts";

/** struct clone_args; a caller's smaller (older) struct reads as zero beyond its size. */
export const CloneArgs = struct("clone_args", 88, {
  flags: [0, u64],
  pidfd: [8, u64],
  childTid: [16, u64],
  parentTid: [24, u64],
  exitSignal: [32, u64],
  stack: [40, u64],
  stackSize: [48, u64],
  tls: [56, u64],
  setTid: [64, u64],
  setTidSize: [72, u64],
  cgroup: [80, u64],
});

/** CLONE_ARGS_SIZE_VER0: the smallest clone_args clone3(2) takes. */
export const CLONE_ARGS_SIZE_VER0 = 64;
