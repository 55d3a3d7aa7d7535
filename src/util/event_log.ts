/**
 * An append-only log of the few events of one run (peer messages, monitor events) that
 * anyone may wait on, subscribe to, or replay: a waiter that arrives after its event still
 * sees it, which removes a whole class of start-up races from the orchestrator.
 */

export const TIMEOUT: unique symbol = Symbol("timeout");

/** `p`, or TIMEOUT after `ms`; the timer never outlives the race. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  if (ms === Infinity) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), Math.max(0, ms));
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class EventLog<T> {
  readonly #history: T[] = [];
  readonly #listeners = new Set<(e: T) => void>();
  /** Settled (and replaced) on every event and at the end: wakes `events()` iterators. */
  #changed = Promise.withResolvers<void>();
  #ended = false;

  get ended(): boolean {
    return this.#ended;
  }

  push(e: T): void {
    if (this.#ended) return;
    this.#history.push(e);
    for (const cb of [...this.#listeners]) cb(e);
    this.#wake();
  }

  /** No more events; iterators finish once they have caught up. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** Calls `cb` for every future event; returns the unsubscribe function. */
  on(cb: (e: T) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** Every event so far, then new ones as they come, until `end`. */
  async *events(): AsyncGenerator<T> {
    let seen = 0;
    while (true) {
      while (seen < this.#history.length) yield this.#history[seen++];
      if (this.#ended) return;
      await this.#changed.promise;
    }
  }

  /** The first event, past or future, matching `pred`; undefined after `timeoutMs`. */
  async waitFor(pred: (e: T) => boolean, timeoutMs: number): Promise<T | undefined> {
    const past = this.#history.find(pred);
    if (past !== undefined) return past;
    let off = () => {};
    const found = new Promise<T>((resolve) => {
      off = this.on((e) => {
        if (pred(e)) resolve(e);
      });
    });
    const r = await withTimeout(found, timeoutMs).finally(off);
    return r === TIMEOUT ? undefined : r;
  }

  #wake(): void {
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }
}
