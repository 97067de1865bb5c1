// The cluster metadata image: what every node knows about brokers, topics, partitions, configs
// and producer-id blocks. It changes only by applying Kafka's metadata records in the order the
// quorum committed them, so every node that applied the same prefix holds the same image. A
// snapshot (snapshot.ts) writes the image back as the records that rebuild it; loading one
// replaces the image and reports everything that differs as one delta.

import type { MetadataRecord } from './records.js';

export type RegisterBrokerRecord = Extract<MetadataRecord, { type: 'RegisterBrokerRecord' }>;

export interface PartitionState {
  partition: number;
  /** -1 when no replica can lead (offline). */
  leader: number;
  leaderEpoch: number;
  /** Bumped on every change of the partition (Kafka's partition epoch). */
  partitionEpoch: number;
  replicas: number[];
  isr: number[];
  addingReplicas: number[];
  removingReplicas: number[];
  /** RECOVERED, or RECOVERING after an unclean election until the leader says it recovered. */
  leaderRecoveryState: number;
}

export interface TopicState {
  name: string;
  id: string;
  partitions: PartitionState[];
  /** Topic-level overrides only; defaults come from the broker config. */
  configs: Map<string, string>;
}

export interface BrokerEndpointRecord {
  name: string;
  host: string;
  port: number;
}

export interface BrokerRegistration {
  id: number;
  /** The offset of its registration record: a new one for every registration. */
  epoch: number;
  incarnationId: string;
  endpoints: BrokerEndpointRecord[];
  rack: string | null;
  fenced: boolean;
  inControlledShutdown: boolean;
  /** The registration as recorded (endpoints with their security protocol, features, log dirs), for snapshots. */
  record: RegisterBrokerRecord;
}

/** ConfigRecord resource types (Kafka's ConfigResource.Type ids). */
export const ConfigResourceType = { TOPIC: 2, BROKER: 4 } as const;
/** PartitionChangeRecord's Leader when the leader does not change. */
export const LEADER_UNCHANGED = -2;
export const NO_LEADER = -1;
/** Kafka's LeaderRecoveryState: a leader elected uncleanly is RECOVERING until its AlterPartition says RECOVERED. */
export const LeaderRecoveryState = { RECOVERED: 0, RECOVERING: 1 } as const;

/** What one batch of applied records changed, for the broker to act on. */
export class MetadataDelta {
  readonly changedPartitions = new Map<string, Set<number>>();
  readonly removedTopics: TopicState[] = [];
  readonly changedConfigs = new Set<string>();
  brokersChanged = false;

  partitionChanged(topic: string, partition: number): void {
    let set = this.changedPartitions.get(topic);
    if (!set) this.changedPartitions.set(topic, (set = new Set()));
    set.add(partition);
  }

  get isEmpty(): boolean {
    return (
      this.changedPartitions.size === 0 &&
      this.removedTopics.length === 0 &&
      this.changedConfigs.size === 0 &&
      !this.brokersChanged
    );
  }
}

export class MetadataImage {
  private readonly byName = new Map<string, TopicState>();
  private readonly byId = new Map<string, TopicState>();
  private readonly brokersById = new Map<number, BrokerRegistration>();
  /** Dynamic broker configs by resource name: a node id, or "" for the cluster-wide default. */
  private readonly brokerConfigsByName = new Map<string, Map<string, string>>();
  /** The first producer id no broker has been given yet. */
  nextProducerId = 0;
  /** The `metadata.version` feature level, 0 before the bootstrap record. */
  metadataVersion = 0;
  /** The offset after the last record applied. */
  appliedOffset = 0;

  topic(name: string): TopicState | undefined {
    return this.byName.get(name);
  }
  topicById(id: string): TopicState | undefined {
    return this.byId.get(id);
  }
  topics(): IterableIterator<TopicState> {
    return this.byName.values();
  }
  broker(id: number): BrokerRegistration | undefined {
    return this.brokersById.get(id);
  }
  brokers(): IterableIterator<BrokerRegistration> {
    return this.brokersById.values();
  }
  /** The dynamic configs of a BROKER resource: a node id, or "" for the cluster-wide default. */
  brokerConfigs(resourceName: string): ReadonlyMap<string, string> {
    return this.brokerConfigsByName.get(resourceName) ?? new Map<string, string>();
  }
  /** Every BROKER resource that holds dynamic configs. */
  brokerConfigResources(): string[] {
    return [...this.brokerConfigsByName.keys()];
  }
  unfencedBrokers(): BrokerRegistration[] {
    return [...this.brokersById.values()].filter((b) => !b.fenced).sort((a, b) => a.id - b.id);
  }

  /**
   * Replaces the whole image with the one `records` (a snapshot's) rebuild, as of `appliedOffset`,
   * and returns what differs from before: every partition of the new image, every topic gone, every
   * topic's configs, and the brokers.
   */
  loadSnapshot(records: readonly MetadataRecord[], appliedOffset: number): MetadataDelta {
    const before = [...this.byId.values()];
    this.byName.clear();
    this.byId.clear();
    this.brokersById.clear();
    this.brokerConfigsByName.clear();
    this.nextProducerId = 0;
    this.metadataVersion = 0;
    const scratch = new MetadataDelta();
    for (const r of records) this.apply(r, scratch);
    this.appliedOffset = appliedOffset;
    const delta = new MetadataDelta();
    for (const t of before) if (this.byId.get(t.id)?.name !== t.name) delta.removedTopics.push(t);
    for (const t of this.byName.values()) {
      for (const p of t.partitions) if (p) delta.partitionChanged(t.name, p.partition);
      delta.changedConfigs.add(t.name);
    }
    delta.brokersChanged = true;
    return delta;
  }

  apply(record: MetadataRecord, delta: MetadataDelta): void {
    switch (record.type) {
      case 'TopicRecord': {
        const topic: TopicState = { name: record.name, id: record.topicId, partitions: [], configs: new Map() };
        this.byName.set(record.name, topic);
        this.byId.set(record.topicId, topic);
        break;
      }
      case 'PartitionRecord': {
        const topic = this.requireTopic(record.topicId, record.type);
        topic.partitions[record.partitionId] = {
          partition: record.partitionId,
          leader: record.leader,
          leaderEpoch: record.leaderEpoch,
          partitionEpoch: record.partitionEpoch,
          replicas: record.replicas,
          isr: record.isr,
          addingReplicas: record.addingReplicas,
          removingReplicas: record.removingReplicas,
          leaderRecoveryState: record.leaderRecoveryState,
        };
        delta.partitionChanged(topic.name, record.partitionId);
        break;
      }
      case 'PartitionChangeRecord': {
        const topic = this.requireTopic(record.topicId, record.type);
        const p = topic.partitions[record.partitionId];
        if (!p) throw new Error(`PartitionChangeRecord for unknown partition ${topic.name}-${record.partitionId}`);
        const next: PartitionState = {
          ...p,
          isr: record.isr ?? p.isr,
          replicas: record.replicas ?? p.replicas,
          addingReplicas: record.addingReplicas ?? p.addingReplicas,
          removingReplicas: record.removingReplicas ?? p.removingReplicas,
          leaderRecoveryState: record.leaderRecoveryState === -1 ? p.leaderRecoveryState : record.leaderRecoveryState,
          partitionEpoch: p.partitionEpoch + 1,
        };
        // Kafka bumps the leader epoch on a leader change, and on a replica-set change that drops replicas.
        if (record.leader !== LEADER_UNCHANGED) {
          next.leader = record.leader;
          next.leaderEpoch = p.leaderEpoch + 1;
        }
        topic.partitions[record.partitionId] = next;
        delta.partitionChanged(topic.name, record.partitionId);
        break;
      }
      case 'ConfigRecord': {
        if (record.resourceType === ConfigResourceType.BROKER) {
          this.applyBrokerConfig(record.resourceName, record.name, record.value, delta);
          break;
        }
        if (record.resourceType !== ConfigResourceType.TOPIC) break;
        const target = this.byName.get(record.resourceName)?.configs;
        if (!target) throw new Error(`ConfigRecord for unknown topic ${record.resourceName}`);
        if (record.value === null) target.delete(record.name);
        else target.set(record.name, record.value);
        delta.changedConfigs.add(record.resourceName);
        break;
      }
      case 'RemoveTopicRecord': {
        const topic = this.byId.get(record.topicId);
        if (topic) {
          this.byId.delete(topic.id);
          this.byName.delete(topic.name);
          delta.removedTopics.push(topic);
          delta.changedPartitions.delete(topic.name);
        }
        break;
      }
      case 'ProducerIdsRecord':
        this.nextProducerId = Math.max(this.nextProducerId, record.nextProducerId);
        break;
      case 'RegisterBrokerRecord':
        this.brokersById.set(record.brokerId, {
          id: record.brokerId,
          epoch: record.brokerEpoch,
          incarnationId: record.incarnationId,
          endpoints: record.endPoints.map(({ name, host, port }) => ({ name, host, port })),
          rack: record.rack,
          fenced: record.fenced,
          inControlledShutdown: record.inControlledShutdown,
          record,
        });
        delta.brokersChanged = true;
        break;
      case 'UnregisterBrokerRecord':
        this.brokersById.delete(record.brokerId);
        delta.brokersChanged = true;
        break;
      case 'FenceBrokerRecord':
      case 'UnfenceBrokerRecord': {
        const b = this.brokersById.get(record.id);
        if (b && b.epoch === record.epoch) {
          b.fenced = record.type === 'FenceBrokerRecord';
          if (b.fenced) b.inControlledShutdown = false;
        }
        delta.brokersChanged = true;
        break;
      }
      case 'BrokerRegistrationChangeRecord': {
        const b = this.brokersById.get(record.brokerId);
        if (b && b.epoch === record.brokerEpoch) {
          // Kafka's encoding: Fenced 1 = fenced, -1 = unfenced; InControlledShutdown 1 = entering it.
          if (record.fenced !== 0) b.fenced = record.fenced === 1;
          if (record.inControlledShutdown !== 0) b.inControlledShutdown = record.inControlledShutdown === 1;
          if (record.logDirs !== null) b.record = { ...b.record, logDirs: record.logDirs };
        }
        delta.brokersChanged = true;
        break;
      }
      case 'FeatureLevelRecord':
        if (record.name === 'metadata.version') this.metadataVersion = record.featureLevel;
        break;
      case 'NoOpRecord':
        break;
    }
  }

  /** A broker default can change any topic's effective configs: every topic counts as changed. */
  private applyBrokerConfig(resourceName: string, name: string, value: string | null, delta: MetadataDelta): void {
    let configs = this.brokerConfigsByName.get(resourceName);
    if (value === null) configs?.delete(name);
    else {
      if (!configs) this.brokerConfigsByName.set(resourceName, (configs = new Map<string, string>()));
      configs.set(name, value);
    }
    if (configs?.size === 0) this.brokerConfigsByName.delete(resourceName);
    for (const t of this.byName.keys()) delta.changedConfigs.add(t);
  }

  private requireTopic(topicId: string, recordType: string): TopicState {
    const topic = this.byId.get(topicId);
    if (!topic) throw new Error(`${recordType} for unknown topic id ${topicId}`);
    return topic;
  }
}
