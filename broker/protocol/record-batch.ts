// Record batch v2 (magic 2): the unit the broker stores and serves. The broker reads only the
// 61-byte header, checks the CRC32C (attributes to end of batch) and rewrites the base offset and
// partition leader epoch, which lie outside the CRC. Records are decoded only where Kafka must
// look inside a batch (ListOffsets by timestamp, keys of compacted topics, compaction) and in
// tests; batches are re-encoded only to apply a topic's compression.type and by compaction.

// Pinned to 1.10.7: the linux-x64-gnu binary of 1.10.8 calls an out-of-line function for every
// 8-byte crc32 instruction (about 2.5 GB/s instead of 12+ GB/s); check with objdump before upgrading.
import { crc32c } from '@node-rs/crc32';
import { type CompressionCodec, CODEC_IDS, compress, decompress } from './compression.js';
import { Reader, Writer } from './wire.js';

export type { CompressionCodec } from './compression.js';

/** Byte positions of the header fields, from the start of the batch. */
export const BatchField = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
} as const;

/** baseOffset + batchLength: the bytes that batchLength does not count. */
export const LOG_OVERHEAD = 12;
export const RECORD_BATCH_OVERHEAD = 61;
/** Bytes up to and including the magic byte, enough to frame any message format. */
const HEADER_SIZE_UP_TO_MAGIC = 17;
/** Kafka frames legacy (v0) messages too, so it only rejects lengths below the v0 overhead. */
const MIN_FRAMED_LENGTH = 14;
export const MAGIC_V2 = 2;
export const NO_TIMESTAMP = -1;
export const NO_PRODUCER_ID = -1;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_MASK = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

const CODECS: readonly CompressionCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export type TimestampType = 'CreateTime' | 'LogAppendTime';

const TWO_POW_32 = 2 ** 32;

/** int64 as a JS number: offsets, timestamps and producer ids stay far below 2^53. */
export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

export function writeInt64(buf: Buffer, at: number, v: number): void {
  const high = Math.floor(v / TWO_POW_32);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(v - high * TWO_POW_32, at + 4);
}

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** Parses the 61-byte header at `at`; the caller ensures the bytes are there. */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  return {
    baseOffset: readInt64(buf, at + BatchField.baseOffset),
    batchLength: buf.readInt32BE(at + BatchField.batchLength),
    partitionLeaderEpoch: buf.readInt32BE(at + BatchField.partitionLeaderEpoch),
    magic: buf.readInt8(at + BatchField.magic),
    crc: buf.readUInt32BE(at + BatchField.crc),
    attributes: buf.readInt16BE(at + BatchField.attributes),
    lastOffsetDelta: buf.readInt32BE(at + BatchField.lastOffsetDelta),
    baseTimestamp: readInt64(buf, at + BatchField.baseTimestamp),
    maxTimestamp: readInt64(buf, at + BatchField.maxTimestamp),
    producerId: readInt64(buf, at + BatchField.producerId),
    producerEpoch: buf.readInt16BE(at + BatchField.producerEpoch),
    baseSequence: buf.readInt32BE(at + BatchField.baseSequence),
    recordCount: buf.readInt32BE(at + BatchField.recordCount),
  };
}

// Field accessors for the log's hot paths, which walk many headers without building objects.
/** Whole batch size, LOG_OVERHEAD included. */
export function batchSizeAt(buf: Buffer, at: number): number {
  return buf.readInt32BE(at + BatchField.batchLength) + LOG_OVERHEAD;
}
export function baseOffsetAt(buf: Buffer, at: number): number {
  return readInt64(buf, at + BatchField.baseOffset);
}
export function lastOffsetAt(buf: Buffer, at: number): number {
  return readInt64(buf, at + BatchField.baseOffset) + buf.readInt32BE(at + BatchField.lastOffsetDelta);
}
export function maxTimestampAt(buf: Buffer, at: number): number {
  return readInt64(buf, at + BatchField.maxTimestamp);
}
export function compressionAt(buf: Buffer, at: number): CompressionCodec | undefined {
  return CODECS[buf.readInt16BE(at + BatchField.attributes) & COMPRESSION_MASK];
}
/** A control batch: transaction markers, or Raft's LeaderChange in the metadata log. */
export function isControlBatch(h: BatchHeader): boolean {
  return (h.attributes & CONTROL_FLAG) !== 0;
}
export function timestampTypeAt(buf: Buffer, at: number): TimestampType {
  return buf.readInt16BE(at + BatchField.attributes) & TIMESTAMP_TYPE_MASK ? 'LogAppendTime' : 'CreateTime';
}

function computeCrc(buf: Buffer, at: number, size: number): number {
  return crc32c(buf.subarray(at + BatchField.attributes, at + size));
}

/** Whether the stored CRC matches; the caller ensures size >= RECORD_BATCH_OVERHEAD. */
export function isCrcValid(buf: Buffer, at: number, size: number): boolean {
  return buf.readUInt32BE(at + BatchField.crc) === computeCrc(buf, at, size);
}

/** What the broker needs to know about one batch of a Produce request. */
export interface BatchInfo {
  /** Byte position of the batch in the buffer it was validated in. */
  position: number;
  /** Whole batch size in bytes, LOG_OVERHEAD included. */
  size: number;
  recordCount: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  compression: CompressionCodec;
  isControl: boolean;
  isTransactional: boolean;
}

/** Kafka error names (see errors.ts) a Produce partition can fail with here. */
export type BatchErrorName =
  | 'CORRUPT_MESSAGE'
  | 'UNSUPPORTED_VERSION'
  | 'INVALID_RECORD'
  | 'MESSAGE_TOO_LARGE'
  | 'RECORD_LIST_TOO_LARGE'
  | 'INVALID_TIMESTAMP';

/** A refused record of a produced batch (Produce v8+ `recordErrors`). */
export interface RecordError {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

export type ProduceValidation =
  | { ok: true; batches: BatchInfo[] }
  | { ok: false; error: BatchErrorName; message: string; recordErrors?: RecordError[] };

/**
 * The CreateTime record timestamps a topic accepts, relative to the broker's clock (Kafka's
 * message.timestamp.before.max.ms / message.timestamp.after.max.ms).
 */
export interface TimestampBounds {
  nowMs: number;
  beforeMaxMs: number;
  afterMaxMs: number;
}

/** Out-of-range timestamps reported per refused batch; Kafka lists all, a few are enough to act on. */
export const MAX_TIMESTAMP_ERRORS = 10;

const LONG_MAX_BIG = 2n ** 63n - 1n;
const clampLong = (n: number): bigint => (n >= 2 ** 63 ? LONG_MAX_BIG : BigInt(Math.trunc(n)));

/** Kafka's LogValidator message for a record whose timestamp is out of `bounds`. */
export function timestampOutOfRangeMessage(timestamp: number, recordIndex: number, b: TimestampBounds): string {
  const now = BigInt(b.nowMs);
  return (
    `Timestamp ${timestamp} of message with offset ${recordIndex} is out of range. ` +
    `The timestamp should be within [${now - clampLong(b.beforeMaxMs)}, ${now + clampLong(b.afterMaxMs)}]`
  );
}

/**
 * The INVALID_TIMESTAMP refusal of a batch whose records `outOfRange` lie outside `bounds`: the
 * first record's message as the error message, and a record error for each.
 */
export function timestampRefusal(
  outOfRange: ReadonlyArray<{ index: number; timestamp: number }>,
  bounds: TimestampBounds,
  prefix = '',
): { error: 'INVALID_TIMESTAMP'; message: string; recordErrors: RecordError[] } {
  const recordErrors = outOfRange.map(({ index, timestamp }) => ({
    batchIndex: index,
    batchIndexErrorMessage: timestampOutOfRangeMessage(timestamp, index, bounds),
  }));
  const more = outOfRange.length > 1 ? ` (and ${outOfRange.length - 1} more records out of range)` : '';
  return {
    error: 'INVALID_TIMESTAMP',
    message: `${prefix}${recordErrors[0].batchIndexErrorMessage}${more}`,
    recordErrors,
  };
}

type Frame =
  { kind: 'batch'; size: number; magic: number } | { kind: 'partial' } | { kind: 'corrupt'; message: string };

/** Frames the batch at `at` the way Kafka's ByteBufferLogInputStream does. */
function frameAt(buf: Buffer, at: number): Frame {
  const remaining = buf.length - at;
  if (remaining < LOG_OVERHEAD) return { kind: 'partial' };
  const length = buf.readInt32BE(at + BatchField.batchLength);
  if (length < MIN_FRAMED_LENGTH) {
    return {
      kind: 'corrupt',
      message: `record batch length ${length} is less than the minimum record overhead (${MIN_FRAMED_LENGTH})`,
    };
  }
  if (remaining < HEADER_SIZE_UP_TO_MAGIC) return { kind: 'partial' };
  const magic = buf.readInt8(at + BatchField.magic);
  if (magic < 0 || magic > MAGIC_V2) return { kind: 'corrupt', message: `invalid magic ${magic} in record batch` };
  const size = length + LOG_OVERHEAD;
  return remaining < size ? { kind: 'partial' } : { kind: 'batch', size, magic };
}

function reject(error: BatchErrorName, message: string): ProduceValidation {
  return { ok: false, error, message };
}

/**
 * Validates the record set of one Produce partition with Kafka 4's checks, in Kafka's order
 * (ProduceRequest.validateRecords, UnifiedLog.analyzeAndValidateRecords, LogValidator.validateBatch):
 * Produce v3+ (every version Kafka 4 serves) carries exactly one magic-2 batch. Bytes after the
 * batch that do not frame a complete batch are ignored, as Kafka trims them; they are not part of
 * the returned batch, so the log never writes them. The records of an uncompressed batch are
 * walked in place (checkRecords: structure, count, offset deltas); those of a compressed batch
 * are checked by the produce handler (api/produce-prepare.ts) once decompressed, as are keys on
 * compacted topics. Like Kafka's DefaultRecordBatch.setMaxTimestamp, a CreateTime batch whose
 * header max timestamp is not its records' largest gets the right one written into `buf`, with
 * its CRC recomputed. With `timestampBounds` (a CreateTime topic), an uncompressed batch with
 * a record timestamp outside them is refused with INVALID_TIMESTAMP and record errors, as Kafka's
 * LogValidator.validateTimestamp does.
 */
export function validateProducedBatches(
  buf: Buffer,
  maxMessageBytes = Number.POSITIVE_INFINITY,
  segmentBytes = Number.POSITIVE_INFINITY,
  timestampBounds: TimestampBounds | null = null,
): ProduceValidation {
  const first = frameAt(buf, 0);
  if (first.kind === 'corrupt') return reject('CORRUPT_MESSAGE', first.message);
  if (first.kind === 'partial')
    return reject('INVALID_RECORD', 'produce requests must have at least one record batch per partition');
  // Kafka answers INVALID_RECORD here; Runnel says UNSUPPORTED_VERSION, which tells the
  // client what is wrong: its message format is older than this broker serves.
  if (first.magic !== MAGIC_V2) {
    return reject(
      'UNSUPPORTED_VERSION',
      `record batches must use magic 2 (message format v2), got magic ${first.magic}; upgrade the client`,
    );
  }
  const next = frameAt(buf, first.size);
  if (next.kind === 'corrupt') return reject('CORRUPT_MESSAGE', next.message);
  if (next.kind === 'batch')
    return reject('INVALID_RECORD', 'produce requests must contain exactly one record batch per partition');

  const { size } = first;
  const baseOffset = readInt64(buf, BatchField.baseOffset);
  if (baseOffset !== 0)
    return reject('INVALID_RECORD', `the base offset of a produced record batch must be 0, got ${baseOffset}`);
  if (size > maxMessageBytes) {
    return reject('MESSAGE_TOO_LARGE', `record batch of ${size} bytes exceeds max.message.bytes (${maxMessageBytes})`);
  }
  if (size < RECORD_BATCH_OVERHEAD) {
    return reject(
      'CORRUPT_MESSAGE',
      `record batch of ${size} bytes is shorter than its ${RECORD_BATCH_OVERHEAD}-byte header`,
    );
  }
  if (!isCrcValid(buf, 0, size)) {
    return reject('CORRUPT_MESSAGE', `record batch CRC mismatch (stored ${buf.readUInt32BE(BatchField.crc)})`);
  }
  const h = readBatchHeader(buf, 0);
  const compression = CODECS[h.attributes & COMPRESSION_MASK];
  // Kafka fails here with UNKNOWN_SERVER_ERROR; a permanent error stops the client retrying.
  if (compression === undefined)
    return reject('INVALID_RECORD', `unknown compression codec ${h.attributes & COMPRESSION_MASK}`);
  if (h.lastOffsetDelta < 0) return reject('INVALID_RECORD', `invalid last offset delta ${h.lastOffsetDelta}`);
  if (h.recordCount <= 0) return reject('INVALID_RECORD', `invalid record count ${h.recordCount}`);
  if (h.lastOffsetDelta + 1 !== h.recordCount) {
    return reject(
      'INVALID_RECORD',
      `last offset delta ${h.lastOffsetDelta} does not match record count ${h.recordCount}`,
    );
  }
  const isControl = (h.attributes & CONTROL_FLAG) !== 0;
  if (isControl) return reject('INVALID_RECORD', 'clients are not allowed to write control records');
  // Ids come from InitProducerId blocks, far below 2^53; a larger one could not even be kept
  // exactly (and would poison the producer-state snapshot).
  if (h.producerId > Number.MAX_SAFE_INTEGER)
    return reject(
      'INVALID_RECORD',
      `producer id ${h.producerId} was not issued by this cluster; get one with InitProducerId`,
    );
  if (h.producerId > NO_PRODUCER_ID && h.baseSequence < 0) {
    return reject('INVALID_RECORD', `invalid sequence number ${h.baseSequence} for producer id ${h.producerId}`);
  }
  // Kafka rejects this per record under LogAppendTime and rewrites it under CreateTime; no
  // producer sets it, so it is rejected either way rather than decoding records.
  if (h.attributes & TIMESTAMP_TYPE_MASK)
    return reject('INVALID_TIMESTAMP', 'producers must not set the timestamp type to LogAppendTime');
  let maxTimestamp = h.maxTimestamp;
  if (compression === 'none') {
    const walk = checkRecords(buf, RECORD_BATCH_OVERHEAD, size, h, 0, timestampBounds);
    if (!walk.ok) return reject('INVALID_RECORD', walk.message);
    if (walk.outOfRange.length > 0 && timestampBounds)
      return { ok: false, ...timestampRefusal(walk.outOfRange, timestampBounds) };
    maxTimestamp = fixMaxTimestamp(buf, 0, size, walk.maxTimestamp);
  }
  if (size > segmentBytes) {
    return reject('RECORD_LIST_TOO_LARGE', `record batch of ${size} bytes exceeds segment.bytes (${segmentBytes})`);
  }
  return {
    ok: true,
    batches: [
      {
        position: 0,
        size,
        recordCount: h.recordCount,
        lastOffsetDelta: h.lastOffsetDelta,
        maxTimestamp,
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        baseSequence: h.baseSequence,
        compression,
        isControl,
        isTransactional: (h.attributes & TRANSACTIONAL_FLAG) !== 0,
      },
    ],
  };
}

// ---- record walk ---------------------------------------------------------------------------
//
// What Kafka's DefaultRecord.readFrom / readPartiallyFrom check of every record when its
// LogValidator iterates a produced batch, without building records: the walk reads varints in
// place and allocates nothing per record. A record is
//   length: varint, attributes: int8, timestampDelta: varlong, offsetDelta: varint,
//   keyLength: varint, key, valueLength: varint, value, headerCount: varint,
//   headers: (keyLength: varint, key, valueLength: varint, value)*
// and its fields must take exactly `length` bytes.

/** Cursor of the varint readers below (module state, so reading allocates nothing). */
let cursor = 0;

/**
 * A zig-zag int32 varint at `cursor`, below `limit`, read as Kafka's ByteUtils.readVarint does
 * (int32 arithmetic, at most 5 bytes); NaN when cut off or longer.
 */
function varintAt(buf: Buffer, limit: number): number {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    if (cursor >= limit || shift > 28) return Number.NaN;
    const b = buf[cursor++];
    value |= (b & 0x7f) << shift;
    if (b < 0x80) return (value >>> 1) ^ -(value & 1);
  }
}

/** A zig-zag int64 varint at `cursor` (as a double), below `limit`; NaN when malformed. */
function varlongAt(buf: Buffer, limit: number): number {
  const start = cursor;
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (cursor >= limit) return Number.NaN;
    const b = buf[cursor++];
    value |= (b & 0x7f) << shift;
    if (b < 0x80) return (value >>> 1) ^ -(value & 1);
  }
  // More than 28 bits: in doubles (exact below 2^53, enough for any real timestamp delta).
  cursor = start;
  let raw = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (cursor >= limit) return Number.NaN;
    const b = buf[cursor++];
    raw += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }
  return Number.NaN;
}

export type RecordsCheck =
  | {
      ok: true;
      /** The largest record timestamp (CreateTime: base timestamp + delta). */
      maxTimestamp: number;
      /** How many records have a null key, and the indexes of the first `maxKeyless` of them. */
      keylessCount: number;
      keyless: number[];
      /**
       * Records whose CreateTime timestamp lies outside the bounds given (the first
       * MAX_TIMESTAMP_ERRORS of them); records without a timestamp (-1) are not checked, as in Kafka.
       */
      outOfRange: Array<{ index: number; timestamp: number }>;
    }
  | { ok: false; message: string; recordIndex: number };

/**
 * Walks the `h.recordCount` records in `buf[start, end)` and checks what Kafka checks when it
 * iterates them: every record's length, varints and fields inside the records section and
 * consistent with each other, no negative header count or header key length, exactly
 * `recordCount` records and no bytes after them. Runnel also requires offset deltas 0..n-1 in
 * order (Kafka stores other deltas of uncompressed batches as they are and rewrites compressed
 * ones; Runnel stores batches as produced, so it refuses them). With `timestampBounds`, records
 * whose timestamp lies outside them are listed in `outOfRange` (a malformed record still fails
 * the walk first, as Kafka's InvalidRecordException does).
 */
export function checkRecords(
  buf: Buffer,
  start: number,
  end: number,
  h: Pick<BatchHeader, 'recordCount' | 'baseTimestamp'>,
  maxKeyless = 0,
  timestampBounds: TimestampBounds | null = null,
): RecordsCheck {
  const fail = (recordIndex: number, message: string): RecordsCheck => ({
    ok: false,
    recordIndex,
    message: `record ${recordIndex}: ${message}`,
  });
  let maxTimestamp = NO_TIMESTAMP;
  let keylessCount = 0;
  let keyless: number[] | null = null;
  let outOfRange: Array<{ index: number; timestamp: number }> | null = null;
  cursor = start;
  for (let i = 0; i < h.recordCount; i++) {
    if (cursor >= end)
      return fail(i, `the batch declares ${h.recordCount} records but holds ${i} (premature end of the records)`);
    const length = varintAt(buf, end);
    if (Number.isNaN(length)) return fail(i, 'malformed record length varint');
    const bodyStart = cursor;
    const bodyEnd = bodyStart + length;
    if (length < 1 || bodyEnd > end)
      return fail(i, `invalid record size ${length}: ${end - bodyStart} bytes remain in the batch`);
    cursor++; // attributes (unused in magic 2)
    const timestampDelta = varlongAt(buf, bodyEnd);
    const offsetDelta = varintAt(buf, bodyEnd);
    if (Number.isNaN(timestampDelta) || Number.isNaN(offsetDelta))
      return fail(i, 'malformed timestamp or offset delta');
    if (offsetDelta !== i)
      return fail(
        i,
        `offset delta ${offsetDelta} where ${i} was expected (offset deltas must be 0 to ${h.recordCount - 1} in order)`,
      );
    const keyLength = varintAt(buf, bodyEnd);
    if (Number.isNaN(keyLength)) return fail(i, 'malformed key length');
    if (keyLength >= 0) cursor += keyLength;
    else if (keylessCount++ < maxKeyless) (keyless ??= []).push(i);
    if (cursor > bodyEnd) return fail(i, `a key of ${keyLength} bytes runs past the record's ${length} bytes`);
    const valueLength = varintAt(buf, bodyEnd);
    if (Number.isNaN(valueLength)) return fail(i, 'malformed value length');
    if (valueLength > 0) cursor += valueLength;
    if (cursor > bodyEnd) return fail(i, `a value of ${valueLength} bytes runs past the record's ${length} bytes`);
    const headerCount = varintAt(buf, bodyEnd);
    if (Number.isNaN(headerCount) || headerCount < 0) return fail(i, `invalid number of record headers ${headerCount}`);
    for (let j = 0; j < headerCount && cursor <= bodyEnd; j++) {
      const headerKeyLength = varintAt(buf, bodyEnd);
      if (Number.isNaN(headerKeyLength) || headerKeyLength < 0)
        return fail(i, `invalid header key length in header ${j}`);
      cursor += headerKeyLength;
      const headerValueLength = varintAt(buf, bodyEnd);
      if (Number.isNaN(headerValueLength)) return fail(i, `malformed header value length in header ${j}`);
      if (headerValueLength > 0) cursor += headerValueLength;
    }
    if (cursor !== bodyEnd)
      return fail(i, `record size ${length} does not match its fields (${cursor - bodyStart} bytes)`);
    const timestamp = h.baseTimestamp + timestampDelta;
    // Past 2^53 ms (the year 287,000) a timestamp cannot be kept exactly, nor written back as the batch's max.
    if (Math.abs(timestamp) > Number.MAX_SAFE_INTEGER) return fail(i, `timestamp ${timestamp} is out of range`);
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    if (timestampBounds && timestamp !== NO_TIMESTAMP) {
      // Kafka's LogValidator.recordHasInvalidTimestamp.
      const diff = timestampBounds.nowMs - timestamp;
      if (
        (diff > timestampBounds.beforeMaxMs || -diff > timestampBounds.afterMaxMs) &&
        (outOfRange ??= []).length < MAX_TIMESTAMP_ERRORS
      )
        outOfRange.push({ index: i, timestamp });
    }
  }
  if (cursor !== end) {
    return fail(
      h.recordCount,
      `${end - cursor} bytes remain after the ${h.recordCount} records the batch declares (incorrect declared batch size)`,
    );
  }
  return { ok: true, maxTimestamp, keylessCount, keyless: keyless ?? [], outOfRange: outOfRange ?? [] };
}

/**
 * Writes `recordsMaxTimestamp` as the max timestamp of the CreateTime batch at `at` when the
 * header says otherwise, recomputing the CRC (Kafka's DefaultRecordBatch.setMaxTimestamp, which
 * its LogValidator applies to every produced batch). Returns the batch's max timestamp.
 */
export function fixMaxTimestamp(buf: Buffer, at: number, size: number, recordsMaxTimestamp: number): number {
  const stored = maxTimestampAt(buf, at);
  if (stored === recordsMaxTimestamp || buf.readInt16BE(at + BatchField.attributes) & TIMESTAMP_TYPE_MASK)
    return stored;
  writeInt64(buf, at + BatchField.maxTimestamp, recordsMaxTimestamp);
  buf.writeUInt32BE(computeCrc(buf, at, size), at + BatchField.crc);
  return recordsMaxTimestamp;
}

/** Stamps the log's offset and the leader's epoch; both lie outside the CRC. */
export function rewriteBaseOffsetAndEpoch(buf: Buffer, at: number, baseOffset: number, leaderEpoch: number): void {
  writeInt64(buf, at + BatchField.baseOffset, baseOffset);
  buf.writeInt32BE(leaderEpoch, at + BatchField.partitionLeaderEpoch);
}

/**
 * Marks a batch as LogAppendTime with the given max timestamp and recomputes its CRC, as Kafka's
 * DefaultRecordBatch.setMaxTimestamp does: consumers then read every record's timestamp as the
 * batch's max timestamp, so the records themselves stay untouched.
 */
export function setLogAppendTime(buf: Buffer, at: number, size: number, timestampMs: number): void {
  const attributes = buf.readInt16BE(at + BatchField.attributes);
  buf.writeInt16BE(attributes | TIMESTAMP_TYPE_MASK, at + BatchField.attributes);
  writeInt64(buf, at + BatchField.maxTimestamp, timestampMs);
  buf.writeUInt32BE(computeCrc(buf, at, size), at + BatchField.crc);
}

/** A batch found by scanBatches, with positions relative to the scanned buffer. */
export interface ScannedBatch {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

export type BatchScan = {
  batches: ScannedBatch[];
  /** Position just after the last valid batch: the valid length when scanning from 0. */
  end: number;
} & (
  | { stop: 'end' }
  /** The buffer ends inside a batch; `needBytes` from `end` would complete it (a torn tail at EOF). */
  | { stop: 'partial'; needBytes: number }
  | { stop: 'corrupt'; reason: string }
);

export interface ScanLimits {
  /** Offsets must increase: a batch below this base offset is corruption. */
  minBaseOffset: number;
  /** Highest last offset the segment can index (its base offset + int32 max). */
  maxLastOffset: number;
}

/**
 * Walks stored batches from `start`, verifying framing, magic, CRC and offset order, and stops
 * at the first batch that is incomplete or invalid: log recovery truncates there.
 */
export function scanBatches(buf: Buffer, start: number, limits: ScanLimits): BatchScan {
  const batches: ScannedBatch[] = [];
  let at = start;
  let minBaseOffset = limits.minBaseOffset;
  for (;;) {
    const remaining = buf.length - at;
    if (remaining === 0) return { batches, end: at, stop: 'end' };
    if (remaining < RECORD_BATCH_OVERHEAD) {
      const needBytes =
        remaining >= LOG_OVERHEAD ? Math.max(batchSizeAt(buf, at), RECORD_BATCH_OVERHEAD) : RECORD_BATCH_OVERHEAD;
      return { batches, end: at, stop: 'partial', needBytes };
    }
    const h = readBatchHeader(buf, at);
    const size = h.batchLength + LOG_OVERHEAD;
    const corrupt = (reason: string): BatchScan => ({ batches, end: at, stop: 'corrupt', reason });
    if (size < RECORD_BATCH_OVERHEAD) return corrupt(`batch length ${h.batchLength} is shorter than a batch header`);
    if (h.magic !== MAGIC_V2) return corrupt(`magic ${h.magic} where 2 was expected`);
    if (h.lastOffsetDelta < 0) return corrupt(`negative last offset delta ${h.lastOffsetDelta}`);
    if (h.baseOffset < minBaseOffset)
      return corrupt(`base offset ${h.baseOffset} is below the expected ${minBaseOffset}`);
    const lastOffset = h.baseOffset + h.lastOffsetDelta;
    if (lastOffset > limits.maxLastOffset)
      return corrupt(`last offset ${lastOffset} is beyond what the segment can index`);
    if (remaining < size) return { batches, end: at, stop: 'partial', needBytes: size };
    if (!isCrcValid(buf, at, size)) return corrupt(`CRC mismatch in batch at base offset ${h.baseOffset}`);
    batches.push({ position: at, size, baseOffset: h.baseOffset, lastOffset, maxTimestamp: h.maxTimestamp });
    minBaseOffset = lastOffset + 1;
    at += size;
  }
}

/**
 * The batches of a record set copied from another broker's log (a replica fetch): framing, CRC
 * and increasing offsets checked, as stored batches with their offsets; a batch cut short at the
 * end (a size limit) is left out. An Error says what does not check out.
 */
export function copiedBatches(buf: Buffer): { batches: (BatchInfo & { baseOffset: number })[] } | Error {
  const scan = scanBatches(buf, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
  if (scan.stop === 'corrupt') return new Error(scan.reason);
  return {
    batches: scan.batches.map((b) => {
      const h = readBatchHeader(buf, b.position);
      return {
        position: b.position,
        size: b.size,
        baseOffset: b.baseOffset,
        recordCount: h.recordCount,
        lastOffsetDelta: h.lastOffsetDelta,
        maxTimestamp: h.maxTimestamp,
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        baseSequence: h.baseSequence,
        compression: compressionAt(buf, b.position) ?? 'none',
        isControl: isControlBatch(h),
        isTransactional: (h.attributes & TRANSACTIONAL_FLAG) !== 0,
      };
    }),
  };
}

export interface RecordHeader {
  key: string;
  value: Buffer | string | null;
}

export interface RecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: RecordHeader[];
  /** Defaults to the time of the call. */
  timestampMs?: number;
}

export interface BuildBatchOptions {
  records: RecordInput[];
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  /** A control batch (transaction markers, Raft's LeaderChange): records hold a control key. */
  isControl?: boolean;
}

function bytesOf(v: Buffer | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v) : v;
}

function writeNullableVarBytes(w: Writer, v: Buffer | string | null | undefined): void {
  if (v === null || v === undefined) {
    w.varint(-1);
    return;
  }
  const b = bytesOf(v);
  w.varint(b.length);
  w.raw(b);
}

/** Header fields of a batch to assemble; the CRC and batch length are computed. */
interface BatchFields {
  baseOffset: number;
  partitionLeaderEpoch: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** A header followed by the (possibly compressed) records section, with a correct CRC. */
function assembleBatch(f: BatchFields, payload: Buffer): Buffer {
  const batch = Buffer.alloc(RECORD_BATCH_OVERHEAD + payload.length);
  writeInt64(batch, BatchField.baseOffset, f.baseOffset);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BatchField.batchLength);
  batch.writeInt32BE(f.partitionLeaderEpoch, BatchField.partitionLeaderEpoch);
  batch.writeInt8(MAGIC_V2, BatchField.magic);
  batch.writeInt16BE(f.attributes, BatchField.attributes);
  batch.writeInt32BE(f.lastOffsetDelta, BatchField.lastOffsetDelta);
  writeInt64(batch, BatchField.baseTimestamp, f.baseTimestamp);
  writeInt64(batch, BatchField.maxTimestamp, f.maxTimestamp);
  writeInt64(batch, BatchField.producerId, f.producerId);
  batch.writeInt16BE(f.producerEpoch, BatchField.producerEpoch);
  batch.writeInt32BE(f.baseSequence, BatchField.baseSequence);
  batch.writeInt32BE(f.recordCount, BatchField.recordCount);
  payload.copy(batch, RECORD_BATCH_OVERHEAD);
  batch.writeUInt32BE(computeCrc(batch, 0, batch.length), BatchField.crc);
  return batch;
}

function batchParts(opts: BuildBatchOptions): { fields: BatchFields; records: Buffer } {
  if (opts.records.length === 0) throw new RangeError('a record batch needs at least one record');
  const now = Date.now();
  const timestamps = opts.records.map((r) => r.timestampMs ?? now);
  const baseTimestamp = timestamps[0];
  const records = new Writer();
  opts.records.forEach((r, i) => {
    const body = new Writer();
    body.int8(0);
    body.varint(timestamps[i] - baseTimestamp);
    body.varint(i);
    writeNullableVarBytes(body, r.key);
    writeNullableVarBytes(body, r.value);
    const headers = r.headers ?? [];
    body.varint(headers.length);
    for (const h of headers) {
      const key = Buffer.from(h.key);
      body.varint(key.length);
      body.raw(key);
      writeNullableVarBytes(body, h.value);
    }
    const encoded = body.toBuffer();
    records.varint(encoded.length);
    records.raw(encoded);
  });
  return {
    fields: {
      baseOffset: opts.baseOffset ?? 0,
      partitionLeaderEpoch: opts.partitionLeaderEpoch ?? -1,
      attributes: (opts.isTransactional ? TRANSACTIONAL_FLAG : 0) | (opts.isControl ? CONTROL_FLAG : 0),
      lastOffsetDelta: opts.records.length - 1,
      baseTimestamp,
      maxTimestamp: Math.max(...timestamps),
      producerId: opts.producerId ?? NO_PRODUCER_ID,
      producerEpoch: opts.producerEpoch ?? -1,
      baseSequence: opts.baseSequence ?? -1,
      recordCount: opts.records.length,
    },
    records: records.toBuffer(),
  };
}

/**
 * Encodes an uncompressed CreateTime batch the way a producer does (baseTimestamp is the first
 * record's timestamp) with a correct CRC. For tests, benchmarks and the metadata log's Raft batches.
 */
export function buildRecordBatch(opts: BuildBatchOptions): Buffer {
  const { fields, records } = batchParts(opts);
  return assembleBatch(fields, records);
}

/** buildRecordBatch with the records section compressed by `compression`. */
export async function buildCompressedBatch(
  opts: BuildBatchOptions & { compression: CompressionCodec },
): Promise<Buffer> {
  const { fields, records } = batchParts(opts);
  const payload = await compress(opts.compression, records);
  return assembleBatch({ ...fields, attributes: fields.attributes | CODEC_IDS[opts.compression] }, payload);
}

export interface DecodedRecord {
  offset: number;
  /** Under LogAppendTime every record carries the batch's max timestamp. */
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer | null }>;
}

/** A decoded record with what re-encoding its batch needs: its delta and its exact bytes. */
export interface RecordEntry extends DecodedRecord {
  offsetDelta: number;
  /** The whole record as stored, length varint included; valid against the batch's base offset and timestamp. */
  bytes: Buffer;
}

function codecOf(h: BatchHeader): CompressionCodec {
  const codec = CODECS[h.attributes & COMPRESSION_MASK];
  if (codec === undefined) throw new RangeError(`unknown compression codec ${h.attributes & COMPRESSION_MASK}`);
  return codec;
}

/** Parses `h.recordCount` records from `payload[start, end)`, which must hold exactly them. */
function parseRecords(h: BatchHeader, payload: Buffer, start: number, end: number): RecordEntry[] {
  const logAppendTime = (h.attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const r = new Reader(payload, start, end);
  const out: RecordEntry[] = [];
  for (let i = 0; i < h.recordCount; i++) {
    const recordStart = r.pos;
    const length = r.varint();
    const bodyStart = r.pos;
    r.int8();
    const timestampDelta = r.varlong();
    const offsetDelta = r.varint();
    const keyLength = r.varint();
    const key = keyLength < 0 ? null : r.slice(keyLength);
    const valueLength = r.varint();
    const value = valueLength < 0 ? null : r.slice(valueLength);
    const headers: DecodedRecord['headers'] = [];
    const headerCount = r.varint();
    for (let j = 0; j < headerCount; j++) {
      const hk = r.slice(r.varint()).toString('utf8');
      const hvLength = r.varint();
      headers.push({ key: hk, value: hvLength < 0 ? null : r.slice(hvLength) });
    }
    if (r.pos !== bodyStart + length)
      throw new RangeError(`record ${i} is ${length} bytes long but its fields take ${r.pos - bodyStart}`);
    out.push({
      offset: h.baseOffset + offsetDelta,
      timestampMs: logAppendTime ? h.maxTimestamp : h.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
      offsetDelta,
      bytes: payload.subarray(recordStart, r.pos),
    });
  }
  if (r.remaining !== 0) throw new RangeError(`${r.remaining} bytes left after the batch's ${h.recordCount} records`);
  return out;
}

function withoutBytes(entries: RecordEntry[]): DecodedRecord[] {
  return entries.map(({ offset, timestampMs, key, value, headers }) => ({ offset, timestampMs, key, value, headers }));
}

/**
 * Decodes the records of one uncompressed batch (keys and values are slices of `batch`).
 * Throws on a compressed or malformed batch: it is meant for stored data and tests, not for
 * unvalidated client input. decodeRecordsAsync also reads compressed batches.
 */
export function decodeRecords(batch: Buffer): DecodedRecord[] {
  const h = readBatchHeader(batch, 0);
  const codec = CODECS[h.attributes & COMPRESSION_MASK];
  if (codec !== 'none') throw new RangeError(`cannot decode records of a ${codec ?? 'unknown'}-compressed batch`);
  return withoutBytes(parseRecords(h, batch, RECORD_BATCH_OVERHEAD, h.batchLength + LOG_OVERHEAD));
}

/**
 * The records of one batch with their exact bytes, decompressing them when the batch is
 * compressed. Throws (CompressionError from the codec, RangeError for malformed records) on a
 * batch that does not decode.
 */
export async function readRecordEntries(batch: Buffer): Promise<{ header: BatchHeader; records: RecordEntry[] }> {
  const header = readBatchHeader(batch, 0);
  const end = header.batchLength + LOG_OVERHEAD;
  const codec = codecOf(header);
  if (codec === 'none') return { header, records: parseRecords(header, batch, RECORD_BATCH_OVERHEAD, end) };
  const payload = await decompress(codec, batch.subarray(RECORD_BATCH_OVERHEAD, end));
  return { header, records: parseRecords(header, payload, 0, payload.length) };
}

/** decodeRecords for batches of any codec. */
export async function decodeRecordsAsync(batch: Buffer): Promise<DecodedRecord[]> {
  return withoutBytes((await readRecordEntries(batch)).records);
}

/**
 * The batch re-encoded with `codec` (recomputed CRC and length), as Kafka does when a topic's
 * compression.type differs from the producer's codec. Records keep their exact bytes; every
 * other header field (offsets, timestamps, producer id, epoch and sequence) is kept.
 * `decompressed`, when the caller has them, are the batch's records already decompressed.
 */
export async function recompressBatch(batch: Buffer, codec: CompressionCodec, decompressed?: Buffer): Promise<Buffer> {
  const h = readBatchHeader(batch, 0);
  const end = h.batchLength + LOG_OVERHEAD;
  const from = codecOf(h);
  if (from === codec) return batch.subarray(0, end);
  const records = decompressed ?? (await decompress(from, batch.subarray(RECORD_BATCH_OVERHEAD, end)));
  const payload = await compress(codec, records);
  return assembleBatch({ ...h, attributes: (h.attributes & ~COMPRESSION_MASK) | CODEC_IDS[codec] }, payload);
}

/**
 * A batch holding only `kept` (records of `batch`, in order, from readRecordEntries), as the
 * log cleaner writes it: base offset, base timestamp, producer fields and attributes are the
 * original's, so every kept record keeps its offset and timestamp; the last offset delta,
 * record count and (under CreateTime) max timestamp follow the kept records. The records are
 * compressed with `codec` (by default the batch's own). Null when nothing is kept.
 */
export async function rebuildBatch(
  batch: Buffer,
  kept: readonly RecordEntry[],
  codec?: CompressionCodec,
): Promise<Buffer | null> {
  if (kept.length === 0) return null;
  const h = readBatchHeader(batch, 0);
  const target = codec ?? codecOf(h);
  const logAppendTime = (h.attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const payload = await compress(target, Buffer.concat(kept.map((r) => r.bytes)));
  return assembleBatch(
    {
      ...h,
      attributes: (h.attributes & ~COMPRESSION_MASK) | CODEC_IDS[target],
      lastOffsetDelta: kept.at(-1)!.offsetDelta,
      maxTimestamp: logAppendTime
        ? h.maxTimestamp
        : kept.reduce((max, r) => Math.max(max, r.timestampMs), NO_TIMESTAMP),
      recordCount: kept.length,
    },
    payload,
  );
}
