// Idempotent producers' state in one partition, as Kafka's ProducerStateManager keeps it: per
// producer id, the current epoch and the sequence ranges and offsets of its last five batches.
// The log checks every batch of an idempotent producer against it synchronously, right before
// assigning offsets, so a retried batch is acknowledged with its original offsets instead of
// being written twice, and a gap or a fenced epoch is refused.
//
// The state is rebuilt from the log on open: from the newest `<offset>.snapshot` file in the
// partition directory (the state exactly as of that offset), then by walking the headers of
// the batches after it. Snapshots are taken after a segment roll and on close.

import { crc32c } from '@node-rs/crc32';
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { NO_PRODUCER_ID, readInt64, writeInt64 } from '../protocol/record-batch.js';
import { INT32_MAX } from './index-file.js';

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: clients keep at most five batches in flight. */
export const BATCHES_TO_RETAIN = 5;
/** Kafka's producer.id.expiration.ms default: a producer silent for a day is forgotten. */
export const PRODUCER_ID_EXPIRATION_MS = 24 * 3_600_000;
export const SNAPSHOT_SUFFIX = '.snapshot';
/** Snapshots kept per partition; older ones are removed after a new one is written. */
const SNAPSHOTS_TO_KEEP = 2;
const SNAPSHOT_VERSION = 1;
const SNAPSHOT_FILE = /^(\d{20})\.snapshot$/;

export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

export interface ProducerEntry {
  producerId: number;
  epoch: number;
  /** Oldest first, at most BATCHES_TO_RETAIN, all of the current epoch. */
  batches: BatchMetadata[];
  lastTimestampMs: number;
}

/** The producer fields of one batch, from its header. */
export interface ProducerBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastOffsetDelta: number;
}

export type SequenceCheck =
  | { kind: 'append' }
  /** The same batch was appended before: acknowledge it with these offsets, write nothing. */
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number }
  | { kind: 'error'; error: 'INVALID_PRODUCER_EPOCH' | 'OUT_OF_ORDER_SEQUENCE_NUMBER'; message: string };

/** A produce refused by the producer state check; carries the Kafka error name. */
export class ProducerStateError extends Error {
  constructor(
    readonly error: 'INVALID_PRODUCER_EPOCH' | 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    message: string,
  ) {
    super(message);
  }
}

/** The sequence of a batch's last record: sequences wrap from INT32_MAX to 0 (DefaultRecordBatch.incrementSequence). */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return baseSequence > INT32_MAX - lastOffsetDelta
    ? baseSequence - (INT32_MAX - lastOffsetDelta) - 1
    : baseSequence + lastOffsetDelta;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  entry(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  /**
   * Kafka 4's checks for a batch from a client (UnifiedLog.analyzeAndValidateProducerState and
   * ProducerAppendInfo): a duplicate of one of the last five batches of the current epoch; an
   * epoch older than the current one (INVALID_PRODUCER_EPOCH); a new epoch not starting at
   * sequence 0, or a sequence that does not follow the last one (OUT_OF_ORDER_SEQUENCE_NUMBER).
   * A producer id the partition does not know is accepted at any sequence, as in Kafka since
   * KIP-360 (its state may have been removed by retention or expiry).
   */
  check(b: ProducerBatch): SequenceCheck {
    if (b.producerId <= NO_PRODUCER_ID) return { kind: 'append' };
    const entry = this.producers.get(b.producerId);
    if (!entry) return { kind: 'append' };
    const lastSeq = lastSequenceOf(b.baseSequence, b.lastOffsetDelta);
    if (b.producerEpoch === entry.epoch) {
      const dup = entry.batches.find((m) => m.firstSeq === b.baseSequence && m.lastSeq === lastSeq);
      if (dup) return { kind: 'duplicate', firstOffset: dup.firstOffset, lastOffset: dup.lastOffset };
    }
    if (b.producerEpoch < entry.epoch) {
      return {
        kind: 'error',
        error: 'INVALID_PRODUCER_EPOCH',
        message: `epoch ${b.producerEpoch} of producer ${b.producerId} is older than its current epoch ${entry.epoch}`,
      };
    }
    if (b.producerEpoch !== entry.epoch) {
      if (b.baseSequence === 0) return { kind: 'append' };
      return {
        kind: 'error',
        error: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
        message: `invalid sequence number for new epoch ${b.producerEpoch} of producer ${b.producerId}: ${b.baseSequence} (a new epoch starts at 0)`,
      };
    }
    const currentLastSeq = entry.batches.at(-1)?.lastSeq ?? -1;
    if (!inSequence(currentLastSeq, b.baseSequence)) {
      return {
        kind: 'error',
        error: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
        message: `out of order sequence number for producer ${b.producerId}: ${b.baseSequence} (incoming seq. number), ${currentLastSeq} (current end sequence number)`,
      };
    }
    return { kind: 'append' };
  }

  /** Records an appended batch (offsets assigned). Batches without a producer id are ignored. */
  update(b: ProducerBatch, firstOffset: number, timestampMs: number): void {
    if (b.producerId <= NO_PRODUCER_ID) return;
    let entry = this.producers.get(b.producerId);
    if (!entry) {
      entry = { producerId: b.producerId, epoch: b.producerEpoch, batches: [], lastTimestampMs: timestampMs };
      this.producers.set(b.producerId, entry);
    }
    if (entry.epoch !== b.producerEpoch) {
      entry.epoch = b.producerEpoch;
      entry.batches = [];
    }
    entry.batches.push({
      firstSeq: b.baseSequence,
      lastSeq: lastSequenceOf(b.baseSequence, b.lastOffsetDelta),
      firstOffset,
      lastOffset: firstOffset + b.lastOffsetDelta,
    });
    if (entry.batches.length > BATCHES_TO_RETAIN) entry.batches.shift();
    entry.lastTimestampMs = Math.max(entry.lastTimestampMs, timestampMs);
  }

  /** Forgets producers whose last batch is older than `maxAgeMs` (producer.id.expiration.ms). */
  expire(nowMs: number, maxAgeMs = PRODUCER_ID_EXPIRATION_MS): number {
    let removed = 0;
    for (const [id, entry] of this.producers) {
      if (nowMs - entry.lastTimestampMs > maxAgeMs) {
        this.producers.delete(id);
        removed++;
      }
    }
    return removed;
  }

  /**
   * The state as bytes: version (int16), CRC32C of the rest (uint32), entry count (int32), then
   * per producer: id (int64), epoch (int16), last timestamp (int64), batch count (int8) and per
   * batch first and last sequence (int32 each), first and last offset (int64 each).
   */
  serialize(): Buffer {
    let size = 2 + 4 + 4;
    for (const e of this.producers.values()) size += 8 + 2 + 8 + 1 + e.batches.length * 24;
    const buf = Buffer.alloc(size);
    buf.writeInt16BE(SNAPSHOT_VERSION, 0);
    buf.writeInt32BE(this.producers.size, 6);
    let at = 10;
    for (const e of this.producers.values()) {
      writeInt64(buf, at, e.producerId);
      buf.writeInt16BE(e.epoch, at + 8);
      writeInt64(buf, at + 10, e.lastTimestampMs);
      buf.writeInt8(e.batches.length, at + 18);
      at += 19;
      for (const m of e.batches) {
        buf.writeInt32BE(m.firstSeq, at);
        buf.writeInt32BE(m.lastSeq, at + 4);
        writeInt64(buf, at + 8, m.firstOffset);
        writeInt64(buf, at + 16, m.lastOffset);
        at += 24;
      }
    }
    buf.writeUInt32BE(crc32c(buf.subarray(6)), 2);
    return buf;
  }

  /** Parses serialize()'s bytes; returns why they are unusable instead when they are. */
  static parse(buf: Buffer): ProducerStateManager | string {
    if (buf.length < 10) return `snapshot of ${buf.length} bytes is shorter than its header`;
    const version = buf.readInt16BE(0);
    if (version !== SNAPSHOT_VERSION) return `unsupported snapshot version ${version}`;
    if (buf.readUInt32BE(2) !== crc32c(buf.subarray(6))) return 'snapshot CRC mismatch';
    const state = new ProducerStateManager();
    const count = buf.readInt32BE(6);
    let at = 10;
    try {
      for (let i = 0; i < count; i++) {
        const entry: ProducerEntry = {
          producerId: readInt64(buf, at),
          epoch: buf.readInt16BE(at + 8),
          lastTimestampMs: readInt64(buf, at + 10),
          batches: [],
        };
        const batches = buf.readInt8(at + 18);
        at += 19;
        for (let j = 0; j < batches; j++) {
          entry.batches.push({
            firstSeq: buf.readInt32BE(at),
            lastSeq: buf.readInt32BE(at + 4),
            firstOffset: readInt64(buf, at + 8),
            lastOffset: readInt64(buf, at + 16),
          });
          at += 24;
        }
        state.producers.set(entry.producerId, entry);
      }
    } catch (err) {
      return `snapshot is truncated: ${(err as Error).message}`;
    }
    if (at !== buf.length) return `snapshot has ${buf.length - at} bytes after its ${count} entries`;
    return state;
  }
}

export function snapshotFileName(offset: number): string {
  return `${String(offset).padStart(20, '0')}${SNAPSHOT_SUFFIX}`;
}

/** Offsets of the snapshot files in `dir`, ascending. */
export async function listSnapshots(dir: string): Promise<number[]> {
  const offsets: number[] = [];
  for (const name of await readdir(dir)) {
    const m = SNAPSHOT_FILE.exec(name);
    if (m) offsets.push(Number(m[1]));
  }
  return offsets.sort((a, b) => a - b);
}

/**
 * Writes a snapshot of the state as of `offset` (every batch below it, none at or above):
 * to a temporary file, fsynced, renamed; then removes all but the newest snapshots.
 */
export async function writeSnapshot(dir: string, offset: number, bytes: Buffer): Promise<void> {
  const target = path.join(dir, snapshotFileName(offset));
  const tmp = `${target}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, target);
  const all = await listSnapshots(dir);
  for (const old of all.slice(0, Math.max(0, all.length - SNAPSHOTS_TO_KEEP))) {
    await unlink(path.join(dir, snapshotFileName(old))).catch(ignoreMissing);
  }
}

/**
 * The newest usable snapshot at or below `logEndOffset`. Snapshots above it (the log lost its
 * tail in recovery), unreadable ones and temporary files are removed on the way.
 */
export async function loadLatestSnapshot(
  dir: string,
  logEndOffset: number,
  logger: Logger,
): Promise<{ offset: number; state: ProducerStateManager } | null> {
  for (const name of await readdir(dir)) {
    if (name.endsWith(`${SNAPSHOT_SUFFIX}.tmp`)) await unlink(path.join(dir, name)).catch(ignoreMissing);
  }
  const offsets = await listSnapshots(dir);
  for (let i = offsets.length - 1; i >= 0; i--) {
    const offset = offsets[i];
    const file = path.join(dir, snapshotFileName(offset));
    if (offset > logEndOffset) {
      logger.warn({ snapshot: offset, logEndOffset }, 'removing producer state snapshot beyond the log end');
      await unlink(file).catch(ignoreMissing);
      continue;
    }
    const state = ProducerStateManager.parse(await readFile(file));
    if (typeof state === 'string') {
      logger.warn({ snapshot: offset, reason: state }, 'removing unreadable producer state snapshot');
      await unlink(file).catch(ignoreMissing);
      continue;
    }
    return { offset, state };
  }
  return null;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
