// Long-poll support for Fetch: a fetch that has less than min.bytes waits here until one of
// its partitions gets new data, its max wait passes, or the broker shuts down.

import type { Clock } from '../clock.js';

interface Waiter {
  keys: readonly string[];
  wake: () => void;
}

export class FetchWaiters {
  private readonly byKey = new Map<string, Set<Waiter>>();
  private readonly all = new Set<Waiter>();
  private shuttingDown = false;

  constructor(private readonly clock: Clock) {}

  /**
   * Resolves on new data for any key, after timeoutMs, or at shutdown — whichever is first. A
   * fetch with no keys (no partitions, or none known) is parked until its timeout like any other:
   * answering it at once would let its caller loop on the event loop until the deadline.
   */
  wait(keys: readonly string[], timeoutMs: number): Promise<void> {
    if (this.shuttingDown || timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        keys,
        wake: () => {
          timer.cancel();
          this.remove(waiter);
          resolve();
        },
      };
      const timer = this.clock.after(timeoutMs, () => waiter.wake());
      this.all.add(waiter);
      for (const k of keys) {
        let set = this.byKey.get(k);
        if (!set) this.byKey.set(k, (set = new Set()));
        set.add(waiter);
      }
    });
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  notify(key: string): void {
    const set = this.byKey.get(key);
    if (!set) return;
    for (const w of [...set]) w.wake();
  }

  /** Answers every waiting fetch now; later waits return at once. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const w of [...this.all]) w.wake();
  }

  private remove(w: Waiter): void {
    this.all.delete(w);
    for (const k of w.keys) {
      const set = this.byKey.get(k);
      set?.delete(w);
      if (set?.size === 0) this.byKey.delete(k);
    }
  }
}
