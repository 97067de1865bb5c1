// The operator's only way into a cluster: the Kafka admin protocol, through @platformatic/kafka
// (a maintained client, not the broker's own codec). This module narrows it to what the
// reconcilers need, so they can be tested against an in-memory double.

import {
  Admin,
  ConfigResourceTypes,
  ConfigSources,
  IncrementalAlterConfigOperationTypes,
  describeQuorumV2,
  type GenericError,
} from '@platformatic/kafka';
import type { ConfigChange, DesiredTopic, ObservedTopic } from '../topics/plan.js';

export interface ClusterHealth {
  /** The active controller (the broker a rolling restart takes last); -1 while the quorum has no leader. */
  controllerId: number;
  /** Partitions whose in-sync replicas are fewer than their replicas. */
  underReplicatedPartitions: number;
  /** Partition replicas each broker holds (brokers holding none are absent). */
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

/** The broker's own words for a failed admin call (error name and message), else the client's. */
export function kafkaErrorMessage(err: unknown): string {
  const generic = err as GenericError;
  const protocol = typeof generic?.findBy === 'function' ? generic.findBy('code', 'PLT_KFK_PROTOCOL') : null;
  if (protocol) return `${protocol.apiId}${protocol.serverErrorMessage ? `: ${protocol.serverErrorMessage}` : ''}`;
  return err instanceof Error ? err.message : String(err);
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
    // The client caches the controller id from its first metadata; drop the cache for a fresh one.
    this.admin.clearMetadata();
    // This client keeps internal topics (__consumer_offsets) out of its metadata, so they are not counted.
    const topics = await this.admin.listTopics();
    const metadata = await this.admin.metadata({ topics, forceUpdate: true });
    let underReplicatedPartitions = 0;
    const replicasByBroker = new Map<number, number>();
    for (const topic of metadata.topics.values()) {
      for (const p of topic?.partitions ?? []) {
        if (p.isr.length < p.replicas.length) underReplicatedPartitions++;
        for (const id of p.replicas) replicasByBroker.set(id, (replicasByBroker.get(id) ?? 0) + 1);
      }
    }
    const brokers = [...metadata.brokers.values()];
    return {
      controllerId: await this.activeController(brokers, metadata.controllerId),
      underReplicatedPartitions,
      replicasByBroker,
    };
  }

  /**
   * The metadata quorum's leader, from DescribeQuorum (which a broker forwards to it). Metadata's
   * controller id cannot say: Kafka in KRaft mode names a random live broker there. It is used only
   * when the brokers do not serve DescribeQuorum v2 (older Kafka versions).
   */
  private async activeController(brokers: { host: string; port: number }[], metadataControllerId: number) {
    const describeQuorum = (await this.admin.listApis()).find((a) => a.apiKey === describeQuorumV2.api.key);
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
