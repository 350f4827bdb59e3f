/**
 * The UTS names (uname(2)): the fixed kernel identity the sandbox reports, and the limit on the
 * names the application may set. The hostname and domain name themselves are the kernel's
 * (Kernel.hostname, Kernel.domainname), set from the spec and by sethostname(2).
 *
 * @module
 */

/** What the sandbox reports as its kernel; applications see a fixed Linux, not the host's. */
export const UTS = {
  sysname: "Linux",
  release: "4.4.0",
  version: "#1 SMP Sun Jan 10 15:06:54 PST 2016",
  machine: "x86_64",
};

/** Bytes of each field of struct utsname, its NUL included (__NEW_UTS_LEN + 1). */
export const UTS_FIELD_LEN = 65;
