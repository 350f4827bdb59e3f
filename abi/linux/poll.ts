/**
 * poll(2), select(2) and epoll(7) structs on x86-64.
 *
 * @module
 */

import { i32, struct, u16, u32, u64 } from "./layout.ts";

/** struct pollfd. */
export const Pollfd = struct("pollfd", 8, { fd: [0, i32], events: [4, u16], revents: [6, u16] });

/** struct epoll_event: packed on x86-64, so data sits at 4, unaligned. */
export const EpollEvent = struct("epoll_event", 12, { events: [0, u32], data: [4, u64] });

/** pselect6(2)'s sixth argument: a sigset pointer and its size. */
export const PselectSigmask = struct("pselect6 sigmask", 16, { ss: [0, u64], len: [8, u64] });
