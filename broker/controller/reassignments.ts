// Partition reassignments as the active controller decides them (Kafka's
// PartitionReassignmentReplicas and the reassignment part of ReplicationControlManager), as pure
// functions from the image to PartitionChangeRecords:
//
// - start: the replica set becomes the target followed by the replicas being removed; the
//   target's new members are `adding` (they open the partition and fetch it), the old ones not in
//   the target are `removing`;
// - complete, once every target replica is in the ISR: the replicas become the target, the ISR
//   keeps only target members, leadership moves if the leader is being removed, and the leader
//   epoch is bumped so that removed replicas' fetches are fenced;
// - cancel (a null target): back to the original replicas, ISR kept within them.
// The state lives in the partition's adding/removing replicas, so a reassignment survives a
// controller failover and broker restarts and completes from whatever ISR change comes next.

import {
  LEADER_UNCHANGED,
  NO_LEADER,
  type MetadataImage,
  type PartitionState,
  type TopicState,
} from '../metadata/image.js';
import { ErrorCode } from '../protocol/errors.js';
import { brokersThatCanLead } from './leaders.js';
import { partitionChange, unchanged, type PartitionChangeRecord } from './partition-change.js';

export interface ReassignmentOutcome {
  errorCode: number;
  errorMessage: string | null;
  records: PartitionChangeRecord[];
}

const refused = (errorCode: number, errorMessage: string | null): ReassignmentOutcome => ({
  errorCode,
  errorMessage,
  records: [],
});

/** The replicas before the reassignment in progress (all of them when none is). */
export function originalReplicas(p: PartitionState): number[] {
  return p.replicas.filter((id) => !p.addingReplicas.includes(id));
}

/** The replicas the partition is moving to (its replicas when no reassignment is in progress). */
export function targetReplicas(p: PartitionState): number[] {
  return p.replicas.filter((id) => !p.removingReplicas.includes(id));
}

export function isReassigning(p: PartitionState): boolean {
  return p.addingReplicas.length > 0 || p.removingReplicas.length > 0;
}

/** AlterPartitionReassignments for one partition: start (or replace) with `target`, or cancel with null. */
export function reassign(
  image: MetadataImage,
  topic: TopicState,
  p: PartitionState,
  target: readonly number[] | null,
  allowReplicationFactorChange: boolean,
): ReassignmentOutcome {
  if (target === null) {
    if (!isReassigning(p)) return refused(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, null);
    return settle(image, topic, p, originalReplicas(p));
  }
  if (target.length === 0)
    return refused(
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes an empty replica list.',
    );
  if (new Set(target).size !== target.length)
    return refused(
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      `The manual partition assignment includes duplicate replicas: ${target.join(', ')}.`,
    );
  const unknown = target.filter((id) => !image.broker(id));
  if (unknown.length > 0)
    return refused(
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      `The manual partition assignment includes broker ${unknown.join(', ')}, which is not registered.`,
    );
  const original = originalReplicas(p);
  if (!allowReplicationFactorChange && target.length !== original.length)
    return refused(
      ErrorCode.INVALID_REPLICATION_FACTOR,
      `The replication factor is changed from ${original.length} to ${target.length} but allowReplicationFactorChange is false.`,
    );
  const adding = target.filter((id) => !original.includes(id));
  const removing = original.filter((id) => !target.includes(id));
  // Nothing to copy: the move is a reorder or a removal and completes at once.
  if (adding.length === 0) return settle(image, topic, p, [...target]);
  const record = unchanged(topic.id, p.partition);
  record.replicas = [...target, ...removing];
  record.addingReplicas = adding;
  record.removingReplicas = removing;
  // A target replica the ISR already holds stays; ones being dropped by a replaced
  // reassignment leave the ISR with it.
  const isr = p.isr.filter((id) => target.includes(id) || removing.includes(id));
  if (isr.length > 0 && isr.length !== p.isr.length) record.isr = isr;
  return { errorCode: ErrorCode.NONE, errorMessage: null, records: [record] };
}

/** The record that completes a reassignment whose target replicas are all in the ISR, if one is. */
export function completion(
  image: MetadataImage,
  topic: TopicState,
  p: PartitionState,
): PartitionChangeRecord | undefined {
  if (!isReassigning(p)) return undefined;
  const target = targetReplicas(p);
  if (!target.every((id) => p.isr.includes(id))) return undefined;
  return settle(image, topic, p, target).records[0];
}

/**
 * Makes `replicas` the partition's replica set with no reassignment in progress: the ISR keeps
 * its members among them (or, if none, the first of them, so the partition can come back), the
 * leader stays if it is one of them, else moves to one that can lead; the leader epoch is bumped
 * either way, which fences the fetches of replicas that are gone.
 */
function settle(image: MetadataImage, topic: TopicState, p: PartitionState, replicas: number[]): ReassignmentOutcome {
  const isr = p.isr.filter((id) => replicas.includes(id));
  const settled: PartitionState = {
    ...p,
    replicas,
    isr: isr.length > 0 ? isr : [replicas[0]],
    addingReplicas: [],
    removingReplicas: [],
  };
  const elected = partitionChange(topic.id, settled, { canLead: brokersThatCanLead(image) });
  const leader = elected && elected.leader !== LEADER_UNCHANGED ? elected.leader : settled.leader;
  const record = unchanged(topic.id, p.partition);
  record.replicas = replicas;
  record.isr = settled.isr;
  record.addingReplicas = [];
  record.removingReplicas = [];
  // The same leader named again bumps the leader epoch (see MetadataImage.apply).
  record.leader = replicas.includes(leader) ? leader : NO_LEADER;
  return { errorCode: ErrorCode.NONE, errorMessage: null, records: [record] };
}

/** ListPartitionReassignments: the partitions named (null: all) with a reassignment in progress. */
export function listReassignments(
  image: MetadataImage,
  topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
): {
  name: string;
  partitions: { partitionIndex: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }[];
}[] {
  const wanted =
    topics === null
      ? [...image.topics()].map((t) => ({ topic: t, indexes: t.partitions.map((p) => p.partition) }))
      : topics.flatMap((t) => {
          const topic = image.topic(t.name);
          return topic ? [{ topic, indexes: t.partitionIndexes }] : [];
        });
  return wanted
    .map(({ topic, indexes }) => ({
      name: topic.name,
      partitions: indexes
        .map((i) => topic.partitions[i])
        .filter((p): p is PartitionState => p !== undefined && isReassigning(p))
        .map((p) => ({
          partitionIndex: p.partition,
          replicas: p.replicas,
          addingReplicas: p.addingReplicas,
          removingReplicas: p.removingReplicas,
        })),
    }))
    .filter((t) => t.partitions.length > 0);
}
