import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { applyAll, broker, imageOf, partition, topic } from '../test/controller-fixtures.js';
import { completion, listReassignments, reassign } from './reassignments.js';

const cluster = () =>
  imageOf([broker(1), broker(2), broker(3), broker(4), topic(), partition(0, { leader: 1, isr: [1, 2, 3] })]);
const p0 = (img: ReturnType<typeof imageOf>) => img.topic('t')!.partitions[0];

describe('partition reassignments', () => {
  it('start with the target followed by the replicas leaving, and complete once the target is in sync', () => {
    const img = cluster();
    const started = reassign(img, img.topic('t')!, p0(img), [2, 3, 4], true);
    expect(started.errorCode).toBe(ErrorCode.NONE);
    applyAll(img, started.records);
    expect(p0(img)).toMatchObject({ replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1], leader: 1 });
    expect(listReassignments(img, null)).toEqual([
      {
        name: 't',
        partitions: [{ partitionIndex: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] }],
      },
    ]);
    // Not in sync yet: nothing to complete.
    expect(completion(img, img.topic('t')!, p0(img))).toBeUndefined();
    applyAll(img, [
      { ...started.records[0], replicas: null, addingReplicas: null, removingReplicas: null, isr: [1, 2, 3, 4] },
    ]);
    const epoch = p0(img).leaderEpoch;
    applyAll(img, [completion(img, img.topic('t')!, p0(img))!]);
    // The removed leader hands over, and the epoch moves on so its fetches are fenced.
    expect(p0(img)).toMatchObject({
      replicas: [2, 3, 4],
      isr: [2, 3, 4],
      addingReplicas: [],
      removingReplicas: [],
      leader: 2,
    });
    expect(p0(img).leaderEpoch).toBe(epoch + 1);
    expect(listReassignments(img, null)).toEqual([]);
  });

  it('cancel back to the original replicas, and refuse a cancel with nothing in progress', () => {
    const img = cluster();
    applyAll(img, reassign(img, img.topic('t')!, p0(img), [1, 2, 4], true).records);
    applyAll(img, reassign(img, img.topic('t')!, p0(img), null, true).records);
    expect(p0(img)).toMatchObject({
      replicas: [1, 2, 3],
      isr: [1, 2, 3],
      addingReplicas: [],
      removingReplicas: [],
      leader: 1,
    });
    expect(reassign(img, img.topic('t')!, p0(img), null, true).errorCode).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
  });

  it('refuse unknown brokers, duplicates, and a replication factor change when it is not allowed', () => {
    const img = cluster();
    const t = img.topic('t')!;
    expect(reassign(img, t, p0(img), [1, 2, 9], true).errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    expect(reassign(img, t, p0(img), [1, 1, 2], true).errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    expect(reassign(img, t, p0(img), [1, 2], false).errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
  });

  it('complete a move that copies nothing (a removal or a reorder) at once, the new leader first in replica order', () => {
    const img = cluster();
    applyAll(img, reassign(img, img.topic('t')!, p0(img), [3, 2], true).records);
    expect(p0(img)).toMatchObject({ replicas: [3, 2], isr: [2, 3], addingReplicas: [], leader: 3 });
  });
});
