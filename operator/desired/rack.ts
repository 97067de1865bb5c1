// Rack awareness (spec.rack): a broker's `broker.rack` is a label of the node its pod runs on.
// The downward API cannot show node labels and brokers never call the Kubernetes API, so the
// operator copies the label onto each scheduled broker pod (RACK_ANNOTATION), and an init container
// — the operator's image running `rack-init` — waits for that annotation and writes `broker.rack`
// into a file the broker reads as one more config file. Only the init container gets an API token,
// and the Role behind it reads nothing but the cluster's own broker pods.

import type { V1Container, V1Role, V1RoleBinding, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { KafkaCluster } from '../api/types.js';
import { names, ownedMetadata, type BuildOptions } from './names.js';

export const RACK_INIT_COMMAND = 'rack-init';
const RACK_DIR = '/run/runnel/rack';
export const RACK_PROPERTIES_PATH = `${RACK_DIR}/rack.properties`;
const RACK_VOLUME = 'rack';
const API_TOKEN_VOLUME = 'rack-api-access';
const API_TOKEN_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const API_TOKEN_EXPIRATION_SECONDS = 3607;

/** Where the broker container sees the file the init container wrote. */
export const rackMount: V1VolumeMount = { name: RACK_VOLUME, mountPath: RACK_DIR, readOnly: true };

export function rackInitContainer(cluster: KafkaCluster, options: BuildOptions): V1Container {
  return {
    name: 'rack',
    image: options.operatorImage,
    // The topology key is in the args so that changing it rolls the brokers onto the new racks.
    args: [RACK_INIT_COMMAND, '--topology-key', cluster.spec.rack!.topologyKey, '--out', RACK_PROPERTIES_PATH],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ],
    resources: { requests: { cpu: '10m', memory: '64Mi' } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [
      { name: RACK_VOLUME, mountPath: RACK_DIR },
      { name: API_TOKEN_VOLUME, mountPath: API_TOKEN_DIR, readOnly: true },
    ],
  };
}

/** The rack file's directory, and an API token for the init container alone (the pod mounts none). */
export function rackVolumes(): V1Volume[] {
  return [
    { name: RACK_VOLUME, emptyDir: { sizeLimit: '1Mi' } },
    {
      name: API_TOKEN_VOLUME,
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: API_TOKEN_EXPIRATION_SECONDS } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    },
  ];
}

/** Lets the rack init container read its own pod, and no other object. */
export function brokerRole(cluster: KafkaCluster): V1Role {
  const n = names(cluster);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: ownedMetadata(cluster, n.brokerRole),
    rules: [
      {
        apiGroups: [''],
        resources: ['pods'],
        verbs: ['get'],
        resourceNames: Array.from({ length: cluster.spec.replicas }, (_, i) => n.pod(i)),
      },
    ],
  };
}

export function brokerRoleBinding(cluster: KafkaCluster): V1RoleBinding {
  const n = names(cluster);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: ownedMetadata(cluster, n.brokerRole),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: n.brokerRole },
    subjects: [{ kind: 'ServiceAccount', name: n.serviceAccount, namespace: cluster.metadata.namespace }],
  };
}
