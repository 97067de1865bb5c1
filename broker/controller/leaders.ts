// Leader elections as the active controller decides them: pure functions from the image to the
// PartitionChangeRecords that move leadership off a broker that is going away (fenced, or in
// controlled shutdown) and back onto partitions that have no leader.
//
// A new leader comes from the ISR, in replica order, among brokers that can lead (registered,
// unfenced, not shutting down). When none can, the partition goes offline (leader -1) and keeps
// its last ISR member, as Kafka does, so it comes back when that broker returns.

import { NO_LEADER, type MetadataImage, type PartitionState, type TopicState } from '../metadata/image.js';
import type { MetadataRecord } from '../metadata/records.js';

type CanLead = (brokerId: number) => boolean;

export function brokersThatCanLead(image: MetadataImage, except?: number): CanLead {
  return (id) => {
    const b = image.broker(id);
    return id !== except && b !== undefined && !b.fenced && !b.inControlledShutdown;
  };
}

function change(topic: TopicState, p: PartitionState, leader: number): MetadataRecord {
  return {
    type: 'PartitionChangeRecord',
    partitionId: p.partition,
    topicId: topic.id,
    isr: null,
    leader,
    replicas: null,
    removingReplicas: null,
    addingReplicas: null,
    leaderRecoveryState: -1,
    directories: null,
  };
}

/** Moves every leadership `brokerId` holds to another ISR member that can lead, or offline. */
export function moveLeadershipsOff(image: MetadataImage, brokerId: number): MetadataRecord[] {
  const canLead = brokersThatCanLead(image, brokerId);
  const records: MetadataRecord[] = [];
  for (const t of image.topics())
    for (const p of t.partitions) {
      if (p.leader !== brokerId) continue;
      const next = p.isr.find(canLead) ?? NO_LEADER;
      records.push(change(t, p, next));
    }
  return records;
}

/**
 * Elects a leader for every offline partition whose ISR holds a broker that can lead now, or
 * `unfencing`, which the same commit unfences.
 */
export function electOfflineLeaders(image: MetadataImage, unfencing?: number): MetadataRecord[] {
  const available = brokersThatCanLead(image);
  const canLead = (id: number) => id === unfencing || available(id);
  const records: MetadataRecord[] = [];
  for (const t of image.topics())
    for (const p of t.partitions) {
      if (p.leader !== NO_LEADER) continue;
      const next = p.isr.find(canLead);
      if (next !== undefined) records.push(change(t, p, next));
    }
  return records;
}

export function leadershipsOf(image: MetadataImage, brokerId: number): number {
  let n = 0;
  for (const t of image.topics()) for (const p of t.partitions) if (p.leader === brokerId) n++;
  return n;
}
