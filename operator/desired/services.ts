// The two Services of a cluster: a headless one that gives every broker a stable DNS name (used
// in advertised.listeners and controller.quorum.voters) and a bootstrap one for clients.

import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { KafkaCluster } from '../api/types.js';
import { PORTS, brokerHost, names, ownedMetadata, selectorLabels, type BuildOptions } from './names.js';

const kafkaPort: V1ServicePort = { name: 'kafka', port: PORTS.kafka, targetPort: 'kafka', protocol: 'TCP' };

export function headlessService(cluster: KafkaCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(cluster, names(cluster).headless),
    spec: {
      clusterIP: 'None',
      // Quorum voters must find each other before any of them is ready.
      publishNotReadyAddresses: true,
      selector: selectorLabels(cluster),
      ports: [
        kafkaPort,
        { name: 'controller', port: PORTS.controller, targetPort: 'controller', protocol: 'TCP' },
        { name: 'http', port: PORTS.http, targetPort: 'http', protocol: 'TCP' },
      ],
    },
  };
}

export function bootstrapService(cluster: KafkaCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(cluster, names(cluster).bootstrap),
    spec: { type: 'ClusterIP', selector: selectorLabels(cluster), ports: [kafkaPort] },
  };
}

/** The address clients bootstrap from (reported in status.bootstrap). */
export function bootstrapAddress(cluster: KafkaCluster, options: BuildOptions): string {
  return `${names(cluster).bootstrap}.${cluster.metadata.namespace}.svc.${options.clusterDomain}:${PORTS.kafka}`;
}

/** Each broker's own address: what the operator bootstraps from (no kube-proxy needed). */
export function brokerAddresses(cluster: KafkaCluster, options: BuildOptions): string[] {
  return Array.from({ length: cluster.spec.replicas }, (_, i) => `${brokerHost(cluster, i, options)}:${PORTS.kafka}`);
}
