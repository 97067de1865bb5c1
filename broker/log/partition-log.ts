// The log of one partition: a directory of segments in Kafka's layout. Appends get their offsets
// when called, queue in order, and are written by a single writer that coalesces whatever queued
// up during the previous write into one writev. Reads, timestamp lookups and retention work on a
// snapshot of the segment list, holding a reference on each segment they touch so retention (and
// the log cleaner's swap of cleaned segments) can rename and unlink files under them. Idempotent
// producers' sequences are checked against the partition's producer state right before offsets
// are assigned. No synchronous fs calls: everything goes through fs.promises.

import { MAX_TIMER_MS, systemClock, type Clock, type Timer } from '../clock.js';
import { mkdir, open, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { CompressionCodec } from '../protocol/compression.js';
import {
  type BatchInfo,
  NO_TIMESTAMP,
  RECORD_BATCH_OVERHEAD,
  readBatchHeader,
  rewriteBaseOffsetAndEpoch,
  setLogAppendTime,
} from '../protocol/record-batch.js';
import { writeCheckpoint } from './checkpoint.js';
import {
  LeaderEpochCache,
  UNDEFINED_EPOCH,
  readLeaderEpochCheckpoint,
  writeLeaderEpochCheckpoint,
} from './leader-epoch-cache.js';
import {
  ProducerStateError,
  ProducerStateManager,
  listSnapshots,
  loadLatestSnapshot,
  snapshotFileName,
  writeSnapshot,
} from './producer-state.js';
import { loadLog } from './recovery.js';
import type { ReadLoan } from './read-buffers.js';
import { countDeletableSegments } from './retention.js';
import { LogSegment, SWAP_SUFFIX, type StoredBatch, type TimestampAndOffset } from './segment.js';

export type { TimestampAndOffset } from './segment.js';
export { LogCorruptionError } from './segment.js';
export { ProducerStateError } from './producer-state.js';

/** A topic's compression.type: 'producer' keeps batches as produced, any other value is the codec stored. */
export type CompressionType = 'producer' | 'uncompressed' | Exclude<CompressionCodec, 'none'>;

export interface LogConfig {
  segmentBytes: number;
  segmentMs: number;
  /** -1: keep for ever. */
  retentionMs: number;
  /** -1: no size limit. */
  retentionBytes: number;
  flushMessages: number;
  flushMs: number;
  indexIntervalBytes: number;
  maxMessageBytes: number;
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  /** message.timestamp.before.max.ms: how far in the past a CreateTime record may be (produce). */
  messageTimestampBeforeMaxMs: number;
  /** message.timestamp.after.max.ms: how far in the future a CreateTime record may be (produce). */
  messageTimestampAfterMaxMs: number;
  /** How long retention keeps a deleted segment's files (renamed `*.deleted`) before unlinking them. */
  fileDeleteDelayMs?: number;
  /** cleanup.policy: `delete` applies retention.ms/bytes, `compact` runs the log cleaner. */
  cleanupPolicy: { compact: boolean; delete: boolean };
  /** How long the cleaner keeps tombstones (delete.retention.ms). */
  deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio: the share of uncleaned bytes that makes a log worth cleaning. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: records younger than this are not compacted. */
  minCompactionLagMs: number;
  compressionType: CompressionType;
}

/** Kafka's topic defaults. */
export const DEFAULT_LOG_CONFIG: LogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3_600_000,
  retentionMs: 7 * 24 * 3_600_000,
  retentionBytes: -1,
  flushMessages: Number.MAX_SAFE_INTEGER,
  flushMs: Number.MAX_SAFE_INTEGER,
  indexIntervalBytes: 4096,
  maxMessageBytes: 1024 * 1024 + 12,
  messageTimestampType: 'CreateTime',
  messageTimestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
  messageTimestampAfterMaxMs: 3_600_000,
  fileDeleteDelayMs: 60_000,
  cleanupPolicy: { compact: false, delete: true },
  deleteRetentionMs: 86_400_000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  compressionType: 'producer',
};

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** The broker's append time under LogAppendTime, else -1. */
  logAppendTimeMs: number;
  /** A retry of a batch the log already holds: the offsets are the original's, nothing was written. */
  duplicate?: boolean;
}

/**
 * How the high watermark moves. A log of its own (the metadata log, tests) exposes what it has
 * written; a replicated partition's is set by its leader (advanceHighWatermark) and starts from
 * its last checkpoint.
 */
export type HighWatermarkPolicy = { kind: 'written' } | { kind: 'replicated'; checkpointed: number };

/** A follower's append that does not continue the log where it ends. */
export class NonContiguousAppendError extends Error {}

export type ReadResult =
  { ok: true; chunks: Buffer[]; bytes: number } | { ok: false; error: 'OFFSET_OUT_OF_RANGE'; message: string };

const CLEAN_SHUTDOWN_FILE = '.clean_shutdown';
/** Closed segments kept open (file handle and indexes) for readers; the active one is always open. */
const MAX_OPEN_CLOSED_SEGMENTS = 4;
/** Upper bound on one coalesced write, so one slow write does not hold many producers' acks. */
const MAX_WRITE_BYTES = 8 * 1024 * 1024;
const DEFAULT_FILE_DELETE_DELAY_MS = 60_000;

interface QueuedAppend {
  kind: 'append';
  chunks: Buffer[];
  bytes: number;
  batches: StoredBatch[];
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  logAppendTimeMs: number;
  resolve: (result: AppendResult) => void;
  reject: (err: Error) => void;
}

/** Work that must not interleave with writes (flushes, rolls). */
interface QueuedTask {
  kind: 'task';
  run: () => Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class PartitionLog {
  /** Replaced, never mutated, so an operation that awaits keeps a consistent list. */
  private segments: LogSegment[];
  private startOffset: number;
  /** Next offset to assign; appends still queued or being written lie below it. */
  private nextOffset: number;
  /** End of the data whose write completed. */
  private writtenEndOffset: number;
  private hw: number;
  /** Everything below it is fsynced; recovery after a crash starts from here. */
  private recoveryPoint: number;
  private readonly queue: Array<QueuedAppend | QueuedTask> = [];
  private draining: Promise<void> | null = null;
  private failure: Error | null = null;
  /** Told once when the log fails (see fail()), so its owner can reopen it to recover. */
  onFailure: (() => void) | undefined;
  private closed = false;
  private flushTimer: Timer | undefined;
  private lastFlushMs: number;
  /** Background flushes of rolled segments, in roll order. */
  private rollFlushes: Promise<void> = Promise.resolve();
  private checkpointWrites: Promise<void> = Promise.resolve();
  /** Closed segments with open files, least recently used first. */
  private readonly openClosedSegments: LogSegment[] = [];
  private readonly pendingDeletes = new Map<LogSegment, Timer>();
  /** Appends waiting for async preparation (see inOrder), and the last of them to be issued. */
  private orderedCount = 0;
  private orderedTail: Promise<void> = Promise.resolve();
  /** True while an inOrder step runs: its append() takes offsets at once. */
  private issuing = false;
  /** Set by a roll: the next append snapshots the producer state first. */
  private snapshotDue = false;
  private hasSnapshot: boolean;
  private snapshotWrites: Promise<void> = Promise.resolve();
  /** A segment file was created since the directory was last fsynced (flush syncs it). */
  private dirSyncDue = false;
  /** The leader-epoch cache changed: written before the next batch is. */
  private epochsDue = false;

  private constructor(
    readonly dir: string,
    private cfg: LogConfig,
    private readonly logger: Logger,
    loaded: { segments: LogSegment[]; logStartOffset: number; logEndOffset: number; recoveryPoint: number },
    private producers: ProducerStateManager,
    hasSnapshot: boolean,
    private readonly clock: Clock,
    private readonly epochs: LeaderEpochCache,
    private readonly hwPolicy: HighWatermarkPolicy,
  ) {
    this.hasSnapshot = hasSnapshot;
    this.lastFlushMs = clock.nowMs();
    this.segments = loaded.segments;
    this.startOffset = loaded.logStartOffset;
    this.nextOffset = loaded.logEndOffset;
    this.writtenEndOffset = loaded.logEndOffset;
    this.hw =
      hwPolicy.kind === 'replicated'
        ? Math.min(Math.max(hwPolicy.checkpointed, loaded.logStartOffset), loaded.logEndOffset)
        : loaded.logEndOffset;
    this.recoveryPoint = loaded.recoveryPoint;
  }

  /** Opens the partition directory, creating it or recovering it after an unclean shutdown. */
  static async open(
    dir: string,
    config: LogConfig,
    logger: Logger,
    clock: Clock = systemClock,
    hwPolicy: HighWatermarkPolicy = { kind: 'written' },
  ): Promise<PartitionLog> {
    const startedMs = clock.nowMs();
    await mkdir(dir, { recursive: true });
    const marker = path.join(dir, CLEAN_SHUTDOWN_FILE);
    const clean = await exists(marker);
    const loaded = await loadLog(dir, config.indexIntervalBytes, logger, clean, startedMs);
    if (clean) {
      // Gone before the first append, so a crash from here on is seen as unclean.
      await unlink(marker);
      await syncDir(dir);
    }
    const producers = await loadProducerState(
      dir,
      loaded.segments,
      loaded.logEndOffset,
      config.indexIntervalBytes,
      logger,
      clock.nowMs(),
    );
    const epochs = await loadLeaderEpochs(dir, loaded.segments, loaded.logStartOffset, loaded.logEndOffset, logger);
    const log = new PartitionLog(
      dir,
      config,
      logger,
      loaded,
      producers.state,
      producers.hasSnapshot,
      clock,
      epochs.cache,
      hwPolicy,
    );
    await log.writeCheckpoint();
    if (epochs.changed) await writeLeaderEpochCheckpoint(dir, epochs.cache);
    logger.info(
      {
        logStartOffset: log.startOffset,
        logEndOffset: log.nextOffset,
        segments: log.segments.length,
        cleanShutdown: clean,
        producers: producers.state.size,
        durationMs: clock.nowMs() - startedMs,
      },
      'opened partition log',
    );
    return log;
  }

  get logStartOffset(): number {
    return this.startOffset;
  }

  /** The next offset to assign. */
  get logEndOffset(): number {
    return this.nextOffset;
  }

  /** Bytes in its segments' log files (indexes not counted), as Kafka's UnifiedLog.size. */
  get sizeBytes(): number {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.size;
    return bytes;
  }

  /** Offsets below it are visible to consumers (see HighWatermarkPolicy). */
  get highWatermark(): number {
    return this.hw;
  }

  /** The end of what is written: what a leader serves its followers, and its own replica's end offset. */
  get writtenEnd(): number {
    return this.writtenEndOffset;
  }

  /**
   * Moves a replicated log's high watermark up to `offset`, never past what is written nor
   * back; true when it moved.
   */
  advanceHighWatermark(offset: number): boolean {
    const next = Math.min(offset, this.writtenEndOffset);
    if (next <= this.hw) return false;
    this.hw = next;
    return true;
  }

  /** The epoch of the last batch in the log (-1 when none carries one). */
  get latestEpoch(): number {
    return this.epochs.latestEpoch;
  }

  /** Where `epoch` (or the largest one below it this log holds) ended; see LeaderEpochCache.endOffsetFor. */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    if (epoch === this.epochs.latestEpoch) return { epoch, endOffset: this.writtenEndOffset };
    return this.epochs.endOffsetFor(epoch, this.writtenEndOffset);
  }

  /** The first offset the given leader epoch wrote here, if any. */
  epochStartOffset(epoch: number): number | undefined {
    return this.epochs.startOffsetOf(epoch);
  }

  get config(): LogConfig {
    return this.cfg;
  }

  private get active(): LogSegment {
    return this.segments.at(-1)!;
  }

  /**
   * Appends validated batches of `records` (see validateProducedBatches). Offsets are assigned
   * now (after any append still waiting in inOrder), so appends keep their call order; base
   * offset and leader epoch are stamped into `records` in place (and, under LogAppendTime, the
   * max timestamp and CRC). Resolves once the batches are written (and fsynced, when the flush
   * policy says so).
   *
   * Batches of idempotent producers are checked against the producer state first, in the same
   * synchronous step as the offset assignment: a retry of one of a producer's last five batches
   * resolves with the original offsets (`duplicate`) once they are written, and writes nothing;
   * a sequence gap or a fenced epoch rejects with a ProducerStateError.
   */
  append(records: Buffer, batches: readonly BatchInfo[], leaderEpoch: number): Promise<AppendResult> {
    if (this.orderedCount > 0 && !this.issuing)
      return this.inOrder(Promise.resolve(), () => this.appendNow(records, batches, leaderEpoch));
    return this.appendNow(records, batches, leaderEpoch);
  }

  /**
   * Runs `issue` with what `ready` resolves to once every append called before this one has
   * got its offsets; appends called later wait until `issue` has run. Produce uses it for
   * batches that need async work (decompression, recompression) before the log takes them, so
   * they keep their order with every other append. `issue` should call append() synchronously.
   */
  inOrder<T, R>(ready: Promise<T>, issue: (value: T) => Promise<R>): Promise<R> {
    this.orderedCount++;
    // Handled here so a rejection that settles before its turn is not reported as unhandled.
    ready.catch(() => undefined);
    let outcome!: Promise<R>;
    const issued = this.orderedTail
      .then(() => ready)
      .then(
        (value) => {
          this.issuing = true;
          try {
            outcome = issue(value);
          } catch (err) {
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what `issue` threw, unchanged
            outcome = Promise.reject(err);
          } finally {
            this.issuing = false;
          }
        },
        (err: unknown) => {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on `ready`'s rejection, unchanged
          outcome = Promise.reject(err);
        },
      )
      .finally(() => {
        this.orderedCount--;
      });
    this.orderedTail = issued;
    return issued.then(() => outcome);
  }

  private appendNow(records: Buffer, batches: readonly BatchInfo[], leaderEpoch: number): Promise<AppendResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`partition log ${this.dir} is closed`));
    if (batches.length === 0) return Promise.reject(new RangeError('append needs at least one batch'));
    if (this.snapshotDue) this.takeSnapshot();
    for (const b of batches) {
      const check = this.producers.check(b);
      if (check.kind === 'error')
        return Promise.reject(new ProducerStateError(check.error, `${check.message} (next offset ${this.nextOffset})`));
      if (check.kind === 'duplicate') {
        if (batches.length > 1) return Promise.reject(new RangeError('a duplicate batch must be appended on its own'));
        // Acknowledged once the original is written: it may still be queued.
        return this.enqueue(() => Promise.resolve()).then(() => ({
          baseOffset: check.firstOffset,
          lastOffset: check.lastOffset,
          logAppendTimeMs: -1,
          duplicate: true,
        }));
      }
    }
    const nowMs = this.clock.nowMs();
    const logAppendTimeMs = this.cfg.messageTimestampType === 'LogAppendTime' ? nowMs : -1;
    const baseOffset = this.nextOffset;
    if (this.epochs.assign(leaderEpoch, baseOffset)) this.epochsDue = true;
    const stored: StoredBatch[] = [];
    const chunks: Buffer[] = [];
    let offset = baseOffset;
    let bytes = 0;
    let maxTimestamp = NO_TIMESTAMP;
    let runStart = 0;
    let runEnd = -1;
    for (const b of batches) {
      rewriteBaseOffsetAndEpoch(records, b.position, offset, leaderEpoch);
      if (logAppendTimeMs >= 0) setLogAppendTime(records, b.position, b.size, logAppendTimeMs);
      const batchMaxTimestamp = logAppendTimeMs >= 0 ? logAppendTimeMs : b.maxTimestamp;
      stored.push({ size: b.size, lastOffset: offset + b.lastOffsetDelta, maxTimestamp: batchMaxTimestamp });
      this.producers.update(b, offset, nowMs);
      maxTimestamp = Math.max(maxTimestamp, batchMaxTimestamp);
      offset += b.lastOffsetDelta + 1;
      bytes += b.size;
      if (b.position !== runEnd) {
        if (runEnd >= 0) chunks.push(records.subarray(runStart, runEnd));
        runStart = b.position;
      }
      runEnd = b.position + b.size;
    }
    chunks.push(records.subarray(runStart, runEnd));
    this.nextOffset = offset;
    return this.queueAppend(chunks, bytes, stored, baseOffset, offset - 1, maxTimestamp, logAppendTimeMs);
  }

  /**
   * A follower's append (Kafka's appendAsFollower): batches copied from the leader keep their
   * offsets, leader epochs and timestamps. The first must start at the log end
   * (NonContiguousAppendError otherwise: the caller fetched from a stale offset). Producer state
   * follows the batches without checking sequences (the leader did), so a producer's retry
   * after this replica becomes leader is still recognised.
   */
  appendAsFollower(records: Buffer, batches: readonly BatchInfo[]): Promise<AppendResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`partition log ${this.dir} is closed`));
    if (batches.length === 0) return Promise.reject(new RangeError('append needs at least one batch'));
    if (this.orderedCount > 0 && !this.issuing)
      return this.inOrder(Promise.resolve(), () => this.appendAsFollower(records, batches));
    if (this.snapshotDue) this.takeSnapshot();
    const baseOffset = readBatchHeader(records, batches[0].position).baseOffset;
    if (baseOffset !== this.nextOffset)
      return Promise.reject(
        new NonContiguousAppendError(`a batch at offset ${baseOffset} does not continue the log at ${this.nextOffset}`),
      );
    const nowMs = this.clock.nowMs();
    const stored: StoredBatch[] = [];
    let offset = baseOffset;
    let maxTimestamp = NO_TIMESTAMP;
    let bytes = 0;
    for (const b of batches) {
      const h = readBatchHeader(records, b.position);
      if (h.baseOffset !== offset)
        return Promise.reject(
          new NonContiguousAppendError(`a batch at offset ${h.baseOffset} does not follow offset ${offset - 1}`),
        );
      if (this.epochs.assign(h.partitionLeaderEpoch, offset)) this.epochsDue = true;
      stored.push({ size: b.size, lastOffset: offset + b.lastOffsetDelta, maxTimestamp: b.maxTimestamp });
      this.producers.update(b, offset, nowMs);
      maxTimestamp = Math.max(maxTimestamp, b.maxTimestamp);
      offset += b.lastOffsetDelta + 1;
      bytes += b.size;
    }
    this.nextOffset = offset;
    const first = batches[0].position;
    const last = batches.at(-1)!;
    const chunks = [records.subarray(first, last.position + last.size)];
    return this.queueAppend(chunks, bytes, stored, baseOffset, offset - 1, maxTimestamp, -1);
  }

  private queueAppend(
    chunks: Buffer[],
    bytes: number,
    batches: StoredBatch[],
    baseOffset: number,
    lastOffset: number,
    maxTimestamp: number,
    logAppendTimeMs: number,
  ): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        kind: 'append',
        chunks,
        bytes,
        batches,
        baseOffset,
        lastOffset,
        maxTimestamp,
        logAppendTimeMs,
        resolve,
        reject,
      });
      this.kick();
    });
  }

  /**
   * Whole batches starting with the one that holds `fetchOffset`, up to `maxBytes`; with
   * `minOneBatch` the first batch comes whole even when larger (KIP-74). Batches starting at or
   * after `maxOffset` (the high watermark by default; a follower would pass the log end) are
   * left out. OFFSET_OUT_OF_RANGE outside [logStartOffset, logEndOffset]. The chunks are slices
   * of buffers from `buffers` when given (see read-buffers.ts), else of new ones.
   */
  async read(
    fetchOffset: number,
    maxBytes: number,
    minOneBatch: boolean,
    options: { maxOffset?: number; buffers?: ReadLoan } = {},
  ): Promise<ReadResult> {
    const { maxOffset = this.hw, buffers } = options;
    if (this.closed) throw new Error(`partition log ${this.dir} is closed`);
    if (fetchOffset < this.startOffset || fetchOffset > this.nextOffset) {
      return {
        ok: false,
        error: 'OFFSET_OUT_OF_RANGE',
        message: `offset ${fetchOffset} is outside the log's range [${this.startOffset}, ${this.nextOffset}]`,
      };
    }
    if (fetchOffset >= maxOffset) return { ok: true, chunks: [], bytes: 0 };
    for (;;) {
      const segments = this.segments;
      let replaced = false;
      for (let i = floorSegment(segments, fetchOffset); i < segments.length; i++) {
        const segment = segments[i];
        const truncations = segment.truncations;
        const found = await this.withSegment(segment, (s) =>
          s.read({
            fetchOffset,
            maxBytes,
            minOneBatch,
            maxOffset,
            indexIntervalBytes: this.cfg.indexIntervalBytes,
            buffers,
          }),
        );
        if (found) return { ok: true, ...found };
        // The cleaner swapped it for a cleaned segment (or retention removed it, or a truncation
        // cut it): skipping to the next one could skip records the new list holds, so start over.
        if ((segment.deleted || segment.truncations !== truncations) && this.segments !== segments) {
          replaced = true;
          break;
        }
      }
      if (!replaced) return { ok: true, chunks: [], bytes: 0 };
    }
  }

  /**
   * ListOffsets by timestamp, as Kafka: the first record at or after the log start offset with
   * a timestamp >= `timestampMs`, searched in the first segment whose max timestamp reaches it.
   * Null when there is none below the high watermark.
   */
  async offsetForTimestamp(timestampMs: number): Promise<TimestampAndOffset | null> {
    const startOffset = this.startOffset;
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestampMs) continue;
      const found = await this.withSegment(segment, (s) =>
        s.findOffsetByTimestamp(timestampMs, startOffset, this.cfg.indexIntervalBytes),
      );
      if (found) return found.offset < this.hw ? found : null;
    }
    return null;
  }

  /** ListOffsets MAX_TIMESTAMP: the first record with the log's largest timestamp; null when empty. */
  async maxTimestamp(): Promise<TimestampAndOffset | null> {
    let best: LogSegment | undefined;
    for (const segment of this.segments) {
      if (segment.maxTimestamp > (best?.maxTimestamp ?? NO_TIMESTAMP)) best = segment;
    }
    if (!best) return null;
    const found = await this.withSegment(best, (s) => s.findMaxTimestampRecord(this.cfg.indexIntervalBytes));
    return found && found.offset < this.hw ? found : null;
  }

  updateConfig(config: LogConfig): void {
    this.cfg = config;
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    if (this.writtenEndOffset > this.recoveryPoint) this.scheduleFlush();
  }

  /**
   * Deletes whole old segments by retention.bytes and retention.ms (Kafka's rules, see
   * retention.ts; only when cleanup.policy includes `delete`) and advances the log start offset
   * past them. The active segment is never deleted; when it has expired as a whole it is rolled
   * first, as Kafka does, so that a partition that stopped receiving data still ages out.
   * Returns the number deleted.
   */
  async applyRetention(nowMs: number): Promise<number> {
    if (this.closed || this.failure) return 0;
    const activeExpired = () => this.active.size > 0 && this.deletableCount(nowMs) === this.segments.length;
    if (activeExpired()) {
      await this.enqueue(async () => {
        // Appends queued before this task may have refreshed the segment.
        if (activeExpired()) await this.roll(this.writtenEndOffset, 'retention');
      });
    }
    const count = Math.min(this.deletableCount(nowMs), this.segments.length - 1);
    if (count <= 0) return 0;
    const doomed = this.segments.slice(0, count);
    this.segments = this.segments.slice(count);
    this.startOffset = Math.max(this.startOffset, this.segments[0].baseOffset);
    await this.writeCheckpoint();
    await this.removeSegments(doomed);
    return count;
  }

  /**
   * DeleteRecords: moves the log start offset up to `offset` (the caller keeps it at or below
   * the high watermark) and deletes the segments now wholly below it. Reads, ListOffsets
   * `earliest` and retention follow the new start at once; the checkpoint keeps it across a
   * restart. Returns the log start offset (the partition's low watermark).
   */
  async deleteRecordsBefore(offset: number): Promise<number> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`partition log ${this.dir} is closed`);
    if (offset > this.startOffset) {
      this.startOffset = offset;
      await this.writeCheckpoint();
      this.logger.info({ logStartOffset: offset }, 'log start offset moved by DeleteRecords');
    }
    await this.applyRetention(this.clock.nowMs());
    return this.startOffset;
  }

  /**
   * Log truncation, for followers and the Raft log (Kafka's UnifiedLog.truncateTo): removes every
   * record at or after `offset` and resolves with the new log end offset. A batch holding
   * `offset` goes whole (Kafka truncates at batch boundaries), so the new end is that batch's base
   * offset; otherwise it is `offset`. At or past the log end it changes nothing. Below the log
   * start offset (or when the batch to cut starts below it) the log is emptied and starts again
   * at `offset` (Kafka's truncateFullyAndStartAt); `fully` asks for that at any offset, even past
   * the log end (the Raft log installing a snapshot).
   *
   * It takes its turn with appends: every append called before it is written first, and appends
   * called after it get offsets from the new end. Segments wholly past the cut are removed, the
   * one holding it is cut (log file and both indexes), the high watermark, max timestamps and
   * producer state (rebuilt from what remains, as on open) follow. When it resolves, all of it is
   * on disk: the log files, indexes, removals and checkpoint are fsynced, and so is everything
   * below the new end (`durableOffset` equals it). A failure fails the log, as a failed write does.
   */
  truncateTo(offset: number, options: { fully?: boolean } = {}): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0)
      return Promise.reject(new RangeError(`cannot truncate to offset ${offset}`));
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`partition log ${this.dir} is closed`));
    // Appends called from now on wait in inOrder's chain until the truncation is done.
    this.orderedCount++;
    let newEnd = -1;
    const done = this.orderedTail.then(() =>
      this.enqueue(async () => {
        newEnd = await this.truncateNow(offset, options.fully ?? false);
      }),
    );
    this.orderedTail = done
      .catch(() => undefined)
      .finally(() => {
        this.orderedCount--;
      });
    return done.then(() => newEnd);
  }

  /** Runs as a queue task: every append called before the truncation is written. */
  private async truncateNow(offset: number, fully: boolean): Promise<number> {
    // close() may have started while it waited for its turn.
    if (this.closed) throw new Error(`partition log ${this.dir} is closed`);
    // A rolled segment's background flush would raise the recovery point past the cut.
    await this.rollFlushes;
    await this.snapshotWrites;
    if (!fully && offset >= this.nextOffset) return this.nextOffset;
    const before = this.nextOffset;
    try {
      const newEnd =
        fully || offset < this.startOffset || (await this.batchStartAtOrBelow(offset)) < this.startOffset
          ? await this.truncateFullyAndStartAt(offset)
          : await this.truncateWithin(offset);
      this.logger.info({ offset, logEndOffset: newEnd, previousLogEndOffset: before }, 'truncated partition log');
      return newEnd;
    } catch (err) {
      this.fail(err);
      throw this.failure!;
    }
  }

  /** The base offset of the batch holding `offset` (`offset` itself when none does), within the log. */
  private async batchStartAtOrBelow(offset: number): Promise<number> {
    const segment = this.segments[floorSegment(this.segments, offset)];
    let start = offset;
    const found = await this.withSegment(segment, (s) =>
      s.read({
        fetchOffset: offset,
        maxBytes: 1,
        minOneBatch: true,
        maxOffset: offset + 1,
        indexIntervalBytes: this.cfg.indexIntervalBytes,
      }),
    );
    const first = found?.chunks[0];
    if (first && first.length >= RECORD_BATCH_OVERHEAD) start = Math.min(offset, readBatchHeader(first, 0).baseOffset);
    return start;
  }

  /** Cuts the segment holding `offset` and removes the ones after it. */
  private async truncateWithin(offset: number): Promise<number> {
    // Synchronous: consumers stop seeing the tail at once, and the list loses the later
    // segments in one step (retention and the cleaner's swap work on the current list).
    this.hw = Math.min(this.hw, offset);
    this.recoveryPoint = Math.min(this.recoveryPoint, offset);
    const at = floorSegment(this.segments, offset);
    const target = this.segments[at];
    const doomed = this.segments.slice(at + 1);
    this.segments = this.segments.slice(0, at + 1);
    this.forget(target);
    await this.writeCheckpoint();
    // The later segments go first, so a crash part way leaves a log that ends in the cut segment.
    if (doomed.length > 0) {
      await this.removeSegments(doomed);
      await syncDir(this.dir);
    }
    target.retain();
    let newEnd: number;
    try {
      newEnd = await target.truncateTo(offset, this.cfg.indexIntervalBytes, this.clock.nowMs());
    } finally {
      target.release();
    }
    this.nextOffset = newEnd;
    this.writtenEndOffset = newEnd;
    this.hw = Math.min(this.hw, newEnd);
    // Everything left is made durable, so the recovery point can be the new end.
    for (const segment of this.segments) {
      if (segment.dirty) await segment.flush();
    }
    await this.afterTruncation(newEnd);
    return newEnd;
  }

  /** Kafka's truncateFullyAndStartAt: every segment goes and an empty one starts at `offset`. */
  private async truncateFullyAndStartAt(offset: number): Promise<number> {
    const doomed = this.segments;
    this.hw = Math.min(this.hw, offset);
    // First out of the way: the new segment may take the name of one of them.
    await this.removeSegments(doomed);
    await syncDir(this.dir);
    const fresh = await LogSegment.create(this.dir, offset, this.logger, this.clock.nowMs());
    await fresh.flush();
    this.segments = [fresh];
    this.startOffset = offset;
    this.nextOffset = offset;
    this.writtenEndOffset = offset;
    this.hw = offset;
    await this.afterTruncation(offset);
    return offset;
  }

  /** Producer state, snapshots, recovery point and checkpoint after the segments were cut. */
  private async afterTruncation(newEnd: number): Promise<void> {
    // Snapshots past the new end describe batches that are gone; one at it is still exact.
    for (const snapshot of await listSnapshots(this.dir)) {
      if (snapshot > newEnd) await unlink(path.join(this.dir, snapshotFileName(snapshot))).catch(ignoreMissing);
    }
    const producers = await loadProducerState(
      this.dir,
      this.segments,
      newEnd,
      this.cfg.indexIntervalBytes,
      this.logger,
      this.clock.nowMs(),
    );
    this.producers = producers.state;
    this.hasSnapshot = producers.hasSnapshot;
    if (this.epochs.truncateFromEnd(newEnd) || this.epochs.truncateFromStart(this.startOffset))
      await this.writeEpochs();
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    this.lastFlushMs = this.clock.nowMs();
    this.recoveryPoint = newEnd;
    await this.writeCheckpoint();
    await syncDir(this.dir);
    this.dirSyncDue = false;
  }

  /** Renames removed segments' files to `*.deleted` and unlinks them after file.delete.delay.ms. */
  private async removeSegments(doomed: readonly LogSegment[]): Promise<void> {
    // Flags are set before the first rename, so no reader starts on a segment being renamed.
    await Promise.all(doomed.map((segment) => segment.markDeleted()));
    for (const segment of doomed) {
      this.forget(segment);
      const timer = this.clock.after(
        this.cfg.fileDeleteDelayMs ?? DEFAULT_FILE_DELETE_DELAY_MS,
        () => void this.finishDelete(segment),
      );
      this.pendingDeletes.set(segment, timer);
      this.logger.debug({ segment: segment.baseOffset, bytes: segment.size }, 'deleting log segment');
    }
  }

  /** The epoch this partition last saw from an idempotent producer, if it knows the producer. */
  producerEpoch(producerId: number): number | undefined {
    return this.producers.entry(producerId)?.epoch;
  }

  // ---- what the log cleaner (cleaner.ts) uses ----------------------------------------------

  /** The segments, oldest first; the last one is the active segment. Replaced, never mutated. */
  get segmentList(): readonly LogSegment[] {
    return this.segments;
  }

  /** Everything below it is fsynced: the cleaner only rewrites segments below it. */
  get durableOffset(): number {
    return this.recoveryPoint;
  }

  get isOpen(): boolean {
    return !this.closed && !this.failure;
  }

  /**
   * Calls `visit` with every batch of a segment of this log, holding a reference on it. False
   * when retention or a swap removed the segment first.
   */
  async forEachBatchIn(segment: LogSegment, visit: (batch: Buffer) => void | Promise<void>): Promise<boolean> {
    const done = await this.withSegment(segment, async (s) => {
      await s.forEachBatch(visit);
      return true;
    });
    return done === true;
  }

  /** A new segment for the cleaner to fill, in `<base>.*.cleaned` files. */
  createCleanedSegment(baseOffset: number): Promise<LogSegment> {
    return LogSegment.createCleaned(this.dir, baseOffset, this.logger, this.clock.nowMs());
  }

  /**
   * Puts `cleaned` (filled, flushed and based at old[0]'s base offset) in place of `old`,
   * consecutive closed segments of this log; Kafka's swap, crash-safe at every step:
   * the cleaned files are renamed `*.swap`; the segment list switches in one synchronous step
   * (readers holding an old segment finish on its open file; readers that find it removed
   * start over on the new list); the old files are renamed `*.deleted`; the swap files take
   * their final names. A crash before the rename to `*.swap` leaves `*.cleaned` files, which
   * open removes; after it, open completes the swap (recovery.ts). Returns false, and removes
   * the cleaned files, when the log changed meanwhile (retention, close).
   */
  async swapCleaned(old: readonly LogSegment[], cleaned: LogSegment): Promise<boolean> {
    await cleaned.renameFiles(SWAP_SUFFIX);
    await syncDir(this.dir);
    const at = this.segments.indexOf(old[0]);
    const intact =
      this.isOpen &&
      at >= 0 &&
      at + old.length < this.segments.length &&
      old.every((segment, i) => this.segments[at + i] === segment);
    if (!intact) {
      await cleaned.discard();
      return false;
    }
    this.segments = [...this.segments.slice(0, at), cleaned, ...this.segments.slice(at + old.length)];
    cleaned.retain();
    try {
      await this.removeSegments(old);
      await cleaned.renameFiles('');
      await syncDir(this.dir);
    } finally {
      cleaned.release();
      this.remember(cleaned);
    }
    return true;
  }

  /**
   * fsyncs everything whose append was called before it (log files, both indexes, and the
   * directory when a roll created a segment file since the last sync) and records the new
   * recovery point: when it resolves, `durableOffset` is a log end offset that survives a crash.
   */
  async flush(): Promise<void> {
    await this.enqueue(() => this.flushAll());
    await this.writeCheckpoint();
  }

  /** Finishes queued appends, flushes, and marks the shutdown clean so the next open skips recovery. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop();
    if (!this.failure) {
      const active = this.active;
      active.sealTimeIndex();
      for (const segment of this.segments) {
        if (segment.dirty || segment === active) await segment.flush();
      }
      this.recoveryPoint = this.writtenEndOffset;
      await this.writeCheckpoint();
      // Everything is written, so the state is exactly that of the log end: no scan at open.
      this.takeSnapshot(true);
      await this.snapshotWrites;
    }
    await this.releaseFiles();
    if (!this.failure) await writeFile(path.join(this.dir, CLEAN_SHUTDOWN_FILE), '');
    this.logger.info({ logEndOffset: this.writtenEndOffset, cleanShutdown: !this.failure }, 'closed partition log');
  }

  /** Finishes queued appends, then removes the partition directory. */
  async delete(): Promise<void> {
    if (!this.closed) await this.stop();
    await this.releaseFiles();
    await rm(this.dir, { recursive: true, force: true });
    this.logger.info('deleted partition log');
  }

  /** Stops accepting appends and waits for everything in flight that writes files. */
  private async stop(): Promise<void> {
    this.closed = true;
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    while (this.draining) await this.draining;
    await this.rollFlushes;
    await this.checkpointWrites;
    await this.snapshotWrites;
  }

  private async releaseFiles(): Promise<void> {
    for (const [segment, timer] of this.pendingDeletes) {
      timer.cancel();
      await segment.closeWhenIdle();
      await segment.deleteFiles();
    }
    this.pendingDeletes.clear();
    this.openClosedSegments.length = 0;
    for (const segment of this.segments) await segment.closeWhenIdle();
  }

  private kick(): void {
    if (this.draining || this.queue.length === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // Settling appends can run callers that append again before this point.
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head.kind === 'task') {
        this.queue.shift();
        try {
          await head.run();
          head.resolve();
        } catch (err) {
          head.reject(asError(err));
        }
        continue;
      }
      const group = this.takeAppends();
      try {
        await this.writeGroup(group);
      } catch (err) {
        this.fail(err);
        for (const append of group) append.reject(this.failure!);
      }
    }
  }

  /** The appends at the head of the queue, up to MAX_WRITE_BYTES (at least one). */
  private takeAppends(): QueuedAppend[] {
    let count = 0;
    let bytes = 0;
    for (const item of this.queue) {
      if (item.kind !== 'append' || (count > 0 && bytes + item.bytes > MAX_WRITE_BYTES)) break;
      count++;
      bytes += item.bytes;
    }
    return this.queue.splice(0, count) as QueuedAppend[];
  }

  private async writeGroup(group: QueuedAppend[]): Promise<void> {
    // Before the batches of a new epoch, so the cache never misses an epoch the log holds.
    if (this.epochsDue) await this.writeEpochs();
    const nowMs = this.clock.nowMs();
    let pending: QueuedAppend[] = [];
    let plannedBytes = this.active.size;
    let firstTimestamp = this.active.firstBatchTimestamp;
    for (const append of group) {
      const reason = plannedBytes > 0 ? this.rollReason(append, plannedBytes, firstTimestamp, nowMs) : null;
      if (reason) {
        await this.writeToActive(pending);
        pending = [];
        await this.roll(append.baseOffset, reason);
        plannedBytes = 0;
        firstTimestamp = null;
      }
      pending.push(append);
      plannedBytes += append.bytes;
      firstTimestamp ??= append.batches[0].maxTimestamp;
    }
    await this.writeToActive(pending);
    if (this.writtenEndOffset - this.recoveryPoint >= this.cfg.flushMessages) await this.flushAll();
    else this.scheduleFlush();
    for (const a of group)
      a.resolve({ baseOffset: a.baseOffset, lastOffset: a.lastOffset, logAppendTimeMs: a.logAppendTimeMs });
  }

  /** Why the active segment must roll before `append`, as Kafka's LogSegment.shouldRoll; null if not. */
  private rollReason(
    append: QueuedAppend,
    plannedBytes: number,
    firstTimestamp: number | null,
    nowMs: number,
  ): string | null {
    if (plannedBytes + append.bytes > this.cfg.segmentBytes) return 'segment.bytes';
    // Kafka measures segment age in message time when the first batch has a timestamp.
    const ageMs =
      firstTimestamp !== null && firstTimestamp >= 0
        ? append.maxTimestamp - firstTimestamp
        : nowMs - this.active.createdMs;
    if (ageMs > this.cfg.segmentMs) return 'segment.ms';
    if (append.lastOffset > this.active.maxIndexableOffset) return 'relative offset overflow';
    return null;
  }

  private async writeToActive(appends: QueuedAppend[]): Promise<void> {
    if (appends.length === 0) return;
    const chunks = appends.flatMap((a) => a.chunks);
    const batches = appends.flatMap((a) => a.batches);
    const bytes = appends.reduce((sum, a) => sum + a.bytes, 0);
    await this.active.append(chunks, bytes, batches, this.cfg.indexIntervalBytes, this.clock.nowMs());
    this.writtenEndOffset = appends.at(-1)!.lastOffset + 1;
    if (this.hwPolicy.kind === 'written') this.hw = this.writtenEndOffset;
  }

  /** Starts a new active segment at `baseOffset`; the old one is flushed in the background. */
  private async roll(baseOffset: number, reason: string): Promise<void> {
    const previous = this.active;
    previous.sealTimeIndex();
    const next = await LogSegment.create(this.dir, baseOffset, this.logger, this.clock.nowMs());
    this.segments = [...this.segments, next];
    this.dirSyncDue = true;
    this.snapshotDue = true;
    this.remember(previous);
    this.logger.info(
      { segment: baseOffset, previousSegment: previous.baseOffset, previousBytes: previous.size, reason },
      'rolled log segment',
    );
    // Kafka fsyncs the rolled segment off the append path; the recovery point follows once it is durable.
    previous.retain();
    this.rollFlushes = this.rollFlushes.then(async () => {
      try {
        await previous.flush();
        // The segment files' names must be durable too before recovery skips them.
        await this.syncDirIfDue();
        this.recoveryPoint = Math.max(this.recoveryPoint, baseOffset);
        await this.writeCheckpoint();
      } catch (err) {
        this.fail(err);
      } finally {
        previous.release();
        this.remember();
      }
    });
  }

  private async flushAll(): Promise<void> {
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    const upTo = this.writtenEndOffset;
    for (const segment of this.segments) {
      if (segment.dirty) await segment.flush();
    }
    // A rolled segment's background flush may still be running.
    await this.rollFlushes;
    await this.syncDirIfDue();
    this.recoveryPoint = Math.max(this.recoveryPoint, upTo);
    this.lastFlushMs = this.clock.nowMs();
  }

  private async syncDirIfDue(): Promise<void> {
    if (!this.dirSyncDue) return;
    this.dirSyncDue = false;
    try {
      await syncDir(this.dir);
    } catch (err) {
      this.dirSyncDue = true;
      throw err;
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.cfg.flushMs >= MAX_TIMER_MS) return;
    const delayMs = Math.max(0, this.lastFlushMs + this.cfg.flushMs - this.clock.nowMs());
    this.flushTimer = this.clock.after(delayMs, () => {
      this.flushTimer = undefined;
      this.enqueue(() => this.flushAll()).catch((err: unknown) => this.logger.error({ err }, 'scheduled flush failed'));
    });
  }

  private enqueue(run: () => Promise<void>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'task', run, resolve, reject });
      this.kick();
    });
  }

  /**
   * After a failed write or fsync the file's tail is unknown, and offsets and producer state
   * were taken for appends that never landed, so the log stops taking appends (like a Kafka log
   * dir going offline) until it is reopened and recovered from its files.
   */
  private fail(err: unknown): void {
    if (!this.failure) {
      this.failure = asError(err);
      this.logger.error({ err: this.failure }, 'partition log failed; appends are rejected until it is reopened');
      this.onFailure?.();
    }
    for (const item of this.queue.splice(0)) item.reject(this.failure);
  }

  private deletableCount(nowMs: number): number {
    const segments = this.segments;
    return countDeletableSegments(
      segments.map((s, i) => ({
        size: s.size,
        largestTimestampMs: s.maxTimestamp !== NO_TIMESTAMP ? s.maxTimestamp : s.lastModifiedMs,
        upperBoundOffset: segments[i + 1]?.baseOffset ?? this.writtenEndOffset,
      })),
      {
        nowMs,
        // A compact-only topic keeps its data until the cleaner supersedes it.
        retentionMs: this.cfg.cleanupPolicy.delete ? this.cfg.retentionMs : -1,
        retentionBytes: this.cfg.cleanupPolicy.delete ? this.cfg.retentionBytes : -1,
        logStartOffset: this.startOffset,
        highWatermark: this.hw,
      },
    );
  }

  private async finishDelete(segment: LogSegment): Promise<void> {
    this.pendingDeletes.delete(segment);
    try {
      await segment.closeWhenIdle();
      await segment.deleteFiles();
    } catch (err) {
      this.logger.error({ err, segment: segment.baseOffset }, 'could not delete log segment files');
    }
  }

  /** Runs `fn` with a reference held on the segment; null if retention deleted it meanwhile. */
  private async withSegment<T>(segment: LogSegment, fn: (s: LogSegment) => Promise<T>): Promise<T | null> {
    if (segment.deleted) return null;
    const truncations = segment.truncations;
    segment.retain();
    try {
      return await fn(segment);
    } catch (err) {
      // Its files were renamed away, or a truncation cut the bytes the read was after.
      if (segment.deleted || segment.truncations !== truncations) return null;
      throw err;
    } finally {
      segment.release();
      this.remember(segment);
    }
  }

  /** Marks a closed segment as recently used and closes the least recently used idle ones past the limit. */
  private remember(segment?: LogSegment): void {
    const open = this.openClosedSegments;
    if (segment) {
      this.forget(segment);
      if (!segment.deleted && segment !== this.active) open.push(segment);
    }
    for (let i = 0; open.length > MAX_OPEN_CLOSED_SEGMENTS && i < open.length;) {
      const candidate = open[i];
      if (!candidate.canUnload) {
        i++;
        continue;
      }
      open.splice(i, 1);
      candidate
        .unload()
        .catch((err: unknown) =>
          this.logger.error({ err, segment: candidate.baseOffset }, 'could not close log segment'),
        );
    }
  }

  private forget(segment: LogSegment): void {
    const at = this.openClosedSegments.indexOf(segment);
    if (at >= 0) this.openClosedSegments.splice(at, 1);
  }

  /**
   * Writes the producer state as of the next offset to assign, which it reflects exactly at this
   * moment (it is updated when offsets are assigned), in the background. On roll, partitions
   * that never saw an idempotent producer skip it; on close every partition writes one, so a
   * clean restart reads no batches to rebuild the state.
   */
  private takeSnapshot(always = false): void {
    this.snapshotDue = false;
    this.producers.expire(this.clock.nowMs());
    if (!always && this.producers.size === 0 && !this.hasSnapshot) return;
    this.hasSnapshot = true;
    const offset = this.nextOffset;
    const bytes = this.producers.serialize();
    this.snapshotWrites = this.snapshotWrites
      .then(() => writeSnapshot(this.dir, offset, bytes))
      .catch((err: unknown) => this.logger.error({ err, offset }, 'could not write producer state snapshot'));
  }

  private async writeEpochs(): Promise<void> {
    this.epochsDue = false;
    await writeLeaderEpochCheckpoint(this.dir, this.epochs);
  }

  private writeCheckpoint(): Promise<void> {
    const run = this.checkpointWrites.then(() =>
      writeCheckpoint(this.dir, { logStartOffset: this.startOffset, recoveryPoint: this.recoveryPoint }),
    );
    this.checkpointWrites = run.catch(() => undefined);
    return run;
  }
}

/**
 * The producer state as of the log end: the newest snapshot at or below it, then the batch
 * headers after it. Without a snapshot only the last two segments are read, as Kafka does, so
 * producers older than that are forgotten (a retry of theirs is then accepted as new).
 */
async function loadProducerState(
  dir: string,
  segments: readonly LogSegment[],
  logEndOffset: number,
  indexIntervalBytes: number,
  logger: Logger,
  nowMs: number,
): Promise<{ state: ProducerStateManager; hasSnapshot: boolean }> {
  const snapshot = await loadLatestSnapshot(dir, logEndOffset, logger);
  const state = snapshot?.state ?? new ProducerStateManager();
  const from = snapshot?.offset ?? segments[Math.max(0, segments.length - 2)].baseOffset;
  let batches = 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const isLast = i === segments.length - 1;
    if ((segments[i + 1]?.baseOffset ?? logEndOffset) <= from || segment.size === 0) continue;
    const start = segment.baseOffset >= from ? 0 : await segment.positionAtOrBefore(from, indexIntervalBytes);
    await segment.forEachBatch((batch) => {
      const h = readBatchHeader(batch, 0);
      if (h.baseOffset < from) return;
      // The file's time rather than the producer's clock ages the entry (producer.id.expiration.ms).
      state.update(h, h.baseOffset, segment.lastModifiedMs);
      batches++;
    }, start);
    // Only what this function loaded: when a truncation reloads the state, readers may hold it.
    if (!isLast && segment.canUnload) await segment.unload();
  }
  state.expire(nowMs);
  if (batches > 0 || snapshot) {
    logger.debug(
      { snapshotOffset: snapshot?.offset ?? null, batchesRead: batches, producers: state.size },
      'loaded producer state',
    );
  }
  return { state, hasSnapshot: snapshot !== null || (await listSnapshots(dir)).length > 0 };
}

/**
 * The leader-epoch cache from its checkpoint, cut to the log's range; rebuilt from the batches'
 * epochs when the file is missing or unreadable (`changed`: it must be written).
 */
async function loadLeaderEpochs(
  dir: string,
  segments: readonly LogSegment[],
  logStartOffset: number,
  logEndOffset: number,
  logger: Logger,
): Promise<{ cache: LeaderEpochCache; changed: boolean }> {
  let cache = await readLeaderEpochCheckpoint(dir);
  let changed = false;
  if (!cache) {
    cache = new LeaderEpochCache();
    changed = true;
    for (const segment of segments) {
      if (segment.size === 0) continue;
      await segment.forEachBatch((batch) => {
        const h = readBatchHeader(batch, 0);
        cache!.assign(h.partitionLeaderEpoch, h.baseOffset);
      });
      if (segment.canUnload && segment !== segments.at(-1)) await segment.unload();
    }
    if (cache.latestEpoch !== UNDEFINED_EPOCH)
      logger.info({ epochs: cache.all().length }, 'rebuilt the leader-epoch cache');
  }
  if (cache.truncateFromEnd(logEndOffset)) changed = true;
  if (cache.truncateFromStart(logStartOffset)) changed = true;
  return { cache, changed };
}

/** Index of the last segment whose base offset is <= offset (0 if none). */
function floorSegment(segments: readonly LogSegment[], offset: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (segments[mid].baseOffset <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Makes a file's creation or removal in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
