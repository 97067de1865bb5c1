// Names, labels, ports and owner references shared by everything built for one KafkaCluster.

import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, type KafkaCluster } from '../api/types.js';

export const PORTS = { kafka: 9092, controller: 9093, http: 9644 } as const;
export const LISTENER = { client: 'PLAINTEXT', controller: 'CONTROLLER' } as const;
export const CONFIG_DIR = '/etc/runnel';
export const DATA_DIR = '/var/lib/runnel';
/** A subdirectory, so a filesystem's lost+found at the volume root is not taken for a partition. */
export const LOG_DIR = `${DATA_DIR}/data`;
/** Label that the StatefulSet controller puts on each pod (Kubernetes 1.28+). */
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const CLUSTER_LABEL = 'kafka.runnel.dev/cluster';
export const CONFIG_HASH_ANNOTATION = 'kafka.runnel.dev/config-hash';
/** On each broker volume claim: the cluster whose data it holds, so a re-created cluster can adopt it. */
export const CLUSTER_ID_ANNOTATION = 'kafka.runnel.dev/cluster-id';
/** On a broker pod: its node's topology label value, set by the operator, read by the rack init container. */
export const RACK_ANNOTATION = 'kafka.runnel.dev/rack';

export interface BuildOptions {
  /** Broker image when spec.image is unset: the one released with this operator. */
  defaultImage: string;
  /** The operator's own image, which also serves as the brokers' rack init container. */
  operatorImage: string;
  /** DNS suffix of the Kubernetes cluster, `cluster.local` unless changed. */
  clusterDomain: string;
}

export function names(cluster: KafkaCluster) {
  const n = cluster.metadata.name;
  return {
    statefulSet: `${n}-broker`,
    headless: `${n}-brokers`,
    bootstrap: `${n}-bootstrap`,
    configMap: `${n}-config`,
    serviceAccount: `${n}-broker`,
    podDisruptionBudget: `${n}-broker`,
    brokerRole: `${n}-broker`,
    pod: (ordinal: number) => `${n}-broker-${ordinal}`,
  };
}

/** Stable DNS name of one broker pod, through the headless Service. */
export function brokerHost(cluster: KafkaCluster, ordinal: number, options: BuildOptions): string {
  const n = names(cluster);
  return `${n.pod(ordinal)}.${n.headless}.${cluster.metadata.namespace}.svc.${options.clusterDomain}`;
}

/** The labels that select a cluster's broker pods (also the scale subresource's selector). */
export function selectorLabels(cluster: KafkaCluster): Record<string, string> {
  return { 'app.kubernetes.io/name': 'runnel-broker', 'app.kubernetes.io/instance': cluster.metadata.name };
}

export function labelSelector(cluster: KafkaCluster): string {
  return Object.entries(selectorLabels(cluster))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function labels(cluster: KafkaCluster): Record<string, string> {
  return {
    ...selectorLabels(cluster),
    'app.kubernetes.io/component': 'broker',
    'app.kubernetes.io/managed-by': 'runnel-operator',
    [CLUSTER_LABEL]: cluster.metadata.name,
  };
}

export function ownerReference(cluster: KafkaCluster): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: 'KafkaCluster',
    name: cluster.metadata.name,
    uid: cluster.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata of an object owned by the cluster. */
export function ownedMetadata(cluster: KafkaCluster, name: string): V1ObjectMeta {
  return {
    name,
    namespace: cluster.metadata.namespace,
    labels: labels(cluster),
    ownerReferences: [ownerReference(cluster)],
  };
}
