// The custom resources as the operator sees them (crds/ is the schema the API server enforces).
// Defaults are applied by the API server, so specs read here are already defaulted; the few
// fields without a schema default are optional in these types.

export const GROUP = 'kafka.runnel.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const FIELD_MANAGER = 'runnel-operator';
/** Held by every KafkaTopic the operator has seen, so deleting the CR deletes the topic first. */
export const TOPIC_FINALIZER = `${GROUP}/topic`;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Kafka config values: the schema accepts integers or strings; Kafka wants strings. */
export type ConfigValues = Record<string, string | number>;

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface KafkaClusterSpec {
  replicas: number;
  image?: string;
  controllerVoters: 1 | 3;
  storage: { size: string; storageClassName?: string; deleteClaim: boolean };
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  config?: ConfigValues;
  /** How replicas move when the broker count changes (the API server defaults maxPartitionMovements). */
  rebalance: { throttleBytesPerSecond?: number; maxPartitionMovements: number };
  /** Each broker's `broker.rack` is this label of the node its pod runs on. */
  rack?: { topologyKey: string };
  template?: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    affinity?: Record<string, unknown>;
    tolerations?: Record<string, unknown>[];
    nodeSelector?: Record<string, string>;
    priorityClassName?: string;
  };
}

export type BrokerState = 'Ready' | 'NotReady' | 'Pending' | 'Terminating';

/** Where a change of the broker count is; `Balanced` once it is done. */
export type ScalingPhase =
  'AddingBrokers' | 'MovingReplicas' | 'ElectingLeaders' | 'RemovingBrokers' | 'Blocked' | 'Balanced';

export interface ScalingStatus {
  phase: ScalingPhase;
  fromBrokers: number;
  toBrokers: number;
  message?: string;
  startTime?: string;
  completionTime?: string;
  /** The plan as first computed for this change; resumed plans recompute only what is left. */
  plan?: { partitions: number; replicaMoves: number; lowerBound: number; bytes: number };
  progress?: { pending: number; moving: number; done: number; bytesMoved: number };
}

export interface KafkaClusterStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  labelSelector?: string;
  clusterId?: string;
  bootstrap?: string;
  brokers?: { id: number; pod: string; state: BrokerState; rack?: string }[];
  scaling?: ScalingStatus;
  conditions?: Condition[];
}

export interface KafkaCluster {
  apiVersion: typeof API_VERSION;
  kind: 'KafkaCluster';
  metadata: ObjectMeta;
  spec: KafkaClusterSpec;
  status?: KafkaClusterStatus;
}

export interface KafkaTopicSpec {
  cluster: string;
  topicName?: string;
  partitions: number;
  replicationFactor: number;
  config?: ConfigValues;
}

export interface KafkaTopicStatus {
  observedGeneration?: number;
  topicName?: string;
  topicId?: string;
  conditions?: Condition[];
}

export interface KafkaTopic {
  apiVersion: typeof API_VERSION;
  kind: 'KafkaTopic';
  metadata: ObjectMeta;
  spec: KafkaTopicSpec;
  status?: KafkaTopicStatus;
}

/** The Kafka topic a KafkaTopic stands for: spec.topicName, else the resource's name. */
export function topicNameOf(topic: KafkaTopic): string {
  return topic.spec.topicName ?? topic.metadata.name;
}

/** Kafka config as the wire wants it: every value a string, keys sorted for stable output. */
export function configStrings(config: ConfigValues | undefined): Map<string, string> {
  return new Map(
    Object.entries(config ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, String(v)]),
  );
}
