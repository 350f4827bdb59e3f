/**
 * inotify(7)'s struct inotify_event on x86-64; a NUL-padded name of `len` bytes follows it.
 *
 * @module
 */

import { i32, struct, u32 } from "./layout.ts";

/** struct inotify_event, without its name. */
export const InotifyEvent = struct("inotify_event", 16, {
  wd: [0, i32],
  mask: [4, u32],
  cookie: [8, u32],
  len: [12, u32],
});
