import { describe, expect, it } from 'vitest';
import { quorumLeader } from './admin.js';

const answer = (
  partitions: { partitionIndex: number; errorCode: number; leaderId: number }[],
  topicName = '__cluster_metadata',
) => ({
  topics: [{ topicName, partitions }],
});

describe('the active controller from a DescribeQuorum answer', () => {
  it('is the leader of __cluster_metadata-0', () => {
    expect(quorumLeader(answer([{ partitionIndex: 0, errorCode: 0, leaderId: 2 }]))).toBe(2);
  });

  it('is unknown (-1) while the quorum has no leader, or when the partition answers an error', () => {
    expect(quorumLeader(answer([{ partitionIndex: 0, errorCode: 0, leaderId: -1 }]))).toBe(-1);
    expect(quorumLeader(answer([{ partitionIndex: 0, errorCode: 6, leaderId: 1 }]))).toBe(-1);
  });

  it('is unknown when the answer is about anything but the metadata log', () => {
    expect(quorumLeader(answer([{ partitionIndex: 1, errorCode: 0, leaderId: 1 }]))).toBe(-1);
    expect(quorumLeader(answer([{ partitionIndex: 0, errorCode: 0, leaderId: 1 }], 'other'))).toBe(-1);
    expect(quorumLeader({ topics: [] })).toBe(-1);
  });
});
