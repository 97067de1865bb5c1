// The async work a produced batch may need before the log takes it, and only then:
// decompressing a compressed batch to check its records as Kafka's LogValidator does (every
// compressed batch: Kafka decompresses each one it is produced), checking keys on a compacted
// topic (Kafka's INVALID_RECORD for a keyless record), and re-encoding when the topic's
// compression.type names a codec other than the batch's (as Kafka's LogValidator does). Records
// are walked in place (checkRecords), never built one by one. Every batch goes to the log
// exactly as produced unless re-encoded (and, like Kafka, with its max timestamp corrected when
// the header's is not its records' largest).

import type { LogConfig } from '../log/partition-log.js';
import {
  CodecUnavailableError,
  CompressionError,
  type CompressionCodec,
  decompress,
  MAX_DECOMPRESSED_BYTES,
} from '../protocol/compression.js';
import {
  type BatchInfo,
  checkRecords,
  fixMaxTimestamp,
  RECORD_BATCH_OVERHEAD,
  readBatchHeader,
  type RecordError,
  recompressBatch,
  type TimestampBounds,
  timestampRefusal,
  validateProducedBatches,
} from '../protocol/record-batch.js';

export type PrepareErrorName =
  | 'INVALID_RECORD'
  | 'CORRUPT_MESSAGE'
  | 'MESSAGE_TOO_LARGE'
  | 'RECORD_LIST_TOO_LARGE'
  | 'INVALID_TIMESTAMP'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_COMPRESSION_TYPE';

export type { RecordError } from '../protocol/record-batch.js';

export type Prepared =
  | { ok: true; records: Buffer; batches: BatchInfo[] }
  | { ok: false; error: PrepareErrorName; message: string; recordErrors: RecordError[] };

/** Record errors reported per refused produce; Kafka lists all, a few are enough to act on. */
const MAX_RECORD_ERRORS = 10;

/**
 * Compressed batches being checked at once, broker-wide. Each may hold MAX_DECOMPRESSED_BYTES of
 * records (and their re-encoding) until it is checked, so this bounds what decompression takes
 * from memory whatever clients send — a Produce of many partitions, each a small bomb, included.
 */
const MAX_CONCURRENT_DECOMPRESSIONS = 2;

/** A counting semaphore: `acquire` resolves with the release once a permit is free. */
class Permits {
  private readonly waiting: Array<() => void> = [];

  constructor(private free: number) {}

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

const decompressions = new Permits(MAX_CONCURRENT_DECOMPRESSIONS);

/** The codec a topic's compression.type stores batches in; null for `producer` (as produced). */
export function storedCodec(config: LogConfig): CompressionCodec | null {
  if (config.compressionType === 'producer') return null;
  return config.compressionType === 'uncompressed' ? 'none' : config.compressionType;
}

/**
 * The record timestamps a topic accepts at `nowMs`: Kafka checks CreateTime records against
 * message.timestamp.before.max.ms and message.timestamp.after.max.ms; under LogAppendTime the
 * broker stamps the batch and nothing is checked (null).
 */
export function timestampBounds(config: LogConfig, nowMs: number): TimestampBounds | null {
  if (config.messageTimestampType !== 'CreateTime') return null;
  return { nowMs, beforeMaxMs: config.messageTimestampBeforeMaxMs, afterMaxMs: config.messageTimestampAfterMaxMs };
}

/** Whether `batch` needs prepareBatch before the log may take it. */
export function needsPreparation(config: LogConfig, batch: BatchInfo): boolean {
  const codec = storedCodec(config);
  return (
    batch.compression !== 'none' || config.cleanupPolicy.compact || (codec !== null && codec !== batch.compression)
  );
}

/**
 * Checks the records of a compressed batch and keys (compacted topics), and re-encodes with the
 * topic's codec, returning the bytes and batch info the log should append. `records` holds the
 * one validated batch `batch` (validateProducedBatches has already walked the records of an
 * uncompressed one).
 *
 * Error codes, after Kafka 4.1's LogValidator: records that do not parse, a record count that
 * does not match the records present, and records that do not decompress are INVALID_RECORD
 * (Kafka's InvalidRecordException; for a payload its codec rejects outright Kafka answers
 * UNKNOWN_SERVER_ERROR, from an unmapped KafkaException, which a client cannot act on). Records
 * that decompress past MAX_DECOMPRESSED_BYTES are INVALID_RECORD too: Kafka, which streams
 * records, fails such a bomb at its first malformed record. INVALID_RECORD is not retriable, so a
 * producer does not resend the same bytes; CORRUPT_MESSAGE (retriable) stays for what a resend
 * can fix, a CRC mismatch. A compressed batch with a record timestamp outside
 * `timestampBounds(config, nowMs)` is INVALID_TIMESTAMP with record errors (validateProducedBatches
 * has checked those of an uncompressed batch).
 */
export async function prepareBatch(
  records: Buffer,
  batch: BatchInfo,
  config: LogConfig,
  partitionName: string,
  nowMs: number,
): Promise<Prepared> {
  if (batch.compression === 'none') return checkBatch(records, batch, config, partitionName, nowMs);
  const release = await decompressions.acquire();
  try {
    return await checkBatch(records, batch, config, partitionName, nowMs);
  } finally {
    release();
  }
}

async function checkBatch(
  records: Buffer,
  batch: BatchInfo,
  config: LogConfig,
  partitionName: string,
  nowMs: number,
): Promise<Prepared> {
  const bytes = records.subarray(batch.position, batch.position + batch.size);
  const fail = (error: PrepareErrorName, message: string, recordErrors: RecordError[] = []): Prepared => ({
    ok: false,
    error,
    message,
    recordErrors,
  });
  let info = batch;
  let decompressed: Buffer | undefined;
  try {
    const compressed = batch.compression !== 'none';
    if (compressed || config.cleanupPolicy.compact) {
      const header = readBatchHeader(bytes, 0);
      // validateProducedBatches has checked the timestamps of an uncompressed batch.
      const bounds = compressed ? timestampBounds(config, nowMs) : null;
      const payload = compressed
        ? await decompress(batch.compression, bytes.subarray(RECORD_BATCH_OVERHEAD), MAX_DECOMPRESSED_BYTES)
        : bytes;
      const walk = checkRecords(
        payload,
        compressed ? 0 : RECORD_BATCH_OVERHEAD,
        payload.length,
        header,
        MAX_RECORD_ERRORS,
        bounds,
      );
      if (!walk.ok) {
        const message = `invalid ${compressed ? `${batch.compression}-compressed ` : ''}record batch: ${walk.message}`;
        return fail(
          'INVALID_RECORD',
          message,
          walk.recordIndex < header.recordCount
            ? [{ batchIndex: walk.recordIndex, batchIndexErrorMessage: message }]
            : [],
        );
      }
      if (bounds && walk.outOfRange.length > 0) {
        const refusal = timestampRefusal(walk.outOfRange, bounds);
        return fail(refusal.error, refusal.message, refusal.recordErrors);
      }
      if (config.cleanupPolicy.compact && walk.keylessCount > 0) {
        const message = `Compacted topic cannot accept message without key in topic partition ${partitionName}.`;
        return fail(
          'INVALID_RECORD',
          message,
          walk.keyless.map((batchIndex) => ({ batchIndex, batchIndexErrorMessage: message })),
        );
      }
      if (compressed) info = { ...batch, maxTimestamp: fixMaxTimestamp(bytes, 0, batch.size, walk.maxTimestamp) };
      decompressed = compressed ? payload : undefined;
    }
    const codec = storedCodec(config);
    if (codec === null || codec === batch.compression) return { ok: true, records, batches: [info] };
    const reencoded = await recompressBatch(bytes, codec, decompressed);
    const checked = validateProducedBatches(reencoded, config.maxMessageBytes, config.segmentBytes);
    if (!checked.ok)
      return fail(
        checked.error,
        `after re-encoding with compression.type=${config.compressionType}: ${checked.message}`,
      );
    return { ok: true, records: reencoded, batches: checked.batches };
  } catch (err) {
    if (err instanceof CodecUnavailableError) return fail('UNSUPPORTED_COMPRESSION_TYPE', err.message);
    if (err instanceof CompressionError)
      return fail('INVALID_RECORD', `the records of the ${batch.compression} batch do not decompress: ${err.message}`);
    return fail(
      'CORRUPT_MESSAGE',
      `the records of the ${batch.compression} batch do not decode: ${(err as Error).message}`,
    );
  }
}
