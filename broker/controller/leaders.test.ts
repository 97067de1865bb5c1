import { describe, expect, it } from 'vitest';
import type { TopicState } from '../metadata/image.js';
import { ErrorCode } from '../protocol/errors.js';
import { applyAll, broker, changes, imageOf, partition, topic, uncleanOn } from '../test/controller-fixtures.js';
import {
  ElectionType,
  balanceLeaders,
  electLeader,
  electLeaders,
  electOfflineLeaders,
  electUncleanLeaders,
  leadersImbalanced,
  removeFromIsrs,
} from './leaders.js';

const unclean = (t: TopicState) => t.configs.get('unclean.leader.election.enable') === 'true';

describe('a broker going away (fenced, shutting down, unregistered)', () => {
  it('leaves every ISR it is in, and its leaderships move to the next in-sync replica, in replica order', () => {
    const img = imageOf([
      broker(1),
      broker(2),
      broker(3, { fenced: true }),
      topic(),
      partition(0, { leader: 1, isr: [1, 3, 2] }),
      partition(1, { leader: 2, isr: [2, 1] }),
      partition(2, { leader: 2, isr: [2, 3] }),
    ]);
    expect(changes(removeFromIsrs(img, 1, unclean))).toEqual([
      [0, 2, [3, 2]],
      [1, -2, [2]],
    ]);
  });

  it('stays the last member of an ISR, which goes offline until it returns', () => {
    const img = imageOf([broker(1), broker(2), broker(3), topic(), partition(0, { leader: 1, isr: [1] })]);
    expect(changes(removeFromIsrs(img, 1, unclean))).toEqual([[0, -1, null]]);
  });

  it('with unclean.leader.election.enable on the topic, hands an offline partition to any live replica, RECOVERING', () => {
    const img = imageOf([broker(1), broker(2), broker(3), topic(), uncleanOn(), partition(0, { leader: 1, isr: [1] })]);
    const records = removeFromIsrs(img, 1, unclean);
    expect(changes(records)).toEqual([[0, 2, [2]]]);
    expect(records[0]).toMatchObject({ leaderRecoveryState: 1 });
  });

  it('bumps the leader epoch and the partition epoch as the image applies the change', () => {
    const img = imageOf([broker(1), broker(2), topic(), partition(0, { leader: 1, isr: [1, 2], replicas: [1, 2] })]);
    applyAll(img, removeFromIsrs(img, 1, unclean));
    expect(img.topic('t')!.partitions[0]).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 1 });
  });
});

describe('offline partitions', () => {
  it('come back on a broker of their ISR as it is unfenced; led ones are left alone', () => {
    const img = imageOf([
      broker(1, { fenced: true }),
      broker(2),
      topic(),
      partition(0, { leader: -1, isr: [1] }),
      partition(1, { leader: 2, isr: [2, 1] }),
    ]);
    expect(electOfflineLeaders(img, unclean)).toEqual([]);
    expect(changes(electOfflineLeaders(img, unclean, 1))).toEqual([[0, 1, null]]);
  });

  it('take a live replica outside the ISR only where unclean election is on (also by the periodic check)', () => {
    const records = [broker(1, { fenced: true }), broker(2), topic(), partition(0, { leader: -1, isr: [1] })];
    expect(electOfflineLeaders(imageOf(records), unclean)).toEqual([]);
    expect(electUncleanLeaders(imageOf(records), unclean)).toEqual([]);
    const img = imageOf([...records, uncleanOn()]);
    expect(changes(electOfflineLeaders(img, unclean))).toEqual([[0, 2, [2]]]);
    expect(changes(electUncleanLeaders(img, unclean))).toEqual([[0, 2, [2]]]);
  });
});

describe('ElectLeaders', () => {
  const img = imageOf([
    broker(1),
    broker(2),
    broker(3, { fenced: true }),
    topic(),
    partition(0, { leader: 1, isr: [1, 2, 3] }),
    partition(1, { leader: 2, isr: [1, 2] }),
    partition(2, { leader: 2, isr: [2] }),
    partition(3, { leader: 2, isr: [2, 3], replicas: [3, 2, 1] }),
    partition(4, { leader: -1, isr: [3] }),
  ]);
  const preferred = (p: number) => electLeader(img, 't', p, ElectionType.PREFERRED);

  it('preferred: ELECTION_NOT_NEEDED when the first replica leads; moves leadership to it when it is in the ISR and can lead', () => {
    expect(preferred(0)).toEqual({
      errorCode: ErrorCode.ELECTION_NOT_NEEDED,
      errorMessage: 'Leader election not needed for topic partition.',
    });
    expect(preferred(1)).toMatchObject({ errorCode: ErrorCode.NONE, errorMessage: null, record: { leader: 1 } });
  });

  it('preferred: PREFERRED_LEADER_NOT_AVAILABLE when the first replica is out of the ISR or cannot lead', () => {
    for (const p of [2, 3, 4])
      expect(preferred(p)).toEqual({
        errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
        errorMessage: 'The preferred leader was not available.',
      });
  });

  it('UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist', () => {
    expect(electLeader(img, 'nope', 0, ElectionType.PREFERRED).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(preferred(9).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('unclean: only for a partition without a leader, and only where a replica can lead', () => {
    expect(electLeader(img, 't', 0, ElectionType.UNCLEAN).errorCode).toBe(ErrorCode.ELECTION_NOT_NEEDED);
    expect(electLeader(img, 't', 4, ElectionType.UNCLEAN)).toMatchObject({
      errorCode: ErrorCode.NONE,
      record: { leader: 1, isr: [1], leaderRecoveryState: 1 },
    });
    const none = imageOf([broker(1, { fenced: true }), topic(), partition(0, { leader: -1, isr: [1], replicas: [1] })]);
    expect(electLeader(none, 't', 0, ElectionType.UNCLEAN).errorCode).toBe(ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE);
  });

  it('names every partition asked for; for all partitions (null), leaves out those that need no election', () => {
    const named = electLeaders(img, ElectionType.PREFERRED, [{ topic: 't', partitions: [0, 1] }]);
    expect(named.results).toEqual([
      {
        topic: 't',
        partitionResult: [
          { partitionId: 0, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: expect.any(String) as string },
          { partitionId: 1, errorCode: ErrorCode.NONE, errorMessage: null },
        ],
      },
    ]);
    expect(changes(named.records)).toEqual([[1, 1, null]]);
    const all = electLeaders(img, ElectionType.PREFERRED, null);
    expect(all.results[0].partitionResult.map((r) => [r.partitionId, r.errorCode])).toEqual([
      [1, ErrorCode.NONE],
      [2, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE],
      [3, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE],
      [4, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE],
    ]);
  });
});

describe('leader balancing', () => {
  it('elects the preferred replica wherever it is in the ISR and can lead, at most so many per run', () => {
    const img = imageOf([
      broker(1),
      broker(2),
      topic(),
      partition(0, { leader: 2, isr: [1, 2] }),
      partition(1, { leader: 2, isr: [2] }),
      partition(2, { leader: 2, isr: [2, 1] }),
    ]);
    expect(leadersImbalanced(img)).toBe(true);
    expect(changes(balanceLeaders(img))).toEqual([
      [0, 1, null],
      [2, 1, null],
    ]);
    expect(changes(balanceLeaders(img, 1))).toEqual([[0, 1, null]]);
    applyAll(img, balanceLeaders(img));
    expect(balanceLeaders(img)).toEqual([]);
    expect(leadersImbalanced(imageOf([broker(1), topic(), partition(0, { leader: 1, isr: [1] })]))).toBe(false);
  });
});
