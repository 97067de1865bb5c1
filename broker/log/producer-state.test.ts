import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecordBatch, decodeRecords, scanBatches, validateProducedBatches } from '../protocol/record-batch.js';
import { PartitionLog, ProducerStateError } from './partition-log.js';
import { logConfig as config, openLog, partitionDir } from '../test/log-fixtures.js';
import { ProducerStateManager, lastSequenceOf, snapshotFileName } from './producer-state.js';

interface Idempotent {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  count?: number;
}

function send(log: PartitionLog, p: Idempotent, tag = 'r') {
  const n = p.count ?? 2;
  const batch = buildRecordBatch({
    records: Array.from({ length: n }, (_, i) => ({
      key: `k${p.baseSequence + i}`,
      value: `${tag}-${p.producerEpoch}-${p.baseSequence + i}`,
    })),
    producerId: p.producerId,
    producerEpoch: p.producerEpoch,
    baseSequence: p.baseSequence,
  });
  const checked = validateProducedBatches(batch);
  if (!checked.ok) throw new Error(checked.message);
  return log.append(batch, checked.batches, 0);
}

async function values(log: PartitionLog): Promise<string[]> {
  const read = await log.read(0, 1 << 20, true);
  if (!read.ok) throw new Error(read.message);
  const all = Buffer.concat(read.chunks);
  const scan = scanBatches(all, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
  return scan.batches.flatMap((b) =>
    decodeRecords(all.subarray(b.position, b.position + b.size)).map((r) => r.value!.toString()),
  );
}

async function crashCopy(dir: string): Promise<string> {
  const copy = `${dir}-crashed`;
  await mkdir(copy);
  for (const name of await readdir(dir))
    await copyFile(path.join(dir, name), path.join(copy, name)).catch(() => undefined);
  return copy;
}

describe('ProducerStateManager rules (Kafka 4)', () => {
  const b = (producerEpoch: number, baseSequence: number, lastOffsetDelta = 1) => ({
    producerId: 9,
    producerEpoch,
    baseSequence,
    lastOffsetDelta,
  });

  it('accepts an unknown producer at any sequence, then requires the next sequence', () => {
    const s = new ProducerStateManager();
    expect(s.check(b(0, 17))).toEqual({ kind: 'append' });
    s.update(b(0, 17), 100, 0);
    expect(s.check(b(0, 19))).toEqual({ kind: 'append' });
    expect(s.check(b(0, 20))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(s.check(b(0, 18))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });

  it('finds duplicates among the last five batches only, with their original offsets', () => {
    const s = new ProducerStateManager();
    for (let i = 0; i < 7; i++) s.update(b(0, i * 2), 10 * i, 0);
    expect(s.check(b(0, 12))).toEqual({ kind: 'duplicate', firstOffset: 60, lastOffset: 61 });
    expect(s.check(b(0, 4))).toEqual({ kind: 'duplicate', firstOffset: 20, lastOffset: 21 });
    expect(s.check(b(0, 2))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    // Same start, different length: not the same batch.
    expect(s.check(b(0, 12, 3))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });

  it('fences older epochs and requires a new epoch to start at sequence 0', () => {
    const s = new ProducerStateManager();
    s.update(b(3, 0), 0, 0);
    expect(s.check(b(2, 2))).toMatchObject({ kind: 'error', error: 'INVALID_PRODUCER_EPOCH' });
    expect(s.check(b(4, 2))).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(s.check(b(4, 0))).toEqual({ kind: 'append' });
    s.update(b(4, 0), 2, 0);
    expect(s.entry(9)?.batches).toHaveLength(1);
    expect(s.check(b(3, 0))).toMatchObject({ kind: 'error', error: 'INVALID_PRODUCER_EPOCH' });
  });

  it('wraps sequences from INT32_MAX to 0', () => {
    expect(lastSequenceOf(2 ** 31 - 2, 3)).toBe(1);
    const s = new ProducerStateManager();
    s.update(b(0, 2 ** 31 - 2, 1), 0, 0);
    expect(s.check(b(0, 0))).toEqual({ kind: 'append' });
  });

  it('round-trips through its snapshot bytes and rejects damaged ones', () => {
    const s = new ProducerStateManager();
    for (let i = 0; i < 8; i++)
      s.update({ producerId: i % 3, producerEpoch: i % 2, baseSequence: i, lastOffsetDelta: 0 }, i, 1000 + i);
    const bytes = s.serialize();
    const parsed = ProducerStateManager.parse(bytes);
    expect(parsed).toBeInstanceOf(ProducerStateManager);
    for (const id of [0, 1, 2]) expect((parsed as ProducerStateManager).entry(id)).toEqual(s.entry(id));
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 1] ^= 0xff;
    expect(ProducerStateManager.parse(damaged)).toMatch(/CRC/);
  });

  it('expires producers silent for longer than producer.id.expiration.ms', () => {
    const s = new ProducerStateManager();
    s.update(b(0, 0), 0, 1000);
    expect(s.expire(1000 + 24 * 3_600_000 + 1)).toBe(1);
    expect(s.entry(9)).toBeUndefined();
  });
});

describe('PartitionLog with idempotent producers', () => {
  it('acknowledges a retried batch with its original offsets and stores it once', async () => {
    const log = await openLog(await partitionDir());
    const first = await send(log, { producerId: 1, producerEpoch: 0, baseSequence: 0 });
    await send(log, { producerId: 2, producerEpoch: 0, baseSequence: 0 }, 'other');
    const retry = await send(log, { producerId: 1, producerEpoch: 0, baseSequence: 0 });
    expect(retry).toMatchObject({ baseOffset: first.baseOffset, lastOffset: first.lastOffset, duplicate: true });
    expect(log.logEndOffset).toBe(4);
    expect(await values(log)).toEqual(['r-0-0', 'r-0-1', 'other-0-0', 'other-0-1']);
  });

  it('acknowledges a retry that arrives while the original is still queued, after the original is written', async () => {
    const log = await openLog(await partitionDir());
    const [a, b] = await Promise.all([
      send(log, { producerId: 1, producerEpoch: 0, baseSequence: 0 }),
      send(log, { producerId: 1, producerEpoch: 0, baseSequence: 0 }),
    ]);
    expect(b).toMatchObject({ baseOffset: a.baseOffset, duplicate: true });
    expect(log.highWatermark).toBe(2);
  });

  it('refuses a sequence gap (OUT_OF_ORDER_SEQUENCE_NUMBER) and an old epoch (INVALID_PRODUCER_EPOCH) without writing', async () => {
    const log = await openLog(await partitionDir());
    await send(log, { producerId: 5, producerEpoch: 1, baseSequence: 0 });
    await expect(send(log, { producerId: 5, producerEpoch: 1, baseSequence: 5 })).rejects.toMatchObject({
      error: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    });
    await expect(send(log, { producerId: 5, producerEpoch: 0, baseSequence: 2 })).rejects.toBeInstanceOf(
      ProducerStateError,
    );
    await expect(send(log, { producerId: 5, producerEpoch: 0, baseSequence: 2 })).rejects.toMatchObject({
      error: 'INVALID_PRODUCER_EPOCH',
    });
    expect(log.logEndOffset).toBe(2);
    await send(log, { producerId: 5, producerEpoch: 1, baseSequence: 2 });
    expect(log.logEndOffset).toBe(4);
  });

  it('still deduplicates after a clean reopen (from the snapshot written on close)', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentBytes: 400 }));
    let last = { baseOffset: -1 };
    for (let i = 0; i < 20; i++) last = await send(log, { producerId: 3, producerEpoch: 0, baseSequence: i * 2 });
    await log.close();
    expect((await readdir(dir)).filter((n) => n.endsWith('.snapshot'))).toContain(snapshotFileName(40));
    const reopened = await openLog(dir, config({ segmentBytes: 400 }));
    expect(await send(reopened, { producerId: 3, producerEpoch: 0, baseSequence: 38 })).toMatchObject({
      baseOffset: last.baseOffset,
      duplicate: true,
    });
    await expect(send(reopened, { producerId: 3, producerEpoch: 0, baseSequence: 44 })).rejects.toMatchObject({
      error: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    });
    expect(reopened.logEndOffset).toBe(40);
  });

  it('still deduplicates after a kill -9: snapshot from the last roll plus the batches after it', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 400 });
    const log = await openLog(dir, cfg);
    let last = { baseOffset: -1 };
    for (let i = 0; i < 25; i++) last = await send(log, { producerId: 4, producerEpoch: 2, baseSequence: i * 2 });
    await log.flush();
    const copy = await crashCopy(dir);
    // Rolls happened, so snapshots exist, and the newest lies before the log end.
    expect((await readdir(copy)).filter((n) => n.endsWith('.snapshot')).length).toBeGreaterThan(0);
    const recovered = await openLog(copy, cfg);
    expect(recovered.logEndOffset).toBe(50);
    expect(await send(recovered, { producerId: 4, producerEpoch: 2, baseSequence: 48 })).toMatchObject({
      baseOffset: last.baseOffset,
      duplicate: true,
    });
    expect(await send(recovered, { producerId: 4, producerEpoch: 2, baseSequence: 50 })).toMatchObject({
      baseOffset: 50,
    });
    await expect(send(recovered, { producerId: 4, producerEpoch: 1, baseSequence: 52 })).rejects.toMatchObject({
      error: 'INVALID_PRODUCER_EPOCH',
    });
  });

  it('rebuilds the state from the log when there is no snapshot, and ignores snapshots beyond the log end', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir);
    for (let i = 0; i < 3; i++) await send(log, { producerId: 6, producerEpoch: 0, baseSequence: i * 2 });
    await log.flush();
    const copy = await crashCopy(dir);
    // A snapshot claiming offsets the log does not have (its tail was lost) must not be used.
    await writeFile(path.join(copy, snapshotFileName(1000)), new ProducerStateManager().serialize());
    const recovered = await openLog(copy);
    expect(await send(recovered, { producerId: 6, producerEpoch: 0, baseSequence: 4 })).toMatchObject({
      baseOffset: 4,
      duplicate: true,
    });
    expect((await readdir(copy)).includes(snapshotFileName(1000))).toBe(false);
  });

  it('keeps call order for appends that wait on async preparation (inOrder)', async () => {
    const log = await openLog(await partitionDir());
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batchOf = (i: number) => {
      const batch = buildRecordBatch({
        records: [{ key: 'k', value: `v${i}` }],
        producerId: 8,
        producerEpoch: 0,
        baseSequence: i,
      });
      const checked = validateProducedBatches(batch);
      if (!checked.ok) throw new Error(checked.message);
      return { batch, checked: checked.batches };
    };
    const first = batchOf(0);
    const slow = log.inOrder(
      gate.then(() => first),
      (p) => log.append(p.batch, p.checked, 0),
    );
    const second = batchOf(1);
    const fast = log.append(second.batch, second.checked, 0);
    release();
    expect((await slow).baseOffset).toBe(0);
    expect((await fast).baseOffset).toBe(1);
    expect(await values(log)).toEqual(['v0', 'v1']);
  });

  it('keeps order when a preparation fails', async () => {
    const log = await openLog(await partitionDir());
    const failing = log.inOrder(Promise.reject(new Error('bad batch')), () =>
      send(log, { producerId: -1, producerEpoch: -1, baseSequence: -1 }),
    );
    const next = send(log, { producerId: 11, producerEpoch: 0, baseSequence: 0 });
    await expect(failing).rejects.toThrow('bad batch');
    expect((await next).baseOffset).toBe(0);
  });
});
