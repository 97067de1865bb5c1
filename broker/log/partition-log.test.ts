import { copyFile, mkdir, open, readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  type RecordInput,
  buildRecordBatch,
  decodeRecords,
  isCrcValid,
  readBatchHeader,
  scanBatches,
  validateProducedBatches,
} from '../protocol/record-batch.js';
import { PartitionLog } from './partition-log.js';
import { logConfig as config, openLog, openLogs, partitionDir } from '../test/log-fixtures.js';

const T0 = 1_700_000_000_000;
function capturingLogger(): { logger: Logger; events: Array<{ level: number; msg: string }> } {
  type Event = { level: number; msg: string };
  const events: Event[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void events.push(JSON.parse(line) as Event) });
  return { logger, events };
}

function append(log: PartitionLog, records: RecordInput[], leaderEpoch = 0) {
  const batch = buildRecordBatch({ records });
  const checked = validateProducedBatches(batch);
  if (!checked.ok) throw new Error(checked.message);
  return log.append(batch, checked.batches, leaderEpoch);
}

/** Appends `count` batches of 1-3 records whose values name their offsets; returns the last batch's size. */
async function fill(
  log: PartitionLog,
  count: number,
  opts: { padding?: number; timestampMs?: (batch: number) => number } = {},
) {
  let lastBatchRecords = 0;
  for (let i = 0; i < count; i++) {
    const n = 1 + (i % 3);
    const first = log.logEndOffset;
    const ts = opts.timestampMs?.(i) ?? T0 + i;
    await append(
      log,
      Array.from({ length: n }, (_, j) => ({
        value: `m${first + j}`.padEnd(opts.padding ?? 40, '.'),
        timestampMs: ts,
      })),
    );
    lastBatchRecords = n;
  }
  return { lastBatchRecords };
}

/** Splits fetched chunks into batches, checking each is whole and valid. */
function batchesIn(chunks: Buffer[]): Buffer[] {
  const all = Buffer.concat(chunks);
  const scan = scanBatches(all, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
  expect(scan.stop).toBe('end');
  return scan.batches.map((b) => all.subarray(b.position, b.position + b.size));
}

async function readAll(log: PartitionLog): Promise<string[]> {
  const values: string[] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const read = await log.read(offset, 1000, true);
    if (!read.ok) throw new Error(read.message);
    const records = batchesIn(read.chunks).flatMap((b) => decodeRecords(b));
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      if (r.offset < offset) continue;
      expect(r.offset).toBe(offset);
      values.push(r.value!.toString().replace(/\.+$/, ''));
      offset++;
    }
  }
  return values;
}

/** First offset of batch `i` written by fill(). */
function firstOffsetOfBatch(i: number): number {
  let offset = 0;
  for (let j = 0; j < i; j++) offset += 1 + (j % 3);
  return offset;
}

function expectedValues(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `m${from + i}`);
}

async function files(dir: string, suffix: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(suffix)).sort();
}

/**
 * The files a kill -9 would leave behind: a copy of the directory taken while the log is open.
 * Background checkpoint writes may rename a file away mid-copy; it is then simply not there.
 */
async function crashCopy(log: PartitionLog): Promise<string> {
  const copy = `${log.dir}-crashed`;
  await mkdir(copy);
  for (const name of await readdir(log.dir)) {
    await copyFile(path.join(log.dir, name), path.join(copy, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  return copy;
}

describe('PartitionLog appends and reads', () => {
  it('round-trips batches across several segment rolls and a clean reopen', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 2000, indexIntervalBytes: 256 });
    const log = await openLog(dir, cfg);
    await fill(log, 90);
    const end = log.logEndOffset;
    expect(end).toBe(180);
    expect(log.highWatermark).toBe(end);
    expect((await files(dir, '.log')).length).toBeGreaterThan(5);
    expect(await readAll(log)).toEqual(expectedValues(0, end));

    await log.close();
    await expect(stat(path.join(dir, '.clean_shutdown'))).resolves.toBeTruthy();
    const reopened = await openLog(dir, cfg);
    await expect(stat(path.join(dir, '.clean_shutdown'))).rejects.toThrow();
    expect(reopened.logEndOffset).toBe(end);
    expect(await readAll(reopened)).toEqual(expectedValues(0, end));
    const next = await append(reopened, [{ value: `m${end}` }]);
    expect(next.baseOffset).toBe(end);
  });

  it('names segments by their 20-digit base offset with .index and .timeindex beside them', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentBytes: 600, indexIntervalBytes: 100 }));
    await fill(log, 20);
    await log.close();
    const logs = await files(dir, '.log');
    expect(logs[0]).toBe('00000000000000000000.log');
    for (const name of logs) {
      expect(name).toMatch(/^\d{20}\.log$/);
      const base = name.slice(0, 20);
      await expect(stat(path.join(dir, `${base}.index`))).resolves.toBeTruthy();
      await expect(stat(path.join(dir, `${base}.timeindex`))).resolves.toBeTruthy();
    }
    const second = Number(logs[1].slice(0, 20));
    const read = await (await openLog(dir, config())).read(second, 100, true);
    expect(read.ok && readBatchHeader(batchesIn(read.chunks)[0]).baseOffset).toBe(second);
  });

  it('lands on the batch holding every offset, live, after reopen, and with rebuilt indexes', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 3000, indexIntervalBytes: 100 });
    const log = await openLog(dir, cfg);
    await fill(log, 70);
    const end = log.logEndOffset;
    const check = async (l: PartitionLog) => {
      for (let offset = 0; offset < end; offset++) {
        const read = await l.read(offset, 1, true);
        if (!read.ok) throw new Error(read.message);
        const batches = batchesIn(read.chunks);
        expect(batches).toHaveLength(1);
        const h = readBatchHeader(batches[0]);
        expect(h.baseOffset).toBeLessThanOrEqual(offset);
        expect(h.baseOffset + h.lastOffsetDelta).toBeGreaterThanOrEqual(offset);
      }
    };
    await check(log);
    await log.close();
    await check(await openLog(dir, cfg));
    await openLogs.pop()!.close();
    for (const name of [...(await files(dir, '.index')), ...(await files(dir, '.timeindex'))])
      await unlink(path.join(dir, name));
    await check(await openLog(dir, cfg));
  });

  it('returns whole batches within maxBytes, and the first batch whole when over it only with minOneBatch (KIP-74)', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config());
    for (let i = 0; i < 4; i++) await append(log, [{ value: 'x'.repeat(300) }]);
    const one = await log.read(0, 1, true);
    if (!one.ok) throw new Error(one.message);
    const batchBytes = one.bytes;
    expect(batchBytes).toBeGreaterThan(300);
    expect(await log.read(0, batchBytes - 1, false)).toEqual({ ok: true, chunks: [], bytes: 0 });
    const two = await log.read(1, 3 * batchBytes - 1, false);
    expect(two.ok && two.bytes).toBe(2 * batchBytes);
    expect(two.ok && batchesIn(two.chunks).map((b) => readBatchHeader(b).baseOffset)).toEqual([1, 2]);
  });

  it('answers OFFSET_OUT_OF_RANGE below the log start and above the log end, and nothing at the end', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config());
    await fill(log, 4);
    const end = log.logEndOffset;
    expect((await log.read(end + 1, 1000, true)).ok).toBe(false);
    expect(await log.read(-1, 1000, true)).toMatchObject({ ok: false, error: 'OFFSET_OUT_OF_RANGE' });
    expect(await log.read(end, 1000, true)).toEqual({ ok: true, chunks: [], bytes: 0 });
  });

  it('keeps call order for concurrent appends, coalesced across segment rolls', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentBytes: 4000, indexIntervalBytes: 200 }));
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => append(log, [{ value: `m${i}` }])));
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect((await files(dir, '.log')).length).toBeGreaterThan(3);
    expect(await readAll(log)).toEqual(expectedValues(0, 400));
  });

  it('stamps the assigned base offset and the leader epoch into stored batches', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config());
    await fill(log, 3);
    await append(log, [{ value: 'a' }, { value: 'b' }], 7);
    const read = await log.read(6, 1000, true);
    const h = read.ok ? readBatchHeader(batchesIn(read.chunks)[0]) : undefined;
    expect(h).toMatchObject({ baseOffset: 6, partitionLeaderEpoch: 7, lastOffsetDelta: 1 });
  });

  it('rolls by segment.ms, measured in message time from the first batch', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentMs: 1000 }));
    await append(log, [{ value: 'a', timestampMs: T0 }]);
    await append(log, [{ value: 'b', timestampMs: T0 + 900 }]);
    expect(await files(dir, '.log')).toHaveLength(1);
    await append(log, [{ value: 'c', timestampMs: T0 + 1500 }]);
    expect(await files(dir, '.log')).toEqual(['00000000000000000000.log', '00000000000000000002.log']);
  });

  it('under LogAppendTime sets the batch max timestamp and keeps the CRC valid', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ messageTimestampType: 'LogAppendTime' }));
    const before = Date.now();
    await append(log, [{ value: 'a', timestampMs: T0 }]);
    // A later millisecond, so the two batches' append times differ.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const appended = await append(log, [
      { value: 'b', timestampMs: T0 },
      { value: 'c', timestampMs: T0 + 5 },
    ]);
    expect(appended.logAppendTimeMs).toBeGreaterThanOrEqual(before);
    const read = await log.read(1, 1000, true);
    const batch = read.ok ? batchesIn(read.chunks)[0] : Buffer.alloc(0);
    const h = readBatchHeader(batch);
    expect(h.attributes & 0x08).toBe(0x08);
    expect(h.maxTimestamp).toBe(appended.logAppendTimeMs);
    expect(isCrcValid(batch, 0, batch.length)).toBe(true);
    expect(decodeRecords(batch).map((r) => r.timestampMs)).toEqual([
      appended.logAppendTimeMs,
      appended.logAppendTimeMs,
    ]);
    expect(await log.offsetForTimestamp(appended.logAppendTimeMs)).toEqual({
      offset: 1,
      timestamp: appended.logAppendTimeMs,
    });
    expect(await log.maxTimestamp()).toEqual({ offset: 1, timestamp: appended.logAppendTimeMs });
  });

  it('fsyncs per flush.messages and records the recovery point on flush()', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ flushMessages: 1 }));
    await fill(log, 5);
    await log.flush();
    expect(await readFile(path.join(dir, 'log.checkpoint'), 'utf8')).toContain(`recovery_point: ${log.logEndOffset}`);
  });

  it('rejects appends after close', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config());
    await log.close();
    await expect(append(log, [{ value: 'late' }])).rejects.toThrow(/closed/);
  });
});

describe('PartitionLog timestamps', () => {
  it('finds the first record at or after a timestamp, across segments and after reopen (ListOffsets)', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 500, indexIntervalBytes: 100 });
    const log = await openLog(dir, cfg);
    // Batch i holds records at T0 + 100i + {10, 5, 20}: not ordered inside the batch.
    for (let i = 0; i < 30; i++) {
      const base = T0 + 100 * i;
      await append(log, [
        { value: `a${i}`, timestampMs: base + 10 },
        { value: `b${i}`, timestampMs: base + 5 },
        { value: `c${i}`, timestampMs: base + 20 },
      ]);
    }
    const check = async (l: PartitionLog) => {
      expect(await l.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: T0 + 10 });
      expect(await l.offsetForTimestamp(T0 + 1706)).toEqual({ offset: 51, timestamp: T0 + 1710 });
      expect(await l.offsetForTimestamp(T0 + 1711)).toEqual({ offset: 53, timestamp: T0 + 1720 });
      expect(await l.offsetForTimestamp(T0 + 1721)).toEqual({ offset: 54, timestamp: T0 + 1810 });
      expect(await l.offsetForTimestamp(T0 + 2920)).toEqual({ offset: 89, timestamp: T0 + 2920 });
      expect(await l.offsetForTimestamp(T0 + 2921)).toBeNull();
      expect(await l.maxTimestamp()).toEqual({ offset: 89, timestamp: T0 + 2920 });
    };
    expect((await files(dir, '.log')).length).toBeGreaterThan(3);
    await check(log);
    await log.close();
    await check(await openLog(dir, cfg));
  });

  it('reports the first record carrying the largest timestamp (MAX_TIMESTAMP)', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentBytes: 300 }));
    expect(await log.maxTimestamp()).toBeNull();
    await append(log, [{ value: 'a', timestampMs: T0 + 1 }]);
    await append(log, [
      { value: 'b', timestampMs: T0 + 2 },
      { value: 'c', timestampMs: T0 + 50 },
      { value: 'd', timestampMs: T0 + 50 },
    ]);
    await append(log, [{ value: 'e', timestampMs: T0 + 3 }]);
    await append(log, [{ value: 'f', timestampMs: T0 + 50 }]);
    expect(await log.maxTimestamp()).toEqual({ offset: 2, timestamp: T0 + 50 });
  });
});

describe('PartitionLog recovery', () => {
  it('recovers every completed write after a kill -9', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1500, indexIntervalBytes: 128 });
    const log = await openLog(dir, cfg);
    await fill(log, 40);
    const crashed = await crashCopy(log);
    const { logger, events } = capturingLogger();
    const recovered = await openLog(crashed, cfg, logger);
    expect(recovered.logEndOffset).toBe(log.logEndOffset);
    expect(await readAll(recovered)).toEqual(expectedValues(0, log.logEndOffset));
    expect(events.find((e) => e.msg.includes('not shut down cleanly'))?.level).toBe(40);
  });

  it('truncates a segment cut mid-batch and continues from the last whole batch', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1500, indexIntervalBytes: 128 });
    const log = await openLog(dir, cfg);
    const { lastBatchRecords } = await fill(log, 40);
    const end = log.logEndOffset;
    const crashed = await crashCopy(log);
    const active = path.join(crashed, (await files(crashed, '.log')).at(-1)!);
    await truncate(active, (await stat(active)).size - 7);

    const { logger, events } = capturingLogger();
    const recovered = await openLog(crashed, cfg, logger);
    const kept = end - lastBatchRecords;
    expect(recovered.logEndOffset).toBe(kept);
    expect(await readAll(recovered)).toEqual(expectedValues(0, kept));
    expect(events.find((e) => e.msg === 'truncated invalid tail of log segment')?.level).toBe(40);

    await append(recovered, [{ value: `m${kept}` }]);
    await recovered.close();
    const again = await openLog(crashed, cfg);
    expect(await readAll(again)).toEqual(expectedValues(0, kept + 1));
  });

  it('truncates a corrupted tail (bytes flipped in the last batch)', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1500, indexIntervalBytes: 128 });
    const log = await openLog(dir, cfg);
    const { lastBatchRecords } = await fill(log, 40);
    const end = log.logEndOffset;
    const crashed = await crashCopy(log);
    const active = path.join(crashed, (await files(crashed, '.log')).at(-1)!);
    const fh = await open(active, 'r+');
    const { size } = await fh.stat();
    await fh.write(Buffer.from([0xde, 0xad]), 0, 2, size - 10);
    await fh.close();

    const recovered = await openLog(crashed, cfg);
    expect(recovered.logEndOffset).toBe(end - lastBatchRecords);
    expect(await readAll(recovered)).toEqual(expectedValues(0, end - lastBatchRecords));
  });

  it('rebuilds deleted index files of closed and active segments after a clean shutdown', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1500, indexIntervalBytes: 100 });
    const log = await openLog(dir, cfg);
    await fill(log, 40, { timestampMs: (i) => T0 + 1000 * i });
    const end = log.logEndOffset;
    await log.close();
    for (const name of [...(await files(dir, '.index')), ...(await files(dir, '.timeindex'))])
      await unlink(path.join(dir, name));

    const { logger, events } = capturingLogger();
    const reopened = await openLog(dir, cfg, logger);
    expect(events.filter((e) => e.msg === 'rebuilding log segment index').length).toBe(
      (await files(dir, '.log')).length,
    );
    expect(reopened.logEndOffset).toBe(end);
    expect(await readAll(reopened)).toEqual(expectedValues(0, end));
    expect(await reopened.offsetForTimestamp(T0 + 20_500)).toEqual({
      offset: firstOffsetOfBatch(21),
      timestamp: T0 + 21_000,
    });
    expect((await files(dir, '.index')).length).toBe((await files(dir, '.log')).length);
  });

  it('rebuilds a damaged index of a closed segment when it is first read', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1500, indexIntervalBytes: 100 });
    const log = await openLog(dir, cfg);
    await fill(log, 40);
    const end = log.logEndOffset;
    await log.close();
    // Whole 8-byte entries pass the checks made at open, but the offsets run backwards.
    const garbage = Buffer.alloc(16);
    garbage.writeInt32BE(50, 0);
    garbage.writeInt32BE(3, 8);
    await writeFile(path.join(dir, (await files(dir, '.index'))[0]), garbage);

    const { logger, events } = capturingLogger();
    const reopened = await openLog(dir, cfg, logger);
    expect(await readAll(reopened)).toEqual(expectedValues(0, end));
    expect(events.find((e) => e.msg === 'rebuilding log segment index')?.level).toBe(40);
  });
});

describe('PartitionLog retention', () => {
  it('deletes whole old segments by time, advances the log start offset, and keeps it across a reopen', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1000, retentionMs: 10_000 });
    const log = await openLog(dir, cfg);
    await fill(log, 40, { timestampMs: (i) => T0 + 1000 * i });
    const end = log.logEndOffset;
    const before = await files(dir, '.log');

    const deleted = await log.applyRetention(T0 + 25_000);
    expect(deleted).toBeGreaterThan(0);
    const after = await files(dir, '.log');
    expect(after).toEqual(before.slice(deleted));
    const start = log.logStartOffset;
    expect(start).toBe(Number(after[0].slice(0, 20)));
    // Every record older than now - retention.ms was in a deleted segment or shares one with a newer record.
    const oldestKept = await log.offsetForTimestamp(0);
    expect(oldestKept?.offset).toBe(start);
    expect(oldestKept!.timestamp).toBeLessThanOrEqual(T0 + 15_000);
    expect(await log.read(start - 1, 1000, true)).toMatchObject({ ok: false, error: 'OFFSET_OUT_OF_RANGE' });
    expect(await readAll(log)).toEqual(expectedValues(start, end));

    await log.close();
    const reopened = await openLog(dir, cfg);
    expect(reopened.logStartOffset).toBe(start);
    expect(await readAll(reopened)).toEqual(expectedValues(start, end));
  });

  it('deletes whole old segments by size down to retention.bytes', async () => {
    const dir = await partitionDir();
    const retentionBytes = 3000;
    const cfg = config({ segmentBytes: 1000, retentionBytes, retentionMs: -1 });
    const log = await openLog(dir, cfg);
    await fill(log, 60);
    const sizes = async () =>
      Promise.all((await files(dir, '.log')).map(async (n) => (await stat(path.join(dir, n))).size));
    const total = (await sizes()).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(2 * retentionBytes);

    const deleted = await log.applyRetention(Date.now());
    expect(deleted).toBeGreaterThan(0);
    const remaining = await sizes();
    const kept = remaining.reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThanOrEqual(retentionBytes);
    expect(kept - remaining[0]).toBeLessThan(retentionBytes);
    expect(await log.applyRetention(Date.now())).toBe(0);

    const start = log.logStartOffset;
    await log.close();
    expect((await openLog(dir, cfg)).logStartOffset).toBe(start);
  });

  it('rolls an expired active segment so an idle partition ages out completely', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1000, retentionMs: 10_000 });
    const log = await openLog(dir, cfg);
    await fill(log, 20, { timestampMs: (i) => T0 + i });
    const end = log.logEndOffset;
    await log.applyRetention(T0 + 60_000);
    expect(log.logStartOffset).toBe(end);
    expect(await files(dir, '.log')).toEqual([`${String(end).padStart(20, '0')}.log`]);
    expect(await log.read(end, 1000, true)).toEqual({ ok: true, chunks: [], bytes: 0 });
    expect((await append(log, [{ value: `m${end}` }])).baseOffset).toBe(end);
    expect(await readAll(log)).toEqual([`m${end}`]);
  });

  it('keeps serving a read that started before retention deleted its segment', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentBytes: 1000, retentionMs: 0 }));
    await fill(log, 30, { timestampMs: () => T0 });
    const reading = log.read(0, 100_000, true);
    await log.applyRetention(T0 + 1);
    const read = await reading;
    expect(read.ok).toBe(true);
  });

  it('drops segments wholly below a checkpointed log start offset on open (a crash before their deletion)', async () => {
    const dir = await partitionDir();
    const cfg = config({ segmentBytes: 1000 });
    const log = await openLog(dir, cfg);
    await fill(log, 40);
    const end = log.logEndOffset;
    await log.close();
    const bases = (await files(dir, '.log')).map((n) => Number(n.slice(0, 20)));
    const start = bases[2] + 1;
    await writeFile(
      path.join(dir, 'log.checkpoint'),
      `version: 0\nlog_start_offset: ${start}\nrecovery_point: ${end}\n`,
    );

    const reopened = await openLog(dir, cfg);
    expect(reopened.logStartOffset).toBe(start);
    expect((await files(dir, '.log')).map((n) => Number(n.slice(0, 20)))).toEqual(bases.slice(2));
    expect(await readAll(reopened)).toEqual(expectedValues(start, end));
  });

  it('unlinks deleted segment files after file.delete.delay.ms', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentBytes: 1000, retentionMs: 0, fileDeleteDelayMs: 50 }));
    await fill(log, 30, { timestampMs: () => T0 });
    await log.applyRetention(T0 + 1);
    expect((await readdir(dir)).some((n) => n.endsWith('.deleted'))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await readdir(dir)).some((n) => n.endsWith('.deleted'))).toBe(false);
  });
});
