// A controller: a work queue of keys and the reconcile that serves it, with logs and metrics
// around every pass.

import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { OperatorMetrics } from './metrics.js';
import { WorkQueue, type ReconcileResult } from './queue.js';

const BASE_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 5 * 60_000;

export class Controller {
  private readonly queue: WorkQueue;
  private readonly updateDepth: () => void;

  constructor(
    readonly name: string,
    reconcile: (namespace: string, name: string) => Promise<ReconcileResult>,
    options: {
      workers: number;
      metrics: OperatorMetrics;
      log: Logger;
      clock: Clock;
      /** One readable line for a failed reconcile's error. */
      describeError: (err: unknown) => string;
    },
  ) {
    const { metrics, describeError } = options;
    const log = options.log.child({ controller: name });
    this.updateDepth = () => metrics.queueDepth.set({ controller: name }, this.queue.depth);
    this.queue = new WorkQueue({
      workers: options.workers,
      clock: options.clock,
      baseRetryDelayMs: BASE_RETRY_DELAY_MS,
      maxRetryDelayMs: MAX_RETRY_DELAY_MS,
      handle: async (key) => {
        const [namespace, objectName] = key.split('/') as [string, string];
        const stopTimer = metrics.reconcileSeconds.startTimer({ controller: name });
        try {
          const result = await reconcile(namespace, objectName);
          metrics.reconciles.inc({
            controller: name,
            outcome: result.requeueAfterMs === undefined ? 'done' : 'requeue',
          });
          log.debug({ key, requeueAfterMs: result.requeueAfterMs }, 'reconciled');
          return result;
        } catch (err) {
          metrics.reconciles.inc({ controller: name, outcome: 'error' });
          metrics.reconcileErrors.inc({ controller: name });
          log.warn({ key, error: describeError(err) }, 'reconcile failed; retrying with backoff');
          throw err;
        } finally {
          stopTimer();
          this.updateDepth();
        }
      },
    });
  }

  enqueue(namespace: string | undefined, name: string | undefined): void {
    if (!namespace || !name) return;
    this.queue.add(`${namespace}/${name}`);
    this.updateDepth();
  }

  shutdown(): Promise<void> {
    return this.queue.shutdown();
  }
}
