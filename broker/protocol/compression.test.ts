import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildBomb } from '../test/bombs.js';
import {
  type CompressionCodec,
  CompressionError,
  compress,
  DecompressedTooLargeError,
  decompress,
  MAX_DECOMPRESSED_BYTES,
} from './compression.js';
import {
  BatchField,
  buildCompressedBatch,
  buildRecordBatch,
  compressionAt,
  decodeRecords,
  decodeRecordsAsync,
  isCrcValid,
  readBatchHeader,
  readRecordEntries,
  rebuildBatch,
  recompressBatch,
  validateProducedBatches,
} from './record-batch.js';

const require = createRequire(import.meta.url);
const snappy = require('snappy') as { compressSync(data: Buffer): Buffer };

const CODECS: CompressionCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const T0 = 1_700_000_000_000;

function records(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 5 === 4 ? null : `key-${i}`,
    value: i % 7 === 6 ? null : `value ${i} ${'ü'.repeat(i)}`,
    headers: [{ key: 'h', value: `v${i}` }],
    timestampMs: T0 + i,
  }));
}

describe('compression codecs', () => {
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i} of some compressible text\n`).join(''));

  it.each(CODECS)('%s round-trips data larger than one block', async (codec) => {
    const packed = await compress(codec, data);
    if (codec !== 'none') expect(packed.length).toBeLessThan(data.length / 2);
    expect((await decompress(codec, packed)).equals(data)).toBe(true);
  });

  it('reads snappy in xerial framing, as the Java producer writes it', async () => {
    // 0x82 'SNAPPY' 0x00, version 1, compatible version 1, then length-prefixed raw blocks of 32 KiB.
    const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
    for (let at = 0; at < data.length; at += 32 * 1024) {
      const block = snappy.compressSync(data.subarray(at, at + 32 * 1024));
      const length = Buffer.alloc(4);
      length.writeInt32BE(block.length);
      parts.push(length, block);
    }
    expect(parts.length).toBeGreaterThan(5);
    expect((await decompress('snappy', Buffer.concat(parts))).equals(data)).toBe(true);
  });

  it('reads and writes raw (unframed) snappy, as librdkafka may write it', async () => {
    const raw = snappy.compressSync(data);
    expect((await decompress('snappy', raw)).equals(data)).toBe(true);
    expect((await compress('snappy', data)).equals(raw)).toBe(true);
  });

  it('writes lz4 in the LZ4 frame format (magic 0x184D2204)', async () => {
    const packed = await compress('lz4', data);
    expect(packed.readUInt32LE(0)).toBe(0x184d2204);
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)(
    'fails with a CompressionError on corrupt %s data',
    async (codec) => {
      const packed = await compress(codec, data);
      const corrupt = Buffer.from(packed);
      corrupt.fill(0x5a, 4, Math.min(corrupt.length, 40));
      await expect(decompress(codec, corrupt.subarray(0, corrupt.length - 3))).rejects.toBeInstanceOf(CompressionError);
    },
  );
});

describe('compressed record batches', () => {
  it.each(CODECS)('a %s batch validates and decodes to the records it was built from', async (codec) => {
    const input = records(20);
    const batch = await buildCompressedBatch({
      records: input,
      compression: codec,
      producerId: 7,
      producerEpoch: 1,
      baseSequence: 40,
    });
    const checked = validateProducedBatches(batch);
    expect(checked.ok).toBe(true);
    if (checked.ok) expect(checked.batches[0].compression).toBe(codec);
    const decoded = await decodeRecordsAsync(batch);
    expect(
      decoded.map((r) => [
        r.offset,
        r.timestampMs,
        r.key?.toString() ?? null,
        r.value?.toString() ?? null,
        r.headers[0].value!.toString(),
      ]),
    ).toEqual(input.map((r, i) => [i, r.timestampMs, r.key, r.value, `v${i}`]));
  });

  it('decodeRecords (sync) still refuses compressed batches', async () => {
    const batch = await buildCompressedBatch({ records: records(2), compression: 'gzip' });
    expect(() => decodeRecords(batch)).toThrow(/gzip-compressed/);
  });

  it.each(CODECS.flatMap((from) => CODECS.map((to) => [from, to] as const)))(
    'recompresses %s to %s with a valid CRC and the same records and header fields',
    async (from, to) => {
      const batch = await buildCompressedBatch({
        records: records(12),
        compression: from,
        producerId: 3,
        producerEpoch: 2,
        baseSequence: 5,
      });
      const recompressed = await recompressBatch(batch, to);
      expect(compressionAt(recompressed, 0)).toBe(to);
      expect(isCrcValid(recompressed, 0, recompressed.length)).toBe(true);
      const before = readBatchHeader(batch);
      const after = readBatchHeader(recompressed);
      for (const field of [
        'baseOffset',
        'lastOffsetDelta',
        'baseTimestamp',
        'maxTimestamp',
        'producerId',
        'producerEpoch',
        'baseSequence',
        'recordCount',
      ] as const) {
        expect(after[field], field).toBe(before[field]);
      }
      expect(after.batchLength).toBe(recompressed.length - 12);
      expect(await decodeRecordsAsync(recompressed)).toEqual(await decodeRecordsAsync(batch));
    },
  );

  it('rebuilds a batch with some records dropped: offsets and timestamps of kept records unchanged, codec kept', async () => {
    const batch = await buildCompressedBatch({ records: records(10), compression: 'lz4', baseOffset: 100 });
    const { records: all } = await readRecordEntries(batch);
    const kept = all.filter((r) => r.offset % 3 === 1);
    const rebuilt = (await rebuildBatch(batch, kept))!;
    expect(compressionAt(rebuilt, 0)).toBe('lz4');
    expect(isCrcValid(rebuilt, 0, rebuilt.length)).toBe(true);
    const h = readBatchHeader(rebuilt);
    expect(h.baseOffset).toBe(100);
    expect(h.recordCount).toBe(kept.length);
    expect(h.baseOffset + h.lastOffsetDelta).toBe(kept.at(-1)!.offset);
    expect(h.maxTimestamp).toBe(kept.at(-1)!.timestampMs);
    expect((await decodeRecordsAsync(rebuilt)).map((r) => [r.offset, r.timestampMs])).toEqual(
      kept.map((r) => [r.offset, r.timestampMs]),
    );
    expect(await rebuildBatch(batch, [])).toBeNull();
  });

  it('keeps the LogAppendTime max timestamp of a rebuilt batch', async () => {
    const batch = buildRecordBatch({ records: records(4) });
    const attributes = batch.readInt16BE(BatchField.attributes);
    batch.writeInt16BE(attributes | 0x08, BatchField.attributes);
    const { records: all } = await readRecordEntries(batch);
    const rebuilt = (await rebuildBatch(batch, all.slice(0, 1)))!;
    expect(readBatchHeader(rebuilt).maxTimestamp).toBe(readBatchHeader(batch).maxTimestamp);
  });
});

describe('decompression bombs', () => {
  it.each(['gzip', 'zstd', 'lz4', 'snappy'] as const)(
    'a %s payload of far more than MAX_DECOMPRESSED_BYTES is refused quickly, without decoding it all',
    async (codec) => {
      const bomb = buildBomb(codec);
      expect(bomb.decompressedBytes).toBeGreaterThanOrEqual(4 * MAX_DECOMPRESSED_BYTES);
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();
      const err = await decompress(codec, bomb.payload).catch((e: unknown) => e);
      const elapsedMs = performance.now() - started;
      expect(err).toBeInstanceOf(DecompressedTooLargeError);
      expect((err as Error).message).toMatch(
        new RegExp(`${codec} records decompress to more than ${MAX_DECOMPRESSED_BYTES} bytes`),
      );
      // Decoding the whole bomb would take seconds and its size in memory; stopping at the limit
      // takes a fraction of that.
      expect(elapsedMs).toBeLessThan(5_000);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(3 * MAX_DECOMPRESSED_BYTES);
    },
  );

  it.each(['gzip', 'zstd', 'lz4', 'snappy'] as const)(
    '%s: output one byte over the limit is refused, output at the limit is not',
    async (codec) => {
      const data = Buffer.alloc(100_000, 'ab');
      const compressed = await compress(codec, data);
      expect((await decompress(codec, compressed, data.length)).equals(data)).toBe(true);
      await expect(decompress(codec, compressed, data.length - 1)).rejects.toBeInstanceOf(DecompressedTooLargeError);
    },
  );

  it("xerial-framed snappy is refused by the sum of its blocks' declared lengths", async () => {
    const block = snappy.compressSync(Buffer.alloc(50_000));
    const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    const framed = Buffer.concat([header, length, block, length, block, length, block]);
    expect((await decompress('snappy', framed, 150_000)).length).toBe(150_000);
    await expect(decompress('snappy', framed, 149_999)).rejects.toBeInstanceOf(DecompressedTooLargeError);
  });

  it('zstd and lz4 decode concatenated frames, and lz4 frames whose blocks are linked', async () => {
    const lz4 = require('lz4-napi') as { compressSync(data: Buffer, dict?: Buffer): Buffer };
    const first = Buffer.from('linked lz4 blocks copy from the block before them. '.repeat(200));
    const second = Buffer.concat([first.subarray(100, 5_000), Buffer.from('tail')]);
    // FLG: version 01, blocks linked (independence bit clear), no checksums; BD: 64 KiB blocks.
    const blockOf = (b: Buffer) => {
      const size = Buffer.alloc(4);
      size.writeUInt32LE(b.length);
      return Buffer.concat([size, b]);
    };
    const frame = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0x00]),
      blockOf(lz4.compressSync(first).subarray(4)),
      blockOf(lz4.compressSync(second, first).subarray(4)),
      Buffer.alloc(4),
    ]);
    expect((await decompress('lz4', frame)).equals(Buffer.concat([first, second]))).toBe(true);
    for (const codec of ['lz4', 'zstd'] as const) {
      const a = await compress(codec, first);
      const b = await compress(codec, second);
      expect((await decompress(codec, Buffer.concat([a, b]))).equals(Buffer.concat([first, second]))).toBe(true);
    }
  });

  it.each(['gzip', 'zstd', 'lz4', 'snappy'] as const)(
    'a truncated or junk %s payload is a CompressionError',
    async (codec) => {
      const compressed = await compress(codec, Buffer.from('some records '.repeat(1000)));
      await expect(decompress(codec, compressed.subarray(0, compressed.length >> 1))).rejects.toBeInstanceOf(
        CompressionError,
      );
      await expect(decompress(codec, Buffer.from('not compressed at all, just junk bytes'))).rejects.toBeInstanceOf(
        CompressionError,
      );
    },
  );
});
