// Metadata images for the controller's unit tests: brokers, topics and partitions written as the
// records that make them, applied the way every node applies them.

import { MetadataDelta, MetadataImage } from '../metadata/image.js';
import type { MetadataRecord } from '../metadata/records.js';

export const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAg';

export function imageOf(records: readonly MetadataRecord[]): MetadataImage {
  const img = new MetadataImage();
  applyAll(img, records);
  return img;
}

export function applyAll(img: MetadataImage, records: readonly MetadataRecord[]): void {
  for (const r of records) img.apply(r, new MetadataDelta());
}

/** A registered broker; its broker epoch is 100 + its id unless given. */
export function broker(
  id: number,
  {
    fenced = false,
    shuttingDown = false,
    epoch = 100 + id,
  }: { fenced?: boolean; shuttingDown?: boolean; epoch?: number } = {},
): MetadataRecord {
  return {
    type: 'RegisterBrokerRecord',
    brokerId: id,
    isMigratingZkBroker: false,
    incarnationId: 'AAAAAAAAAAAAAAAAAAAAAA',
    brokerEpoch: epoch,
    endPoints: [],
    features: [],
    rack: null,
    fenced,
    inControlledShutdown: shuttingDown,
    logDirs: [],
  };
}

export function topic(name = 't', topicId = TOPIC_ID): MetadataRecord {
  return { type: 'TopicRecord', name, topicId };
}

export function partition(
  partitionId: number,
  {
    leader,
    isr,
    replicas = [1, 2, 3],
    topicId = TOPIC_ID,
    leaderEpoch = 0,
    partitionEpoch = 0,
    recovering = false,
  }: {
    leader: number;
    isr: number[];
    replicas?: number[];
    topicId?: string;
    leaderEpoch?: number;
    partitionEpoch?: number;
    recovering?: boolean;
  },
): MetadataRecord {
  return {
    type: 'PartitionRecord',
    partitionId,
    topicId,
    replicas,
    isr,
    removingReplicas: [],
    addingReplicas: [],
    leader,
    leaderRecoveryState: recovering ? 1 : 0,
    leaderEpoch,
    partitionEpoch,
    directories: [],
  };
}

/** Config records turning `unclean.leader.election.enable` on for a topic. */
export function uncleanOn(topicName = 't'): MetadataRecord {
  return {
    type: 'ConfigRecord',
    resourceType: 2,
    resourceName: topicName,
    name: 'unclean.leader.election.enable',
    value: 'true',
  };
}

/** [partition, leader, isr] of each PartitionChangeRecord, for compact assertions. */
export function changes(records: readonly MetadataRecord[]): [number, number, number[] | null][] {
  return records.flatMap((r) => (r.type === 'PartitionChangeRecord' ? [[r.partitionId, r.leader, r.isr]] : []));
}
