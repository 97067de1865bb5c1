import { describe, expect, it } from 'vitest';
import type { MetadataImage, TopicState } from '../metadata/image.js';
import { ErrorCode } from '../protocol/errors.js';
import { TOPIC_ID, applyAll, broker, changes, imageOf, partition, topic } from '../test/controller-fixtures.js';
import { alterPartitionResponse, planAlterPartition, type AlterPartitionRequest } from './alter-partition.js';

const unclean = (t: TopicState) => t.configs.get('unclean.leader.election.enable') === 'true';

/** Leader 1 (epoch 101) of t-0: replicas 1,2,3, ISR 1,2, leader epoch 4, partition epoch 7; broker 3 is back. */
function cluster(extra: Parameters<typeof broker>[1] = {}): MetadataImage {
  return imageOf([
    broker(1),
    broker(2),
    broker(3, extra),
    topic(),
    partition(0, { leader: 1, isr: [1, 2], leaderEpoch: 4, partitionEpoch: 7 }),
  ]);
}

interface RequestOptions {
  brokerId?: number;
  brokerEpoch?: number;
  leaderEpoch?: number;
  partitionEpoch?: number;
  topicId?: string;
  partitionIndex?: number;
  /** Broker epochs in newIsrWithEpochs, by broker; 100 + the id (the registered one) otherwise. */
  epochs?: Record<number, number>;
  leaderRecoveryState?: number;
}

function request(
  newIsr: number[],
  {
    brokerId = 1,
    brokerEpoch = 101,
    leaderEpoch = 4,
    partitionEpoch = 7,
    topicId = TOPIC_ID,
    partitionIndex = 0,
    epochs = {},
    leaderRecoveryState = 0,
  }: RequestOptions = {},
): AlterPartitionRequest {
  return {
    brokerId,
    brokerEpoch,
    topics: [
      {
        topicId,
        partitions: [
          {
            partitionIndex,
            leaderEpoch,
            newIsr,
            newIsrWithEpochs: newIsr.map((id) => ({ brokerId: id, brokerEpoch: epochs[id] ?? 100 + id })),
            leaderRecoveryState,
            partitionEpoch,
          },
        ],
      },
    ],
  };
}

function errorOf(img: MetadataImage, req: AlterPartitionRequest, version = 3): number {
  const plan = planAlterPartition(img, req, version, unclean);
  return plan.errorCode !== ErrorCode.NONE ? plan.errorCode : plan.topics[0].partitions[0].errorCode;
}

describe('AlterPartition at the active controller', () => {
  it('expands the ISR with one PartitionChangeRecord, leader unchanged, and answers the state after it', () => {
    const img = cluster();
    const plan = planAlterPartition(img, request([1, 2, 3]), 3, unclean);
    expect(changes(plan.records)).toEqual([[0, -2, [1, 2, 3]]]);
    applyAll(img, plan.records);
    expect(alterPartitionResponse(plan, img)).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      topics: [
        {
          topicId: TOPIC_ID,
          partitions: [
            {
              partitionIndex: 0,
              errorCode: ErrorCode.NONE,
              leaderId: 1,
              leaderEpoch: 4,
              isr: [1, 2, 3],
              leaderRecoveryState: 0,
              partitionEpoch: 8,
            },
          ],
        },
      ],
    });
  });

  it('shrinks the ISR without bumping the leader epoch (metadata.version 3.6+)', () => {
    const img = cluster();
    const plan = planAlterPartition(img, request([1]), 3, unclean);
    applyAll(img, plan.records);
    expect(img.topic('t')!.partitions[0]).toMatchObject({ isr: [1], leader: 1, leaderEpoch: 4, partitionEpoch: 8 });
  });

  it('answers the current state, writing nothing, when the ISR asked for is the one it has', () => {
    const img = cluster();
    const plan = planAlterPartition(img, request([1, 2]), 3, unclean);
    expect(plan.records).toEqual([]);
    expect(alterPartitionResponse(plan, img).topics[0].partitions[0]).toMatchObject({ isr: [1, 2], partitionEpoch: 7 });
  });

  it('STALE_BROKER_EPOCH, at the top level, from a broker whose epoch is not its registration’s', () => {
    const plan = planAlterPartition(cluster(), request([1, 2, 3], { brokerEpoch: 55 }), 3, unclean);
    expect(plan).toEqual({ errorCode: ErrorCode.STALE_BROKER_EPOCH, topics: [], records: [] });
    expect(errorOf(cluster(), request([1, 2, 3], { brokerId: 9 }))).toBe(ErrorCode.STALE_BROKER_EPOCH);
  });

  it('UNKNOWN_TOPIC_ID and UNKNOWN_TOPIC_OR_PARTITION', () => {
    expect(errorOf(cluster(), request([1, 2], { topicId: 'AAAAAAAAAAAAAAAAAAAAAw' }))).toBe(ErrorCode.UNKNOWN_TOPIC_ID);
    expect(errorOf(cluster(), request([1, 2], { partitionIndex: 5 }))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('epochs: NOT_CONTROLLER when newer than the controller’s, FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION when older', () => {
    expect(errorOf(cluster(), request([1, 2, 3], { leaderEpoch: 5 }))).toBe(ErrorCode.NOT_CONTROLLER);
    expect(errorOf(cluster(), request([1, 2, 3], { partitionEpoch: 8 }))).toBe(ErrorCode.NOT_CONTROLLER);
    expect(errorOf(cluster(), request([1, 2, 3], { leaderEpoch: 3 }))).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(errorOf(cluster(), request([1, 2, 3], { partitionEpoch: 6 }))).toBe(ErrorCode.INVALID_UPDATE_VERSION);
  });

  it('INVALID_REQUEST from a broker that is not the leader, as Kafka answers it', () => {
    expect(errorOf(cluster(), request([1, 2], { brokerId: 2, brokerEpoch: 102 }))).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('INVALID_REQUEST for an ISR with a broker that is not a replica, a duplicate, or without the leader', () => {
    const img = imageOf([broker(1), broker(2), broker(3), broker(4), topic(), partition(0, { leader: 1, isr: [1] })]);
    const at = (isr: number[]) => errorOf(img, request(isr, { leaderEpoch: 0, partitionEpoch: 0 }));
    expect(at([1, 4])).toBe(ErrorCode.INVALID_REQUEST);
    expect(at([1, 2, 2])).toBe(ErrorCode.INVALID_REQUEST);
    expect(at([2, 3])).toBe(ErrorCode.INVALID_REQUEST);
    expect(at([1, 2, 3])).toBe(ErrorCode.NONE);
  });

  it('INELIGIBLE_REPLICA for a member that is fenced, shutting down, unregistered, or (v3) of another broker epoch', () => {
    expect(errorOf(cluster({ fenced: true }), request([1, 2, 3]))).toBe(ErrorCode.INELIGIBLE_REPLICA);
    expect(errorOf(cluster({ shuttingDown: true }), request([1, 2, 3]))).toBe(ErrorCode.INELIGIBLE_REPLICA);
    const unregistered = imageOf([broker(1), broker(2), topic(), partition(0, { leader: 1, isr: [1] })]);
    expect(errorOf(unregistered, request([1, 3], { leaderEpoch: 0, partitionEpoch: 0 }))).toBe(
      ErrorCode.INELIGIBLE_REPLICA,
    );
    const oldIncarnation = request([1, 2, 3], { epochs: { 3: 42 } });
    expect(errorOf(cluster(), oldIncarnation)).toBe(ErrorCode.INELIGIBLE_REPLICA);
    // v2 names brokers only: no epoch to compare.
    expect(errorOf(cluster(), oldIncarnation, 2)).toBe(ErrorCode.NONE);
    // -1 skips the comparison.
    expect(errorOf(cluster(), request([1, 2, 3], { epochs: { 3: -1 } }))).toBe(ErrorCode.NONE);
  });

  it('reads newIsr at v2 and newIsrWithEpochs at v3', () => {
    const req = request([1, 2, 3]);
    req.topics[0].partitions[0].newIsr = [1];
    expect(changes(planAlterPartition(cluster(), req, 2, unclean).records)).toEqual([[0, -2, [1]]]);
    expect(changes(planAlterPartition(cluster(), req, 3, unclean).records)).toEqual([[0, -2, [1, 2, 3]]]);
  });

  it('a leader RECOVERING after an unclean election: alone in the ISR until it says RECOVERED', () => {
    const img = imageOf([
      broker(1),
      broker(2),
      topic(),
      partition(0, { leader: 1, isr: [1], recovering: true, leaderEpoch: 1, partitionEpoch: 1 }),
    ]);
    const at = (isr: number[], leaderRecoveryState: number) =>
      planAlterPartition(img, request(isr, { leaderEpoch: 1, partitionEpoch: 1, leaderRecoveryState }), 3, unclean);
    expect(at([1, 2], 1).topics[0].partitions[0].errorCode).toBe(ErrorCode.INVALID_REQUEST);
    const recovered = at([1, 2], 0);
    expect(recovered.records).toMatchObject([{ isr: [1, 2], leaderRecoveryState: 0 }]);
    applyAll(img, recovered.records);
    expect(img.topic('t')!.partitions[0].leaderRecoveryState).toBe(0);
    // RECOVERED never goes back to RECOVERING.
    expect(errorOf(img, request([1], { leaderEpoch: 1, partitionEpoch: 2, leaderRecoveryState: 1 }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
  });
});
