/**
 * A process's filesystem context (Linux's fs_struct): its root, working directory and umask.
 *
 * Kept beside the thread group rather than inside it: FsContext.of(tg) finds a group's
 * context, and a group without one (forked before the kernel learned to pass it on) gets a
 * copy of its parent's.
 *
 * @module
 */

import type { Kernel } from "../kernel/kernel.ts";
import type { ThreadGroup } from "../kernel/task.ts";
import { ROOT_CREDS } from "./inode.ts";
import type { VirtualDentry } from "./vfs.ts";

const contexts = new WeakMap<ThreadGroup, FsContext>();

export class FsContext {
  constructor(public root: VirtualDentry, public cwd: VirtualDentry, public umask = 0o022) {}

  /** A copy for fork (clone without CLONE_FS). */
  fork(): FsContext {
    return new FsContext(this.root, this.cwd, this.umask);
  }

  /** The context of tg (inherited from its parent's when none was set). */
  static of(tg: ThreadGroup): FsContext {
    let c = contexts.get(tg);
    if (!c) {
      const p = tg.parent ? FsContext.of(tg.parent) : undefined;
      if (!p) throw new Error(`thread group ${tg.pid} has no filesystem context`);
      c = p.fork();
      contexts.set(tg, c);
    }
    return c;
  }

  /** Gives tg its context (init, fork with or without CLONE_FS sharing). */
  static set(tg: ThreadGroup, c: FsContext): void {
    contexts.set(tg, c);
  }
}

/**
 * The first process's context: the tree's root, and cwd resolved from it (made-up directories
 * are not created: a missing cwd falls back to the root, as an OCI runtime would have failed
 * earlier).
 */
export function initFsContext(k: Kernel, cwd: string, umask: number): FsContext {
  const root = k.vfs.root;
  let dir = root;
  try {
    dir = k.vfs.resolve({ t: undefined as never, root, start: root, creds: ROOT_CREDS }, cwd, {
      follow: true,
      directory: true,
    });
  } catch {
    // Leave the root as the working directory.
  }
  return new FsContext(root, dir, umask);
}
