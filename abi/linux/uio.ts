/**
 * Vectored I/O on x86-64: struct iovec (readv(2), process_vm_readv(2), msghdr's buffers).
 *
 * @module
 */

import { i64, struct, u64 } from "./layout.ts";

/** struct iovec. iov_len is a size_t; the Sentry reads it signed to refuse lengths >= 2^63. */
export const Iovec = struct("iovec", 16, { base: [0, u64], len: [8, i64] });

/** The most iovecs one call takes. */
export const UIO_MAXIOV = 1024;
