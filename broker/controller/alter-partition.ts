// AlterPartition as the active controller decides it (Kafka's ReplicationControlManager
// .alterPartition): a partition's leader asks to change its ISR; the request is checked against
// the image, partition by partition, and each accepted change becomes one PartitionChangeRecord.
// Deciding is pure (`planAlterPartition`); the answer for an accepted partition is its state once
// the records are applied (`alterPartitionResponse`), so the leader learns the new partition
// epoch it must send next time.
//
// The checks, in Kafka's order, and what each answers:
//   broker epoch not the registered one          → STALE_BROKER_EPOCH (top level, no topics)
//   topic id unknown                              → UNKNOWN_TOPIC_ID
//   partition unknown                             → UNKNOWN_TOPIC_OR_PARTITION
//   leader or partition epoch newer than ours     → NOT_CONTROLLER (this controller is behind)
//   leader epoch older                            → FENCED_LEADER_EPOCH
//   sender not the leader                         → INVALID_REQUEST
//   partition epoch older                         → INVALID_UPDATE_VERSION
//   ISR with a non-replica, a duplicate, or without the leader → INVALID_REQUEST
//   RECOVERING with more than one in the ISR, or RECOVERED → RECOVERING → INVALID_REQUEST
//   ISR with a broker unregistered, fenced, shutting down, or (v3) of another epoch → INELIGIBLE_REPLICA

import { LeaderRecoveryState, type MetadataImage, type PartitionState } from '../metadata/image.js';
import type { MetadataRecord } from '../metadata/records.js';
import { ErrorCode } from '../protocol/errors.js';
import type { AlterPartition } from '../protocol/messages/index.js';
import { ZERO_UUID, type ApiDefinition, type DecodedResponseOf, type Fields, type Input } from '../protocol/schema.js';
import { brokersThatCanLead, type UncleanElection } from './leaders.js';
import { partitionChange } from './partition-change.js';

type RequestFields<A> = A extends ApiDefinition<infer R, Fields> ? R : never;
/** The request as decoded, or as a broker builds it to send (fields of other versions may be left out). */
export type AlterPartitionRequest = Input<RequestFields<typeof AlterPartition>>;
export type AlterPartitionResponse = DecodedResponseOf<typeof AlterPartition>;

/** From v3 the new ISR carries each member's broker epoch (KIP-903); before, broker ids only. */
const ISR_WITH_EPOCHS_VERSION = 3;

export interface AlterPartitionPlan {
  errorCode: number;
  topics: { topicId: string; partitions: { partitionIndex: number; errorCode: number }[] }[];
  records: MetadataRecord[];
}

export function planAlterPartition(
  image: MetadataImage,
  req: AlterPartitionRequest,
  version: number,
  unclean: UncleanElection,
): AlterPartitionPlan {
  const sender = image.broker(req.brokerId);
  if (!sender || sender.epoch !== (req.brokerEpoch ?? -1))
    return { errorCode: ErrorCode.STALE_BROKER_EPOCH, topics: [], records: [] };
  const plan: AlterPartitionPlan = { errorCode: ErrorCode.NONE, topics: [], records: [] };
  for (const t of req.topics) {
    const topicId = t.topicId ?? ZERO_UUID;
    const topic = topicId === ZERO_UUID ? undefined : image.topicById(topicId);
    const partitions: AlterPartitionPlan['topics'][number]['partitions'] = [];
    plan.topics.push({ topicId, partitions });
    for (const pd of t.partitions) {
      const partitionIndex = pd.partitionIndex;
      if (!topic) {
        partitions.push({ partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_ID });
        continue;
      }
      const newIsr =
        version >= ISR_WITH_EPOCHS_VERSION
          ? (pd.newIsrWithEpochs ?? []).map((m) => ({ brokerId: m.brokerId, brokerEpoch: m.brokerEpoch ?? -1 }))
          : (pd.newIsr ?? []).map((brokerId) => ({ brokerId, brokerEpoch: -1 }));
      const recovery = pd.leaderRecoveryState ?? LeaderRecoveryState.RECOVERED;
      const p = topic.partitions[partitionIndex] as PartitionState | undefined;
      const errorCode = p
        ? validate(image, req.brokerId, p, pd.leaderEpoch, pd.partitionEpoch, newIsr, recovery)
        : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      if (errorCode !== ErrorCode.NONE || !p) {
        partitions.push({ partitionIndex, errorCode });
        continue;
      }
      const record = partitionChange(topic.id, p, {
        canLead: brokersThatCanLead(image),
        targetIsr: newIsr.map((m) => m.brokerId),
        election: unclean(topic) ? 'unclean' : 'online',
        targetLeaderRecoveryState: recovery,
      });
      if (record) plan.records.push(record);
      // Only a completed reassignment moves the leader in Kafka (NEW_LEADER_ELECTED, records
      // written all the same); Runnel has none, so this is the guard that keeps it so.
      const movedLeader = record !== undefined && record.leader >= 0 && record.leader !== req.brokerId;
      partitions.push({ partitionIndex, errorCode: movedLeader ? ErrorCode.NEW_LEADER_ELECTED : ErrorCode.NONE });
    }
  }
  return plan;
}

function validate(
  image: MetadataImage,
  brokerId: number,
  p: PartitionState,
  leaderEpoch: number,
  partitionEpoch: number,
  newIsr: { brokerId: number; brokerEpoch: number }[],
  recovery: number,
): number {
  if (leaderEpoch > p.leaderEpoch || partitionEpoch > p.partitionEpoch) return ErrorCode.NOT_CONTROLLER;
  if (leaderEpoch < p.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
  if (brokerId !== p.leader) return ErrorCode.INVALID_REQUEST;
  if (partitionEpoch < p.partitionEpoch) return ErrorCode.INVALID_UPDATE_VERSION;
  const ids = newIsr.map((m) => m.brokerId);
  if (new Set(ids).size !== ids.length || ids.some((id) => !p.replicas.includes(id))) return ErrorCode.INVALID_REQUEST;
  if (!ids.includes(p.leader)) return ErrorCode.INVALID_REQUEST;
  if (recovery === LeaderRecoveryState.RECOVERING && ids.length > 1) return ErrorCode.INVALID_REQUEST;
  if (p.leaderRecoveryState === LeaderRecoveryState.RECOVERED && recovery === LeaderRecoveryState.RECOVERING)
    return ErrorCode.INVALID_REQUEST;
  const ineligible = newIsr.some((m) => {
    const b = image.broker(m.brokerId);
    return !b || b.inControlledShutdown || b.fenced || (m.brokerEpoch !== -1 && b.epoch !== m.brokerEpoch);
  });
  return ineligible ? ErrorCode.INELIGIBLE_REPLICA : ErrorCode.NONE;
}

/**
 * The answer to a plan whose records are applied: accepted partitions with their state as the
 * image now holds it, refused ones with their error alone.
 */
export function alterPartitionResponse(plan: AlterPartitionPlan, image: MetadataImage): AlterPartitionResponse {
  return {
    throttleTimeMs: 0,
    errorCode: plan.errorCode,
    topics: plan.topics.map(({ topicId, partitions }) => {
      const topic = image.topicById(topicId);
      return {
        topicId,
        partitions: partitions.map(({ partitionIndex, errorCode }) => {
          const p = topic?.partitions[partitionIndex];
          if (errorCode !== ErrorCode.NONE || !p) return refused(partitionIndex, errorCode);
          return {
            partitionIndex,
            errorCode,
            leaderId: p.leader,
            leaderEpoch: p.leaderEpoch,
            isr: [...p.isr],
            leaderRecoveryState: p.leaderRecoveryState,
            partitionEpoch: p.partitionEpoch,
          };
        }),
      };
    }),
  };
}

function refused(
  partitionIndex: number,
  errorCode: number,
): AlterPartitionResponse['topics'][number]['partitions'][number] {
  return { partitionIndex, errorCode, leaderId: 0, leaderEpoch: 0, isr: [], leaderRecoveryState: 0, partitionEpoch: 0 };
}

/** The answer when the whole request fails (NOT_CONTROLLER, no controller reachable). */
export function alterPartitionFailed(errorCode: number): AlterPartitionResponse {
  return { throttleTimeMs: 0, errorCode, topics: [] };
}
