/**
 * The Sentry as the boot process sees it: one sandbox running one container's init process.
 * boot/boot.ts builds it from the spec and drives it from the control socket.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import type { TakenInterface } from "./network.ts";
import type { CapSets } from "../sentry/kernel/task_creds.ts";

/** What the Sentry needs to start the container's init process. */
export interface InitSpec {
  /** process.args; args[0] is resolved against PATH from env when it has no slash. */
  args: string[];
  /** process.env as KEY=VALUE. */
  env: string[];
  /** process.cwd, absolute. */
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask?: number;
  /** hostname from the spec (uname nodename). */
  hostname: string;
  rlimits: { type: string; soft: number; hard: number }[];
  /** root.readonly. */
  rootReadonly?: boolean;
  /**
   * linux.resources.memory.limit: application memory beyond it is refused with ENOMEM.
   * Absent: the host's memory.
   */
  memoryLimit?: number;
  /**
   * linux.resources.pids.limit: most tasks (threads) the container may have; clone beyond it
   * fails with EAGAIN. Absent: DEFAULT_PIDS_LIMIT (sentry/kernel/kernel.ts).
   */
  pidsLimit?: number;
  /**
   * process.capabilities (oci/spec.ts gives empty sets when the spec has none, as runc).
   * Absent here (a sandbox built without a spec): every capability for root.
   */
  capabilities?: CapSets;
  /** process.noNewPrivileges. */
  noNewPrivileges?: boolean;
  /** The spec's mounts, in order. */
  mounts?: { destination: string; type?: string; source?: string; options?: string[] }[];
}

export interface SandboxOptions {
  /** "systrap", "ptrace" or "kvm". */
  platform: string;
  /**
   * The platform was not asked for: if it is systrap and the host cannot run it, ptrace
   * instead (a debug line says why), as with gVisor's default.
   */
  platformFallback?: boolean;
  /** --platform_device_path: the device the kvm platform opens (default /dev/kvm). */
  platformDevicePath?: string;
  /** --strace: log every syscall to the debug log. */
  strace: boolean;
  log: Logger;
  /** The connected LISAFS socket to the container's Gofer. */
  goferFd: number;
  /** --overlay2 (canonical form), for the root's overlay. */
  overlay2?: string;
  /** --file-access and --file-access-mounts: exclusive or shared. */
  fileAccess?: string;
  fileAccessMounts?: string;
  /** Host descriptors that become the container's stdin, stdout and stderr. */
  stdio: [number, number, number];
  /**
   * process.terminal with a console: stdio[0] is a host terminal (raw) that the Sentry connects
   * to a pty of its own, the application's stdio and controlling terminal.
   */
  terminal?: boolean;
  /**
   * --network=sandbox: the interfaces taken over from the container's namespace;
   * --network=host: the host's, shown only (no packet socket: fd -1).
   */
  network?: TakenInterface[];
  /** --network=host: the application's TCP/IP sockets are host sockets. */
  hostNetwork?: boolean;
}

/**
 * The part of a sandbox that needs no container: the memory file and the platform (for ptrace,
 * its template stub). A spare sandbox holds one until it is taken (oci/spare.ts).
 */
export interface Prepared {
  /** The platform it runs on (the one asked for, or the fallback). */
  readonly platformName: string;
  /** Ends the platform's host resources (stubs, vCPUs); for a spare that nobody took. */
  release(): void;
}

/** A failure to set up the container that the user must see (missing executable, bad ELF...). */
export class SandboxError extends Error {
  constructor(message: string, readonly errno = 0, options?: ErrorOptions) {
    super(message, options);
    this.name = "SandboxError";
  }
}

/** The lifecycle a sandbox reports to the control socket. */
export type SandboxStatus = "created" | "running" | "stopped";
