import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecordBatch, copiedBatches, validateProducedBatches } from '../protocol/record-batch.js';
import { LEADER_EPOCH_CHECKPOINT, LeaderEpochCache } from './leader-epoch-cache.js';
import { NonContiguousAppendError, type PartitionLog } from './partition-log.js';
import { openLog, openLogs, partitionDir } from '../test/log-fixtures.js';

function batchOf(values: string[]) {
  const batch = buildRecordBatch({ records: values.map((value) => ({ value })) });
  const checked = validateProducedBatches(batch);
  if (!checked.ok) throw new Error(checked.message);
  return { batch, batches: checked.batches };
}

function appendAt(log: PartitionLog, epoch: number, values: string[]) {
  const { batch, batches } = batchOf(values);
  return log.append(batch, batches, epoch);
}

describe('the leader-epoch cache', () => {
  it("answers where an epoch ended, as Kafka's endOffsetForEpoch", () => {
    const cache = new LeaderEpochCache();
    cache.assign(1, 0);
    cache.assign(3, 10);
    cache.assign(4, 25);
    expect(cache.endOffsetFor(1, 40)).toEqual({ epoch: 1, endOffset: 10 });
    // Epoch 2 never wrote here: the largest one below it, ending where epoch 3 began.
    expect(cache.endOffsetFor(2, 40)).toEqual({ epoch: 1, endOffset: 10 });
    expect(cache.endOffsetFor(4, 40)).toEqual({ epoch: 4, endOffset: 40 });
    expect(cache.endOffsetFor(0, 40)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it('ignores epochs that are not newer, and forgets the ones a truncation removed', () => {
    const cache = new LeaderEpochCache();
    expect(cache.assign(2, 0)).toBe(true);
    expect(cache.assign(2, 5)).toBe(false);
    expect(cache.assign(1, 7)).toBe(false);
    cache.assign(5, 9);
    expect(cache.truncateFromEnd(9)).toBe(true);
    expect(cache.all()).toEqual([{ epoch: 2, startOffset: 0 }]);
    cache.assign(6, 9);
    expect(cache.truncateFromStart(4)).toBe(true);
    expect(cache.all()).toEqual([
      { epoch: 2, startOffset: 4 },
      { epoch: 6, startOffset: 9 },
    ]);
  });
});

describe('a partition log with leader epochs', () => {
  it('records the epoch of each leader that appends and keeps it in leader-epoch-checkpoint', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir);
    await appendAt(log, 0, ['a', 'b']);
    await appendAt(log, 0, ['c']);
    await appendAt(log, 2, ['d']);
    expect(log.latestEpoch).toBe(2);
    expect(log.endOffsetForEpoch(0)).toEqual({ epoch: 0, endOffset: 3 });
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 0, endOffset: 3 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 4 });
    expect(await readFile(path.join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8')).toBe('0\n2\n0 0\n2 3\n');
  });

  it('rebuilds the cache from the batches when the file is gone', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir);
    await appendAt(log, 1, ['a']);
    await appendAt(log, 4, ['b', 'c']);
    openLogs.splice(openLogs.indexOf(log), 1);
    await log.close();
    await rm(path.join(dir, LEADER_EPOCH_CHECKPOINT));
    const again = await openLog(dir);
    expect(again.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 1 });
    expect(again.latestEpoch).toBe(4);
  });

  it('forgets the epochs of a truncated tail', async () => {
    const log = await openLog(await partitionDir());
    await appendAt(log, 1, ['a', 'b']);
    await appendAt(log, 3, ['c']);
    await log.truncateTo(2);
    expect(log.latestEpoch).toBe(1);
    await appendAt(log, 5, ['x']);
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 1, endOffset: 2 });
  });

  it("appends a follower's copy with the leader's offsets and epochs, and refuses a gap", async () => {
    const leader = await openLog(await partitionDir());
    await appendAt(leader, 7, ['a', 'b']);
    await appendAt(leader, 8, ['c']);
    const read = await leader.read(0, 1 << 20, true);
    if (!read.ok) throw new Error(read.message);
    const copy = Buffer.concat(read.chunks);
    const copied = copiedBatches(copy);
    if (copied instanceof Error) throw copied;
    const follower = await openLog(await partitionDir('copy'));
    await follower.appendAsFollower(copy, copied.batches);
    expect(follower.logEndOffset).toBe(3);
    expect(follower.endOffsetForEpoch(7)).toEqual({ epoch: 7, endOffset: 2 });
    expect(follower.latestEpoch).toBe(8);
    const again = await follower.read(0, 1 << 20, true);
    if (!again.ok) throw new Error(again.message);
    expect(Buffer.concat(again.chunks)).toEqual(copy);
    await expect(follower.appendAsFollower(copy, copied.batches)).rejects.toBeInstanceOf(NonContiguousAppendError);
  });
});
