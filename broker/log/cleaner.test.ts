import { copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CompressionCodec } from '../protocol/compression.js';
import {
  type RecordInput,
  buildCompressedBatch,
  compressionAt,
  decodeRecordsAsync,
  scanBatches,
  validateProducedBatches,
} from '../protocol/record-batch.js';
import { CLEANER_CHECKPOINT_FILE, LogCleaner, planCleaning, readCleanerCheckpoint } from './cleaner.js';
import type { LogConfig, PartitionLog } from './partition-log.js';
import {
  logConfig,
  openLog as openTrackedLog,
  openLogs,
  partitionDir as fixtureDir,
  silent,
} from '../test/log-fixtures.js';

const T0 = 1_700_000_000_000;
const DAY_MS = 86_400_000;

const partitionDir = () => fixtureDir('compacted');

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return logConfig({
    segmentBytes: 700,
    indexIntervalBytes: 128,
    cleanupPolicy: { compact: true, delete: false },
    minCleanableDirtyRatio: 0.01,
    deleteRetentionMs: DAY_MS,
    ...overrides,
  });
}

const openLog = (dir: string, cfg = config()) => openTrackedLog(dir, cfg);

async function append(log: PartitionLog, records: RecordInput[], compression: CompressionCodec = 'none') {
  const batch = await buildCompressedBatch({ records, compression });
  const checked = validateProducedBatches(batch);
  if (!checked.ok) throw new Error(checked.message);
  return log.append(batch, checked.batches, 0);
}

interface Written {
  offset: number;
  key: string | null;
  value: string | null;
}

/**
 * Writes `rounds` rounds over `keys` keys, two records per batch, so the log spans many small
 * segments; in round `r` key `k` gets value `k@r`, and keys listed in `deleteInRound[r]` get a
 * tombstone instead. Returns every record written, in offset order.
 */
async function writeRounds(
  log: PartitionLog,
  opts: { keys: number; rounds: number; deleteInRound?: Record<number, number[]>; codec?: CompressionCodec },
): Promise<Written[]> {
  const written: Written[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < opts.keys; k += 2) {
      const records: RecordInput[] = [k, k + 1]
        .filter((key) => key < opts.keys)
        .map((key) => ({
          key: `key-${key}`,
          value: opts.deleteInRound?.[r]?.includes(key) ? null : `key-${key}@${r}`,
          timestampMs: T0 + r * 1000 + key,
        }));
      const { baseOffset } = await append(log, records, opts.codec);
      records.forEach((rec, i) =>
        written.push({ offset: baseOffset + i, key: rec.key as string, value: rec.value as string | null }),
      );
    }
  }
  return written;
}

/** The latest record of every key: what a compacted log must still hold. */
function latestPerKey(written: Written[]): Written[] {
  const latest = new Map<string | null, Written>();
  for (const w of written) latest.set(w.key, w);
  return [...latest.values()].sort((a, b) => a.offset - b.offset);
}

async function readAllRecords(log: PartitionLog, from = log.logStartOffset): Promise<Written[]> {
  const out: Written[] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const read = await log.read(offset, 4096, true);
    if (!read.ok) throw new Error(read.message);
    if (read.bytes === 0) break;
    const all = Buffer.concat(read.chunks);
    const scan = scanBatches(all, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
    expect(scan.stop).toBe('end');
    for (const b of scan.batches) {
      for (const r of await decodeRecordsAsync(all.subarray(b.position, b.position + b.size))) {
        if (r.offset < offset) continue;
        out.push({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });
      }
      offset = b.lastOffset + 1;
    }
  }
  return out;
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
}

/** The record set of a log as the cleaner must leave it, for comparisons. */
function expectStrictlyIncreasing(records: Written[]): void {
  for (let i = 1; i < records.length; i++) expect(records[i].offset).toBeGreaterThan(records[i - 1].offset);
}

describe('log cleaner', () => {
  it('keeps only the latest record of each key in closed segments, with their original offsets', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir);
    const written = await writeRounds(log, { keys: 8, rounds: 6, deleteInRound: { 4: [3] } });
    await log.flush();
    const before = await segmentFiles(dir);
    const activeBase = log.segmentList.at(-1)!.baseOffset;

    const result = await new LogCleaner(silent).cleanIfNeeded(log, Date.now());
    expect(result).not.toBeNull();
    expect(result!.recordsRemoved).toBeGreaterThan(0);

    const after = await readAllRecords(log);
    expectStrictlyIncreasing(after);
    const closedPart = after.filter((r) => r.offset < activeBase);
    const activePart = after.filter((r) => r.offset >= activeBase);
    // The active segment is never touched.
    expect(activePart).toEqual(written.filter((w) => w.offset >= activeBase));
    // Below it: exactly the latest record of each key among the closed segments (the tombstone of key 3 included).
    expect(closedPart).toEqual(latestPerKey(written.filter((w) => w.offset < activeBase)));
    expect(closedPart.find((r) => r.key === 'key-3')).toMatchObject({ value: null });
    expect(result!.bytesAfter).toBeLessThan(result!.bytesBefore);
    expect(await segmentFiles(dir)).toEqual(before);
    expect(log.logEndOffset).toBe(written.length);
  });

  it('merges consecutive small segments into one while they fit segment.bytes', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir, config({ segmentBytes: 2000 }));
    // Many small segments: one batch each (segment.ms of 1 ms and timestamps 10 ms apart).
    log.updateConfig(config({ segmentBytes: 2000, segmentMs: 1 }));
    for (let i = 0; i < 12; i++) await append(log, [{ key: `k${i % 3}`, value: `v${i}`, timestampMs: T0 + i * 10 }]);
    log.updateConfig(config({ segmentBytes: 2000 }));
    await log.flush();
    expect((await segmentFiles(dir)).length).toBe(12);
    const result = await new LogCleaner(silent).cleanIfNeeded(log, Date.now());
    expect(result).toMatchObject({ segmentsBefore: 11, segmentsAfter: 1 });
    expect(await segmentFiles(dir)).toEqual([(await segmentFiles(dir))[0], (await segmentFiles(dir)).at(-1)]);
    expect((await readAllRecords(log)).map((r) => r.value)).toEqual(['v8', 'v9', 'v10', 'v11']);
  });

  it('drops tombstones only after delete.retention.ms and after a pass has cleaned their segment', async () => {
    const cleaner = new LogCleaner(silent);
    // A log whose last words on two keys are tombstones.
    const dir2 = await partitionDir();
    const log2 = await openLog(dir2, config({ deleteRetentionMs: 0 }));
    await writeRounds(log2, { keys: 6, rounds: 3 });
    await writeRounds(log2, { keys: 6, rounds: 1, deleteInRound: { 0: [2, 3] } });
    await append(log2, [{ key: 'filler', value: 'x'.repeat(800) }]); // rolls: the tombstones leave the active segment
    await append(log2, [{ key: 'filler', value: 'y' }]);
    await log2.flush();
    const tombstones = async () => (await readAllRecords(log2)).filter((r) => r.value === null).map((r) => r.key);

    const pass1 = await cleaner.cleanIfNeeded(log2, Date.now());
    expect(pass1?.tombstonesRemoved).toBe(0);
    expect(await tombstones()).toEqual(['key-2', 'key-3']);
    const checkpoint = await readCleanerCheckpoint(dir2, silent);
    expect(checkpoint.tombstoneDeadlineMs).not.toBeNull();

    // Nothing is dirty now, but the kept tombstones are due: the cleaner comes back for them.
    const plan = planCleaning(log2, checkpoint, Date.now() + 1);
    expect(plan.clean).toBe(true);
    const pass2 = await cleaner.cleanIfNeeded(log2, Date.now() + 1);
    expect(pass2?.tombstonesRemoved).toBe(2);
    expect(await tombstones()).toEqual([]);
    expect((await readAllRecords(log2)).map((r) => r.key)).not.toContain('key-2');
  });

  it('keeps tombstones while delete.retention.ms has not passed', async () => {
    const log = await openLog(await partitionDir(), config({ deleteRetentionMs: DAY_MS }));
    await writeRounds(log, { keys: 4, rounds: 2, deleteInRound: { 1: [1] } });
    await append(log, [{ key: 'filler', value: 'x'.repeat(800) }]);
    await append(log, [{ key: 'filler', value: 'y' }]);
    await log.flush();
    const cleaner = new LogCleaner(silent);
    await cleaner.cleanIfNeeded(log, Date.now());
    await cleaner.cleanIfNeeded(log, Date.now() + DAY_MS / 2);
    const records = await readAllRecords(log);
    expect(records.filter((r) => r.key === 'key-1')).toEqual([expect.objectContaining({ value: null })]);
    expect((await readCleanerCheckpoint(log.dir, silent)).tombstoneDeadlineMs).toBeGreaterThan(Date.now());
  });

  it('respects min.cleanable.dirty.ratio and min.compaction.lag.ms', async () => {
    const log = await openLog(await partitionDir(), config({ minCleanableDirtyRatio: 0.5 }));
    await writeRounds(log, { keys: 8, rounds: 6 });
    await log.flush();
    const cleaner = new LogCleaner(silent);
    expect(await cleaner.cleanIfNeeded(log, Date.now())).not.toBeNull();
    // A little new data is far below half of the log: not worth a pass.
    await writeRounds(log, { keys: 2, rounds: 2 });
    await log.flush();
    const plan = planCleaning(log, await cleaner.checkpoint(log), Date.now());
    expect(plan).toMatchObject({ clean: false });
    expect(await cleaner.cleanIfNeeded(log, Date.now())).toBeNull();

    // Records timestamped now are younger than a one-hour lag: nothing is cleanable.
    const young = await openLog(await partitionDir(), config({ minCompactionLagMs: 3_600_000 }));
    for (let i = 0; i < 40; i++) await append(young, [{ key: `k${i % 4}`, value: `v${i}`.padEnd(60, '.') }]);
    await young.flush();
    expect(planCleaning(young, await cleaner.checkpoint(young), Date.now())).toMatchObject({
      clean: false,
      reason: 'no closed segment is cleanable yet',
    });
    expect(planCleaning(young, await cleaner.checkpoint(young), Date.now() + 3_600_001)).toMatchObject({ clean: true });
  });

  it('re-encodes partly cleaned compressed batches with their own codec and keeps whole ones byte for byte', async () => {
    const log = await openLog(await partitionDir(), config({ segmentBytes: 900 }));
    const written = await writeRounds(log, { keys: 6, rounds: 6, codec: 'zstd' });
    await log.flush();
    await new LogCleaner(silent).cleanIfNeeded(log, Date.now());
    const activeBase = log.segmentList.at(-1)!.baseOffset;
    const read = await log.read(0, 1 << 20, true);
    if (!read.ok) throw new Error(read.message);
    const all = Buffer.concat(read.chunks);
    const scan = scanBatches(all, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
    expect(scan.stop).toBe('end');
    for (const b of scan.batches) expect(compressionAt(all, b.position)).toBe('zstd');
    const after = await readAllRecords(log);
    expect(after.filter((r) => r.offset < activeBase).length).toBeLessThan(
      written.filter((w) => w.offset < activeBase).length,
    );
    for (const w of latestPerKey(written)) expect(after).toContainEqual(w);
  });

  it('drops records without a key', async () => {
    const log = await openLog(await partitionDir());
    await append(log, [
      { key: null, value: 'orphan' },
      { key: 'a', value: 'a1' },
    ]);
    await writeRounds(log, { keys: 4, rounds: 4 });
    await log.flush();
    await new LogCleaner(silent).cleanIfNeeded(log, Date.now());
    expect((await readAllRecords(log)).map((r) => r.value)).not.toContain('orphan');
  });

  it('gives up a running pass on stop(), leaving the log as it was and no cleaned files', async () => {
    const log = await openLog(await partitionDir());
    await writeRounds(log, { keys: 8, rounds: 5 });
    await log.flush();
    const before = await readAllRecords(log);
    const cleaner = new LogCleaner(silent);
    const pass = cleaner.cleanIfNeeded(log, Date.now());
    cleaner.stop();
    expect(await pass).toBeNull();
    expect(await readAllRecords(log)).toEqual(before);
    expect((await readdir(log.dir)).filter((n) => n.endsWith('.cleaned') || n.endsWith('.swap'))).toEqual([]);
  });

  it('keeps the cleaned log and its checkpoint across a reopen', async () => {
    const dir = await partitionDir();
    const log = await openLog(dir);
    await writeRounds(log, { keys: 8, rounds: 5 });
    await log.flush();
    const cleaner = new LogCleaner(silent);
    const result = await cleaner.cleanIfNeeded(log, Date.now());
    const cleaned = await readAllRecords(log);
    await log.close();
    const reopened = await openLog(dir);
    expect(await readAllRecords(reopened)).toEqual(cleaned);
    expect((await readCleanerCheckpoint(dir, silent)).firstDirtyOffset).toBe(result!.cleanedUpTo);
    expect(await new LogCleaner(silent).cleanIfNeeded(reopened, Date.now())).toBeNull();
  });

  it('serves reads that run during a swap without skipping any record the log keeps', async () => {
    const log = await openLog(await partitionDir(), config({ segmentBytes: 500, indexIntervalBytes: 64 }));
    const cleaner = new LogCleaner(silent);
    // Every batch holds a key written once (kept for good) and a key rewritten all the time,
    // so every segment keeps records and also loses some.
    let n = 0;
    const writeMixed = async (batches: number) => {
      for (let i = 0; i < batches; i++, n++)
        await append(log, [
          { key: `once-${n}`, value: `o${n}` },
          { key: `churn-${n % 3}`, value: `c${n}` },
        ]);
    };
    const written: Written[] = [];
    await writeMixed(60);
    await log.flush();
    await cleaner.cleanIfNeeded(log, Date.now());
    // More writes make the cleaned segments dirty again; the second pass works on segments
    // with gaps, so reads land in gaps and move on to segments being swapped.
    await writeMixed(60);
    await log.flush();
    let cleaning = true;
    const cleaned = cleaner.cleanIfNeeded(log, Date.now()).finally(() => (cleaning = false));
    const end = log.highWatermark;
    const answers: Array<{ from: number; first: number }> = [];
    for (let round = 0; cleaning || round < 50; round++) {
      // Every offset, a byte at a time: each read returns the first batch holding it or after it.
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const from = (round * 40 + i) % end;
          const read = await log.read(from, 1, true);
          if (!read.ok) throw new Error(read.message);
          const all = Buffer.concat(read.chunks);
          const first = all.length === 0 ? undefined : (await decodeRecordsAsync(all)).find((r) => r.offset >= from);
          answers.push({ from, first: first?.offset ?? end });
        }),
      );
    }
    expect(await cleaned).not.toBeNull();
    const records = await readAllRecords(log, 0);
    expectStrictlyIncreasing(records);
    expect(written).toEqual([]);
    expect(records.filter((r) => r.key!.startsWith('once-'))).toHaveLength(n);
    // Every record the log kept was there before and during the pass: no read may have skipped one.
    const kept = records.map((r) => r.offset);
    for (const { from, first } of answers) {
      expect(
        kept.filter((o) => o >= from && o < first),
        `a read from ${from} answered from ${first}`,
      ).toEqual([]);
    }
    expect(answers.length).toBeGreaterThan(1000);
    // No reader rebuilt a replaced segment's index over the cleaned segment's files.
    await log.close();
    expect(
      await readAllRecords(await openLog(log.dir, config({ segmentBytes: 500, indexIntervalBytes: 64 })), 0),
    ).toEqual(records);
  });
});

describe('log cleaner crash safety', () => {
  async function copyDir(from: string, to: string): Promise<void> {
    await mkdir(to, { recursive: true });
    for (const name of await readdir(from)) await copyFile(path.join(from, name), path.join(to, name));
  }

  /** A closed log before cleaning (`before`) and the same log cleaned (`after`). */
  async function cleanedPair(): Promise<{
    before: string;
    after: string;
    expected: Written[];
    cleanedBases: string[];
  }> {
    const after = await partitionDir();
    const log = await openLog(after);
    await writeRounds(log, { keys: 8, rounds: 6 });
    await log.close();
    const before = `${after}-before`;
    await copyDir(after, before);
    const reopened = await openLog(after);
    const beforeFiles = new Set(await segmentFiles(after));
    await new LogCleaner(silent).cleanIfNeeded(reopened, Date.now());
    const expected = await readAllRecords(reopened);
    await reopened.close();
    openLogs.splice(openLogs.indexOf(reopened), 1);
    const cleanedBases = (await segmentFiles(after)).filter((n) => beforeFiles.has(n));
    return { before, after, expected, cleanedBases };
  }

  it('removes leftover .cleaned files on open and serves the uncleaned log', async () => {
    const { before, after } = await cleanedPair();
    const uncleaned = await readAllRecords(await openLog(before));
    await openLogs.pop()!.close();
    const first = (await segmentFiles(after))[0];
    await copyFile(path.join(after, first), path.join(before, `${first}.cleaned`));
    await writeFile(path.join(before, first.replace('.log', '.index.cleaned')), Buffer.alloc(8));
    const log = await openLog(before);
    expect(await readAllRecords(log)).toEqual(uncleaned);
    expect((await readdir(before)).filter((n) => n.endsWith('.cleaned'))).toEqual([]);
  });

  it.each([
    ['before the old segments were renamed', false],
    ['after the old segments were renamed .deleted', true],
  ])('completes a swap interrupted %s', async (_when, oldRemoved) => {
    const { before, after, expected } = await cleanedPair();
    const afterLogs = await segmentFiles(after);
    const active = afterLogs.at(-1)!;
    expect((await segmentFiles(before)).at(-1)).toBe(active);
    // The crash state: every cleaned segment as *.swap files beside (or instead of) the segments it replaces.
    for (const name of afterLogs.slice(0, -1)) {
      for (const suffix of ['.log', '.index', '.timeindex']) {
        const file = name.replace('.log', suffix);
        await copyFile(path.join(after, file), path.join(before, `${file}.swap`));
      }
    }
    if (oldRemoved) {
      for (const name of (await segmentFiles(before)).filter((n) => n !== active)) {
        for (const suffix of ['.log', '.index', '.timeindex']) {
          const file = path.join(before, name.replace('.log', suffix));
          await rename(file, `${file}.deleted`);
        }
      }
    }
    await rm(path.join(before, CLEANER_CHECKPOINT_FILE), { force: true });

    const log = await openLog(before);
    const recovered = await readAllRecords(log);
    expect((await readdir(before)).filter((n) => n.endsWith('.swap') || n.endsWith('.deleted'))).toEqual([]);
    expectStrictlyIncreasing(recovered);
    if (oldRemoved) {
      expect(recovered).toEqual(expected);
    } else {
      // Old segments holding only superseded records may survive (their offsets lie past the
      // swap's last offset, as in Kafka); a consumer still ends on every key's latest value.
      for (const r of expected) expect(recovered).toContainEqual(r);
      expect(latestPerKey(recovered)).toEqual(latestPerKey(expected));
    }
  });
});
