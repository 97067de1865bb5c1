// The cluster's ServiceAccount and PodDisruptionBudget.

import type { V1PodDisruptionBudget, V1ServiceAccount } from '@kubernetes/client-node';
import type { KafkaCluster } from '../api/types.js';
import { names, ownedMetadata, selectorLabels } from './names.js';

/** Brokers never call the Kubernetes API, so they get no token. */
export function serviceAccount(cluster: KafkaCluster): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: ownedMetadata(cluster, names(cluster).serviceAccount),
    automountServiceAccountToken: false,
  };
}

/** Voluntary disruptions (node drains) take at most one broker at a time. */
export function podDisruptionBudget(cluster: KafkaCluster): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: ownedMetadata(cluster, names(cluster).podDisruptionBudget),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(cluster) } },
  };
}
