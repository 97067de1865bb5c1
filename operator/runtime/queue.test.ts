import { describe, expect, it } from 'vitest';
import { WorkQueue, retryDelayMs } from './queue.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('work queue', () => {
  it('never reconciles one key twice at once, and runs it again for a change seen meanwhile', async () => {
    const gate = deferred();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const queue = new WorkQueue({
      workers: 4,
      baseRetryDelayMs: 1,
      maxRetryDelayMs: 1,
      async handle() {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await gate.promise;
        running--;
        return {};
      },
    });
    queue.add('ns/a');
    await tick();
    queue.add('ns/a');
    queue.add('ns/a');
    await tick();
    expect(runs).toBe(1);
    gate.resolve();
    await tick(20);
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('runs different keys in parallel up to the worker count', async () => {
    const gate = deferred();
    let running = 0;
    const queue = new WorkQueue({ workers: 2, baseRetryDelayMs: 1, maxRetryDelayMs: 1, handle: async () => (running++, await gate.promise, {}) });
    ['a', 'b', 'c'].forEach((k) => queue.add(k));
    await tick();
    expect(running).toBe(2);
    expect(queue.depth).toBe(1);
    gate.resolve();
  });

  it('retries a failing key with a growing delay', async () => {
    const times: number[] = [];
    const queue = new WorkQueue({
      workers: 1,
      baseRetryDelayMs: 20,
      maxRetryDelayMs: 1000,
      async handle() {
        times.push(Date.now());
        if (times.length < 3) throw new Error('not yet');
        return {};
      },
    });
    queue.add('k');
    await tick(150);
    expect(times).toHaveLength(3);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(times[1]! - times[0]!);
    expect(retryDelayMs(1, 500, 60_000)).toBe(500);
    expect(retryDelayMs(4, 500, 60_000)).toBe(4000);
    expect(retryDelayMs(30, 500, 60_000)).toBe(60_000);
  });

  it('comes back when a reconcile asks to', async () => {
    let runs = 0;
    const queue = new WorkQueue({ workers: 1, baseRetryDelayMs: 1, maxRetryDelayMs: 1, handle: async () => (runs++ === 0 ? { requeueAfterMs: 10 } : {}) });
    queue.add('k');
    await tick(40);
    expect(runs).toBe(2);
  });

  it('waits for reconciles under way on shutdown and takes no new work', async () => {
    const gate = deferred();
    let finished = false;
    let runs = 0;
    const queue = new WorkQueue({ workers: 1, baseRetryDelayMs: 1, maxRetryDelayMs: 1, handle: async () => (runs++, await gate.promise, (finished = true), {}) });
    queue.add('a');
    await tick();
    const stopped = queue.shutdown();
    queue.add('b');
    gate.resolve();
    await stopped;
    expect(finished).toBe(true);
    expect(runs).toBe(1);
  });
});
