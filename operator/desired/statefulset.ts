// The brokers' StatefulSet. The operator decides when pods restart (updateStrategy OnDelete), so a
// config or image change makes a new revision and the rolling-restart step replaces brokers one at
// a time, in its own order.

import type {
  V1Affinity,
  V1Container,
  V1ResourceRequirements,
  V1StatefulSet,
  V1Toleration,
} from '@kubernetes/client-node';
import { configStrings, type KafkaCluster } from '../api/types.js';
import { CLUSTER_SIZE_PROPERTIES, SERVER_PROPERTIES, nodePropertiesFile } from './config.js';
import { RACK_PROPERTIES_PATH, rackInitContainer, rackMount, rackVolumes } from './rack.js';
import {
  CLUSTER_ID_ANNOTATION,
  CONFIG_DIR,
  CONFIG_HASH_ANNOTATION,
  DATA_DIR,
  LISTENER,
  PORTS,
  POD_INDEX_LABEL,
  labels,
  names,
  ownedMetadata,
  selectorLabels,
  type BuildOptions,
} from './names.js';

const BROKER_USER_ID = 1000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** Time beyond the broker's own shutdown timeout for the process to exit after it. */
const GRACE_MARGIN_SECONDS = 30;

/** Enough for the broker's controlled shutdown (shutdown.timeout.ms) to finish before SIGKILL. */
export function terminationGracePeriodSeconds(cluster: KafkaCluster): number {
  const shutdownMs = Number(
    configStrings(cluster.spec.config).get('shutdown.timeout.ms') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
  );
  return Math.ceil(shutdownMs / 1000) + GRACE_MARGIN_SECONDS;
}

/** Spread brokers over nodes when the user gave no affinity of their own. */
function defaultAffinity(cluster: KafkaCluster): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: selectorLabels(cluster) },
          },
        },
      ],
    },
  };
}

/** The CRD accepts quantities as integers or strings (like core types); the API types want strings. */
function resources(cluster: KafkaCluster): V1ResourceRequirements | undefined {
  const r = cluster.spec.resources;
  const strings = (q: Record<string, string | number> | undefined) =>
    q ? Object.fromEntries(Object.entries(q).map(([k, v]) => [k, String(v)])) : undefined;
  return r && { requests: strings(r.requests), limits: strings(r.limits) };
}

function brokerContainer(cluster: KafkaCluster, options: BuildOptions): V1Container {
  const n = names(cluster);
  const dnsSuffix = `${n.headless}.${cluster.metadata.namespace}.svc.${options.clusterDomain}`;
  const rack = cluster.spec.rack !== undefined;
  return {
    name: 'broker',
    image: cluster.spec.image ?? options.defaultImage,
    // The image's entrypoint is the broker; Kubernetes expands $(VAR) from the env below.
    args: [
      '--config',
      `${CONFIG_DIR}/${SERVER_PROPERTIES}`,
      '--config',
      `${CONFIG_DIR}/${CLUSTER_SIZE_PROPERTIES}`,
      '--config',
      `${CONFIG_DIR}/${nodePropertiesFile('$(KAFKA_CFG_NODE_ID)')}`,
      ...(rack ? ['--config', RACK_PROPERTIES_PATH] : []),
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'KAFKA_CFG_NODE_ID', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${POD_INDEX_LABEL}']` } } },
      { name: 'KAFKA_CFG_ADVERTISED_LISTENERS', value: `${LISTENER.client}://$(POD_NAME).${dnsSuffix}:${PORTS.kafka}` },
    ],
    ports: [
      { name: 'kafka', containerPort: PORTS.kafka, protocol: 'TCP' },
      { name: 'controller', containerPort: PORTS.controller, protocol: 'TCP' },
      { name: 'http', containerPort: PORTS.http, protocol: 'TCP' },
    ],
    // /readyz: serving and caught up with the metadata quorum. /healthz answers during log recovery.
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    },
    resources: resources(cluster),
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'data', mountPath: DATA_DIR },
      { name: 'tmp', mountPath: '/tmp' },
      ...(rack ? [rackMount] : []),
    ],
  };
}

/**
 * `claimSize` is the size the volume claim template carries: spec.storage.size unless the
 * expandStorage step (reconcile/storage.ts) says otherwise, because a StatefulSet's claim
 * templates cannot change in place.
 */
export function statefulSet(
  cluster: KafkaCluster,
  clusterId: string,
  configHash: string,
  options: BuildOptions,
  claimSize: string = cluster.spec.storage.size,
): V1StatefulSet {
  const n = names(cluster);
  const template = cluster.spec.template ?? {};
  const { storage } = cluster.spec;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: ownedMetadata(cluster, n.statefulSet),
    spec: {
      replicas: cluster.spec.replicas,
      serviceName: n.headless,
      selector: { matchLabels: selectorLabels(cluster) },
      // Voters must start together to elect a leader; ordered start-up would wait forever.
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: storage.deleteClaim ? 'Delete' : 'Retain',
        // A removed broker's claim goes with it when the cluster's claims go with the cluster.
        whenScaled: storage.deleteClaim ? 'Delete' : 'Retain',
      },
      template: {
        metadata: {
          labels: { ...template.labels, ...labels(cluster) },
          annotations: { ...template.annotations, [CONFIG_HASH_ANNOTATION]: configHash },
        },
        spec: {
          serviceAccountName: n.serviceAccount,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: terminationGracePeriodSeconds(cluster),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: BROKER_USER_ID,
            runAsGroup: BROKER_USER_ID,
            fsGroup: BROKER_USER_ID,
            fsGroupChangePolicy: 'OnRootMismatch',
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: template.affinity ?? defaultAffinity(cluster),
          tolerations: template.tolerations as V1Toleration[] | undefined,
          nodeSelector: template.nodeSelector,
          priorityClassName: template.priorityClassName,
          initContainers: cluster.spec.rack ? [rackInitContainer(cluster, options)] : undefined,
          containers: [brokerContainer(cluster, options)],
          volumes: [
            { name: 'config', configMap: { name: n.configMap } },
            { name: 'tmp', emptyDir: {} },
            ...(cluster.spec.rack ? rackVolumes() : []),
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: labels(cluster), annotations: { [CLUSTER_ID_ANNOTATION]: clusterId } },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: storage.storageClassName,
            resources: { requests: { storage: claimSize } },
          },
        },
      ],
    },
  };
}
