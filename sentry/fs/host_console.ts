/**
 * The container's console: a terminal of the Sentry's own (a devpts pty, with its line
 * discipline, job control and SIGWINCH) whose master side the Sentry connects to a host
 * terminal, the slave of the host pty whose master the runtime sent to `--console-socket`.
 * The host terminal is raw (the runtime made it so): bytes cross it unchanged, and every
 * terminal request of the application is answered by the Sentry's pty, never by the host's.
 *
 * The host side is only read, written and asked its window size (TIOCGWINSZ), which Docker
 * changes on the master when the user's terminal is resized; the Sentry looks every
 * WINSIZE_INTERVAL_MS and passes a change on as the application's SIGWINCH. Bytes move when
 * the host's epoll says the terminal changed (HostFdWatch), or when the application wrote:
 * an idle console costs the Sentry no wake-ups but the window size's.
 *
 * @module
 */

import { ioctlBuf, pollNow, readFd, writeFd } from "../../host/io.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { ThreadGroup } from "../kernel/task.ts";
import { O_RDWR } from "../vfs/file.ts";
import { DevptsFilesystem, devptsFor, type Pty, TtyFile } from "./tty.ts";
import { TIOCGWINSZ as TIOCGWINSZ_REQUEST, Winsize } from "../../abi/linux/ioctl.ts";
import { decodeValue, u32 } from "../../abi/linux/layout.ts";
import { HostFdWatch } from "../net/host_readiness.ts";
import { WaitQueue } from "../vfs/waiter.ts";

const TIOCGWINSZ = BigInt(TIOCGWINSZ_REQUEST);
const POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 0x10;
const EAGAIN = 11, EINTR = 4;
/** How often drain looks whether the output went. */
const DRAIN_POLL_MS = 10;
/** How often its window size is compared. */
const WINSIZE_INTERVAL_MS = 200;
const CHUNK = 4096;

/** A Sentry pty connected to host terminal `hostFd` (which stays the caller's to close). */
export class HostConsole {
  readonly pty: Pty;
  /** The slave end the application gets as its stdin, stdout and stderr. */
  readonly slave: TtyFile;
  readonly #master: TtyFile;
  #pending: Uint8Array = new Uint8Array(0);
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Told by the host's epoll when the terminal has bytes for us or room for ours. */
  readonly #hostQueue = new WaitQueue();
  readonly #watch: HostFdWatch;
  /** A pump is due on a macrotask (more was left to move than one pump moves). */
  #again = false;
  #lastWinsize = 0;
  #closed = false;

  constructor(readonly kernel: Kernel, readonly hostFd: number) {
    const devpts = devptsFor(kernel) ?? new DevptsFilesystem(kernel);
    this.pty = devpts.allocate();
    this.pty.locked = false;
    const ino = devpts.inodeFor(this.pty);
    this.#master = new TtyFile(this.pty, true, ino, devpts.vdFor(ino), O_RDWR);
    this.slave = new TtyFile(this.pty, false, ino, devpts.vdFor(ino), O_RDWR);
    this.#watch = new HostFdWatch(hostFd, this.#hostQueue);
    this.#readWinsize();
  }

  /** Makes the terminal the controlling terminal of `tg`'s session, `tg` in its foreground. */
  control(tg: ThreadGroup): void {
    this.pty.sid = tg.sid;
    this.pty.fgPgrp = tg.pgid;
  }

  /** Starts moving bytes both ways and watching the window size. */
  start(): void {
    this.#readWinsize();
    this.#timer = setInterval(() => this.#readWinsize(), WINSIZE_INTERVAL_MS);
    this.#hostQueue.subscribe(() => this.#pump());
    this.pty.queue.subscribe(() => queueMicrotask(() => this.#pump()));
    this.#pump();
  }

  /** Waits (at most `ms`) until what the application wrote has reached the host terminal. */
  async drain(ms = 1000): Promise<void> {
    const deadline = Date.now() + ms;
    while (
      !this.#closed && Date.now() < deadline &&
      (this.pty.masterAvailable > 0 || this.#pending.length > 0)
    ) {
      this.#pump();
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
  }

  /** Stops; the application's ends see the master gone. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#watch.close();
    this.#master.release();
  }

  /**
   * Moves at most a chunk each way. The host's epoll reports a change once (edge-triggered):
   * while more is left to move than one pump moves, the next pump comes on a macrotask (so
   * that a paste cannot hold the Sentry), and only then is the host asked to tell.
   */
  #pump(): void {
    if (this.#closed) return;
    const ev = pollNow(this.hostFd, POLLIN | POLLOUT);
    let more = false;
    if (ev & POLLIN) {
      const buf = new Uint8Array(CHUNK);
      const n = readFd(this.hostFd, buf);
      more = n === CHUNK;
      // A resize just before typing must not be missed by what the typing runs.
      if (n > 0) this.#readWinsize();
      if (n > 0) {
        this.pty.input(buf.subarray(0, n));
        this.pty.queue.notify();
      }
    } else if (ev & (POLLHUP | POLLERR)) {
      // The master's holder went away (the caller's terminal closed): a hangup.
      this.#hangup();
      return;
    }
    if (this.#pending.length === 0 && this.pty.masterAvailable > 0) {
      this.#pending = this.pty.takeOutput(CHUNK);
      this.pty.queue.notify();
    }
    if (this.#pending.length > 0 && (ev & POLLOUT)) {
      const n = writeFd(this.hostFd, this.#pending as Uint8Array<ArrayBuffer>);
      if (n > 0) this.#pending = this.#pending.subarray(n);
      else if (n < 0 && n !== -EAGAIN && n !== -EINTR) return this.#hangup();
      if (n > 0) more ||= this.#pending.length > 0 || this.pty.masterAvailable > 0;
    }
    if (this.#closed) return;
    if (more) {
      if (!this.#again) {
        this.#again = true;
        setTimeout(() => {
          this.#again = false;
          this.#pump();
        }, 0);
      }
    } else {
      this.#watch.notReady();
    }
  }

  #hangup(): void {
    for (const tg of this.kernel.threadGroups.values()) {
      if (this.pty.sid && tg.sid === this.pty.sid && tg.pid === this.pty.sid) {
        tg.sendSignal({ signo: 1, /* SIGHUP */ errno: 0, code: 0x80 /* SI_KERNEL */ });
      }
    }
    this.close();
  }

  #readWinsize(): void {
    const ws = new Uint8Array(Winsize.size);
    if (ioctlBuf(this.hostFd, TIOCGWINSZ, ws) !== 0) return;
    // Rows and columns, the part of the size a resize changes.
    const key = decodeValue(u32, ws);
    if (key === this.#lastWinsize) return;
    this.#lastWinsize = key;
    this.pty.resize(ws);
  }
}
