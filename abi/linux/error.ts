/**
 * Errors that carry a Linux errno, and the one a syscall returns to the application.
 *
 * @module
 */

import { errnoName } from "./errno.ts";

/**
 * An error that carries an errno and is thrown on the ordinary paths of busy programs (an
 * event loop's EAGAIN, a search path's ENOENT, a host call's failure behind it). It is an
 * Error to `instanceof` and to printing, but is not constructed as one: V8 records a stack
 * trace at every Error's construction (1.3-3 us here, however short Error.stackTraceLimit
 * is), which these would pay thousands of times a second for nothing. With `captureStacks`
 * (--debug) each one records its stack again.
 */
export abstract class ErrnoError implements Error {
  static captureStacks = false;
  abstract readonly name: string;
  declare stack?: string;
  constructor(readonly errno: number, readonly message: string) {
    if (ErrnoError.captureStacks) Error.captureStackTrace(this, new.target);
  }
}
Object.setPrototypeOf(ErrnoError.prototype, Error.prototype);

/**
 * The error a syscall returns to the application. Handlers and the helpers they call throw a
 * SysError deep inside (a bad pointer in copy-in, a bad descriptor); the dispatcher turns it
 * into -errno in rax. Anything else thrown is a bug in the Sentry.
 */
export class SysError extends ErrnoError {
  constructor(errno: number, message?: string) {
    super(errno, message ?? errnoName(errno));
  }
  get name(): string {
    return "SysError";
  }
}
