// Decompression bombs and hand-made record batches for tests. Each bomb is built by streaming
// zeros through the codec or by repeating one small compressed unit (concatenated gzip
// members, lz4 frames), so building it stays small in memory; none is ever decompressed by the
// test itself.

import { crc32c } from '@node-rs/crc32';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { type CompressionCodec, CODEC_IDS } from '../protocol/compression.js';
import { BatchField, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD, writeInt64 } from '../protocol/record-batch.js';

const require = createRequire(import.meta.url);

const MiB = 1024 * 1024;
/** Zeros per repeated unit. */
const UNIT_BYTES = 16 * MiB;

export interface Bomb {
  codec: CompressionCodec;
  /** What the payload decompresses to. */
  decompressedBytes: number;
  payload: Buffer;
}

/** Concatenated gzip members of 16 MiB of zeros: 1 GiB in about 1 MB (deflate tops out near 1032:1). */
function gzipBomb(): Bomb {
  const unit = zlib.gzipSync(Buffer.alloc(UNIT_BYTES), { level: 9 });
  return {
    codec: 'gzip',
    decompressedBytes: 64 * UNIT_BYTES,
    payload: Buffer.concat(Array.from({ length: 64 }, () => unit)),
  };
}

interface ZstdBinding {
  CCtx: new () => { compressStream2(dst: Uint8Array, src: Uint8Array, end: number): [number, number, number] };
  EndDirective: { continue: number; end: number };
}

/** One zstd frame of 1 GiB of zeros, streamed, so it declares no content size (a few tens of KB). */
function zstdBomb(): Bomb {
  const zstd = require('zstd-napi/binding') as ZstdBinding;
  const cctx = new zstd.CCtx();
  const zeros = Buffer.alloc(UNIT_BYTES);
  const dst = Buffer.alloc(MiB);
  const out: Buffer[] = [];
  const units = 64;
  for (let i = 0; i < units; i++) {
    const end = i === units - 1 ? zstd.EndDirective.end : zstd.EndDirective.continue;
    let src = zeros;
    for (;;) {
      const [remaining, produced, consumed] = cctx.compressStream2(dst, src, end);
      out.push(Buffer.from(dst.subarray(0, produced)));
      src = src.subarray(consumed);
      if (src.length === 0 && (end === zstd.EndDirective.continue || remaining === 0)) break;
    }
  }
  return { codec: 'zstd', decompressedBytes: units * UNIT_BYTES, payload: Buffer.concat(out) };
}

/** Concatenated lz4 frames of 16 MiB of zeros: 256 MiB in about 1 MB (lz4 tops out near 255:1). */
function lz4Bomb(): Bomb {
  const lz4 = require('lz4-napi') as { compressFrameSync(data: Buffer): Buffer };
  const unit = lz4.compressFrameSync(Buffer.alloc(UNIT_BYTES));
  return {
    codec: 'lz4',
    decompressedBytes: 16 * UNIT_BYTES,
    payload: Buffer.concat(Array.from({ length: 16 }, () => unit)),
  };
}

/**
 * A raw snappy block that declares 1 GiB (its length preamble) followed by a little data:
 * snappy expands at most about 21:1, so its bomb is the declared length a decoder allocates.
 */
function snappyBomb(): Bomb {
  const preamble = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x04]); // varint 2^30
  const snappy = require('snappy') as { compressSync(data: Buffer): Buffer };
  const body = snappy.compressSync(Buffer.alloc(MiB)).subarray(3); // drop its own preamble (varint 2^20)
  return { codec: 'snappy', decompressedBytes: 2 ** 30, payload: Buffer.concat([preamble, body]) };
}

export function buildBomb(codec: Exclude<CompressionCodec, 'none'>): Bomb {
  switch (codec) {
    case 'gzip':
      return gzipBomb();
    case 'zstd':
      return zstdBomb();
    case 'lz4':
      return lz4Bomb();
    case 'snappy':
      return snappyBomb();
  }
}

export interface RawBatchFields {
  codec?: CompressionCodec;
  recordCount: number;
  lastOffsetDelta?: number;
  baseTimestamp?: number;
  maxTimestamp?: number;
  /** The records section as sent (compressed or not), whatever it holds. */
  payload: Buffer;
}

/** A magic-2 batch around `payload` with a correct length and CRC, whatever the payload holds. */
export function rawBatch(f: RawBatchFields): Buffer {
  const batch = Buffer.alloc(RECORD_BATCH_OVERHEAD + f.payload.length);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BatchField.batchLength);
  batch.writeInt32BE(-1, BatchField.partitionLeaderEpoch);
  batch.writeInt8(2, BatchField.magic);
  batch.writeInt16BE(CODEC_IDS[f.codec ?? 'none'], BatchField.attributes);
  batch.writeInt32BE(f.lastOffsetDelta ?? f.recordCount - 1, BatchField.lastOffsetDelta);
  writeInt64(batch, BatchField.baseTimestamp, f.baseTimestamp ?? 1_700_000_000_000);
  writeInt64(batch, BatchField.maxTimestamp, f.maxTimestamp ?? f.baseTimestamp ?? 1_700_000_000_000);
  writeInt64(batch, BatchField.producerId, -1);
  batch.writeInt16BE(-1, BatchField.producerEpoch);
  batch.writeInt32BE(-1, BatchField.baseSequence);
  batch.writeInt32BE(f.recordCount, BatchField.recordCount);
  f.payload.copy(batch, RECORD_BATCH_OVERHEAD);
  refreshCrc(batch);
  return batch;
}

/** Recomputes the CRC of a batch edited in place. */
export function refreshCrc(batch: Buffer): void {
  batch.writeUInt32BE(crc32c(batch.subarray(BatchField.attributes)), BatchField.crc);
}
