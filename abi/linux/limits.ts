/**
 * getrlimit(2), setrlimit(2) and prlimit(2)'s struct rlimit (struct rlimit64 on x86-64).
 *
 * @module
 */

import { struct, u64 } from "./layout.ts";

/** struct rlimit. */
export const Rlimit = struct("rlimit", 16, { cur: [0, u64], max: [8, u64] });
