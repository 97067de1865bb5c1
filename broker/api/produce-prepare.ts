// The async work a produced batch may need before the log takes it, and only then: decoding
// its records to refuse keyless records on a compacted topic (Kafka's INVALID_RECORD), and
// re-encoding it when the topic's compression.type names a codec other than the batch's (as
// Kafka's LogValidator does). Every other batch goes to the log exactly as produced.

import type { LogConfig } from '../log/partition-log.js';
import { CodecUnavailableError, type CompressionCodec } from '../protocol/compression.js';
import { type BatchInfo, readRecordEntries, recompressBatch, validateProducedBatches } from '../protocol/record-batch.js';

export type PrepareErrorName =
  | 'INVALID_RECORD'
  | 'CORRUPT_MESSAGE'
  | 'MESSAGE_TOO_LARGE'
  | 'RECORD_LIST_TOO_LARGE'
  | 'INVALID_TIMESTAMP'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_COMPRESSION_TYPE';

export interface RecordError {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

export type Prepared =
  | { ok: true; records: Buffer; batches: BatchInfo[] }
  | { ok: false; error: PrepareErrorName; message: string; recordErrors: RecordError[] };

/** Record errors reported per refused produce; Kafka lists all, a few are enough to act on. */
const MAX_RECORD_ERRORS = 10;

/** The codec a topic's compression.type stores batches in; null for `producer` (as produced). */
export function storedCodec(config: LogConfig): CompressionCodec | null {
  if (config.compressionType === 'producer') return null;
  return config.compressionType === 'uncompressed' ? 'none' : config.compressionType;
}

/** Whether `batch` needs prepareBatch before the log may take it. */
export function needsPreparation(config: LogConfig, batch: BatchInfo): boolean {
  const codec = storedCodec(config);
  return config.cleanupPolicy.compact || (codec !== null && codec !== batch.compression);
}

/**
 * Checks keys (compacted topics) and re-encodes with the topic's codec, returning the bytes
 * and batch info the log should append. `records` holds the one validated batch `batch`.
 */
export async function prepareBatch(records: Buffer, batch: BatchInfo, config: LogConfig, partitionName: string): Promise<Prepared> {
  const bytes = records.subarray(batch.position, batch.position + batch.size);
  const fail = (error: PrepareErrorName, message: string, recordErrors: RecordError[] = []): Prepared => ({ ok: false, error, message, recordErrors });
  try {
    if (config.cleanupPolicy.compact) {
      const { records: decoded } = await readRecordEntries(bytes);
      const keyless: number[] = [];
      decoded.forEach((r, i) => {
        if (r.key === null) keyless.push(i);
      });
      if (keyless.length > 0) {
        const message = `Compacted topic cannot accept message without key in topic partition ${partitionName}.`;
        return fail(
          'INVALID_RECORD',
          message,
          keyless.slice(0, MAX_RECORD_ERRORS).map((batchIndex) => ({ batchIndex, batchIndexErrorMessage: message })),
        );
      }
    }
    const codec = storedCodec(config);
    if (codec === null || codec === batch.compression) return { ok: true, records, batches: [batch] };
    const reencoded = await recompressBatch(bytes, codec);
    const checked = validateProducedBatches(reencoded, config.maxMessageBytes, config.segmentBytes);
    if (!checked.ok) return fail(checked.error, `after re-encoding with compression.type=${config.compressionType}: ${checked.message}`);
    return { ok: true, records: reencoded, batches: checked.batches };
  } catch (err) {
    if (err instanceof CodecUnavailableError) return fail('UNSUPPORTED_COMPRESSION_TYPE', err.message);
    return fail('CORRUPT_MESSAGE', `the records of the ${batch.compression} batch do not decode: ${(err as Error).message}`);
  }
}
