/**
 * The error a syscall returns to the application. Handlers and the helpers they call throw a
 * SysError deep inside (a bad pointer in copy-in, a bad descriptor); the dispatcher turns it
 * into -errno in rax. Anything else thrown is a bug in the Sentry.
 *
 * @module
 */

import { errnoName } from "./errno.ts";

export class SysError extends Error {
  constructor(readonly errno: number, message?: string) {
    super(message ?? errnoName(errno));
    this.name = "SysError";
  }
}
