// KafkaCluster status, built from what the reconcile saw and how its pass ended.

import { mergeConditions, type ConditionInput } from '../api/conditions.js';
import type { KafkaCluster, KafkaClusterStatus, ScalingStatus } from '../api/types.js';
import { byOrdinal, type BrokerPod } from './brokers.js';

export type ClusterOutcome =
  | { kind: 'reconciled' }
  | { kind: 'progressing'; reason: string; message: string }
  | { kind: 'failed'; message: string };

export interface ClusterFacts {
  clusterId: string | undefined;
  bootstrap: string;
  labelSelector: string;
  replicas: number;
  readyReplicas: number;
  brokers: readonly BrokerPod[];
  scaling: ScalingStatus | undefined;
}

export function clusterStatus(
  cluster: KafkaCluster,
  facts: ClusterFacts,
  outcome: ClusterOutcome,
  now: Date,
): KafkaClusterStatus {
  const generation = cluster.metadata.generation;
  const allReady = facts.readyReplicas >= cluster.spec.replicas && facts.replicas === cluster.spec.replicas;
  const brokersMessage = `${facts.readyReplicas}/${cluster.spec.replicas} brokers ready`;
  const condition = (type: string, status: boolean, reason: string, message: string): ConditionInput => ({
    type,
    status: status ? 'True' : 'False',
    reason,
    message,
    observedGeneration: generation,
  });
  const conditions: ConditionInput[] =
    outcome.kind === 'reconciled'
      ? [
          condition('Ready', true, 'Ready', brokersMessage),
          condition('Progressing', false, 'Reconciled', ''),
          condition('Degraded', false, 'Reconciled', ''),
        ]
      : outcome.kind === 'progressing'
        ? [
            condition('Ready', false, outcome.reason, outcome.message),
            condition('Progressing', true, outcome.reason, outcome.message),
            condition('Degraded', false, 'Reconciling', ''),
          ]
        : [
            condition('Ready', allReady, allReady ? 'BrokersReady' : 'BrokersNotReady', brokersMessage),
            condition('Progressing', false, 'ReconcileFailed', outcome.message),
            condition('Degraded', true, 'ReconcileFailed', outcome.message),
          ];
  return {
    observedGeneration: generation,
    clusterId: facts.clusterId,
    bootstrap: facts.bootstrap,
    labelSelector: facts.labelSelector,
    replicas: facts.replicas,
    readyReplicas: facts.readyReplicas,
    brokers: [...facts.brokers]
      .sort(byOrdinal)
      .map((b) => ({ id: b.ordinal, pod: b.name, state: b.state, ...(b.rack === undefined ? {} : { rack: b.rack }) })),
    ...(facts.scaling ? { scaling: facts.scaling } : {}),
    conditions: mergeConditions(cluster.status?.conditions, conditions, now),
  };
}
