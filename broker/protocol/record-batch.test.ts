import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { rawBatch, refreshCrc } from '../test/bombs.js';
import {
  BatchField,
  RECORD_BATCH_OVERHEAD,
  buildRecordBatch,
  checkRecords,
  decodeRecords,
  isCrcValid,
  readBatchHeader,
  rewriteBaseOffsetAndEpoch,
  scanBatches,
  setLogAppendTime,
  validateProducedBatches,
  writeInt64,
} from './record-batch.js';

const T0 = 1_700_000_000_000;

function sample(records = 3): Buffer {
  return buildRecordBatch({
    records: Array.from({ length: records }, (_, i) => ({ key: `k${i}`, value: `v${i}`, timestampMs: T0 + i })),
  });
}

/** Applies `edit` to a copy of the batch and fixes up its CRC, as a well-formed but invalid client batch. */
function patched(batch: Buffer, edit: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(batch);
  edit(copy);
  copy.writeUInt32BE(crc32c(copy.subarray(BatchField.attributes)), BatchField.crc);
  return copy;
}

function rejection(buf: Buffer, maxMessageBytes?: number, segmentBytes?: number): string {
  const result = validateProducedBatches(buf, maxMessageBytes, segmentBytes);
  return result.ok ? 'ok' : result.error;
}

describe('buildRecordBatch and decodeRecords', () => {
  it('round-trip keys, values, nulls, headers and timestamps', () => {
    const batch = buildRecordBatch({
      baseOffset: 40,
      records: [
        {
          key: 'a',
          value: 'one',
          timestampMs: T0 + 5,
          headers: [
            { key: 'h', value: 'x' },
            { key: 'n', value: null },
          ],
        },
        { key: null, value: null, timestampMs: T0 },
        { value: Buffer.alloc(1000, 7), timestampMs: T0 + 9 },
      ],
    });
    const h = readBatchHeader(batch);
    expect(h).toMatchObject({
      baseOffset: 40,
      magic: 2,
      lastOffsetDelta: 2,
      recordCount: 3,
      baseTimestamp: T0 + 5,
      maxTimestamp: T0 + 9,
    });
    expect(h.batchLength).toBe(batch.length - 12);
    expect(isCrcValid(batch, 0, batch.length)).toBe(true);
    const records = decodeRecords(batch);
    expect(records.map((r) => r.offset)).toEqual([40, 41, 42]);
    expect(records.map((r) => r.timestampMs)).toEqual([T0 + 5, T0, T0 + 9]);
    expect(records[0].key?.toString()).toBe('a');
    expect(records[0].headers.map((x) => [x.key, x.value?.toString() ?? null])).toEqual([
      ['h', 'x'],
      ['n', null],
    ]);
    expect(records[1].key).toBeNull();
    expect(records[1].value).toBeNull();
    expect(records[2].value?.equals(Buffer.alloc(1000, 7))).toBe(true);
  });
});

describe('validateProducedBatches (Kafka 4 semantics)', () => {
  it('accepts one valid batch and reports what the log needs', () => {
    const batch = buildRecordBatch({
      records: [
        { value: 'a', timestampMs: T0 },
        { value: 'b', timestampMs: T0 + 7 },
      ],
      producerId: 12,
      producerEpoch: 3,
      baseSequence: 40,
      isTransactional: true,
    });
    const result = validateProducedBatches(batch);
    expect(result).toEqual({
      ok: true,
      batches: [
        {
          position: 0,
          size: batch.length,
          recordCount: 2,
          lastOffsetDelta: 1,
          maxTimestamp: T0 + 7,
          producerId: 12,
          producerEpoch: 3,
          baseSequence: 40,
          compression: 'none',
          isControl: false,
          isTransactional: true,
        },
      ],
    });
  });

  it('ignores trailing bytes that do not frame a batch, as Kafka trims them', () => {
    const batch = sample();
    const result = validateProducedBatches(Buffer.concat([batch, Buffer.alloc(5)]));
    expect(result.ok && result.batches[0].size).toBe(batch.length);
  });

  it('rejects an empty or truncated record set with INVALID_RECORD (no complete batch)', () => {
    expect(rejection(Buffer.alloc(0))).toBe('INVALID_RECORD');
    expect(rejection(sample().subarray(0, 70))).toBe('INVALID_RECORD');
  });

  it('rejects a batch length below the minimum record overhead with CORRUPT_MESSAGE', () => {
    const b = Buffer.from(sample());
    b.writeInt32BE(10, BatchField.batchLength);
    expect(rejection(b)).toBe('CORRUPT_MESSAGE');
  });

  it('rejects a batch shorter than its header with CORRUPT_MESSAGE', () => {
    const b = Buffer.from(sample());
    b.writeInt32BE(30, BatchField.batchLength);
    expect(rejection(b.subarray(0, 42))).toBe('CORRUPT_MESSAGE');
  });

  it('rejects magic 0 and 1 with UNSUPPORTED_VERSION and an unknown magic with CORRUPT_MESSAGE', () => {
    for (const magic of [0, 1]) {
      const old = Buffer.from(sample());
      old.writeInt8(magic, BatchField.magic);
      expect(rejection(old)).toBe('UNSUPPORTED_VERSION');
    }
    const v3 = Buffer.from(sample());
    v3.writeInt8(3, BatchField.magic);
    expect(rejection(v3)).toBe('CORRUPT_MESSAGE');
  });

  it('rejects more than one batch per partition with INVALID_RECORD', () => {
    expect(rejection(Buffer.concat([sample(), sample()]))).toBe('INVALID_RECORD');
  });

  it('rejects a nonzero base offset with INVALID_RECORD', () => {
    expect(rejection(buildRecordBatch({ baseOffset: 5, records: [{ value: 'x' }] }))).toBe('INVALID_RECORD');
  });

  it('rejects a batch over max.message.bytes with MESSAGE_TOO_LARGE and over segment.bytes with RECORD_LIST_TOO_LARGE', () => {
    const batch = sample();
    expect(rejection(batch, batch.length - 1)).toBe('MESSAGE_TOO_LARGE');
    expect(rejection(batch, batch.length)).toBe('ok');
    expect(rejection(batch, undefined, batch.length - 1)).toBe('RECORD_LIST_TOO_LARGE');
  });

  it('rejects a CRC mismatch with CORRUPT_MESSAGE', () => {
    const b = Buffer.from(sample());
    b[b.length - 2] ^= 0xff;
    expect(rejection(b)).toBe('CORRUPT_MESSAGE');
  });

  it('rejects inconsistent counts with INVALID_RECORD', () => {
    expect(rejection(patched(sample(3), (b) => b.writeInt32BE(3, BatchField.lastOffsetDelta)))).toBe('INVALID_RECORD');
    expect(rejection(patched(sample(3), (b) => b.writeInt32BE(0, BatchField.recordCount)))).toBe('INVALID_RECORD');
    expect(rejection(patched(sample(3), (b) => b.writeInt32BE(-1, BatchField.lastOffsetDelta)))).toBe('INVALID_RECORD');
  });

  it('rejects control batches and idempotent batches without a sequence with INVALID_RECORD', () => {
    expect(rejection(patched(sample(), (b) => b.writeInt16BE(0x20, BatchField.attributes)))).toBe('INVALID_RECORD');
    expect(rejection(patched(sample(), (b) => writeInt64(b, BatchField.producerId, 7)))).toBe('INVALID_RECORD');
  });

  it('rejects a producer id beyond what the cluster issues (2^63-1 once poisoned the producer-state snapshot) with INVALID_RECORD', () => {
    const huge = patched(sample(), (b) => {
      b.writeBigInt64BE(0x7fffffffffffffffn, BatchField.producerId);
      b.writeInt32BE(0, BatchField.baseSequence);
    });
    expect(rejection(huge)).toBe('INVALID_RECORD');
  });

  it('rejects a record timestamp beyond 2^53 ms (it could not be written back as the max timestamp) with INVALID_RECORD', () => {
    const late = buildRecordBatch({ records: [{ key: 'k', value: 'v', timestampMs: 2 ** 60 }] });
    expect(rejection(late)).toBe('INVALID_RECORD');
  });

  it('rejects an unknown compression codec with INVALID_RECORD', () => {
    expect(rejection(patched(sample(), (b) => b.writeInt16BE(5, BatchField.attributes)))).toBe('INVALID_RECORD');
  });

  it('rejects a producer-set LogAppendTime timestamp type with INVALID_TIMESTAMP', () => {
    expect(rejection(patched(sample(), (b) => b.writeInt16BE(0x08, BatchField.attributes)))).toBe('INVALID_TIMESTAMP');
  });

  it('reports the compression codec', () => {
    const zstd = validateProducedBatches(patched(sample(), (b) => b.writeInt16BE(4, BatchField.attributes)));
    expect(zstd.ok && zstd.batches[0].compression).toBe('zstd');
  });
});

describe('header rewrites', () => {
  it('rewriting base offset and leader epoch keeps the CRC valid', () => {
    const batch = Buffer.concat([Buffer.alloc(3), sample()]);
    rewriteBaseOffsetAndEpoch(batch, 3, 2 ** 40 + 17, 9);
    const h = readBatchHeader(batch, 3);
    expect(h.baseOffset).toBe(2 ** 40 + 17);
    expect(h.partitionLeaderEpoch).toBe(9);
    expect(isCrcValid(batch, 3, batch.length - 3)).toBe(true);
  });

  it('LogAppendTime sets the type and max timestamp, recomputes the CRC, and records read the batch time', () => {
    const batch = sample();
    setLogAppendTime(batch, 0, batch.length, T0 + 1000);
    const h = readBatchHeader(batch);
    expect(h.attributes & 0x08).toBe(0x08);
    expect(h.maxTimestamp).toBe(T0 + 1000);
    expect(h.baseTimestamp).toBe(T0);
    expect(isCrcValid(batch, 0, batch.length)).toBe(true);
    expect(decodeRecords(batch).map((r) => r.timestampMs)).toEqual([T0 + 1000, T0 + 1000, T0 + 1000]);
  });
});

describe('scanBatches', () => {
  const limits = { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER };
  const log = Buffer.concat([
    buildRecordBatch({ baseOffset: 0, records: [{ value: 'a' }, { value: 'b' }] }),
    buildRecordBatch({ baseOffset: 2, records: [{ value: 'c' }] }),
    buildRecordBatch({ baseOffset: 3, records: [{ value: 'd' }, { value: 'e' }, { value: 'f' }] }),
  ]);
  const third =
    log.length - buildRecordBatch({ baseOffset: 3, records: [{ value: 'd' }, { value: 'e' }, { value: 'f' }] }).length;

  it('walks every valid batch', () => {
    const scan = scanBatches(log, 0, limits);
    expect(scan.stop).toBe('end');
    expect(scan.end).toBe(log.length);
    expect(scan.batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual([
      [0, 1],
      [2, 2],
      [3, 5],
    ]);
  });

  it('stops at a torn tail and says how many bytes would complete it', () => {
    const scan = scanBatches(log.subarray(0, log.length - 4), 0, limits);
    expect(scan.stop).toBe('partial');
    expect(scan.end).toBe(third);
    expect(scan.stop === 'partial' && scan.needBytes).toBe(log.length - third);
    const partHeader = scanBatches(log.subarray(0, third + 20), 0, limits);
    expect(partHeader.stop === 'partial' && partHeader.needBytes).toBe(log.length - third);
    const noLength = scanBatches(log.subarray(0, third + 5), 0, limits);
    expect(noLength.stop === 'partial' && noLength.needBytes).toBe(RECORD_BATCH_OVERHEAD);
  });

  it('stops at a corrupt batch', () => {
    const bad = Buffer.from(log);
    bad[log.length - 1] ^= 1;
    const scan = scanBatches(bad, 0, limits);
    expect(scan.stop).toBe('corrupt');
    expect(scan.end).toBe(third);
  });

  it('treats offsets that go backwards as corruption (the base offset is outside the CRC)', () => {
    const bad = Buffer.from(log);
    rewriteBaseOffsetAndEpoch(bad, third, 1, -1);
    const scan = scanBatches(bad, 0, limits);
    expect(scan.stop).toBe('corrupt');
    expect(scan.end).toBe(third);
  });
});

describe('record validation of produced batches (Kafka LogValidator checks)', () => {
  const good = () =>
    buildRecordBatch({
      records: [
        { key: 'a', value: 'x' },
        { key: null, value: 'yy', headers: [{ key: 'h', value: 'v' }] },
        { key: 'c', value: null },
      ],
    });
  const records = (batch: Buffer) => batch.subarray(RECORD_BATCH_OVERHEAD);

  it('accepts well-formed records and counts keyless ones without building records', () => {
    const batch = good();
    const walk = checkRecords(batch, RECORD_BATCH_OVERHEAD, batch.length, readBatchHeader(batch), 10);
    expect(walk).toMatchObject({ ok: true, keylessCount: 1, keyless: [1] });
    expect(validateProducedBatches(batch).ok).toBe(true);
  });

  it.each([
    [
      'a batch that declares 2^31-1 records but holds one',
      (b: Buffer) => rawBatch({ recordCount: 2 ** 31 - 1, payload: records(b).subarray(0, records(b)[0] / 2 + 1) }),
      /declares 2147483647 records but holds 1/,
    ],
    [
      'a batch that declares fewer records than it holds',
      (b: Buffer) => rawBatch({ recordCount: 2, payload: records(b) }),
      /bytes remain after the 2 records/,
    ],
    [
      'garbage records',
      () => rawBatch({ recordCount: 1, payload: Buffer.from('garbage, not records at all') }),
      /record 0/,
    ],
    [
      'a record length past the batch',
      () => rawBatch({ recordCount: 1, payload: Buffer.from([0x7e, 0, 0, 0, 2, 0x61, 0, 0]) }),
      /invalid record size 63/,
    ],
    [
      'a varint longer than 5 bytes',
      () =>
        rawBatch({ recordCount: 1, payload: Buffer.from([0x14, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0]) }),
      /malformed/,
    ],
    [
      'a negative header count',
      () => rawBatch({ recordCount: 1, payload: Buffer.from([0x0c, 0, 0, 0, 1, 1, 1]) }),
      /invalid number of record headers -1/,
    ],
    [
      'a key longer than its record',
      () => rawBatch({ recordCount: 1, payload: Buffer.from([0x0c, 0, 0, 0, 0x20, 1, 0]) }),
      /key of 16 bytes runs past the record/,
    ],
    [
      'offset deltas that skip',
      () => rawBatch({ recordCount: 1, payload: Buffer.from([0x0c, 0, 0, 0x0a, 1, 1, 0]) }),
      /offset delta 5 where 0 was expected/,
    ],
  ])('refuses %s with INVALID_RECORD', (_, make, message) => {
    const batch = make(good());
    const v = validateProducedBatches(batch);
    expect(v).toMatchObject({ ok: false, error: 'INVALID_RECORD' });
    expect(!v.ok && v.message).toMatch(message);
  });

  it("writes the records' largest timestamp into a CreateTime header that says otherwise, with a valid CRC", () => {
    const batch = buildRecordBatch({
      records: [
        { value: 'a', timestampMs: T0 },
        { value: 'b', timestampMs: T0 + 500 },
      ],
    });
    writeInt64(batch, BatchField.maxTimestamp, T0 + 99_999);
    refreshCrc(batch);
    const v = validateProducedBatches(batch);
    expect(v.ok && v.batches[0].maxTimestamp).toBe(T0 + 500);
    expect(readBatchHeader(batch).maxTimestamp).toBe(T0 + 500);
    expect(isCrcValid(batch, 0, batch.length)).toBe(true);
  });

  it('rejects nothing a real producer writes: records with headers, null keys and values, large deltas', () => {
    const batch = buildRecordBatch({
      records: Array.from({ length: 20_000 }, (_, i) => ({
        key: i % 3 ? `k${i}` : null,
        value: i % 5 ? 'v'.repeat(i % 300) : null,
        headers: i % 7 ? [] : [{ key: 'h', value: null }],
        timestampMs: T0 + i * 1_000_003,
      })),
    });
    const v = validateProducedBatches(batch);
    expect(v.ok && v.batches[0].maxTimestamp).toBe(T0 + 19_999 * 1_000_003);
  });
});

describe('record timestamp bounds (message.timestamp.before/after.max.ms)', () => {
  const HOUR = 3_600_000;
  const bounds = { nowMs: T0, beforeMaxMs: 2 * HOUR, afterMaxMs: HOUR };
  const batchAt = (...offsets: number[]) =>
    buildRecordBatch({ records: offsets.map((d, i) => ({ value: `v${i}`, timestampMs: T0 + d })) });

  it('accepts records within the bounds, the bounds themselves included, and records without a timestamp', () => {
    expect(validateProducedBatches(batchAt(0, -2 * HOUR, HOUR), undefined, undefined, bounds).ok).toBe(true);
    const noTimestamp = buildRecordBatch({ records: [{ value: 'v', timestampMs: -1 }] });
    expect(validateProducedBatches(noTimestamp, undefined, undefined, bounds).ok).toBe(true);
  });

  it('refuses records too far in the future or past with INVALID_TIMESTAMP and a record error for each', () => {
    const v = validateProducedBatches(batchAt(0, 2 * HOUR, 1, -2 * HOUR - 1), undefined, undefined, bounds);
    const range = `[${T0 - 2 * HOUR}, ${T0 + HOUR}]`;
    expect(v).toMatchObject({
      ok: false,
      error: 'INVALID_TIMESTAMP',
      recordErrors: [
        {
          batchIndex: 1,
          batchIndexErrorMessage: `Timestamp ${T0 + 2 * HOUR} of message with offset 1 is out of range. The timestamp should be within ${range}`,
        },
        {
          batchIndex: 3,
          batchIndexErrorMessage: `Timestamp ${T0 - 2 * HOUR - 1} of message with offset 3 is out of range. The timestamp should be within ${range}`,
        },
      ],
    });
    expect(!v.ok && v.message).toMatch(/^Timestamp \d+ of message with offset 1 is out of range/);
  });

  it("checks nothing without bounds (LogAppendTime), and reports Kafka's Long.MAX_VALUE default exactly", () => {
    const future = batchAt(2 * HOUR);
    expect(validateProducedBatches(future).ok).toBe(true);
    const v = validateProducedBatches(future, undefined, undefined, {
      nowMs: T0,
      beforeMaxMs: 2 ** 63,
      afterMaxMs: HOUR,
    });
    expect(!v.ok && v.message).toContain(`within [${BigInt(T0) - (2n ** 63n - 1n)}, ${T0 + HOUR}]`);
  });

  it('lists out-of-range records in checkRecords without failing the walk, a malformed record still failing it', () => {
    const batch = batchAt(0, 5 * HOUR);
    const walk = checkRecords(batch, RECORD_BATCH_OVERHEAD, batch.length, readBatchHeader(batch), 0, bounds);
    expect(walk).toMatchObject({ ok: true, outOfRange: [{ index: 1, timestamp: T0 + 5 * HOUR }] });
    const broken = rawBatch({ recordCount: 2, payload: batch.subarray(RECORD_BATCH_OVERHEAD, batch.length - 1) });
    expect(validateProducedBatches(broken, undefined, undefined, bounds)).toMatchObject({ error: 'INVALID_RECORD' });
  });
});
