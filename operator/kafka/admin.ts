// The operator's only way into a cluster: the Kafka admin protocol, through @platformatic/kafka
// (a maintained client, not the broker's own codec). This module narrows it to what the
// reconcilers need, so they can be tested against an in-memory double.

import {
  Admin,
  ConfigResourceTypes,
  ConfigSources,
  IncrementalAlterConfigOperationTypes,
  describeQuorumV2,
  metadataV9,
  metadataV10,
  metadataV11,
  metadataV12,
  type ConfigDescription,
  type GenericError,
} from '@platformatic/kafka';
import type { ConfigChange, DesiredTopic, ObservedTopic } from '../topics/plan.js';

/** One partition's replicas as the cluster metadata has them, with its topic's `min.insync.replicas`. */
export interface PartitionReplicas {
  topic: string;
  partition: number;
  /** `__consumer_offsets`, `__transaction_state`. */
  internal: boolean;
  replicas: number[];
  isr: number[];
  /**
   * The topic's effective `min.insync.replicas`: its own, else the brokers' default. Not asked for
   * a topic with one replica per partition (which never holds back a restart): Kafka's default, 1.
   */
  minInsyncReplicas: number;
}

export interface ClusterHealth {
  /** The active controller (the broker a rolling restart takes last); -1 while the quorum has no leader. */
  controllerId: number;
  /** Every partition of every topic, internal ones included. */
  partitions: PartitionReplicas[];
  /** Replicas of non-internal partitions each broker holds (brokers holding none are absent). */
  replicasByBroker: Map<number, number>;
}

export interface KafkaAdmin {
  describeTopic(name: string): Promise<ObservedTopic | undefined>;
  /** Returns the new topic's id. */
  createTopic(topic: DesiredTopic): Promise<string>;
  createPartitions(name: string, totalCount: number): Promise<void>;
  alterTopicConfig(name: string, changes: readonly ConfigChange[]): Promise<void>;
  /** Deleting a topic that does not exist succeeds. */
  deleteTopic(name: string): Promise<void>;
  health(): Promise<ClusterHealth>;
}

const CLIENT_ID = 'runnel-operator';
/** The KRaft metadata log: its partition's leader is the active controller. */
const METADATA_TOPIC = '__cluster_metadata';
const MIN_INSYNC_REPLICAS = 'min.insync.replicas';
/** Kafka's default, for a topic whose DescribeConfigs answer lacks the key. */
const DEFAULT_MIN_INSYNC_REPLICAS = 1;
/** Metadata versions this client can parse, newest first; the newest the brokers serve is used. */
const METADATA_APIS = [metadataV12, metadataV11, metadataV10, metadataV9];
const CONNECT_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 15_000;

function isUnknownTopic(err: unknown): boolean {
  return (
    typeof (err as GenericError)?.findBy === 'function' &&
    (err as GenericError).findBy('apiId', 'UNKNOWN_TOPIC_OR_PARTITION') !== null
  );
}

/** The Kafka error name of a broker's error answer, or undefined for any other failure. */
function protocolError(err: unknown): string | undefined {
  const generic = err as GenericError;
  const protocol = typeof generic?.findBy === 'function' ? generic.findBy('code', 'PLT_KFK_PROTOCOL') : null;
  return protocol ? String(protocol.apiId) : undefined;
}

/** The leader of `__cluster_metadata-0` in a DescribeQuorum answer, or -1 when it names none. */
export function quorumLeader(answer: {
  topics: { topicName: string; partitions: { partitionIndex: number; errorCode: number; leaderId: number }[] }[];
}): number {
  const partition = answer.topics
    .find((t) => t.topicName === METADATA_TOPIC)
    ?.partitions.find((p) => p.partitionIndex === 0);
  return partition && partition.errorCode === 0 ? partition.leaderId : -1;
}

/** The parts of a Metadata answer (v9 to v12) that the cluster's health is made of. */
export interface MetadataAnswer {
  topics: {
    errorCode: number;
    name: string | null | undefined;
    isInternal: boolean;
    partitions: { partitionIndex: number; replicaNodes: number[]; isrNodes: number[] }[];
  }[];
}

/**
 * Every partition of a Metadata answer for all topics, with its topic's `min.insync.replicas`.
 * A topic answered with an error (deleted meanwhile) is left out; a partition answered with an
 * error (LEADER_NOT_AVAILABLE while its leader restarts) still has its replicas and ISR, so it stays.
 */
export function clusterPartitions(
  answer: MetadataAnswer,
  minInsyncReplicas: ReadonlyMap<string, number>,
): PartitionReplicas[] {
  const partitions: PartitionReplicas[] = [];
  for (const topic of answer.topics) {
    if (topic.errorCode !== 0 || !topic.name) continue;
    for (const p of topic.partitions)
      partitions.push({
        topic: topic.name,
        partition: p.partitionIndex,
        internal: topic.isInternal,
        replicas: p.replicaNodes,
        isr: p.isrNodes,
        minInsyncReplicas: minInsyncReplicas.get(topic.name) ?? DEFAULT_MIN_INSYNC_REPLICAS,
      });
  }
  return partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/**
 * Each described topic's effective `min.insync.replicas`. A topic's DescribeConfigs entry carries
 * the value in force whatever set it (the topic's own config, or the brokers' static or dynamic
 * default, as its source says), so the source is not filtered here. A topic without a usable value
 * is absent, and counts with Kafka's default.
 */
export function minInsyncReplicasByTopic(described: readonly ConfigDescription[]): Map<string, number> {
  const byTopic = new Map<string, number>();
  for (const resource of described) {
    if (resource.resourceType !== ConfigResourceTypes.TOPIC) continue;
    const value = Number(resource.configs.find((c) => c.name === MIN_INSYNC_REPLICAS)?.value ?? NaN);
    if (Number.isInteger(value) && value >= 1) byTopic.set(resource.resourceName, value);
  }
  return byTopic;
}

/** Replicas each broker holds, internal topics left out. */
export function replicasByBroker(partitions: readonly PartitionReplicas[]): Map<number, number> {
  const byBroker = new Map<number, number>();
  for (const p of partitions)
    if (!p.internal) for (const id of p.replicas) byBroker.set(id, (byBroker.get(id) ?? 0) + 1);
  return byBroker;
}

/** The broker's own words for a failed admin call (error name and message), else the client's. */
export function kafkaErrorMessage(err: unknown): string {
  const generic = err as GenericError;
  const protocol = typeof generic?.findBy === 'function' ? generic.findBy('code', 'PLT_KFK_PROTOCOL') : null;
  if (protocol) return `${protocol.apiId}${protocol.serverErrorMessage ? `: ${protocol.serverErrorMessage}` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

/** An ApiVersions entry. */
interface ApiRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

/**
 * The Metadata answer carried by this client's error for an answer whose only errors are
 * partitions' (their replicas and ISR are still reported), else undefined.
 */
export function answerDespitePartitionErrors(err: unknown): MetadataAnswer | undefined {
  const failure = err as { code?: string; errors?: { path?: string }[]; response?: MetadataAnswer };
  if (failure?.code !== 'PLT_KFK_RESPONSE' || !failure.response || !Array.isArray(failure.errors)) return undefined;
  return failure.errors.every((e) => /^\/topics\/\d+\/partitions\/\d+$/.test(e?.path ?? ''))
    ? failure.response
    : undefined;
}

class PlatformaticAdmin implements KafkaAdmin {
  constructor(private readonly admin: Admin) {}

  async describeTopic(name: string): Promise<ObservedTopic | undefined> {
    // Metadata for a missing topic is an error without a code in this client; list first instead.
    if (!(await this.admin.listTopics({ includeInternals: true })).includes(name)) return undefined;
    const metadata = await this.admin.metadata({ topics: [name], forceUpdate: true });
    const topic = metadata.topics.get(name);
    if (!topic) return undefined;
    const [described] = await this.admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: name }],
    });
    const config = new Map<string, string>();
    for (const c of described?.configs ?? [])
      if (c.configSource === ConfigSources.TOPIC_CONFIG && c.value != null) config.set(c.name, c.value);
    return {
      name,
      id: topic.id,
      partitions: topic.partitionsCount,
      replicationFactor: topic.partitions[0]?.replicas.length ?? 0,
      config,
    };
  }

  async createTopic(topic: DesiredTopic): Promise<string> {
    const [created] = await this.admin.createTopics({
      topics: [topic.name],
      partitions: topic.partitions,
      replicas: topic.replicationFactor,
      configs: [...topic.config].map(([name, value]) => ({ name, value })),
    });
    return created.id;
  }

  async createPartitions(name: string, totalCount: number): Promise<void> {
    await this.admin.createPartitions({ topics: [{ name, count: totalCount }] });
  }

  async alterTopicConfig(name: string, changes: readonly ConfigChange[]): Promise<void> {
    await this.admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: name,
          configs: changes.map((c) =>
            c.op === 'set'
              ? { name: c.name, configOperation: IncrementalAlterConfigOperationTypes.SET, value: c.value }
              : { name: c.name, configOperation: IncrementalAlterConfigOperationTypes.DELETE },
          ),
        },
      ],
    });
  }

  async deleteTopic(name: string): Promise<void> {
    try {
      await this.admin.deleteTopics({ topics: [name] });
    } catch (err) {
      if (!isUnknownTopic(err)) throw err;
    }
  }

  async health(): Promise<ClusterHealth> {
    try {
      return await this.readHealth();
    } catch (err) {
      // A topic deleted between the Metadata answer and DescribeConfigs: the next answer lacks it.
      if (!isUnknownTopic(err)) throw err;
      return this.readHealth();
    }
  }

  private async readHealth(): Promise<ClusterHealth> {
    // The client caches the controller id from its first metadata; drop the cache for a fresh one.
    this.admin.clearMetadata();
    const { brokers: known, controllerId } = await this.admin.metadata({ topics: [], forceUpdate: true });
    const brokers = [...known.values()];
    const apis = await this.admin.listApis();
    const answer = await this.allTopics(apis, brokers);
    // A partition with one replica never blocks a restart, so only replicated topics are described.
    const replicated = answer.topics
      .filter((t) => t.errorCode === 0 && t.name && t.partitions.some((p) => p.replicaNodes.length > 1))
      .map((t) => t.name!);
    const described =
      replicated.length === 0
        ? []
        : await this.admin.describeConfigs({
            resources: replicated.map((name) => ({
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: name,
              configurationKeys: [MIN_INSYNC_REPLICAS],
            })),
          });
    const partitions = clusterPartitions(answer, minInsyncReplicasByTopic(described));
    return {
      controllerId: await this.activeController(apis, brokers, controllerId),
      partitions,
      replicasByBroker: replicasByBroker(partitions),
    };
  }

  /**
   * Metadata for all topics, asked directly: this client's `metadata()` leaves internal topics
   * (`__consumer_offsets`) out, and fails on a partition that answers an error.
   */
  private async allTopics(apis: ApiRange[], brokers: { host: string; port: number }[]): Promise<MetadataAnswer> {
    const served = apis.find((a) => a.apiKey === metadataV12.api.key);
    const metadata = METADATA_APIS.find(
      (m) => served && served.minVersion <= m.api.version && m.api.version <= served.maxVersion,
    );
    if (!metadata) {
      const range = served ? `v${served.minVersion}-v${served.maxVersion}` : 'no version';
      throw new Error(`the brokers serve Metadata ${range}; the operator needs one of v9-v12`);
    }
    const connection = await this.admin.connections.getFirstAvailable(brokers);
    try {
      return await metadata.api.async(connection, null, false, false);
    } catch (err) {
      const answer = answerDespitePartitionErrors(err);
      if (answer) return answer;
      throw err;
    }
  }

  /**
   * The metadata quorum's leader, from DescribeQuorum (which a broker forwards to it). Metadata's
   * controller id cannot say: Kafka in KRaft mode names a random live broker there. It is used only
   * when the brokers do not serve DescribeQuorum v2 (older Kafka versions).
   */
  private async activeController(
    apis: ApiRange[],
    brokers: { host: string; port: number }[],
    metadataControllerId: number,
  ) {
    const describeQuorum = apis.find((a) => a.apiKey === describeQuorumV2.api.key);
    if (!describeQuorum || describeQuorum.maxVersion < describeQuorumV2.api.version) return metadataControllerId;
    let answer: describeQuorumV2.DescribeQuorumResponse;
    try {
      const connection = await this.admin.connections.getFirstAvailable(brokers);
      answer = await describeQuorumV2.api.async(connection, [
        { topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] },
      ]);
    } catch (err) {
      // An error answer (no leader to forward to, a timeout during an election): none known now.
      if (protocolError(err)) return -1;
      throw err;
    }
    return quorumLeader(answer);
  }
}

/** One admin client per cluster, reused across reconciles and closed when the cluster goes. */
export class AdminPool {
  private readonly clients = new Map<string, { bootstrap: string; admin: Admin }>();

  /** The admin client of cluster `key` (namespace/name), reconnecting if its brokers moved. */
  get(key: string, bootstrap: readonly string[]): KafkaAdmin {
    const joined = bootstrap.join(',');
    let entry = this.clients.get(key);
    if (entry && entry.bootstrap !== joined) {
      void entry.admin.close();
      entry = undefined;
    }
    if (!entry) {
      entry = {
        bootstrap: joined,
        admin: new Admin({
          clientId: CLIENT_ID,
          bootstrapBrokers: [...bootstrap],
          connectTimeout: CONNECT_TIMEOUT_MS,
          requestTimeout: REQUEST_TIMEOUT_MS,
          retries: 1,
        }),
      };
      this.clients.set(key, entry);
    }
    return new PlatformaticAdmin(entry.admin);
  }

  async release(key: string): Promise<void> {
    const entry = this.clients.get(key);
    this.clients.delete(key);
    await entry?.admin.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.clients.keys()].map((k) => this.release(k)));
  }
}
