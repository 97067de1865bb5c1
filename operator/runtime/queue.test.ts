import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { WorkQueue, retryDelayMs, type QueueOptions } from './queue.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function queue(clock: ManualClock, options: Partial<QueueOptions> & Pick<QueueOptions, 'handle'>): WorkQueue {
  return new WorkQueue({ workers: 1, baseRetryDelayMs: 1, maxRetryDelayMs: 1, clock, ...options });
}

describe('work queue', () => {
  it('never reconciles one key twice at once, and runs it again for a change seen meanwhile', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const q = queue(clock, {
      workers: 4,
      async handle() {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await gate.promise;
        running--;
        return {};
      },
    });
    q.add('ns/a');
    await clock.advance(0);
    q.add('ns/a');
    q.add('ns/a');
    await clock.advance(0);
    expect(runs).toBe(1);
    gate.resolve();
    await clock.advance(0);
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('runs different keys in parallel up to the worker count', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    let running = 0;
    const q = queue(clock, { workers: 2, handle: async () => (running++, await gate.promise, {}) });
    ['a', 'b', 'c'].forEach((k) => q.add(k));
    await clock.advance(0);
    expect(running).toBe(2);
    expect(q.depth).toBe(1);
    gate.resolve();
  });

  it('retries a failing key after a delay that doubles with each failure', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const times: number[] = [];
    const q = queue(clock, {
      baseRetryDelayMs: 500,
      maxRetryDelayMs: 60_000,
      handle() {
        times.push(clock.now() - start);
        if (times.length < 4) return Promise.reject(new Error('not yet'));
        return Promise.resolve({});
      },
    });
    q.add('k');
    await clock.advance(499);
    expect(times).toEqual([0]);
    await clock.advance(10_000);
    expect(times).toEqual([0, 500, 1_500, 3_500]);
    expect(clock.pending).toBe(0);
  });

  it('caps the retry delay', () => {
    expect(retryDelayMs(1, 500, 60_000)).toBe(500);
    expect(retryDelayMs(4, 500, 60_000)).toBe(4000);
    expect(retryDelayMs(30, 500, 60_000)).toBe(60_000);
  });

  it('starts the backoff over once a key succeeds', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const outcomes = ['fail', 'fail', 'ok', 'fail', 'ok'];
    const times: number[] = [];
    const q = queue(clock, {
      baseRetryDelayMs: 100,
      maxRetryDelayMs: 10_000,
      handle() {
        times.push(clock.now() - start);
        if (outcomes.shift() === 'fail') return Promise.reject(new Error('no'));
        return Promise.resolve({});
      },
    });
    q.add('k');
    await clock.advance(1_000);
    q.add('k');
    await clock.advance(1_000);
    expect(times).toEqual([0, 100, 300, 1_000, 1_100]);
  });

  it('comes back when a reconcile asks to, not before', async () => {
    const clock = new ManualClock();
    let runs = 0;
    const q = queue(clock, { handle: () => Promise.resolve(runs++ === 0 ? { requeueAfterMs: 10_000 } : {}) });
    q.add('k');
    await clock.advance(9_999);
    expect(runs).toBe(1);
    await clock.advance(1);
    expect(runs).toBe(2);
  });

  it('keeps the earlier of two delayed adds of one key', async () => {
    const clock = new ManualClock();
    let runs = 0;
    const q = queue(clock, {
      handle: () => {
        runs++;
        return Promise.resolve({});
      },
    });
    q.addAfter('k', 5_000);
    q.addAfter('k', 1_000);
    q.addAfter('k', 3_000);
    await clock.advance(1_000);
    expect(runs).toBe(1);
    await clock.advance(10_000);
    expect(runs).toBe(1);
  });

  it('waits for reconciles under way on shutdown and takes no new work, nor delayed work', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    let finished = false;
    let runs = 0;
    const q = queue(clock, { handle: async () => (runs++, await gate.promise, (finished = true), {}) });
    q.add('a');
    q.addAfter('c', 1_000);
    await clock.advance(0);
    const stopped = q.shutdown();
    q.add('b');
    gate.resolve();
    await stopped;
    await clock.advance(5_000);
    expect(finished).toBe(true);
    expect(runs).toBe(1);
    expect(clock.pending).toBe(0);
  });
});
