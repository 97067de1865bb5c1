// Time, passed in: nothing in the broker reads the wall clock or starts a timer directly, so
// tests (and the Raft simulation to come) drive time with a ManualClock instead of sleeping.
// Timers never keep the process alive: the broker lives as long as its listeners do.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  nowMs(): number;
  /** Calls `fn` once, `delayMs` from now. */
  after(delayMs: number, fn: () => void): Timer;
  /** Calls `fn` every `intervalMs`. */
  every(intervalMs: number, fn: () => void): Timer;
}

/** setTimeout's limit; longer delays are clamped to it (Node would fire them at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  after(delayMs, fn) {
    const t = setTimeout(fn, Math.min(Math.max(delayMs, 0), MAX_TIMER_MS));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  every(intervalMs, fn) {
    const t = setInterval(fn, Math.min(Math.max(intervalMs, 1), MAX_TIMER_MS));
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

interface Scheduled {
  dueMs: number;
  seq: number;
  fn: () => void;
  intervalMs: number | null;
  cancelled: boolean;
}

/** A clock that moves only when told to: `advance` fires due timers in time order. */
export class ManualClock implements Clock {
  private timers: Scheduled[] = [];
  private seq = 0;

  constructor(private now = 0) {}

  nowMs(): number {
    return this.now;
  }

  after(delayMs: number, fn: () => void): Timer {
    return this.schedule(Math.max(delayMs, 0), fn, null);
  }

  every(intervalMs: number, fn: () => void): Timer {
    return this.schedule(Math.max(intervalMs, 1), fn, Math.max(intervalMs, 1));
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, each at its own time. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const next = this.nextDue();
      if (!next || next.dueMs > target) break;
      this.now = Math.max(this.now, next.dueMs);
      if (next.intervalMs === null) next.cancelled = true;
      else next.dueMs += next.intervalMs;
      next.fn();
    }
    this.now = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }

  private schedule(delayMs: number, fn: () => void, intervalMs: number | null): Timer {
    const entry: Scheduled = { dueMs: this.now + delayMs, seq: this.seq++, fn, intervalMs, cancelled: false };
    this.timers.push(entry);
    return { cancel: () => (entry.cancelled = true) };
  }

  private nextDue(): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const t of this.timers) {
      if (t.cancelled) continue;
      if (!best || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
