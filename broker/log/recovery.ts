// Opening a partition directory: find the segments, clear leftovers, and decide what to trust.
// After a clean shutdown every index is trusted (after cheap checks) and only the active
// segment's tail past its last index entry is scanned. Otherwise every segment from the one
// holding the recovery point onwards is scanned with CRCs, its torn or corrupt tail truncated and
// its indexes rebuilt; as in Kafka, segments after one that had to be truncated are dropped, so
// offsets stay contiguous. A closed segment with a missing or damaged index is rebuilt either way.
// A log cleaner swap that a crash interrupted is completed first (see PartitionLog.swapCleaned).

import { open, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { CHECKPOINT_FILE, readCheckpoint } from './checkpoint.js';
import { RECORD_BATCH_OVERHEAD, batchSizeAt, lastOffsetAt } from '../protocol/record-batch.js';
import { countDeletableSegments } from './retention.js';
import {
  INDEX_SUFFIX,
  LOG_SUFFIX,
  LogSegment,
  type RecoveryResult,
  SWAP_SUFFIX,
  TIME_INDEX_SUFFIX,
  segmentFileName,
} from './segment.js';

const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/;
/** Segment files that retention renamed with DELETED_SUFFIX but had not unlinked yet. */
const DELETED_FILE = /^\d{20}\.(log|index|timeindex)\.deleted$/;
/** A cleaned segment the cleaner had not finished (CLEANED_SUFFIX). */
const CLEANED_FILE = /^\d{20}\.(log|index|timeindex)\.cleaned$/;
/** A cleaned segment whose swap had started (SWAP_SUFFIX). */
const SWAP_FILE = /^(\d{20})\.(log|index|timeindex)\.swap$/;
const SWAP_SCAN_BLOCK_BYTES = 1 << 20;

export interface LoadedLog {
  /** Oldest first; the last one is the active segment. Closed segments have no open files. */
  segments: LogSegment[];
  logStartOffset: number;
  logEndOffset: number;
  recoveryPoint: number;
}

export async function loadLog(
  dir: string,
  indexIntervalBytes: number,
  logger: Logger,
  clean: boolean,
  nowMs: number,
): Promise<LoadedLog> {
  const read = await readCheckpoint(dir);
  if (typeof read === 'string')
    logger.warn({ reason: read }, `ignoring unreadable ${CHECKPOINT_FILE}; recovering every segment`);
  const checkpoint = typeof read === 'string' ? null : read;
  const recoveryPoint = checkpoint?.recoveryPoint ?? 0;
  const bases = await listSegments(dir, logger);
  if (bases.length === 0) {
    const start = checkpoint?.logStartOffset ?? 0;
    const segment = await LogSegment.create(dir, start, logger, nowMs);
    return { segments: [segment], logStartOffset: start, logEndOffset: start, recoveryPoint: start };
  }
  if (!clean)
    logger.warn(
      { recoveryPoint, segments: bases.length },
      'log was not shut down cleanly; recovering from the recovery point',
    );

  const segments: LogSegment[] = [];
  let logEndOffset = 0;
  for (let i = 0; i < bases.length; i++) {
    const segment = await LogSegment.existing(dir, bases[i], logger, nowMs);
    segments.push(segment);
    const isLast = i === bases.length - 1;
    const unflushed = !clean && (isLast || bases[i + 1] > recoveryPoint);
    const result = unflushed
      ? await segment.recover(indexIntervalBytes)
      : await loadTrusted(segment, isLast, indexIntervalBytes, logger);
    if (result && result.truncatedBytes > 0 && !isLast) {
      const dropped = bases.slice(i + 1);
      logger.warn(
        { segment: segment.baseOffset, droppedSegments: dropped },
        'dropping the segments after a truncated segment',
      );
      for (const base of dropped) await removeSegmentFiles(dir, base);
      logEndOffset = result.nextOffset;
      break;
    }
    if (isLast) logEndOffset = result!.nextOffset;
  }

  let logStartOffset = Math.max(checkpoint?.logStartOffset ?? 0, segments[0].baseOffset);
  if (logStartOffset > logEndOffset) {
    // Everything left is below the log start offset: start over there, as Kafka does.
    logger.warn(
      { logStartOffset, logEndOffset },
      'log end offset is below the log start offset; starting an empty log',
    );
    for (const segment of segments) await closeAndRemove(segment);
    const segment = await LogSegment.create(dir, logStartOffset, logger, nowMs);
    return { segments: [segment], logStartOffset, logEndOffset: logStartOffset, recoveryPoint: logStartOffset };
  }
  const below = Math.min(
    segments.length - 1,
    countDeletableSegments(
      segments.map((s, i) => ({
        size: s.size,
        largestTimestampMs: 0,
        upperBoundOffset: segments[i + 1]?.baseOffset ?? logEndOffset,
      })),
      { nowMs: 0, retentionMs: -1, retentionBytes: -1, logStartOffset, highWatermark: logEndOffset },
    ),
  );
  for (const segment of segments.splice(0, below)) await closeAndRemove(segment);
  logStartOffset = Math.max(logStartOffset, segments[0].baseOffset);

  for (const segment of segments.slice(0, -1)) await segment.unload();
  return { segments, logStartOffset, logEndOffset, recoveryPoint: Math.min(recoveryPoint, logEndOffset) };
}

/** Loads a segment below the recovery point, rebuilding it when its index files fail the checks. */
async function loadTrusted(
  segment: LogSegment,
  isLast: boolean,
  indexIntervalBytes: number,
  logger: Logger,
): Promise<RecoveryResult | null> {
  const loaded = isLast ? await segment.loadActive(indexIntervalBytes) : await segment.loadClosed();
  if (typeof loaded !== 'string') return loaded;
  logger.warn({ segment: segment.baseOffset, reason: loaded }, 'rebuilding log segment index');
  return segment.recover(indexIntervalBytes);
}

/**
 * Base offsets of the segments present, ascending; removes deletion leftovers, unfinished
 * cleaned segments and orphan indexes, and completes interrupted swaps.
 */
async function listSegments(dir: string, logger: Logger): Promise<number[]> {
  const swaps = new Set<string>();
  for (const name of await readdir(dir)) {
    if (DELETED_FILE.test(name) || CLEANED_FILE.test(name) || name === `${CHECKPOINT_FILE}.tmp`) {
      await unlink(path.join(dir, name));
      continue;
    }
    const swap = SWAP_FILE.exec(name);
    if (swap) swaps.add(swap[1]);
  }
  for (const base of [...swaps].sort()) await completeSwap(dir, Number(base), logger);

  const names = await readdir(dir);
  const logs = new Set<string>();
  const indexes: Array<{ name: string; base: string }> = [];
  for (const name of names) {
    const m = SEGMENT_FILE.exec(name);
    if (!m) continue;
    if (m[2] === 'log') logs.add(m[1]);
    else indexes.push({ name, base: m[1] });
  }
  for (const { name, base } of indexes) {
    if (logs.has(base)) continue;
    logger.warn({ file: name }, 'removing index file without a log segment');
    await unlink(path.join(dir, name));
  }
  return [...logs].map(Number).sort((a, b) => a - b);
}

/**
 * Finishes a cleaner swap: the `*.swap` segment replaces every segment whose base offset lies
 * within its offsets (the segments it was cleaned from that still exist), then takes its final
 * names. Without a `.log.swap` the log file was already renamed and only indexes are left.
 */
async function completeSwap(dir: string, base: number, logger: Logger): Promise<void> {
  const swapLog = path.join(dir, segmentFileName(base, LOG_SUFFIX) + SWAP_SUFFIX);
  const lastOffset = await lastOffsetInFile(swapLog);
  if (lastOffset !== null) {
    const replaced: number[] = [];
    for (const name of await readdir(dir)) {
      const m = SEGMENT_FILE.exec(name);
      const segmentBase = m ? Number(m[1]) : -1;
      if (m && segmentBase >= base && segmentBase <= Math.max(base, lastOffset)) {
        await unlink(path.join(dir, name));
        if (m[2] === 'log') replaced.push(segmentBase);
      }
    }
    await rename(swapLog, path.join(dir, segmentFileName(base, LOG_SUFFIX)));
    logger.warn(
      { segment: base, replacedSegments: replaced },
      'completed an interrupted swap of a cleaned log segment',
    );
  }
  for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
    const target = path.join(dir, segmentFileName(base, suffix));
    await rename(target + SWAP_SUFFIX, target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/** The last offset of the whole batches in a segment file (-1 if none), or null if there is no such file. */
async function lastOffsetInFile(file: string): Promise<number | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    let last = -1;
    let block = Buffer.alloc(0);
    let blockStart = 0;
    for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= size;) {
      if (pos + RECORD_BATCH_OVERHEAD > blockStart + block.length) {
        block = Buffer.allocUnsafe(Math.min(size - pos, SWAP_SCAN_BLOCK_BYTES));
        const { bytesRead } = await fh.read(block, 0, block.length, pos);
        if (bytesRead < RECORD_BATCH_OVERHEAD) break;
        block = block.subarray(0, bytesRead);
        blockStart = pos;
      }
      const at = pos - blockStart;
      const batchSize = batchSizeAt(block, at);
      if (batchSize < RECORD_BATCH_OVERHEAD || pos + batchSize > size) break;
      last = lastOffsetAt(block, at);
      pos += batchSize;
    }
    return last;
  } finally {
    await fh.close();
  }
}

async function closeAndRemove(segment: LogSegment): Promise<void> {
  await segment.closeWhenIdle();
  await removeSegmentFiles(segment.dir, segment.baseOffset);
}

async function removeSegmentFiles(dir: string, baseOffset: number): Promise<void> {
  for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
    await unlink(path.join(dir, segmentFileName(baseOffset, suffix))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
