/**
 * The LISAFS client the Sentry uses to reach the Gofer. Calls are synchronous: each sends one
 * request and blocks this thread in recvmsg until the response arrives (one request in flight
 * per socket). A failed request throws `LisafsError` with the Linux errno the Sentry returns to
 * the application.
 *
 * @module
 */

import { Errno, errnoName } from "../../host/errno.ts";
import { closeFd, HostError } from "../../host/libc.ts";
import { closeAll, FramingError, recvMessage, sendMessage } from "./channel.ts";
import { decode, DecodeError, encode } from "./codec.ts";
import {
  ErrorResp,
  type ImplementedMID,
  MAX_MESSAGE_SIZE,
  MESSAGES,
  MID,
  midName,
  type Req,
  type Resp,
  type Stat,
  type StatFS,
  WalkStatus,
} from "./message.ts";

export type { Stat, StatFS };

/** A request the Gofer answered with an Error, or a broken connection (EIO). */
export class LisafsError extends Error {
  constructor(readonly errno: number, message: string) {
    super(`lisafs: ${message}: ${errnoName(errno)}`);
    this.name = "LisafsError";
  }
}

/** One directory entry as Getdents64 returns it. */
export interface Dirent64 {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
}

/** A synchronous client on one connected socket. */
export class LisafsClient {
  #maxMessageSize = MAX_MESSAGE_SIZE;
  #supported: ReadonlySet<number> = new Set();

  /** @param sockFd a connected SOCK_STREAM Unix socket to the Gofer (the client does not own it). */
  constructor(readonly sockFd: number) {}

  /** The message ids the server announced in Mount. */
  get supported(): ReadonlySet<number> {
    return this.#supported;
  }

  /**
   * Sends request `mid` and returns the decoded response and the descriptors that came with
   * it (the caller owns them). Throws LisafsError on an Error response or a broken connection.
   */
  call<M extends ImplementedMID>(mid: M, req: Req<M>): { resp: Resp<M>; fds: number[] } {
    const spec = MESSAGES[mid];
    const what = midName(mid);
    let msg;
    try {
      sendMessage(this.sockFd, mid, encode(spec.req as never, req as never));
      msg = recvMessage(this.sockFd, this.#maxMessageSize);
    } catch (e) {
      if (e instanceof HostError || e instanceof FramingError) {
        throw new LisafsError(Errno.EIO, `${what}: connection failed (${e.message})`);
      }
      throw e;
    }
    if (!msg) throw new LisafsError(Errno.EIO, `${what}: connection closed by the gofer`);
    try {
      if (msg.mid === MID.Error) {
        const { errno } = decode(ErrorResp, msg.payload);
        throw new LisafsError(errno, what);
      }
      if (msg.mid !== mid) {
        throw new LisafsError(Errno.EIO, `${what}: answered with ${midName(msg.mid)}`);
      }
      return { resp: decode(spec.resp, msg.payload) as Resp<M>, fds: msg.fds };
    } catch (e) {
      closeAll(msg.fds);
      if (e instanceof DecodeError) throw new LisafsError(Errno.EIO, `${what}: ${e.message}`);
      throw e;
    }
  }

  /** Mount: the root's control FD id and attributes. Call once, first. */
  mount(): { root: number; stat: Stat } {
    const { resp } = this.call(MID.Mount, {});
    this.#maxMessageSize = resp.maxMessageSize;
    this.#supported = new Set(resp.supported);
    return { root: resp.root.fd, stat: resp.root.stat };
  }

  /**
   * Walk: control FDs for each component of `names` from directory `dir`, stopping after the
   * first symlink (included, status "symlink") or before the first missing component
   * (status "missing").
   */
  walk(
    dir: number,
    names: string[],
  ): { status: "ok" | "symlink" | "missing"; inodes: { fd: number; stat: Stat }[] } {
    const { resp } = this.call(MID.Walk, { dirFd: dir, names });
    const status = resp.status === WalkStatus.Success
      ? "ok"
      : resp.status === WalkStatus.ComponentSymlink
      ? "symlink"
      : "missing";
    return { status, inodes: resp.inodes };
  }

  /**
   * WalkStat: attributes of each component, with the same stopping rules as walk; creates no
   * FDs. A leading "" in `names` includes `dir`'s own attributes first.
   */
  walkStat(dir: number, names: string[]): Stat[] {
    return this.call(MID.WalkStat, { dirFd: dir, names }).resp.stats;
  }

  /** FStat: attributes of a control or open FD. */
  fstat(fd: number): Stat {
    return this.call(MID.FStat, { fd }).resp;
  }

  /** FStatFS: file-system attributes of a control or open FD. */
  fstatfs(fd: number): StatFS {
    return this.call(MID.FStatFS, { fd }).resp;
  }

  /**
   * OpenAt: opens control FD `fd` with `flags` (O_RDONLY/O_WRONLY/O_RDWR, O_TRUNC, O_APPEND...).
   * Regular files come with a donated host FD (close-on-exec, owned by the caller); otherwise
   * hostFd is -1.
   */
  openAt(fd: number, flags: number): { openFd: number; hostFd: number } {
    const { resp, fds } = this.call(MID.OpenAt, { fd, flags });
    for (const extra of fds.slice(1)) closeFd(extra);
    return { openFd: resp.openFd, hostFd: fds.length > 0 ? fds[0] : -1 };
  }

  /** PRead: up to `count` bytes of open FD `fd` at `offset`. */
  pread(fd: number, offset: bigint, count: number): Uint8Array<ArrayBuffer> {
    return this.call(MID.PRead, { fd, offset, count }).resp.data;
  }

  /** ReadLinkAt: the target of the symlink control FD `fd` refers to. */
  readLinkAt(fd: number): string {
    return this.call(MID.ReadLinkAt, { fd }).resp.target;
  }

  /**
   * Getdents64: the next entries of open directory FD `openFd`, about `count` bytes' worth
   * (a negative count rewinds first). An empty array means the end of the directory.
   */
  getdents64(openFd: number, count: number): Dirent64[] {
    return this.call(MID.Getdents64, { fd: openFd, count }).resp.dirents;
  }

  /** Close: releases control and open FD ids (all or none: an unknown id fails with EBADF). */
  close(fds: number[]): void {
    this.call(MID.Close, { fds });
  }
}
