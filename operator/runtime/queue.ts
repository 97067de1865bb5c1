// A work queue of object keys (namespace/name), as in client-go: a key is queued at most once;
// a key being reconciled is never handed to a second worker, and a change seen meanwhile runs it
// again once the first pass ends; failures come back after an exponential backoff per key.

import type { Clock, TimerId } from './clock.js';

/** What a reconcile tells the work queue: come back after this long, or only on the next change. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface QueueOptions {
  workers: number;
  clock: Clock;
  /** Delay after a key's first failure; it doubles with each further failure. */
  baseRetryDelayMs: number;
  maxRetryDelayMs: number;
  handle(key: string): Promise<ReconcileResult>;
}

export function retryDelayMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

export class WorkQueue {
  private readonly pending: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Keys that changed while being reconciled. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: TimerId }>();
  private stopping = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: QueueOptions) {}

  get depth(): number {
    return this.pending.length;
  }

  add(key: string): void {
    if (this.stopping) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.pump();
  }

  /** Adds the key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopping) return;
    const { clock } = this.options;
    const at = clock.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clock.clearTimeout(existing.timer);
    const timer = clock.setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    this.timers.set(key, { at, timer });
  }

  /** Stops taking work and waits for the reconciles under way to finish. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const { timer } of this.timers.values()) this.options.clock.clearTimeout(timer);
    this.timers.clear();
    this.pending.length = 0;
    this.queued.clear();
    if (this.active.size > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private pump(): void {
    while (!this.stopping && this.active.size < this.options.workers && this.pending.length > 0) {
      const key = this.pending.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    try {
      const result = await this.options.handle(key);
      this.failures.delete(key);
      if (result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      this.addAfter(key, retryDelayMs(failures, this.options.baseRetryDelayMs, this.options.maxRetryDelayMs));
    } finally {
      this.active.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      if (this.stopping && this.active.size === 0) this.idle?.();
      this.pump();
    }
  }
}
