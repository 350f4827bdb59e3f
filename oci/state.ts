/**
 * The container state store: `<root>/<id>/state.json` per container, written atomically (a temp
 * file renamed into place), and a per-container lock (`<root>/<id>/lock`, flock) so that
 * concurrent commands on one container serialize.
 *
 * @module
 */

import { join } from "../path.ts";
import { SPEC_VERSION } from "./global.ts";
import { EXIT_FILE } from "../boot/control.ts";
import { openAt } from "../host/fsops.ts";
import { AT_FDCWD, O_CLOEXEC, O_CREAT, O_NOFOLLOW, O_TRUNC, O_WRONLY } from "../abi/linux/file.ts";
import type { Hooks } from "./hooks.ts";

/** The lifecycle of a container, as the OCI state reports it. */
export type Status = "creating" | "created" | "running" | "paused" | "stopped";

/** What is stored for a container: the OCI state plus what this runtime needs to manage it. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: Status;
  /** Host pid of the boot (sandbox) process; 0 while creating. */
  pid: number;
  /** Absolute bundle path. */
  bundle: string;
  annotations: Record<string, string>;
  /** RFC 3339 creation time. */
  created: string;
  /** Host pid of the gofer process; 0 while creating. */
  goferPid: number;
  /** The user who created it (list's OWNER column). */
  owner: string;
  /** linux.cgroupsPath of the spec, when the sandbox's processes were put there (cgroup.ts). */
  cgroupsPath?: string;
  /**
   * The host processes of a sandbox that began as a spare (oci/spare.ts), each known by pid and
   * start time: their argv names no container, so they are found by these alone.
   */
  spareProcs?: ProcessId[];
  /** The spec's hooks, as create checked them: start and delete run theirs from here. */
  hooks?: Hooks;
  /**
   * The boot's nsinit (host/nsinit.ts), as root: it writes the exit record (EXIT_FILE) once the
   * boot has ended, so a record still empty while it lives may yet come.
   */
  nsinit?: ProcessId;
}

/** A host process as it cannot be mistaken for a later one with its pid. */
export interface ProcessId {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot at which it started. */
  start: number;
}

/**
 * Makes the empty exit record (EXIT_FILE) in the state directory `dir` and opens it for writing,
 * close-on-exec: the descriptor goes to the boot's nsinit, the one process that writes it
 * (host/nsinit.ts).
 */
export function openExitRecord(dir: string): number {
  return openAt(
    AT_FDCWD,
    join(dir, EXIT_FILE),
    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
    0o600,
  );
}

/** The OCI state as `runsc state` prints it. */
export function ociState(s: ContainerState): Record<string, unknown> {
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    status: s.status,
    pid: s.status === "stopped" ? 0 : s.pid,
    bundle: s.bundle,
    annotations: s.annotations,
    created: s.created,
    owner: s.owner,
  };
}

/** A state store failure: unknown container, duplicate id, bad id. */
export class StateError extends Error {
  constructor(message: string, readonly code: "notfound" | "exists" | "invalid" | "io" = "io") {
    super(message);
    this.name = "StateError";
  }
}

const ID_RE = /^[A-Za-z0-9_.-]+$/;

/** Whether `id` is a container id validateId accepts. */
export function isValidId(id: string): boolean {
  try {
    validateId(id);
    return true;
  } catch {
    return false;
  }
}

/** Throws StateError unless `id` is a usable container id (one path component, no dots only). */
export function validateId(id: string): void {
  if (id === "") throw new StateError("container id must not be empty", "invalid");
  if (!ID_RE.test(id) || id === "." || id === ".." || id.includes("..")) {
    throw new StateError(
      `invalid container id "${id}": use letters, digits, "_", "-" and "." only`,
      "invalid",
    );
  }
  if (id.length > 1024) throw new StateError(`container id is too long (${id.length})`, "invalid");
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory, then rename, so that a
 * reader sees the old file or the new one, never a part. Not synced to disk: the state of
 * running containers does not outlive the host's processes (as runc's and crun's), and an
 * fdatasync costs ~2 ms on every state change of a container's start.
 */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    using f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    const bytes = new TextEncoder().encode(data);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* it may not exist */ }
    throw e;
  }
  Deno.renameSync(tmp, path);
}

/** A held container lock; released on dispose. */
export interface Lock extends Disposable {
  release(): void;
}

/** The state directory tree under `--root`. */
export class StateStore {
  constructor(readonly root: string) {}

  /** `<root>/<id>` (validates the id). */
  dir(id: string): string {
    validateId(id);
    return join(this.root, id);
  }

  /** Path of the control socket of container `id`. */
  socketPath(id: string): string {
    return join(this.dir(id), "ctl.sock");
  }

  /** Whether a container with this id exists. */
  exists(id: string): boolean {
    try {
      Deno.statSync(join(this.dir(id), "state.json"));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Reserves `id`: creates its directory (failing if it exists) and writes a `creating` state.
   * The caller holds the returned lock until the container is created or removed.
   */
  // deno-lint-ignore require-await
  async reserve(init: Omit<ContainerState, "status" | "pid" | "goferPid">): Promise<Lock> {
    const dir = this.dir(init.id);
    Deno.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      Deno.mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new StateError(`container with id "${init.id}" already exists`, "exists");
      }
      throw e;
    }
    // The directory is new: nobody waits on its lock, and a holder (a racing command) is brief.
    // Taken without the runtime's thread pool, whose first use costs a thread's start.
    const lock = this.#lockFile(init.id, (f) => f.lockSync(true));
    this.write({ ...init, status: "creating", pid: 0, goferPid: 0 });
    return lock;
  }

  /** Takes the container's lock, waiting for other holders (other processes included). */
  async lock(id: string): Promise<Lock> {
    const dir = this.dir(id);
    let f: Deno.FsFile;
    try {
      f = await Deno.open(join(dir, "lock"), { read: true, write: true, create: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw this.#notFound(id);
      throw e;
    }
    await f.lock(true);
    return this.#held(f);
  }

  /** The lock of `id` taken by `take` on its open lock file, synchronously. */
  #lockFile(id: string, take: (f: Deno.FsFile) => void): Lock {
    let f: Deno.FsFile;
    try {
      f = Deno.openSync(join(this.dir(id), "lock"), { read: true, write: true, create: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw this.#notFound(id);
      throw e;
    }
    try {
      take(f);
    } catch (e) {
      f.close();
      throw e;
    }
    return this.#held(f);
  }

  #held(f: Deno.FsFile): Lock {
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      try {
        f.unlockSync();
      } catch { /* closing releases it anyway */ }
      f.close();
    };
    return { release, [Symbol.dispose]: release };
  }

  /** Reads the stored state of `id`. */
  read(id: string): ContainerState {
    const file = join(this.dir(id), "state.json");
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw this.#notFound(id);
      throw new StateError(`read state file ${file}: ${(e as Error).message}`);
    }
    try {
      return JSON.parse(text) as ContainerState;
    } catch (e) {
      throw new StateError(`state file ${file} is corrupt: ${(e as Error).message}`);
    }
  }

  /** Stores `s` atomically. */
  write(s: ContainerState): void {
    writeFileAtomic(join(this.dir(s.id), "state.json"), JSON.stringify(s, null, 2) + "\n");
  }

  /** Removes everything stored for `id`. */
  remove(id: string): void {
    try {
      Deno.removeSync(this.dir(id), { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** The ids of every stored container, sorted. */
  list(): string[] {
    const ids: string[] = [];
    try {
      for (const e of Deno.readDirSync(this.root)) {
        if (!e.isDirectory) continue;
        try {
          validateId(e.name);
        } catch {
          continue;
        }
        if (this.exists(e.name)) ids.push(e.name);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return ids.sort();
  }

  #notFound(id: string): StateError {
    return new StateError(`container "${id}" does not exist`, "notfound");
  }
}

/** A fresh state record for a container being created. */
export function newState(
  id: string,
  bundle: string,
  annotations: Record<string, string>,
): Omit<ContainerState, "status" | "pid" | "goferPid"> {
  let owner = "root";
  const uid = Deno.uid();
  if (uid !== 0) owner = String(uid);
  return {
    ociVersion: SPEC_VERSION,
    id,
    bundle,
    annotations,
    created: new Date().toISOString(),
    owner,
  };
}
