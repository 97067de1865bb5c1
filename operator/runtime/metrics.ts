// Prometheus metrics of the operator, served on /metrics.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'runnel_operator_reconciles_total',
    help: 'Reconciles by controller and outcome (done, requeue, error).',
    labelNames: ['controller', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'runnel_operator_reconcile_errors_total',
    help: 'Reconciles that failed and will be retried with backoff.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'runnel_operator_reconcile_duration_seconds',
    help: 'Time one reconcile took.',
    labelNames: ['controller'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'runnel_operator_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'runnel_operator_leader',
    help: '1 while this replica leads (or runs without leader election), 0 while it stands by.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
