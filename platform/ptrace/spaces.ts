/**
 * The live address spaces of a stub platform (ptrace, systrap) and its spare one: a stub made
 * while the Sentry was idle, so that fork and exec rarely wait for a stub to start.
 *
 * @module
 */

/** What a platform's address space must offer to be kept here. */
export interface StubSpace {
  /** Kills the stub. */
  release(): void;
  /** Collects its exit; safe to call more than once. */
  reap(): void;
}

export class StubSpaces<S extends StubSpace> {
  #live = new Set<S>();
  #spare: S | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #released = false;

  /**
   * `make(spare)` makes a stub; with `spare` true it may do more work ahead of need (it runs
   * when the Sentry yields, not on a task's path).
   */
  constructor(readonly make: (spare: boolean) => S) {}

  /**
   * A stub for Platform.newAddressSpace: the spare, or a new one; the next spare is made once
   * the current work yields.
   */
  take(): S {
    const s = this.#spare ?? this.make(false);
    this.#spare = null;
    this.#live.add(s);
    this.#prepare();
    return s;
  }

  /** Makes `s` the spare (one made ahead of the first need). */
  setSpare(s: S): void {
    this.#spare?.release();
    this.#spare = s;
  }

  /** Called when `s` is released by its user. */
  forget(s: S): void {
    this.#live.delete(s);
  }

  #prepare(): void {
    if (this.#timer !== undefined || this.#released) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#released || this.#spare) return;
      try {
        this.#spare = this.make(true);
      } catch {
        // Made on demand next time.
      }
    }, 0);
  }

  /** Kills every stub, the spare among them, and reaps them. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const all = [...this.#live];
    if (this.#spare) all.push(this.#spare);
    this.#spare = null;
    for (const s of all) s.release();
    for (const s of all) s.reap();
    this.#live.clear();
  }
}
