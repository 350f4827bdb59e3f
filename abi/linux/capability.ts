/**
 * capget(2) and capset(2)'s structs on x86-64.
 *
 * @module
 */

import { i32, struct, u32 } from "./layout.ts";

export const _LINUX_CAPABILITY_VERSION_1 = 0x19980330;
export const _LINUX_CAPABILITY_VERSION_2 = 0x20071026;
export const _LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** struct __user_cap_header_struct. */
export const CapUserHeader = struct("__user_cap_header_struct", 8, {
  version: [0, u32],
  pid: [4, i32],
});

/** struct __user_cap_data_struct: one 32-bit word of each set (version 1 has one, 2 and 3 two). */
export const CapUserData = struct("__user_cap_data_struct", 12, {
  effective: [0, u32],
  permitted: [4, u32],
  inheritable: [8, u32],
});
