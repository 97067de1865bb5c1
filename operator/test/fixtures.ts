// Custom resources for unit tests, as the API server would hand them over (defaults applied).

import { API_VERSION, type KafkaCluster, type KafkaTopic } from '../api/types.js';
import type { BuildOptions } from '../desired/names.js';

export const OPTIONS: BuildOptions = {
  defaultImage: 'ghcr.io/runnel/broker:0.1.0',
  operatorImage: 'ghcr.io/runnel/operator:0.1.0',
  clusterDomain: 'cluster.local',
};

export function kafkaCluster(
  spec: Partial<KafkaCluster['spec']> = {},
  meta: Partial<KafkaCluster['metadata']> = {},
): KafkaCluster {
  return {
    apiVersion: API_VERSION,
    kind: 'KafkaCluster',
    metadata: {
      name: 'events',
      namespace: 'prod',
      uid: 'uid-events',
      generation: 1,
      creationTimestamp: '2026-01-01T00:00:00Z',
      ...meta,
    },
    spec: {
      replicas: 3,
      controllerVoters: 3,
      storage: { size: '10Gi', deleteClaim: false },
      rebalance: { maxPartitionMovements: 10 },
      ...spec,
    },
  };
}

export function kafkaTopic(
  spec: Partial<KafkaTopic['spec']> = {},
  meta: Partial<KafkaTopic['metadata']> = {},
): KafkaTopic {
  return {
    apiVersion: API_VERSION,
    kind: 'KafkaTopic',
    metadata: {
      name: 'orders',
      namespace: 'prod',
      uid: 'uid-orders',
      generation: 1,
      creationTimestamp: '2026-01-01T00:00:00Z',
      ...meta,
    },
    spec: { cluster: 'events', partitions: 3, replicationFactor: 1, ...spec },
  };
}
