// What the runner asks a client driver to do, and what the driver reports back. Every driver
// (Java, Python, kcat, kafkajs, @platformatic/kafka) takes `<op> <task.json>` and prints one
// JSON line on stdout: the result, with `error` set when the operation failed part way.

import type { Headers, ReadRecord, RecordSpec } from './records.js';

export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

interface Base {
  /** host:port,host:port,… */
  bootstrap: string;
}

export interface ProduceTask extends Base {
  topic: string;
  records: RecordSpec[];
  compression: Codec;
  /** 'default' leaves the client's own default in place. */
  idempotence: 'default' | 'on' | 'off';
}

export interface ProduceResult {
  /** The offset the client reported for record `index` of the task (all, or the first of each request). */
  delivered?: Array<{ index: number; partition: number; offset: number } | null>;
  error?: string;
}

/** Reads partitions 0..endOffsets.length-1 from the beginning up to endOffsets, without committing. */
export interface ReadTask extends Base {
  topic: string;
  endOffsets: number[];
  deadlineMs: number;
}

export interface ReadResult {
  records?: ReadRecord[];
  error?: string;
}

/** Subscribes in group `groupId` (earliest when nothing is committed), reads `count` records committing them, and leaves. */
export interface GroupTask extends Base {
  topic: string;
  groupId: string;
  count: number;
  deadlineMs: number;
}

export interface GroupResult {
  records?: ReadRecord[];
  /** Committed offsets as the client itself sees them before leaving, by partition. */
  committed?: Record<string, number | null>;
  error?: string;
}

/**
 * One member of a group whose other member runs in another process: subscribes (earliest when
 * nothing is committed), commits everything it reads before it can be rebalanced, prints
 * `{"event":"assigned","partitions":[…]}` on stdout whenever its assignment changes, and
 * leaves when `stopFile` exists.
 */
export interface MemberTask extends Base {
  topic: string;
  groupId: string;
  stopFile: string;
  deadlineMs: number;
}

export interface MemberResult {
  records?: ReadRecord[];
  /** The assignment when told to stop. */
  assignment?: number[];
  error?: string;
}

export interface AdminTask extends Base {
  topic: string;
  partitions: number;
  replicationFactor: number;
  topicConfigKeys: string[];
  brokerConfigKeys: string[];
}

/** [value, source name as in Kafka's ConfigSource: DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, …] */
export type ConfigObservation = Record<string, [string | null, string] | null>;

export interface AdminResult {
  create?: string;
  createdPartitions?: number;
  createAgain?: string;
  listed?: boolean;
  partitions?: Array<{ partition: number; leader: number | null; replicas: number[]; isr: number[] }>;
  cluster?: ClusterDescription;
  topicConfigs?: ConfigObservation;
  topicConfigsAltered?: ConfigObservation;
  alterInvalid?: string;
  brokerConfigs?: ConfigObservation;
  delete?: string;
  listedAfterDelete?: boolean;
  error?: string;
}

/** The cluster as the client sees it (Java: Admin.describeCluster; Python: the Metadata of list_topics). */
export type ClusterTask = Base;

export interface ClusterResult {
  cluster?: ClusterDescription;
  error?: string;
}

export interface ClusterDescription {
  clusterId: string | null;
  controller: number | null;
  nodes: Array<{ id: number; host: string; port: number }>;
}

export interface VersionResult {
  name: string;
  version: string;
  runtime?: string;
  error?: string;
}

export type { Headers, ReadRecord, RecordSpec };

/** Kafka's ConfigSource ids by name, for clients that report the number. */
export const CONFIG_SOURCES = [
  'UNKNOWN',
  'DYNAMIC_TOPIC_CONFIG',
  'DYNAMIC_BROKER_CONFIG',
  'DYNAMIC_DEFAULT_BROKER_CONFIG',
  'STATIC_BROKER_CONFIG',
  'DEFAULT_CONFIG',
  'DYNAMIC_BROKER_LOGGER_CONFIG',
  'CLIENT_METRICS_CONFIG',
  'GROUP_CONFIG',
] as const;
