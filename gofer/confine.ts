/**
 * The Gofer's confinement. `runsc create`, when it runs as root, starts the gofer under nsinit
 * (host/nsinit.ts, which waits for it confined) so that the whole process (every thread Deno starts) begins life in its
 * own mount, IPC, UTS, network (empty) and PID namespaces: unshare(2) from inside Deno could
 * not do that, since it applies to the calling thread only for the mount namespace (CLONE_NEWNS
 * unshares the fs_struct) and a new PID namespace takes effect only for children, which Deno
 * cannot fork. The gofer then, in its private mount namespace:
 *
 * 1. opens the rootfs and each bind mount's source while the host's tree is still visible;
 * 2. mounts a tmpfs over /tmp as the new root, binds the rootfs at /root and bind mount `i` at
 *    /m<i> from those descriptors, remounting read-only what the spec asks to be, and mounts a
 *    procfs of its own PID namespace at /proc (for `/proc/self/fd/N` reopens);
 * 3. pivot_root into that tmpfs and detaches the host's tree, so that nothing else exists;
 * 4. reduces every thread's capabilities to those that serving files needs, with
 *    no_new_privs (host/threads.ts: capabilities are per thread in Linux, and Deno's threads
 *    exist before our code runs);
 * 5. installs the Gofer's seccomp filter (host/filters.ts) on every thread.
 *
 * @module
 */

import { closeFd } from "../host/libc.ts";
import {
  fstat,
  O_CLOEXEC,
  O_CREAT,
  O_PATH,
  O_WRONLY,
  openAt,
  S_IFDIR,
  S_IFMT,
} from "../host/fsops.ts";
import {
  attachMountTree,
  Cap,
  cloneMountTree,
  mount,
  MS_BIND,
  MS_RDONLY,
  MS_REMOUNT,
  pivotIntoEmptyRoot,
} from "../host/namespace.ts";
import { AT_FDCWD } from "../abi/linux/file.ts";
import { limitCapabilitiesEverywhere } from "../host/threads.ts";
import { scopeEverywhere } from "../host/landlock.ts";
import { goferFilter } from "../host/filters.ts";
import {
  buildFilter,
  installFilter,
  SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_TSYNC,
} from "../host/seccomp.ts";
import { log } from "../log.ts";
import type { ServedMount } from "./lisafs/server.ts";

/** Where the new root is assembled, inside the gofer's private mount namespace. */
const STAGING = "/tmp";
// Where the CLI starts the gofer and the boot in new namespaces (oci/confine_argv.ts).
export {
  CONFINE_FLAG,
  confinedArgv,
  type ConfinedCommand,
  confinedCommand,
  type ConfineNamespaces,
} from "../oci/confine_argv.ts";

/** A file system to serve, opened on the host before confinement. */
export interface MountSource {
  /** "/" or the mount's destination in the container. */
  path: string;
  /** O_PATH descriptor of the source (owned by the caller). */
  fd: number;
  readonly: boolean;
  /** rbind: bring the source's submounts along. */
  recursive: boolean;
  /** Its overlay filestore (filestore.ts), or -1 / absent; handed on to the served mount. */
  filestore?: number;
}

/** Capabilities the gofer keeps: owners, modes and permission bypass for the files it serves. */
export const GOFER_CAPS: readonly number[] = [
  Cap.CHOWN,
  Cap.DAC_OVERRIDE,
  Cap.DAC_READ_SEARCH,
  Cap.FOWNER,
  Cap.FSETID,
  // ConnectWithCreds connects with the application's ids as SO_PEERCRED.
  Cap.SETUID,
  Cap.SETGID,
];

function mkdirOrFile(path: string, dir: boolean): void {
  if (dir) {
    Deno.mkdirSync(path);
  } else {
    closeFd(openAt(AT_FDCWD, path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600));
  }
}

/**
 * Builds the gofer's view (see the module comment) from `sources` and pivots into it. Returns
 * the served mounts with descriptors opened inside the new root; the caller closes `sources`'
 * descriptors (not their filestores, which move to the served mounts). Throws HostError if any step fails: a gofer that was asked to confine itself
 * and could not does not serve.
 */
export function confine(sources: readonly MountSource[]): ServedMount[] {
  // Copies of the sources' mount trees are taken before the staging tmpfs exists: a source at
  // or above STAGING (the host's "/", or its /tmp) must show the host's tree, not the staging.
  const trees = sources.map((s) => cloneMountTree(s.fd, s.recursive));
  const names = sources.map((s, i) => (s.path === "/" ? "root" : `m${i}`));
  pivotIntoEmptyRoot(STAGING, (dir) => {
    sources.forEach((s, i) => {
      const target = `${dir}/${names[i]}`;
      mkdirOrFile(target, (fstat(s.fd).mode & S_IFMT) === S_IFDIR);
      attachMountTree(trees[i], target);
      closeFd(trees[i]);
      if (s.readonly) mount(null, target, null, MS_BIND | MS_REMOUNT | MS_RDONLY);
    });
  });
  const served = sources.map((s, i) => ({
    path: s.path,
    fd: openAt(AT_FDCWD, `/${names[i]}`, O_PATH | O_CLOEXEC),
    readonly: s.readonly,
    filestore: s.filestore,
  }));
  limitCapabilitiesEverywhere(GOFER_CAPS);
  // Its network namespace is its own, so no host abstract name is there to reach: the scope
  // only keeps a compromised Gofer from the Sentry's (empty) one and from signalling out.
  const landlock = scopeEverywhere();
  const filter = buildFilter(goferFilter());
  installFilter(filter, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG);
  log.debug("gofer: confined", {
    mounts: served.map((m, i) => `${m.path} -> /${names[i]}${m.readonly ? " (ro)" : ""}`),
    caps: GOFER_CAPS,
    noNewPrivs: true,
    landlock: landlock ?? "not applied: the kernel has no Landlock scoping (ABI 6)",
    seccompInstructions: filter.length / 8,
  });
  return served;
}
