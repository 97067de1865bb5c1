// The log cleaner: compaction for partitions whose cleanup.policy includes `compact`, as
// Kafka's LogCleaner does it. A log is cleaned when its dirty part (closed segments not cleaned
// yet) makes up at least min.cleanable.dirty.ratio of its cleanable bytes, or when tombstones it
// kept are due for removal. One pass:
//
// 1. Reads the dirty segments into a map key → last offset of that key.
// 2. Rewrites every cleanable segment, in groups of consecutive segments that together fit
//    segment.bytes, keeping a record only if no later record of its key exists in the map.
//    Tombstones (null values) are kept until delete.retention.ms after their segment was last
//    written, and only dropped from segments an earlier pass cleaned already, so a consumer
//    that saw an older value also finds the tombstone (Kafka's rule before KIP-534). Records
//    without a key are dropped (produce refuses them on compacted topics).
// 3. Swaps each rewritten group in (PartitionLog.swapCleaned: crash-safe, never blocking
//    produce or fetch) and records how far the log is clean in `cleaner.checkpoint`.
//
// Only closed segments below the recovery point and the high watermark are cleaned, never the
// active segment, and none whose newest record is younger than min.compaction.lag.ms (nor any
// after it). Offsets of kept records never change: a batch that loses records is re-encoded
// with its original base offset, timestamps, producer fields and compression codec; a batch
// that loses all of them is dropped, leaving a gap in the offsets.

import { createHash } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  NO_TIMESTAMP,
  readBatchHeader,
  readRecordEntries,
  rebuildBatch,
  type RecordEntry,
} from '../protocol/record-batch.js';
import type { PartitionLog } from './partition-log.js';
import { INT32_MAX } from './index-file.js';
import type { LogSegment, StoredBatch } from './segment.js';

export const CLEANER_CHECKPOINT_FILE = 'cleaner.checkpoint';
const CHECKPOINT_VERSION = 0;
/** Keys one pass maps at most (about 100 bytes each); a larger dirty part is cleaned over several passes. */
export const MAX_MAP_KEYS = 1_000_000;
/** Cleaned batches are written to the new segment in pieces of about this size. */
const WRITE_CHUNK_BYTES = 1 << 20;
const CONTROL_FLAG = 0x20;

export interface CleanerCheckpoint {
  /** Offsets below it were cleaned by an earlier pass. */
  firstDirtyOffset: number;
  /** When a kept tombstone becomes removable; null when none is kept. */
  tombstoneDeadlineMs: number | null;
}

export type CleaningPlan =
  | { clean: false; reason: string }
  | {
      clean: true;
      /** Closed segments the pass may rewrite, oldest first. */
      cleanable: LogSegment[];
      /** The offset after each cleanable segment: the next segment's base offset. */
      nextOffsets: Map<LogSegment, number>;
      /** The cleanable segments not cleaned yet. */
      dirty: LogSegment[];
      firstDirtyOffset: number;
      dirtyRatio: number;
    };

export interface CleaningResult {
  segmentsBefore: number;
  segmentsAfter: number;
  bytesBefore: number;
  bytesAfter: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
  /** Offsets below it are clean now. */
  cleanedUpTo: number;
}

/** How a key is held in the offset map: short keys as they are, long ones by MD5 (as Kafka's SkimpyOffsetMap). */
function keyId(key: Buffer): string {
  return key.length <= 16
    ? `k${key.toString('latin1')}`
    : `h${createHash('md5').update(key).digest().toString('latin1')}`;
}

function isControl(batch: Buffer): boolean {
  return (readBatchHeader(batch, 0).attributes & CONTROL_FLAG) !== 0;
}

/**
 * Decides whether `log` needs cleaning now (Kafka's LogCleanerManager rules): the cleanable
 * segments are the closed ones below the recovery point and the high watermark, up to the first
 * one whose newest record is younger than min.compaction.lag.ms.
 */
export function planCleaning(log: PartitionLog, checkpoint: CleanerCheckpoint, nowMs: number): CleaningPlan {
  const cfg = log.config;
  if (!cfg.cleanupPolicy.compact) return { clean: false, reason: 'cleanup.policy does not include compact' };
  const segments = log.segmentList;
  const upperBound = Math.min(segments.at(-1)!.baseOffset, log.durableOffset, log.highWatermark);
  const cleanable: LogSegment[] = [];
  const nextOffsets = new Map<LogSegment, number>();
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i];
    const nextOffset = segments[i + 1].baseOffset;
    if (nextOffset > upperBound) break;
    const newestMs = segment.maxTimestamp !== NO_TIMESTAMP ? segment.maxTimestamp : segment.lastModifiedMs;
    if (cfg.minCompactionLagMs > 0 && nowMs - newestMs < cfg.minCompactionLagMs) break;
    cleanable.push(segment);
    nextOffsets.set(segment, nextOffset);
  }
  if (cleanable.length === 0) return { clean: false, reason: 'no closed segment is cleanable yet' };
  const firstDirtyOffset = Math.max(checkpoint.firstDirtyOffset, log.logStartOffset, cleanable[0].baseOffset);
  const dirty = cleanable.filter((s) => nextOffsets.get(s)! > firstDirtyOffset);
  const dirtyBytes = dirty.reduce((sum, s) => sum + s.size, 0);
  const totalBytes = cleanable.reduce((sum, s) => sum + s.size, 0);
  const dirtyRatio = totalBytes === 0 ? 0 : dirtyBytes / totalBytes;
  const tombstonesDue = checkpoint.tombstoneDeadlineMs !== null && nowMs >= checkpoint.tombstoneDeadlineMs;
  if ((dirty.length > 0 && dirtyRatio >= cfg.minCleanableDirtyRatio) || tombstonesDue) {
    return { clean: true, cleanable, nextOffsets, dirty, firstDirtyOffset, dirtyRatio };
  }
  return {
    clean: false,
    reason:
      dirty.length === 0 ? 'nothing dirty' : `dirty ratio ${dirtyRatio.toFixed(3)} is below min.cleanable.dirty.ratio`,
  };
}

/** Consecutive segments that together fit segment.bytes and one segment's int32 relative offsets (Kafka's groupSegmentsBySize). */
function groupBySize(
  segments: readonly LogSegment[],
  nextOffsets: ReadonlyMap<LogSegment, number>,
  maxBytes: number,
): LogSegment[][] {
  const groups: LogSegment[][] = [];
  let group: LogSegment[] = [];
  let bytes = 0;
  for (const segment of segments) {
    const fits =
      group.length > 0 &&
      bytes + segment.size <= maxBytes &&
      nextOffsets.get(segment)! - 1 - group[0].baseOffset <= INT32_MAX;
    if (group.length > 0 && !fits) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(segment);
    bytes += segment.size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** Thrown inside a pass when stop() was called, to leave at the next batch. */
class CleanerStopped extends Error {}

/** Cleans partition logs; one pass at a time, stoppable between batches. */
export class LogCleaner {
  private readonly checkpoints = new WeakMap<PartitionLog, CleanerCheckpoint>();
  private stopping = false;

  constructor(private readonly logger: Logger) {}

  /** Makes a running pass give up at its next step (its cleaned files are removed). */
  stop(): void {
    this.stopping = true;
  }

  async checkpoint(log: PartitionLog): Promise<CleanerCheckpoint> {
    let cp = this.checkpoints.get(log);
    if (!cp) {
      cp = await readCleanerCheckpoint(log.dir, this.logger);
      this.checkpoints.set(log, cp);
    }
    return cp;
  }

  /** Cleans `log` if planCleaning says so; null when it did not (or gave up). */
  async cleanIfNeeded(log: PartitionLog, nowMs: number): Promise<CleaningResult | null> {
    if (this.stopping || !log.isOpen) return null;
    const checkpoint = await this.checkpoint(log);
    const plan = planCleaning(log, checkpoint, nowMs);
    if (!plan.clean) return null;
    try {
      return await this.clean(log, plan, nowMs);
    } catch (err) {
      if (err instanceof CleanerStopped) return null;
      throw err;
    }
  }

  private checkStopped(): void {
    if (this.stopping) throw new CleanerStopped('the log cleaner is stopping');
  }

  private async clean(
    log: PartitionLog,
    plan: Extract<CleaningPlan, { clean: true }>,
    nowMs: number,
  ): Promise<CleaningResult | null> {
    const startedMs = performance.now();
    const cfg = log.config;
    const logger = this.logger.child({ partitionDir: path.basename(log.dir) });

    // 1. The offset map of the dirty segments, as far as MAX_MAP_KEYS allows (at least one segment).
    const latest = new Map<string, number>();
    let cleanedUpTo = plan.firstDirtyOffset;
    for (const segment of plan.dirty) {
      if (latest.size >= MAX_MAP_KEYS) break;
      const read = await log.forEachBatchIn(segment, async (batch) => {
        this.checkStopped();
        if (isControl(batch)) return;
        for (const r of (await readRecordEntries(batch)).records)
          if (r.key !== null) latest.set(keyId(r.key), r.offset);
      });
      if (!read || this.stopping) return null;
      cleanedUpTo = plan.nextOffsets.get(segment)!;
    }

    // 2. Rewrite every cleanable segment below cleanedUpTo, group by group.
    const toClean = plan.cleanable.filter((s) => plan.nextOffsets.get(s)! <= cleanedUpTo);
    const result: CleaningResult = {
      segmentsBefore: toClean.length,
      segmentsAfter: 0,
      bytesBefore: toClean.reduce((sum, s) => sum + s.size, 0),
      bytesAfter: 0,
      recordsRemoved: 0,
      tombstonesRemoved: 0,
      cleanedUpTo,
    };
    let tombstoneDeadlineMs: number | null = null;
    for (const group of groupBySize(toClean, plan.nextOffsets, cfg.segmentBytes)) {
      if (this.stopping || !log.isOpen) return null;
      const cleaned = await log.createCleanedSegment(group[0].baseOffset);
      let swapped = false;
      try {
        let changed = false;
        let pending: Buffer[] = [];
        let pendingBatches: StoredBatch[] = [];
        let pendingBytes = 0;
        const writePending = async () => {
          if (pendingBytes === 0) return;
          await cleaned.append(pending, pendingBytes, pendingBatches, cfg.indexIntervalBytes, nowMs);
          pending = [];
          pendingBatches = [];
          pendingBytes = 0;
        };
        for (const segment of group) {
          // Tombstones go only from segments an earlier pass cleaned, delete.retention.ms after their last write.
          const wasClean = plan.nextOffsets.get(segment)! <= plan.firstDirtyOffset;
          const tombstonesExpired = wasClean && nowMs - segment.lastModifiedMs > cfg.deleteRetentionMs;
          const read = await log.forEachBatchIn(segment, async (batch) => {
            this.checkStopped();
            const kept = isControl(batch)
              ? { batch, removed: 0, tombstonesRemoved: 0, tombstonesKept: 0 }
              : await filterBatch(batch, latest, tombstonesExpired);
            result.recordsRemoved += kept.removed;
            result.tombstonesRemoved += kept.tombstonesRemoved;
            if (kept.tombstonesKept > 0) {
              const due = Math.max(nowMs, segment.lastModifiedMs + cfg.deleteRetentionMs);
              tombstoneDeadlineMs = Math.min(tombstoneDeadlineMs ?? due, due);
            }
            if (kept.batch !== batch) changed = true;
            if (kept.batch === null) return;
            const h = readBatchHeader(kept.batch, 0);
            pending.push(kept.batch);
            pendingBatches.push({
              size: kept.batch.length,
              lastOffset: h.baseOffset + h.lastOffsetDelta,
              maxTimestamp: h.maxTimestamp,
            });
            pendingBytes += kept.batch.length;
            if (pendingBytes >= WRITE_CHUNK_BYTES) await writePending();
          });
          if (!read || this.stopping) return null;
        }
        await writePending();
        if (!changed && group.length === 1) {
          // Nothing to drop here: keep the segment as it is.
          result.segmentsAfter++;
          result.bytesAfter += group[0].size;
          continue;
        }
        cleaned.sealTimeIndex();
        await cleaned.flush();
        await cleaned.setLastModified(Math.max(...group.map((s) => s.lastModifiedMs)));
        swapped = await log.swapCleaned(group, cleaned);
        if (!swapped) return null;
        result.segmentsAfter++;
        result.bytesAfter += cleaned.size;
      } finally {
        if (!swapped)
          await cleaned
            .discard()
            .catch((err: unknown) => logger.warn({ err }, 'could not remove an abandoned cleaned segment'));
      }
    }

    // 3. Remember how far the log is clean.
    const checkpoint: CleanerCheckpoint = { firstDirtyOffset: cleanedUpTo, tombstoneDeadlineMs };
    await writeCleanerCheckpoint(log.dir, checkpoint);
    this.checkpoints.set(log, checkpoint);
    logger.info(
      {
        ...result,
        dirtyRatio: Number(plan.dirtyRatio.toFixed(3)),
        keys: latest.size,
        durationMs: Math.round(performance.now() - startedMs),
      },
      'cleaned log',
    );
    return result;
  }
}

interface FilteredBatch {
  /** The batch unchanged, re-encoded with fewer records, or null when none is kept. */
  batch: Buffer | null;
  removed: number;
  tombstonesRemoved: number;
  tombstonesKept: number;
}

/** Keeps the records of `batch` that no later record of their key supersedes. */
async function filterBatch(
  batch: Buffer,
  latest: ReadonlyMap<string, number>,
  tombstonesExpired: boolean,
): Promise<FilteredBatch> {
  const { records } = await readRecordEntries(batch);
  const kept: RecordEntry[] = [];
  let tombstonesRemoved = 0;
  let tombstonesKept = 0;
  for (const r of records) {
    if (r.key === null) continue;
    const newest = latest.get(keyId(r.key));
    if (newest !== undefined && newest > r.offset) continue;
    if (r.value === null) {
      if (tombstonesExpired) {
        tombstonesRemoved++;
        continue;
      }
      tombstonesKept++;
    }
    kept.push(r);
  }
  const removed = records.length - kept.length;
  if (removed === 0) return { batch, removed, tombstonesRemoved, tombstonesKept };
  return { batch: await rebuildBatch(batch, kept), removed, tombstonesRemoved, tombstonesKept };
}

export async function readCleanerCheckpoint(dir: string, logger: Logger): Promise<CleanerCheckpoint> {
  const fresh: CleanerCheckpoint = { firstDirtyOffset: 0, tombstoneDeadlineMs: null };
  let text: string;
  try {
    text = await readFile(path.join(dir, CLEANER_CHECKPOINT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fresh;
    throw err;
  }
  const fields = new Map(
    text
      .split('\n')
      .map((line) => /^(\w+):\s*(-?\d+)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], Number(m[2])]),
  );
  const firstDirtyOffset = fields.get('first_dirty_offset');
  const deadline = fields.get('tombstone_deadline_ms');
  if (
    fields.get('version') !== CHECKPOINT_VERSION ||
    firstDirtyOffset === undefined ||
    deadline === undefined ||
    firstDirtyOffset < 0
  ) {
    logger.warn({ dir, text }, `ignoring unreadable ${CLEANER_CHECKPOINT_FILE}; the whole log counts as dirty`);
    return fresh;
  }
  return { firstDirtyOffset, tombstoneDeadlineMs: deadline < 0 ? null : deadline };
}

/** Written to a temporary file, fsynced and renamed, like log.checkpoint. */
export async function writeCleanerCheckpoint(dir: string, cp: CleanerCheckpoint): Promise<void> {
  const target = path.join(dir, CLEANER_CHECKPOINT_FILE);
  const tmp = `${target}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(
      `version: ${CHECKPOINT_VERSION}\nfirst_dirty_offset: ${cp.firstDirtyOffset}\ntombstone_deadline_ms: ${cp.tombstoneDeadlineMs ?? -1}\n`,
    );
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, target);
}
