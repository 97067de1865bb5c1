// The operator's only way into a cluster: the Kafka admin protocol, through @platformatic/kafka
// (a maintained client, not the broker's own codec). This module narrows it to what the
// reconcilers need, so they can be tested against an in-memory double.

import {
  Admin,
  ConfigResourceTypes,
  ConfigSources,
  IncrementalAlterConfigOperationTypes,
  alterPartitionReassignmentsV0,
  describeLogDirsV2,
  describeLogDirsV3,
  describeLogDirsV4,
  describeQuorumV2,
  incrementalAlterConfigsV1,
  kGetBootstrapConnection,
  listPartitionReassignmentsV0,
  metadataV9,
  metadataV10,
  metadataV11,
  metadataV12,
  protocolErrorsCodesById,
  unregisterBrokerV0,
  type ConfigDescription,
  type Connection,
  type GenericError,
} from '@platformatic/kafka';
import type { ConfigChange, DesiredTopic, ObservedTopic } from '../topics/plan.js';
import * as electLeadersV2 from './elect-leaders.js';

/** One partition's replicas as the cluster metadata has them, with its topic's `min.insync.replicas`. */
export interface PartitionReplicas {
  topic: string;
  partition: number;
  /** `__consumer_offsets`, `__transaction_state`. */
  internal: boolean;
  replicas: number[];
  isr: number[];
  /** The partition's leader (Metadata's leader id); -1 while it has none. */
  leader: number;
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

/** A live broker, as Metadata lists it. */
export interface BrokerNode {
  id: number;
  /** Its `broker.rack`, when it has one. */
  rack?: string;
}

/** A partition being moved, as ListPartitionReassignments reports it. */
export interface ReassignmentInFlight {
  topic: string;
  partition: number;
  /** The partition's replicas now: the old ones and those being added. */
  replicas: number[];
  /** Replicas being added (still catching up). */
  adding: number[];
  /** Replicas to be removed once the added ones are in sync. */
  removing: number[];
}

/** One partition's target replicas for AlterPartitionReassignments. */
export interface ReassignmentRequest {
  topic: string;
  partition: number;
  /** null cancels the reassignment in flight */
  replicas: number[] | null;
}

/** How the brokers answered for one partition of a reassignment or a leader election. */
export interface ReassignmentOutcome {
  topic: string;
  partition: number;
  /** Kafka error name, e.g. NO_REASSIGNMENT_IN_PROGRESS; undefined on success */
  error?: string;
  /** The broker's message with the error, when it gave one. */
  message?: string;
}

/** What a broker's log directories hold (DescribeLogDirs), summed over its log dirs. */
export interface LogDirUsage {
  broker: number;
  /** bytes of each replica on that broker, key `${topic}-${partition}` */
  replicaBytes: Map<string, number>;
  /** Size of the broker's volumes; -1 when the broker does not say (DescribeLogDirs < v4). */
  totalBytes: number;
  /** Space left on them; -1 when the broker does not say (DescribeLogDirs < v4). */
  usableBytes: number;
}

/**
 * A cap on replication traffic while partitions move, set as kafka-reassign-partitions.sh
 * --throttle sets it: a rate on each broker, applied to the replicas each topic lists.
 */
export interface ReplicationThrottle {
  /** leader.replication.throttled.rate and follower.replication.throttled.rate of each broker. */
  rateBytesPerSecond: number;
  brokers: number[];
  /** topic → "partition:broker" entries, as kafka-reassign-partitions.sh sets them */
  leaderReplicas: Map<string, string[]>;
  /** topic → "partition:broker" entries, as kafka-reassign-partitions.sh sets them */
  followerReplicas: Map<string, string[]>;
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
  /** The live brokers (Metadata), with their racks, by ascending id. */
  brokers(): Promise<BrokerNode[]>;
  /** Every partition being reassigned (ListPartitionReassignments for all topics). */
  listReassignments(): Promise<ReassignmentInFlight[]>;
  /**
   * Starts (or, with null replicas, cancels) partition reassignments (AlterPartitionReassignments).
   * Each partition's refusal is an outcome, not a throw; a refusal of the whole request throws.
   */
  alterReassignments(requests: readonly ReassignmentRequest[]): Promise<ReassignmentOutcome[]>;
  /**
   * Bytes each of these brokers holds per replica, and its disk space: DescribeLogDirs sent to
   * each broker (a broker describes only its own log dirs), summed over its log dirs.
   */
  logDirUsage(brokerIds: readonly number[]): Promise<LogDirUsage[]>;
  /**
   * Makes each partition's preferred replica (the first of its replicas) its leader (ElectLeaders
   * PREFERRED). A partition already led by it (ELECTION_NOT_NEEDED) counts as a success.
   */
  electPreferredLeaders(partitions: readonly { topic: string; partition: number }[]): Promise<ReassignmentOutcome[]>;
  /** Removes a broker that is gone for good from the cluster (UnregisterBroker); an unknown id succeeds. */
  unregisterBroker(id: number): Promise<void>;
  /**
   * Caps replication traffic while partitions move: the rate on each broker (its BROKER resource,
   * sent to that broker), and the throttled replicas of each topic.
   */
  setReplicationThrottle(throttle: ReplicationThrottle): Promise<void>;
  /** Deletes what setReplicationThrottle set on these brokers and topics. */
  clearReplicationThrottle(brokers: readonly number[], topics: readonly string[]): Promise<void>;
}

const CLIENT_ID = 'runnel-operator';
/** The KRaft metadata log: its partition's leader is the active controller. */
const METADATA_TOPIC = '__cluster_metadata';
const MIN_INSYNC_REPLICAS = 'min.insync.replicas';
/** Kafka's default, for a topic whose DescribeConfigs answer lacks the key. */
const DEFAULT_MIN_INSYNC_REPLICAS = 1;
/** Metadata versions this client can parse, newest first; the newest the brokers serve is used. */
const METADATA_APIS = [metadataV12, metadataV11, metadataV10, metadataV9];
/** DescribeLogDirs versions this client can parse, newest first (v4 adds the volumes' sizes). */
const DESCRIBE_LOG_DIRS_APIS = [describeLogDirsV4, describeLogDirsV3, describeLogDirsV2];
/** How long the controller may take over a reassignment or an election before it answers. */
const CONTROLLER_TIMEOUT_MS = 10_000;
const LEADER_THROTTLED_RATE = 'leader.replication.throttled.rate';
const FOLLOWER_THROTTLED_RATE = 'follower.replication.throttled.rate';
const LEADER_THROTTLED_REPLICAS = 'leader.replication.throttled.replicas';
const FOLLOWER_THROTTLED_REPLICAS = 'follower.replication.throttled.replicas';
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
    partitions: { partitionIndex: number; leaderId: number; replicaNodes: number[]; isrNodes: number[] }[];
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
        leader: p.leaderId,
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

/** Kafka's name of an error code (UNKNOWN_SERVER_ERROR's number when this client does not know it). */
export function errorName(code: number): string {
  return protocolErrorsCodesById[code] ?? `error code ${code}`;
}

/** One outcome per partition of an AlterPartitionReassignments (or ElectLeaders) answer. */
function outcome(
  topic: string,
  partition: number,
  errorCode: number,
  message: string | null | undefined,
): ReassignmentOutcome {
  return errorCode === 0
    ? { topic, partition }
    : { topic, partition, error: errorName(errorCode), ...(message ? { message } : {}) };
}

/** The requests by topic, each topic's partitions in the order asked. */
function byTopic<T extends { topic: string }>(items: readonly T[]): Map<string, T[]> {
  const grouped = new Map<string, T[]>();
  for (const item of items) grouped.set(item.topic, [...(grouped.get(item.topic) ?? []), item]);
  return grouped;
}

/** Each partition's outcome in an AlterPartitionReassignments answer whose top-level error is NONE. */
export function reassignmentOutcomes(
  answer: alterPartitionReassignmentsV0.AlterPartitionReassignmentsResponse,
): ReassignmentOutcome[] {
  return answer.responses.flatMap((t) =>
    t.partitions.map((p) => outcome(t.name, p.partitionIndex, p.errorCode, p.errorMessage)),
  );
}

/** Kafka's answer when the partition's preferred replica already leads it: nothing to do. */
const ELECTION_NOT_NEEDED = 'ELECTION_NOT_NEEDED';

/** Each partition's outcome in an ElectLeaders answer; ELECTION_NOT_NEEDED counts as a success. */
export function electionOutcomes(answer: electLeadersV2.ElectLeadersResponse): ReassignmentOutcome[] {
  return answer.replicaElectionResults.flatMap((t) =>
    t.partitionResult.map((p) => {
      const o = outcome(t.topic, p.partitionId, p.errorCode, p.errorMessage);
      return o.error === ELECTION_NOT_NEEDED ? { topic: o.topic, partition: o.partition } : o;
    }),
  );
}

/** The partitions a ListPartitionReassignments answer lists, in topic and partition order. */
export function reassignmentsInFlight(
  answer: listPartitionReassignmentsV0.ListPartitionReassignmentsResponse,
): ReassignmentInFlight[] {
  return answer.topics
    .flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        replicas: p.replicas,
        adding: p.addingReplicas,
        removing: p.removingReplicas,
      })),
    )
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** The parts of a DescribeLogDirs answer (v2 to v4) that a broker's usage is made of. */
export interface LogDirsAnswer {
  results: {
    errorCode: number;
    topics: { name: string; partitions: { partitionIndex: number; partitionSize: bigint; isFutureKey: boolean }[] }[];
    /** v4 only. */
    totalBytes?: bigint;
    usableBytes?: bigint;
  }[];
}

/**
 * A broker's usage from its DescribeLogDirs answer: each replica's bytes summed over its log dirs
 * (a replica moving between dirs counts in both), and the volumes' sizes summed; a log dir that
 * answers an error (offline) is left out; sizes are -1 when the answer has none (before v4) or
 * any dir reports -1.
 */
export function logDirUsageOf(broker: number, answer: LogDirsAnswer): LogDirUsage {
  const replicaBytes = new Map<string, number>();
  let totalBytes = 0;
  let usableBytes = 0;
  for (const dir of answer.results) {
    if (dir.errorCode !== 0) continue;
    for (const t of dir.topics)
      for (const p of t.partitions) {
        const key = `${t.name}-${p.partitionIndex}`;
        replicaBytes.set(key, (replicaBytes.get(key) ?? 0) + Number(p.partitionSize));
      }
    const total = dir.totalBytes === undefined ? -1 : Number(dir.totalBytes);
    const usable = dir.usableBytes === undefined ? -1 : Number(dir.usableBytes);
    totalBytes = totalBytes < 0 || total < 0 ? -1 : totalBytes + total;
    usableBytes = usableBytes < 0 || usable < 0 ? -1 : usableBytes + usable;
  }
  return { broker, replicaBytes, totalBytes, usableBytes };
}

/**
 * IncrementalAlterConfigs resources that set a replication throttle: both rates on each broker,
 * and each topic's throttled replicas (comma-separated "partition:broker" entries); a topic with
 * no entries for a key is not touched for it.
 */
export function throttleResources(
  throttle: ReplicationThrottle,
): incrementalAlterConfigsV1.IncrementalAlterConfigsRequestResource[] {
  const set = (name: string, value: string) => ({
    name,
    configOperation: IncrementalAlterConfigOperationTypes.SET,
    value,
  });
  const rate = String(throttle.rateBytesPerSecond);
  const resources: incrementalAlterConfigsV1.IncrementalAlterConfigsRequestResource[] = throttle.brokers.map((id) => ({
    resourceType: ConfigResourceTypes.BROKER,
    resourceName: String(id),
    configs: [set(LEADER_THROTTLED_RATE, rate), set(FOLLOWER_THROTTLED_RATE, rate)],
  }));
  const topics = [...new Set([...throttle.leaderReplicas.keys(), ...throttle.followerReplicas.keys()])].sort();
  for (const topic of topics) {
    const configs = [];
    const leader = throttle.leaderReplicas.get(topic) ?? [];
    const follower = throttle.followerReplicas.get(topic) ?? [];
    if (leader.length > 0) configs.push(set(LEADER_THROTTLED_REPLICAS, leader.join(',')));
    if (follower.length > 0) configs.push(set(FOLLOWER_THROTTLED_REPLICAS, follower.join(',')));
    if (configs.length > 0) resources.push({ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configs });
  }
  return resources;
}

/** IncrementalAlterConfigs resources that delete what throttleResources sets. */
export function clearThrottleResources(
  brokers: readonly number[],
  topics: readonly string[],
): incrementalAlterConfigsV1.IncrementalAlterConfigsRequestResource[] {
  const remove = (name: string) => ({ name, configOperation: IncrementalAlterConfigOperationTypes.DELETE });
  return [
    ...brokers.map((id) => ({
      resourceType: ConfigResourceTypes.BROKER,
      resourceName: String(id),
      configs: [remove(LEADER_THROTTLED_RATE), remove(FOLLOWER_THROTTLED_RATE)],
    })),
    ...topics.map((topic) => ({
      resourceType: ConfigResourceTypes.TOPIC,
      resourceName: topic,
      configs: [remove(LEADER_THROTTLED_REPLICAS), remove(FOLLOWER_THROTTLED_REPLICAS)],
    })),
  ];
}

/**
 * The answer a client's ResponseError carries when the top level of the answer (its `errorCode`)
 * says NONE: only parts of it failed. Undefined for any other failure.
 */
export function answerDespitePartErrors<T extends { errorCode: number }>(err: unknown): T | undefined {
  const failure = err as { code?: string; response?: T };
  return failure?.code === 'PLT_KFK_RESPONSE' && failure.response?.errorCode === 0 ? failure.response : undefined;
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
      // A partition being moved lists its leaving replicas too: the fewest is the topic's factor.
      replicationFactor:
        topic.partitions.length === 0 ? 0 : Math.min(...topic.partitions.map((p) => p.replicas.length)),
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

  async brokers(): Promise<BrokerNode[]> {
    const { brokers } = await this.admin.metadata({ topics: [], forceUpdate: true });
    return [...brokers].map(([id, b]) => (b.rack ? { id, rack: b.rack } : { id })).sort((a, b) => a.id - b.id);
  }

  async listReassignments(): Promise<ReassignmentInFlight[]> {
    // A null topics list asks for every reassignment in flight.
    const answer = await listPartitionReassignmentsV0.api.async(
      await this.anyBroker(),
      CONTROLLER_TIMEOUT_MS,
      null as unknown as listPartitionReassignmentsV0.ListPartitionReassignmentsRequestTopic[],
    );
    return reassignmentsInFlight(answer);
  }

  async alterReassignments(requests: readonly ReassignmentRequest[]): Promise<ReassignmentOutcome[]> {
    if (requests.length === 0) return [];
    const topics = [...byTopic(requests)].map(([name, partitions]) => ({
      name,
      // A null replicas list (cancel) is encoded as a null array.
      partitions: partitions.map((p) => ({ partitionIndex: p.partition, replicas: p.replicas as number[] })),
    }));
    let answer: alterPartitionReassignmentsV0.AlterPartitionReassignmentsResponse;
    try {
      // v0: this client's v1 parser misses AllowReplicationFactorChange and reads v1 answers one byte off.
      answer = await alterPartitionReassignmentsV0.api.async(
        await this.anyBroker(),
        CONTROLLER_TIMEOUT_MS,
        true,
        topics,
      );
    } catch (err) {
      const partly = answerDespitePartErrors<alterPartitionReassignmentsV0.AlterPartitionReassignmentsResponse>(err);
      if (!partly) throw err;
      answer = partly;
    }
    return reassignmentOutcomes(answer);
  }

  async logDirUsage(brokerIds: readonly number[]): Promise<LogDirUsage[]> {
    if (brokerIds.length === 0) return [];
    const { brokers } = await this.admin.metadata({ topics: [], forceUpdate: true });
    const served = (await this.admin.listApis()).find((a) => a.apiKey === describeLogDirsV4.api.key);
    const describeLogDirs = DESCRIBE_LOG_DIRS_APIS.find(
      (d) => served && served.minVersion <= d.api.version && d.api.version <= served.maxVersion,
    );
    if (!describeLogDirs) {
      const range = served ? `v${served.minVersion}-v${served.maxVersion}` : 'no version';
      throw new Error(`the brokers serve DescribeLogDirs ${range}; the operator needs one of v2-v4`);
    }
    return Promise.all(
      brokerIds.map(async (id) => {
        const broker = brokers.get(id);
        if (!broker) throw new Error(`broker ${id} is not among the live brokers (${[...brokers.keys()].join(', ')})`);
        const connection = await this.admin.connections.get({ host: broker.host, port: broker.port });
        let answer: LogDirsAnswer;
        try {
          // A null topics list describes every replica.
          answer = await describeLogDirs.api.async(
            connection,
            null as unknown as describeLogDirsV4.DescribeLogDirsRequestTopic[],
          );
        } catch (err) {
          // A log dir answering an error (offline) is left out; a top-level error fails.
          const partly = answerDespitePartErrors<LogDirsAnswer & { errorCode: number }>(err);
          if (!partly) throw err;
          answer = partly;
        }
        return logDirUsageOf(id, answer);
      }),
    );
  }

  async electPreferredLeaders(
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<ReassignmentOutcome[]> {
    // Never an empty request: a null list would elect every partition of the cluster.
    if (partitions.length === 0) return [];
    const topics = [...byTopic(partitions)].map(([topic, ps]) => ({ topic, partitions: ps.map((p) => p.partition) }));
    const answer = await electLeadersV2.api.async(
      await this.anyBroker(),
      electLeadersV2.PREFERRED_ELECTION,
      topics,
      CONTROLLER_TIMEOUT_MS,
    );
    return electionOutcomes(answer);
  }

  async unregisterBroker(id: number): Promise<void> {
    try {
      await unregisterBrokerV0.api.async(await this.anyBroker(), id);
    } catch (err) {
      if (protocolError(err) !== 'BROKER_ID_NOT_REGISTERED') throw err;
    }
  }

  async setReplicationThrottle(throttle: ReplicationThrottle): Promise<void> {
    const resources = throttleResources(throttle);
    // The client sends each BROKER resource to that broker (Kafka refuses another broker's id).
    if (resources.length > 0) await this.admin.incrementalAlterConfigs({ resources });
  }

  async clearReplicationThrottle(brokers: readonly number[], topics: readonly string[]): Promise<void> {
    const clear = async (names: readonly string[]) => {
      const resources = clearThrottleResources(brokers, names);
      if (resources.length > 0) await this.admin.incrementalAlterConfigs({ resources });
    };
    try {
      await clear(topics);
    } catch (err) {
      // A topic deleted meanwhile has no throttle left to clear: clear the others.
      if (!isUnknownTopic(err)) throw err;
      const existing = new Set(await this.admin.listTopics({ includeInternals: true }));
      await clear(topics.filter((t) => existing.has(t)));
    }
  }

  /** A connection to any broker (which forwards controller requests to the active controller). */
  private anyBroker(): Promise<Connection> {
    return new Promise<Connection>((resolve, reject) =>
      this.admin[kGetBootstrapConnection]((e, c) => (e ? reject(e) : resolve(c!))),
    );
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
