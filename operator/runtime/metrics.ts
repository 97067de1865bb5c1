// Prometheus metrics of the operator, served on /metrics.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ScalingPhase, ScalingStatus } from '../api/types.js';

const SCALING_PHASES: readonly ScalingPhase[] = [
  'AddingBrokers',
  'MovingReplicas',
  'ElectingLeaders',
  'RemovingBrokers',
  'Blocked',
  'Balanced',
];

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

  readonly scalingPhase = new Gauge({
    name: 'runnel_operator_scaling_phase',
    help: 'The phase of each cluster’s last broker count change: 1 for the current phase, 0 for the others.',
    labelNames: ['namespace', 'cluster', 'phase'] as const,
    registers: [this.registry],
  });
  readonly scalingPartitions = new Gauge({
    name: 'runnel_operator_scaling_partitions',
    help: 'Partitions of the current scaling plan whose replicas are pending, moving or done.',
    labelNames: ['namespace', 'cluster', 'state'] as const,
    registers: [this.registry],
  });
  readonly scalingBytes = new Gauge({
    name: 'runnel_operator_scaling_bytes',
    help: 'Bytes the current scaling plan copies (planned) and has copied (moved).',
    labelNames: ['namespace', 'cluster', 'state'] as const,
    registers: [this.registry],
  });

  recordScaling(namespace: string, cluster: string, scaling: ScalingStatus): void {
    for (const phase of SCALING_PHASES)
      this.scalingPhase.set({ namespace, cluster, phase }, phase === scaling.phase ? 1 : 0);
    const progress = scaling.progress ?? { pending: 0, moving: 0, done: 0, bytesMoved: 0 };
    for (const state of ['pending', 'moving', 'done'] as const)
      this.scalingPartitions.set({ namespace, cluster, state }, progress[state]);
    this.scalingBytes.set({ namespace, cluster, state: 'planned' }, scaling.plan?.bytes ?? 0);
    this.scalingBytes.set({ namespace, cluster, state: 'moved' }, progress.bytesMoved);
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
