/**
 * The anonymous inode filesystem that eventfd, epoll, timerfd and signalfd descriptions live
 * on: they share one inode, as on Linux.
 *
 * @module
 */

import { type Attr, Filesystem, type Inode, pseudoAttr } from "../vfs/inode.ts";

class AnonFs extends Filesystem {
  readonly name = "anon_inodefs";
  root(): Inode {
    throw new Error("anon_inodefs has no root");
  }
}

export const anonfs: Filesystem = new AnonFs();
const ANON_INO = anonfs.nextIno();

/** The attributes every anonymous-inode file reports. */
export function anonAttr(t: bigint): Attr {
  return pseudoAttr(anonfs, ANON_INO, 0o600, t);
}
