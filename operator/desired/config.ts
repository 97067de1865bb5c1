// The brokers' configuration: one ConfigMap holding `server.properties` (what all brokers share)
// and `node-<ordinal>.properties` (roles and listeners, which differ between controller voters
// and the other brokers). node.id and advertised.listeners come from the pod itself (env).

import { createHash } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { configStrings, type KafkaCluster } from '../api/types.js';
import { LISTENER, LOG_DIR, PORTS, brokerHost, names, ownedMetadata, type BuildOptions } from './names.js';

/** Broker key that names the cluster a log dir must belong to (checked against meta.properties). */
export const CLUSTER_ID_KEY = 'runnel.cluster.id';
export const SERVER_PROPERTIES = 'server.properties';
/** Defaults that follow the broker count, kept apart so that scaling never changes configHash. */
export const CLUSTER_SIZE_PROPERTIES = 'cluster-size.properties';
/** Per-broker file; the pod names its own through `$(KAFKA_CFG_NODE_ID)`. */
export const nodePropertiesFile = (ordinal: number | string) => `node-${ordinal}.properties`;

/** Keys the operator writes itself; the CRD rejects them in spec.config. */
export const MANAGED_KEYS: ReadonlySet<string> = new Set([
  'node.id',
  'broker.id',
  'process.roles',
  'listeners',
  'advertised.listeners',
  'controller.quorum.voters',
  'controller.quorum.bootstrap.servers',
  'log.dirs',
  'log.dir',
  'broker.rack',
  'runnel.http.listener',
  CLUSTER_ID_KEY,
]);

export function serverProperties(cluster: KafkaCluster, clusterId: string, options: BuildOptions): string {
  const voters = Array.from(
    { length: cluster.spec.controllerVoters },
    (_, i) => `${i}@${brokerHost(cluster, i, options)}:${PORTS.controller}`,
  );
  const managed = new Map<string, string>([
    [CLUSTER_ID_KEY, clusterId],
    ['controller.quorum.voters', voters.join(',')],
    ['controller.listener.names', LISTENER.controller],
    ['inter.broker.listener.name', LISTENER.client],
    ['listener.security.protocol.map', `${LISTENER.client}:PLAINTEXT,${LISTENER.controller}:PLAINTEXT`],
    ['log.dirs', LOG_DIR],
    ['runnel.http.listener', `:${PORTS.http}`],
  ]);
  const user = configStrings(cluster.spec.config);
  const lines = [
    `# Written by runnel-operator for KafkaCluster ${cluster.metadata.namespace}/${cluster.metadata.name}: change spec.config instead.`,
  ];
  for (const [k, v] of managed) lines.push(`${k}=${v}`);
  lines.push('# spec.config');
  for (const [k, v] of user) if (!MANAGED_KEYS.has(k) && !managed.has(k)) lines.push(`${k}=${v}`);
  return lines.join('\n') + '\n';
}

/**
 * Kafka's default offsets.topic.replication.factor of 3 cannot be met by a smaller cluster; users
 * may still set it. It matters only when __consumer_offsets is first created, so a change (scaling)
 * needs no restart.
 */
export function clusterSizeProperties(cluster: KafkaCluster): string {
  if (configStrings(cluster.spec.config).has('offsets.topic.replication.factor')) return '';
  return `offsets.topic.replication.factor=${Math.min(3, cluster.spec.replicas)}\n`;
}

/** What differs per broker. It depends only on the ordinal and the (immutable) voter count. */
export function nodeProperties(cluster: KafkaCluster, ordinal: number): string {
  const voter = ordinal < cluster.spec.controllerVoters;
  const listeners = [
    `${LISTENER.client}://:${PORTS.kafka}`,
    ...(voter ? [`${LISTENER.controller}://:${PORTS.controller}`] : []),
  ];
  return `process.roles=${voter ? 'broker,controller' : 'broker'}\nlisteners=${listeners.join(',')}\n`;
}

export function configMap(cluster: KafkaCluster, clusterId: string, options: BuildOptions): V1ConfigMap {
  const data: Record<string, string> = {
    [SERVER_PROPERTIES]: serverProperties(cluster, clusterId, options),
    [CLUSTER_SIZE_PROPERTIES]: clusterSizeProperties(cluster),
  };
  for (let i = 0; i < cluster.spec.replicas; i++) data[nodePropertiesFile(i)] = nodeProperties(cluster, i);
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: ownedMetadata(cluster, names(cluster).configMap), data };
}

/**
 * Hash of the shared configuration, put on the pod template so that a config change makes a new
 * StatefulSet revision (and so a rolling restart). The per-node files and the cluster-size
 * defaults are left out: adding brokers must not restart the existing ones.
 */
export function configHash(cm: V1ConfigMap): string {
  return createHash('sha256')
    .update(cm.data?.[SERVER_PROPERTIES] ?? '')
    .digest('hex')
    .slice(0, 16);
}
