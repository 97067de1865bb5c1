// Opening a partition directory: find the segments, clear leftovers, and decide what to trust.
// After a clean shutdown every index is trusted (after cheap checks) and only the active
// segment's tail past its last index entry is scanned. Otherwise every segment from the one
// holding the recovery point onwards is scanned with CRCs, its torn or corrupt tail truncated and
// its indexes rebuilt; as in Kafka, segments after one that had to be truncated are dropped, so
// offsets stay contiguous. A closed segment with a missing or damaged index is rebuilt either way.

import { readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { CHECKPOINT_FILE, readCheckpoint } from './checkpoint.js';
import { countDeletableSegments } from './retention.js';
import {
  INDEX_SUFFIX,
  LOG_SUFFIX,
  LogSegment,
  type RecoveryResult,
  TIME_INDEX_SUFFIX,
  segmentFileName,
} from './segment.js';

const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/;
/** Segment files that retention renamed with DELETED_SUFFIX but had not unlinked yet. */
const DELETED_FILE = /^\d{20}\.(log|index|timeindex)\.deleted$/;

export interface LoadedLog {
  /** Oldest first; the last one is the active segment. Closed segments have no open files. */
  segments: LogSegment[];
  logStartOffset: number;
  logEndOffset: number;
  recoveryPoint: number;
}

export async function loadLog(dir: string, indexIntervalBytes: number, logger: Logger, clean: boolean): Promise<LoadedLog> {
  const read = await readCheckpoint(dir);
  if (typeof read === 'string') logger.warn({ reason: read }, `ignoring unreadable ${CHECKPOINT_FILE}; recovering every segment`);
  const checkpoint = typeof read === 'string' ? null : read;
  const recoveryPoint = checkpoint?.recoveryPoint ?? 0;
  const bases = await listSegments(dir, logger);
  if (bases.length === 0) {
    const start = checkpoint?.logStartOffset ?? 0;
    const segment = await LogSegment.create(dir, start, logger);
    return { segments: [segment], logStartOffset: start, logEndOffset: start, recoveryPoint: start };
  }
  if (!clean) logger.warn({ recoveryPoint, segments: bases.length }, 'log was not shut down cleanly; recovering from the recovery point');

  const segments: LogSegment[] = [];
  let logEndOffset = 0;
  for (let i = 0; i < bases.length; i++) {
    const segment = await LogSegment.existing(dir, bases[i]!, logger);
    segments.push(segment);
    const isLast = i === bases.length - 1;
    const unflushed = !clean && (isLast || bases[i + 1]! > recoveryPoint);
    const result = unflushed ? await segment.recover(indexIntervalBytes) : await loadTrusted(segment, isLast, indexIntervalBytes, logger);
    if (result && result.truncatedBytes > 0 && !isLast) {
      const dropped = bases.slice(i + 1);
      logger.warn({ segment: segment.baseOffset, droppedSegments: dropped }, 'dropping the segments after a truncated segment');
      for (const base of dropped) await removeSegmentFiles(dir, base);
      logEndOffset = result.nextOffset;
      break;
    }
    if (isLast) logEndOffset = result!.nextOffset;
  }

  let logStartOffset = Math.max(checkpoint?.logStartOffset ?? 0, segments[0]!.baseOffset);
  if (logStartOffset > logEndOffset) {
    // Everything left is below the log start offset: start over there, as Kafka does.
    logger.warn({ logStartOffset, logEndOffset }, 'log end offset is below the log start offset; starting an empty log');
    for (const segment of segments) await closeAndRemove(segment);
    const segment = await LogSegment.create(dir, logStartOffset, logger);
    return { segments: [segment], logStartOffset, logEndOffset: logStartOffset, recoveryPoint: logStartOffset };
  }
  const below = Math.min(segments.length - 1, countDeletableSegments(
    segments.map((s, i) => ({ size: s.size, largestTimestampMs: 0, upperBoundOffset: segments[i + 1]?.baseOffset ?? logEndOffset })),
    { nowMs: 0, retentionMs: -1, retentionBytes: -1, logStartOffset, highWatermark: logEndOffset },
  ));
  for (const segment of segments.splice(0, below)) await closeAndRemove(segment);
  logStartOffset = Math.max(logStartOffset, segments[0]!.baseOffset);

  for (const segment of segments.slice(0, -1)) await segment.unload();
  return { segments, logStartOffset, logEndOffset, recoveryPoint: Math.min(recoveryPoint, logEndOffset) };
}

/** Loads a segment below the recovery point, rebuilding it when its index files fail the checks. */
async function loadTrusted(segment: LogSegment, isLast: boolean, indexIntervalBytes: number, logger: Logger): Promise<RecoveryResult | null> {
  const loaded = isLast ? await segment.loadActive(indexIntervalBytes) : await segment.loadClosed();
  if (typeof loaded !== 'string') return loaded;
  logger.warn({ segment: segment.baseOffset, reason: loaded }, 'rebuilding log segment index');
  return segment.recover(indexIntervalBytes);
}

/** Base offsets of the segments present, ascending; removes deletion leftovers and orphan indexes. */
async function listSegments(dir: string, logger: Logger): Promise<number[]> {
  const names = await readdir(dir);
  const logs = new Set<string>();
  const indexes: Array<{ name: string; base: string }> = [];
  for (const name of names) {
    if (DELETED_FILE.test(name) || name === `${CHECKPOINT_FILE}.tmp`) {
      await unlink(path.join(dir, name));
      continue;
    }
    const m = SEGMENT_FILE.exec(name);
    if (!m) continue;
    if (m[2] === 'log') logs.add(m[1]!);
    else indexes.push({ name, base: m[1]! });
  }
  for (const { name, base } of indexes) {
    if (logs.has(base)) continue;
    logger.warn({ file: name }, 'removing index file without a log segment');
    await unlink(path.join(dir, name));
  }
  return [...logs].map(Number).sort((a, b) => a - b);
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
