import { describe, expect, it } from 'vitest';
import type { PartitionState, TopicState } from '../metadata/image.js';
import { ErrorCode } from '../protocol/errors.js';
import { buildRecordBatch, validateProducedBatches } from '../protocol/record-batch.js';
import { openLog, partitionDir } from '../test/log-fixtures.js';
import { Partition } from './partition.js';

const LEADER = 1;
const T0 = 1_000_000;

function state(overrides: Partial<PartitionState> = {}): PartitionState {
  return {
    partition: 0,
    leader: LEADER,
    leaderEpoch: 3,
    partitionEpoch: 7,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    addingReplicas: [],
    removingReplicas: [],
    leaderRecoveryState: 0,
    ...overrides,
  };
}

const topic: TopicState = { name: 't', id: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [], configs: new Map() };

async function leaderWith(minInsync = 2, s = state()) {
  const log = await openLog(await partitionDir(), undefined, undefined, { kind: 'replicated', checkpointed: 0 });
  const p = new Partition(topic, s, log, 't-0', LEADER, T0, () => minInsync);
  const append = async (n: number) => {
    const batch = buildRecordBatch({ records: Array.from({ length: n }, (_, i) => ({ value: `v${i}` })) });
    const checked = validateProducedBatches(batch);
    if (!checked.ok) throw new Error(checked.message);
    return log.append(batch, checked.batches, s.leaderEpoch);
  };
  /** A timeout that never fires unless the test calls the returned trigger. */
  let fire: () => void = () => undefined;
  const timeout = (onTimeout: () => void) => {
    fire = onTimeout;
    return () => (fire = () => undefined);
  };
  return { p, log, append, timeout, fireTimeout: () => fire() };
}

describe('a partition leader', () => {
  it('moves the high watermark to the smallest log end offset in the ISR', async () => {
    const { p, log, append } = await leaderWith();
    await append(5);
    expect(p.maybeAdvanceHighWatermark()).toBe(false);
    expect(log.highWatermark).toBe(0);
    p.recordFollowerFetch(2, 5, T0 + 1);
    expect(log.highWatermark).toBe(0);
    p.recordFollowerFetch(3, 3, T0 + 1);
    expect(log.highWatermark).toBe(3);
    p.recordFollowerFetch(3, 5, T0 + 2);
    expect(log.highWatermark).toBe(5);
  });

  it('completes acks=all once the high watermark passes the batch, and says when the ISR fell below min.insync.replicas', async () => {
    const { p, append, timeout } = await leaderWith(2);
    const appended = await append(2);
    const waiting = p.waitForHighWatermark(appended.lastOffset + 1, timeout);
    p.recordFollowerFetch(2, 2, T0 + 1);
    p.recordFollowerFetch(3, 2, T0 + 1);
    expect(await waiting).toBe(ErrorCode.NONE);

    p.state = { ...p.state, isr: [1] };
    const second = await append(1);
    const alone = p.waitForHighWatermark(second.lastOffset + 1, timeout);
    p.maybeAdvanceHighWatermark();
    expect(await alone).toBe(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  });

  it('fails produces still waiting when leadership moves, and times them out', async () => {
    const { p, append, timeout, fireTimeout } = await leaderWith();
    const a = await append(1);
    const timedOut = p.waitForHighWatermark(a.lastOffset + 1, timeout);
    fireTimeout();
    expect(await timedOut).toBe(ErrorCode.REQUEST_TIMED_OUT);
    const moved = p.waitForHighWatermark(a.lastOffset + 1, timeout);
    p.update(topic, state({ leader: 2, leaderEpoch: 4 }), T0);
    expect(await moved).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it('counts an ISR member out of sync after the lag time without catching up, and a caught-up follower ready to join', async () => {
    const { p, append } = await leaderWith(2, state({ isr: [1, 2] }));
    await append(4);
    p.recordFollowerFetch(2, 1, T0 + 100);
    expect(p.outOfSyncReplicas(T0 + 1000, 5000)).toEqual([]);
    expect(p.outOfSyncReplicas(T0 + 6000, 5000)).toEqual([2]);
    // Replica 3 is out of the ISR: it may join once it reaches the high watermark.
    expect(p.recordFollowerFetch(3, 0, T0 + 100)).toBe(false);
    p.recordFollowerFetch(2, 4, T0 + 200);
    expect(p.recordFollowerFetch(3, 4, T0 + 300)).toBe(true);
  });
});
