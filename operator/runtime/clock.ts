// The operator's only source of time. Nothing else in operator/ reads the wall clock or starts a
// timer: it is handed a Clock. `realClock` is the process's clock; `ManualClock` stands still
// until a test advances it, firing the timers that fall due in order, so retries, resyncs and
// leases are tested without sleeping.

export type TimerId = number;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `fn` once, `delayMs` from now. Such timers drive background work (retries, resyncs,
   * lease renewals) and never keep the process alive on their own.
   */
  setTimeout(fn: () => void, delayMs: number): TimerId;
  /** Cancels a timer; an unknown or fired one is ignored. */
  clearTimeout(id: TimerId): void;
  /** Resolves after `ms`. Unlike a timer, a pending sleep keeps the process alive. */
  sleep(ms: number): Promise<void>;
}

class RealClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<TimerId, NodeJS.Timeout>();

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, delayMs: number): TimerId {
    const id = this.nextId++;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, delayMs);
    timer.unref();
    this.timers.set(id, timer);
    return id;
  }

  clearTimeout(id: TimerId): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

export const realClock: Clock = new RealClock();

interface ManualTimer {
  id: TimerId;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told. `advance(ms)` fires every timer due within the next `ms` in
 * order of due time (then of creation), with `now()` set to each timer's due time while it runs,
 * and lets the promises those timers settle run before the next one fires, so async work started
 * by a timer (a fake API call that resolves at once) completes at the time it started.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<TimerId, ManualTimer>();

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, delayMs: number): TimerId {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.current + Math.max(0, delayMs), fn });
    return id;
  }

  clearTimeout(id: TimerId): void {
    this.timers.delete(id);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Timers not fired or cleared yet. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order; resolves once their work has settled. */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new Error(`a clock does not go back (advance(${ms}))`);
    const target = this.current + ms;
    await settle();
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.timers.delete(next.id);
      this.current = next.at;
      next.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }

  /** Advances in steps of `stepMs`, calling `check` after each: for invariants that must hold at every moment. */
  async advanceInSteps(totalMs: number, stepMs: number, check: (nowMs: number) => void): Promise<void> {
    for (let moved = 0; moved < totalMs; moved += stepMs) {
      await this.advance(Math.min(stepMs, totalMs - moved));
      check(this.current);
    }
  }

  private nextDue(target: number): ManualTimer | undefined {
    let next: ManualTimer | undefined;
    for (const t of this.timers.values()) {
      if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
    }
    return next;
  }
}

/** Lets pending promise callbacks (and what they chain) run: a few turns of the event loop. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
