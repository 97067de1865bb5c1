import { copyFile, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type RecordInput,
  buildRecordBatch,
  decodeRecords,
  scanBatches,
  validateProducedBatches,
} from '../protocol/record-batch.js';
import type { PartitionLog } from './partition-log.js';
import { logConfig as config, openLog, openLogs, partitionDir } from '../test/log-fixtures.js';

const T0 = 1_700_000_000_000;

function append(log: PartitionLog, records: RecordInput[], producer?: { id: number; seq: number }) {
  const batch = buildRecordBatch({
    records,
    ...(producer && { producerId: producer.id, producerEpoch: 0, baseSequence: producer.seq }),
  });
  const checked = validateProducedBatches(batch);
  if (!checked.ok) throw new Error(checked.message);
  return log.append(batch, checked.batches, 0);
}

/** Batch i holds 1 + i % 3 records valued `m<offset>`, all at timestamp T0 + i. */
async function fill(log: PartitionLog, count: number, padding = 40): Promise<void> {
  for (let i = 0; i < count; i++) {
    const first = log.logEndOffset;
    await append(
      log,
      Array.from({ length: 1 + (i % 3) }, (_, j) => ({
        value: `m${first + j}`.padEnd(padding, '.'),
        timestampMs: T0 + i,
      })),
    );
  }
}

/** First offset of batch `i` written by fill() into an empty log. */
function firstOffsetOfBatch(i: number): number {
  let offset = 0;
  for (let j = 0; j < i; j++) offset += 1 + (j % 3);
  return offset;
}

function expectedValues(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `m${from + i}`);
}

/** Every record from the log start to the high watermark, one read per offset (so every index lookup is used). */
async function readEach(log: PartitionLog): Promise<string[]> {
  const values: string[] = [];
  for (let offset = log.logStartOffset; offset < log.highWatermark; offset++) {
    const read = await log.read(offset, 1, true);
    if (!read.ok) throw new Error(read.message);
    const all = Buffer.concat(read.chunks);
    const scan = scanBatches(all, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
    expect(scan.stop).toBe('end');
    const record = scan.batches
      .flatMap((b) => decodeRecords(all.subarray(b.position, b.position + b.size)))
      .find((r) => r.offset === offset);
    if (!record) throw new Error(`no record at offset ${offset}`);
    values.push(record.value!.toString().replace(/\.+$/, ''));
  }
  return values;
}

async function segmentBases(dir: string): Promise<number[]> {
  return (await readdir(dir)).filter((n) => /^\d{20}\.log$/.test(n)).map((n) => Number(n.slice(0, 20)));
}

/** The files a kill -9 would leave behind, taken while the log is open. */
async function crashCopy(log: PartitionLog): Promise<string> {
  const copy = `${log.dir}-crashed`;
  await mkdir(copy);
  for (const name of await readdir(log.dir)) await copyFile(path.join(log.dir, name), path.join(copy, name));
  return copy;
}

async function closeAndReopen(log: PartitionLog, cfg: ReturnType<typeof config>): Promise<PartitionLog> {
  openLogs.splice(openLogs.indexOf(log), 1);
  await log.close();
  return openLog(log.dir, cfg);
}

describe('PartitionLog.truncateTo', () => {
  it('cuts the active segment at a batch boundary; appends continue from there and read back', async () => {
    const dir = await partitionDir();
    const cfg = config({ indexIntervalBytes: 100 });
    const log = await openLog(dir, cfg);
    await fill(log, 20);
    const cut = firstOffsetOfBatch(12);

    expect(await log.truncateTo(cut)).toBe(cut);
    expect(log.logEndOffset).toBe(cut);
    expect(log.highWatermark).toBe(cut);
    expect(log.durableOffset).toBe(cut);
    expect(await readEach(log)).toEqual(expectedValues(0, cut));

    const next = await append(log, [{ value: 'again', timestampMs: T0 + 1 }]);
    expect(next.baseOffset).toBe(cut);
    expect((await readEach(log)).at(-1)).toBe('again');
  });

  it('removes the whole batch holding an offset inside it and reports the batch start as the new end', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ indexIntervalBytes: 100 }));
    await fill(log, 20);
    const batchStart = firstOffsetOfBatch(8); // batch 8 holds 3 records
    expect(await log.truncateTo(batchStart + 2)).toBe(batchStart);
    expect(log.logEndOffset).toBe(batchStart);
    expect(await readEach(log)).toEqual(expectedValues(0, batchStart));
    expect((await append(log, [{ value: 'next' }])).baseOffset).toBe(batchStart);
  });

  it('removes the segments past the cut, cuts the one holding it, and keeps log, indexes and end across a reopen', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1000, indexIntervalBytes: 128 });
    const log = await openLog(dir, cfg);
    await fill(log, 90);
    const basesBefore = await segmentBases(dir);
    expect(basesBefore.length).toBeGreaterThan(6);
    const cut = firstOffsetOfBatch(30);
    expect(basesBefore.some((b) => b > cut && b < log.logEndOffset)).toBe(true);

    expect(await log.truncateTo(cut)).toBe(cut);
    const holding = basesBefore.filter((b) => b <= cut).at(-1)!;
    expect(log.segmentList.at(-1)!.baseOffset).toBe(holding);
    expect(log.segmentList.map((s) => s.baseOffset)).toEqual(basesBefore.filter((b) => b <= cut));
    // Removed files are renamed away at once (file.delete.delay.ms is 0 here, so they go too).
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await segmentBases(dir)).toEqual(basesBefore.filter((b) => b <= cut));
    expect(await readEach(log)).toEqual(expectedValues(0, cut));

    // The cut segment is the active one again: appends go to it, then roll as usual.
    await fill(log, 30);
    const end = log.logEndOffset;
    const values = await readEach(log);
    expect(values.slice(0, cut)).toEqual(expectedValues(0, cut));
    expect(values).toHaveLength(end);

    const reopened = await closeAndReopen(log, cfg);
    expect(reopened.logEndOffset).toBe(end);
    expect(await readEach(reopened)).toEqual(values);
  });

  it('truncating to a segment base offset leaves that segment empty and active', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1000, indexIntervalBytes: 128 });
    const log = await openLog(dir, cfg);
    await fill(log, 60);
    const base = (await segmentBases(dir))[2];
    expect(await log.truncateTo(base)).toBe(base);
    expect(log.segmentList.at(-1)!.baseOffset).toBe(base);
    expect(log.segmentList.at(-1)!.size).toBe(0);
    expect((await stat(path.join(dir, `${String(base).padStart(20, '0')}.index`))).size).toBe(0);
    expect((await append(log, [{ value: `m${base}` }])).baseOffset).toBe(base);
    expect(await readEach(log)).toEqual(expectedValues(0, base + 1));
  });

  it('an unclean restart right after a truncation finds the same log end', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1000, indexIntervalBytes: 128 });
    const log = await openLog(dir, cfg);
    await fill(log, 90);
    const batchStart = firstOffsetOfBatch(40);
    const end = await log.truncateTo(batchStart + 1);
    expect(end).toBe(batchStart);
    expect(await readFile(path.join(dir, 'log.checkpoint'), 'utf8')).toContain(`recovery_point: ${end}`);

    const recovered = await openLog(await crashCopy(log), cfg);
    expect(recovered.logEndOffset).toBe(end);
    expect(await readEach(recovered)).toEqual(expectedValues(0, end));
  });

  it('keeps the indexes resolving offsets and timestamps, live and after a clean reopen', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1500, indexIntervalBytes: 100 });
    const log = await openLog(dir, cfg);
    await fill(log, 60);
    const cut = firstOffsetOfBatch(35);
    await log.truncateTo(cut + 1);

    const check = async (l: PartitionLog) => {
      // Batch i is at T0 + i: the first record at or after T0 + 20 is batch 20's first.
      expect(await l.offsetForTimestamp(T0 + 20)).toEqual({ offset: firstOffsetOfBatch(20), timestamp: T0 + 20 });
      expect(await l.offsetForTimestamp(T0 + 34)).toEqual({ offset: firstOffsetOfBatch(34), timestamp: T0 + 34 });
      expect(await l.offsetForTimestamp(T0 + 35)).toBeNull();
      expect(await l.maxTimestamp()).toEqual({ offset: firstOffsetOfBatch(34), timestamp: T0 + 34 });
      expect(await readEach(l)).toEqual(expectedValues(0, cut));
    };
    await check(log);
    const reopened = await closeAndReopen(log, cfg);
    await check(reopened);
    // Index files hold whole entries only, and nothing past the cut.
    for (const name of await readdir(dir)) {
      if (name.endsWith('.index')) expect((await stat(path.join(dir, name))).size % 8).toBe(0);
      if (name.endsWith('.timeindex')) expect((await stat(path.join(dir, name))).size % 12).toBe(0);
    }
  });

  it('is a no-op at or past the log end', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config());
    await fill(log, 5);
    const end = log.logEndOffset;
    expect(await log.truncateTo(end)).toBe(end);
    expect(await log.truncateTo(end + 100)).toBe(end);
    expect(await readEach(log)).toEqual(expectedValues(0, end));
  });

  it('below the log start offset empties the log and starts it again at the offset', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1000, retentionMs: -1 });
    const log = await openLog(dir, cfg);
    await fill(log, 60);
    const start = (await segmentBases(dir))[3] + 2;
    await log.deleteRecordsBefore(start);
    expect(log.logStartOffset).toBe(start);

    expect(await log.truncateTo(start - 5)).toBe(start - 5);
    expect(log.logStartOffset).toBe(start - 5);
    expect(log.logEndOffset).toBe(start - 5);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await segmentBases(dir)).toEqual([start - 5]);
    expect((await append(log, [{ value: `m${start - 5}` }])).baseOffset).toBe(start - 5);
    expect(await readEach(log)).toEqual([`m${start - 5}`]);

    const reopened = await closeAndReopen(log, cfg);
    expect(reopened.logStartOffset).toBe(start - 5);
    expect(reopened.logEndOffset).toBe(start - 4);
  });

  it('takes its turn with appends: earlier ones are written (then cut), later ones continue from the new end', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentBytes: 600 }));
    await fill(log, 10);
    const cut = firstOffsetOfBatch(7);
    const before = append(log, [{ value: 'before' }]);
    const truncated = log.truncateTo(cut);
    const after = append(log, [{ value: 'after' }]);
    expect((await before).baseOffset).toBe(firstOffsetOfBatch(10));
    expect(await truncated).toBe(cut);
    expect((await after).baseOffset).toBe(cut);
    expect(await readEach(log)).toEqual([...expectedValues(0, cut), 'after']);
  });

  it('rebuilds the producer state from what remains: a cut batch is accepted again, not taken as a duplicate', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 600 });
    const log = await openLog(dir, cfg);
    for (let seq = 0; seq < 10; seq++) await append(log, [{ value: `p${seq}` }], { id: 7, seq });
    // A reopen leaves a snapshot at the log end, past the cut: it must not be used.
    const reopened = await closeAndReopen(log, cfg);
    expect(await reopened.truncateTo(6)).toBe(6);
    expect((await readdir(dir)).filter((n) => n.endsWith('.snapshot')).every((n) => Number(n.slice(0, 20)) <= 6)).toBe(
      true,
    );
    const resent = await append(reopened, [{ value: 'p6' }], { id: 7, seq: 6 });
    expect(resent).toMatchObject({ baseOffset: 6 });
    expect(resent.duplicate).toBeUndefined();
    // A batch below the cut is still known.
    const retry = await append(reopened, [{ value: 'p5' }], { id: 7, seq: 5 });
    expect(retry).toMatchObject({ baseOffset: 5, duplicate: true });
  });
});
