/**
 * Wakes the waiters of host descriptors the application uses (poll, select, epoll, O_ASYNC)
 * when the host says one changed: its sockets with --network=host, and the container's stdio
 * (pipes, terminals). Each socket someone has looked at is in one
 * host epoll instance, edge-triggered, so the host reports each change once, as a wait queue's
 * wake-up; one wait on a runtime thread covers them all, and the Sentry's JavaScript thread only
 * hears of the results. A socket that is ready when it is added is reported at once, so nothing
 * that happens between a readiness check and the wait that follows it is missed.
 *
 * Sockets are named to the host's epoll by an id of their own, never by descriptor number: an
 * event the host reported for a socket closed since (its number perhaps reused) finds no id and
 * is dropped. The epoll instance is never closed, so the wait never uses a number that could be
 * reused under it.
 *
 * @module
 */

import { EPOLLET, EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, HostEpoll } from "../../host/epoll.ts";
import { pollNow } from "../../host/io.ts";
import { log } from "../../log.ts";
import type { WaitQueue } from "../vfs/waiter.ts";
import { POLLIN, POLLOUT } from "../vfs/file.ts";

/** Everything a waiter may wait for (errors and hang-ups are always reported). */
const EVENTS = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET;
/**
 * One wait lasts at most this long, so that the loop ends soon once nobody waits (a pending
 * call on a runtime thread would keep the event loop alive).
 */
const SLICE_MS = 500;
const MAX_EVENTS = 64;
/** After a failed wait (a signal on that thread), the pause before the next. */
const RETRY_MS = 10;
/** Where the host's epoll cannot take a descriptor: how often its waiters look again. */
const POLL_MS = 10;

export class HostReadiness {
  /** undefined: not made yet; null: the host refused one (EMFILE...), so none is used. */
  #ep: HostEpoll | null | undefined;
  readonly #queues = new Map<number, WaitQueue>();
  #nextId = 1;
  #running = false;

  #epoll(): HostEpoll | null {
    if (this.#ep === undefined) {
      const ep = HostEpoll.create();
      if (typeof ep === "number") {
        log.warning(`host descriptors: no host epoll (errno ${-ep}); polling them every few ms`);
        this.#ep = null;
      } else this.#ep = ep;
    }
    return this.#ep;
  }

  /**
   * Adds host descriptor fd, whose changes notify queue: its id, or 0 when the host cannot
   * take it (ENOSPC past max_user_watches, ENOMEM), and the caller has to poll.
   */
  watch(fd: number, queue: WaitQueue): number {
    const ep = this.#epoll();
    if (!ep) return 0;
    const id = this.#nextId++;
    const r = ep.add(fd, id, EVENTS);
    if (r < 0) {
      log.warning(`host descriptors: epoll cannot take fd ${fd} (errno ${-r}); polling it`);
      return 0;
    }
    this.#queues.set(id, queue);
    return id;
  }

  /** Removes what watch(fd) added, as id; call it before fd is closed. */
  unwatch(id: number, fd: number): void {
    if (!this.#queues.delete(id)) return;
    this.#ep?.remove(fd);
  }

  /**
   * Starts the wait on the host unless it runs: the caller is about to wait on a socket (its
   * waiter subscribes after this returns, so the loop waits once before it looks for waiters).
   */
  run(): void {
    if (this.#running || !this.#ep) return;
    this.#running = true;
    this.#loop().catch((e) => log.warning(`host descriptors: readiness loop: ${e}`));
  }

  /** A wait on the host is pending (it ends within SLICE_MS once nobody waits). */
  get running(): boolean {
    return this.#running;
  }

  #waited(): boolean {
    for (const q of this.#queues.values()) if (q.size > 0) return true;
    return false;
  }

  async #loop(): Promise<void> {
    const ep = this.#ep!;
    try {
      do {
        const events = await ep.wait(MAX_EVENTS, SLICE_MS);
        if (events === null) {
          // Not knowing what changed meanwhile, every waiter looks again.
          for (const q of this.#queues.values()) q.notify();
          await new Promise((r) => setTimeout(r, RETRY_MS));
          continue;
        }
        for (const e of events) this.#queues.get(e.data)?.notify();
      } while (this.#waited());
    } finally {
      // In the same turn as the last look for waiters: a run() after it starts a new loop.
      this.#running = false;
    }
  }
}

/** The Sentry's one instance: the host descriptors of every task share it. */
export const hostReadiness: HostReadiness = new HostReadiness();

/**
 * One host descriptor's readiness told to its file's wait queue: through hostReadiness, or,
 * where the host's epoll refuses the descriptor, by a look every POLL_MS while waiters are
 * subscribed. The file calls notReady when a readiness check found nothing it asked for: a
 * waiter is about to subscribe. The descriptor is added then, and a change between the check
 * and the add is not missed: the add reports a descriptor that is ready already.
 */
export class HostFdWatch {
  /** Its id in hostReadiness: 0 before the first wait, -1 if the host refused it. */
  #id = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(readonly fd: number, readonly queue: WaitQueue) {}

  notReady(): void {
    if (this.#closed) return;
    if (this.#id === 0) this.#id = hostReadiness.watch(this.fd, this.queue) || -1;
    if (this.#id > 0) hostReadiness.run();
    else this.#poll();
  }

  #poll(): void {
    if (this.#timer !== undefined) return;
    const tick = () => {
      this.#timer = undefined;
      if (this.queue.size === 0 || this.#closed) return;
      if (pollNow(this.fd, POLLIN | POLLOUT) !== 0) this.queue.notify();
      this.#timer = setTimeout(tick, POLL_MS);
    };
    this.#timer = setTimeout(tick, POLL_MS);
  }

  /** Stops watching; call it before the descriptor is closed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#id > 0) hostReadiness.unwatch(this.#id, this.fd);
  }
}
