// Leader elections and ISR membership as the active controller decides them: pure functions
// from the image to the PartitionChangeRecords (one per partition, carrying both the ISR and
// the leader change) that
// - take a broker that is going away (fenced, in controlled shutdown, unregistered, or
//   re-registered after a crash) out of every ISR and move its leaderships, as Kafka's
//   generateLeaderAndIsrUpdates does;
// - bring offline partitions back as brokers return;
// - run preferred and unclean elections (ElectLeaders, the leader balancer).
//
// A leader comes from the ISR among brokers that can lead (registered, unfenced, not shutting
// down), unless `unclean.leader.election.enable` holds for the topic: then an offline partition
// may take any live replica (see partition-change.ts). A partition keeps its last ISR member
// when that one goes away, as Kafka does, so it comes back cleanly when that broker returns.

import { NO_LEADER, type MetadataImage, type PartitionState, type TopicState } from '../metadata/image.js';
import type { MetadataRecord } from '../metadata/records.js';
import { ErrorCode } from '../protocol/errors.js';
import { partitionChange, type Election, type PartitionChangeRecord } from './partition-change.js';

type CanLead = (brokerId: number) => boolean;
/** Whether `unclean.leader.election.enable` holds for a topic (its own setting, else the broker default). */
export type UncleanElection = (topic: TopicState) => boolean;

/** Kafka's MAX_ELECTIONS_PER_IMBALANCE: at most this many elections per balancing run. */
export const MAX_ELECTIONS_PER_RUN = 1000;

export function brokersThatCanLead(image: MetadataImage, except?: number): CanLead {
  return (id) => {
    const b = image.broker(id);
    return id !== except && b !== undefined && !b.fenced && !b.inControlledShutdown;
  };
}

function* partitions(image: MetadataImage): Generator<[TopicState, PartitionState]> {
  for (const t of image.topics()) for (const p of t.partitions) if (p) yield [t, p];
}

/**
 * Takes `brokerId` out of the ISR of every partition it is in (not out of an ISR it is the last
 * member of) and moves its leaderships to another in-sync replica that can lead, else to any live
 * replica where unclean election is on, else offline.
 */
export function removeFromIsrs(image: MetadataImage, brokerId: number, unclean: UncleanElection): MetadataRecord[] {
  const canLead = brokersThatCanLead(image, brokerId);
  const records: MetadataRecord[] = [];
  for (const [t, p] of partitions(image)) {
    if (!p.isr.includes(brokerId) && p.leader !== brokerId) continue;
    const change = partitionChange(t.id, p, {
      canLead,
      targetIsr: p.isr.filter((id) => id !== brokerId),
      election: unclean(t) ? 'unclean' : 'online',
    });
    if (change) records.push(change);
  }
  return records;
}

/**
 * Elects a leader for every offline partition whose ISR holds a broker that can lead now, or
 * `unfencing`, which the same commit unfences; with unclean election on, any such replica.
 */
export function electOfflineLeaders(
  image: MetadataImage,
  unclean: UncleanElection,
  unfencing?: number,
): MetadataRecord[] {
  const available = brokersThatCanLead(image);
  const canLead = (id: number) => id === unfencing || available(id);
  const records: MetadataRecord[] = [];
  for (const [t, p] of partitions(image)) {
    if (p.leader !== NO_LEADER) continue;
    const change = partitionChange(t.id, p, { canLead, election: unclean(t) ? 'unclean' : 'online' });
    if (change) records.push(change);
  }
  return records;
}

export function leadershipsOf(image: MetadataImage, brokerId: number): number {
  let n = 0;
  for (const [, p] of partitions(image)) if (p.leader === brokerId) n++;
  return n;
}

// ---- ElectLeaders ------------------------------------------------------------------------------

/** ElectLeaders' election types (Kafka's ElectionType). */
export const ElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;

export interface ElectionOutcome {
  errorCode: number;
  errorMessage: string | null;
  record?: PartitionChangeRecord;
}

/** Kafka's messages for the errors ElectLeaders answers without one of its own. */
const ELECTION_NOT_NEEDED = 'Leader election not needed for topic partition.';
const PREFERRED_LEADER_NOT_AVAILABLE = 'The preferred leader was not available.';
const ELIGIBLE_LEADERS_NOT_AVAILABLE = 'Eligible topic partition leaders are not available.';

/**
 * One partition's election, as Kafka's ReplicationControlManager.electLeader: PREFERRED moves
 * leadership to the first replica when it is in the ISR and can lead (else, on an offline
 * partition, to another in-sync replica); UNCLEAN only elects for a partition without a leader,
 * from the ISR if it can, else any live replica.
 */
export function electLeader(
  image: MetadataImage,
  topicName: string,
  partitionId: number,
  type: number,
): ElectionOutcome {
  const topic = image.topic(topicName);
  if (!topic) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such topic as ${topicName}` };
  const p = topic.partitions[partitionId] as PartitionState | undefined;
  if (!p)
    return {
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      errorMessage: `No such partition as ${topicName}-${partitionId}`,
    };
  const preferred = type === ElectionType.PREFERRED;
  if (preferred ? p.leader === p.replicas[0] : p.leader !== NO_LEADER)
    return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: ELECTION_NOT_NEEDED };
  const election: Election = preferred ? 'preferred' : 'unclean';
  const record = partitionChange(topic.id, p, { canLead: brokersThatCanLead(image), election });
  if (!record)
    return preferred
      ? { errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: PREFERRED_LEADER_NOT_AVAILABLE }
      : { errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, errorMessage: ELIGIBLE_LEADERS_NOT_AVAILABLE };
  return { errorCode: ErrorCode.NONE, errorMessage: null, record };
}

export interface ElectLeadersResult {
  results: {
    topic: string;
    partitionResult: { partitionId: number; errorCode: number; errorMessage: string | null }[];
  }[];
  records: MetadataRecord[];
}

/**
 * ElectLeaders for the partitions named, or every partition when `topicPartitions` is null;
 * then, as Kafka answers, partitions that already have the leader wanted are left out.
 */
export function electLeaders(
  image: MetadataImage,
  type: number,
  topicPartitions: readonly { topic: string; partitions: readonly number[] }[] | null,
): ElectLeadersResult {
  const out: ElectLeadersResult = { results: [], records: [] };
  const all = topicPartitions === null;
  const wanted =
    topicPartitions ??
    [...image.topics()].map((t) => ({ topic: t.name, partitions: t.partitions.map((p) => p.partition) }));
  for (const { topic, partitions: ids } of wanted) {
    const partitionResult = [];
    for (const partitionId of ids) {
      const outcome = electLeader(image, topic, partitionId, type);
      if (outcome.record) out.records.push(outcome.record);
      if (all && outcome.errorCode === ErrorCode.ELECTION_NOT_NEEDED) continue;
      partitionResult.push({ partitionId, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
    }
    out.results.push({ topic, partitionResult });
  }
  return out;
}

/** Every partition named, with the same error (Kafka's ElectLeadersRequest.getErrorResponse). */
export function failedElections(
  topicPartitions: readonly { topic: string; partitions: readonly number[] }[] | null,
  errorCode: number,
  errorMessage: string | null,
): ElectLeadersResult['results'] {
  return (topicPartitions ?? []).map(({ topic, partitions: ids }) => ({
    topic,
    partitionResult: ids.map((partitionId) => ({ partitionId, errorCode, errorMessage })),
  }));
}

// ---- the controller's own elections ------------------------------------------------------------

/**
 * Kafka's leader balancing (auto.leader.rebalance.enable): a preferred election for every
 * partition not led by its first replica, at most `max` of them.
 */
export function balanceLeaders(image: MetadataImage, max = MAX_ELECTIONS_PER_RUN): MetadataRecord[] {
  const canLead = brokersThatCanLead(image);
  const records: MetadataRecord[] = [];
  for (const [t, p] of partitions(image)) {
    if (records.length >= max) break;
    if (p.leader === p.replicas[0]) continue;
    const change = partitionChange(t.id, p, { canLead, election: 'preferred' });
    if (change) records.push(change);
  }
  return records;
}

/** Whether any partition is led by another replica than its first (or has no leader). */
export function leadersImbalanced(image: MetadataImage): boolean {
  for (const [, p] of partitions(image)) if (p.leader !== p.replicas[0]) return true;
  return false;
}

/**
 * Kafka's periodic unclean election (unclean.leader.election.interval.ms): every offline
 * partition of a topic with unclean election on takes a live replica, at most `max` of them.
 * It catches topics whose setting was turned on after they went offline.
 */
export function electUncleanLeaders(
  image: MetadataImage,
  unclean: UncleanElection,
  max = MAX_ELECTIONS_PER_RUN,
): MetadataRecord[] {
  const records: MetadataRecord[] = [];
  for (const [t, p] of partitions(image)) {
    if (records.length >= max) break;
    if (p.leader !== NO_LEADER || !unclean(t)) continue;
    const outcome = electLeader(image, t.name, p.partition, ElectionType.UNCLEAN);
    if (outcome.record) records.push(outcome.record);
  }
  return records;
}
