// One log segment: `<base offset>.log` with its `.index` and `.timeindex`. The segment writes
// whole batches at its end, keeps its indexes in memory (flushed to their files on roll, flush
// and close), serves reads as slices of block reads, and can rebuild itself from its log file.

import { type FileHandle, open, rename, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  NO_TIMESTAMP,
  RECORD_BATCH_OVERHEAD,
  baseOffsetAt,
  batchSizeAt,
  decodeRecordsAsync,
  lastOffsetAt,
  maxTimestampAt,
  scanBatches,
  timestampTypeAt,
} from '../protocol/record-batch.js';
import { INT32_MAX } from './index-file.js';
import { OffsetIndex } from './offset-index.js';
import type { ReadLoan } from './read-buffers.js';
import { TimeIndex } from './time-index.js';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
/** Segments removed by retention are renamed with this suffix, then unlinked after a delay. */
export const DELETED_SUFFIX = '.deleted';
/** A segment the log cleaner is writing; removed at open when a crash left it behind. */
export const CLEANED_SUFFIX = '.cleaned';
/** A cleaned segment about to replace the segments it was made from; completed at open. */
export const SWAP_SUFFIX = '.swap';

/** Read size when scanning a whole segment during recovery. */
const RECOVERY_BLOCK_BYTES = 1 << 20;
/** Read size when searching batches by timestamp. */
const SEARCH_BLOCK_BYTES = 64 * 1024;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** A batch as the segment stores it: offsets already assigned. */
export interface StoredBatch {
  size: number;
  lastOffset: number;
  maxTimestamp: number;
}

export interface ReadQuery {
  fetchOffset: number;
  maxBytes: number;
  minOneBatch: boolean;
  /** Batches starting at or after this offset are not returned (the high watermark for consumers). */
  maxOffset: number;
  indexIntervalBytes: number;
  /** Where the blocks are read into; new buffers without it. */
  buffers?: ReadLoan;
}

export interface SegmentRead {
  chunks: Buffer[];
  bytes: number;
}

export interface TimestampAndOffset {
  timestamp: number;
  offset: number;
}

export interface RecoveryResult {
  truncatedBytes: number;
  /** Offset after the last valid batch, or the base offset for an empty segment. */
  nextOffset: number;
  /** Why the scan stopped before the end of the file. */
  reason?: string;
}

/** Stored data that does not frame as batches: the log is at fault, not the request. */
export class LogCorruptionError extends Error {}

export class LogSegment {
  /** '' for a live segment; CLEANED_SUFFIX or SWAP_SUFFIX while the cleaner builds one. */
  private fileSuffix = '';
  /** Bytes of whole batches in the file; reads never go past it. */
  size: number;
  maxTimestamp = NO_TIMESTAMP;
  /** Last offset of the first batch that reached maxTimestamp. */
  offsetOfMaxTimestamp = -1;
  /** Max timestamp of the first batch: segment.ms counts from it (Kafka's rollingBasedTimestamp). */
  firstBatchTimestamp: number | null = null;
  lastModifiedMs: number;
  /** Written since the last fsync. */
  dirty = false;
  deleted = false;
  /** Bumped by truncateTo, so a reader that failed on bytes cut away under it can tell. */
  truncations = 0;

  private bytesSinceLastIndexEntry = 0;
  /** Null while not loaded: closed segments load them on first use and drop them when idle. */
  private offsetIndex: OffsetIndex | null = null;
  private timeIndex: TimeIndex | null = null;
  private handle: FileHandle | null = null;
  private opening: Promise<FileHandle> | null = null;
  private loadingIndexes: Promise<void> | null = null;
  private refs = 0;
  private idleWaiters: Array<() => void> = [];
  private flushes: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    size: number,
    lastModifiedMs: number,
    /** When this process created or loaded the segment (segment.ms counts from it when no batch has a timestamp). */
    readonly createdMs: number,
    private readonly logger: Logger,
  ) {
    this.size = size;
    this.lastModifiedMs = lastModifiedMs;
  }

  get logPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, LOG_SUFFIX)) + this.fileSuffix;
  }
  get indexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, INDEX_SUFFIX)) + this.fileSuffix;
  }
  get timeIndexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, TIME_INDEX_SUFFIX)) + this.fileSuffix;
  }

  /** A new, empty segment, open for appends. */
  static async create(dir: string, baseOffset: number, logger: Logger, nowMs: number): Promise<LogSegment> {
    return LogSegment.createWithSuffix(dir, baseOffset, '', logger, nowMs);
  }

  /**
   * A new, empty segment whose files carry CLEANED_SUFFIX, for the log cleaner to fill; it
   * becomes a live segment through renameFiles (to SWAP_SUFFIX, then to '').
   */
  static async createCleaned(dir: string, baseOffset: number, logger: Logger, nowMs: number): Promise<LogSegment> {
    return LogSegment.createWithSuffix(dir, baseOffset, CLEANED_SUFFIX, logger.child({ cleaned: true }), nowMs);
  }

  private static async createWithSuffix(
    dir: string,
    baseOffset: number,
    suffix: string,
    logger: Logger,
    nowMs: number,
  ): Promise<LogSegment> {
    const segment = new LogSegment(dir, baseOffset, 0, nowMs, nowMs, logger.child({ segment: baseOffset }));
    segment.fileSuffix = suffix;
    segment.handle = await open(segment.logPath, 'w+');
    segment.offsetIndex = OffsetIndex.empty(segment.indexPath, baseOffset);
    segment.timeIndex = TimeIndex.empty(segment.timeIndexPath, baseOffset);
    return segment;
  }

  /** An existing segment, not yet checked: follow with loadClosed, loadActive or recover. */
  static async existing(dir: string, baseOffset: number, logger: Logger, nowMs: number): Promise<LogSegment> {
    const file = await stat(path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)));
    return new LogSegment(dir, baseOffset, file.size, file.mtimeMs, nowMs, logger.child({ segment: baseOffset }));
  }

  /** Largest offset this segment can index (relative offsets are int32). */
  get maxIndexableOffset(): number {
    return this.baseOffset + INT32_MAX;
  }

  /**
   * Trusts a closed segment after cheap checks of its index files; its max timestamp comes from
   * the time index's last entry, which sealing on roll made the segment's maximum. Returns why
   * the segment needs rebuilding instead, when it does.
   */
  async loadClosed(): Promise<string | null> {
    let indexBytes: number;
    try {
      indexBytes = (await stat(this.indexPath)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'offset index file is missing';
      throw err;
    }
    if (indexBytes % 8 !== 0) return `offset index size ${indexBytes} is not a multiple of 8`;
    const last = await TimeIndex.readLastEntry(this.timeIndexPath, this.baseOffset);
    if (typeof last === 'string') return last;
    if (last) {
      this.maxTimestamp = last.timestamp;
      this.offsetOfMaxTimestamp = last.offset;
    }
    return null;
  }

  /**
   * Loads the last segment after a clean shutdown: its indexes are trusted, and only the batches
   * after the last index entry are scanned (with CRCs) to find the end offset. Returns why the
   * segment needs full recovery instead, when it does.
   */
  async loadActive(indexIntervalBytes: number): Promise<RecoveryResult | string> {
    const offsets = await OffsetIndex.load(this.indexPath, this.baseOffset, this.size);
    if (typeof offsets === 'string') return offsets;
    const times = await TimeIndex.load(this.timeIndexPath, this.baseOffset);
    if (typeof times === 'string') return times;
    this.offsetIndex = offsets;
    this.timeIndex = times;
    const last = times.lastEntry();
    if (last) {
      this.maxTimestamp = last.timestamp;
      this.offsetOfMaxTimestamp = last.offset;
    }
    const fh = await this.file();
    const from = offsets.lastPosition();
    if (from > 0) {
      const header = await readExactly(fh, 0, RECORD_BATCH_OVERHEAD);
      this.firstBatchTimestamp = maxTimestampAt(header, 0);
    }
    const scan = await this.scanAndIndex(fh, from, this.size, this.baseOffset, indexIntervalBytes);
    if (scan.reason !== undefined) return `tail after the last index entry: ${scan.reason}`;
    if (from > 0 && scan.nextOffset < 0) return `no batch at the last index entry's position ${from}`;
    return { truncatedBytes: 0, nextOffset: scan.nextOffset < 0 ? this.baseOffset : scan.nextOffset };
  }

  /**
   * Rebuilds the segment from its log file: validates every batch (framing, CRC, offset order),
   * truncates the file at the first torn or invalid one and rewrites both indexes.
   */
  async recover(indexIntervalBytes: number): Promise<RecoveryResult> {
    const fh = await this.file();
    const fileBytes = (await fh.stat()).size;
    this.offsetIndex = OffsetIndex.empty(this.indexPath, this.baseOffset);
    this.timeIndex = TimeIndex.empty(this.timeIndexPath, this.baseOffset);
    this.maxTimestamp = NO_TIMESTAMP;
    this.offsetOfMaxTimestamp = -1;
    this.firstBatchTimestamp = null;
    this.bytesSinceLastIndexEntry = 0;
    const scan = await this.scanAndIndex(fh, 0, fileBytes, this.baseOffset, indexIntervalBytes);
    const truncatedBytes = fileBytes - scan.validBytes;
    if (truncatedBytes > 0) {
      await fh.truncate(scan.validBytes);
      this.logger.warn(
        { position: scan.validBytes, truncatedBytes, reason: scan.reason },
        'truncated invalid tail of log segment',
      );
    }
    this.size = scan.validBytes;
    this.sealTimeIndex();
    // Retention or a cleaner swap removed it meanwhile: its index files must not be written
    // again, least of all over those of the cleaned segment that took its name.
    if (this.deleted) throw new LogCorruptionError(`segment ${this.baseOffset} was removed while it was being rebuilt`);
    await this.offsetIndex.persist(false);
    await this.timeIndex.persist(false);
    return {
      truncatedBytes,
      nextOffset: scan.nextOffset < 0 ? this.baseOffset : scan.nextOffset,
      ...(scan.reason !== undefined && { reason: scan.reason }),
    };
  }

  /** Validates and indexes the batches in [from, fileBytes), stopping at the first bad one. */
  private async scanAndIndex(
    fh: FileHandle,
    from: number,
    fileBytes: number,
    minBaseOffset: number,
    indexIntervalBytes: number,
  ): Promise<{ validBytes: number; nextOffset: number; reason?: string }> {
    let position = from;
    let minBase = minBaseOffset;
    let nextOffset = -1;
    let needBytes = 0;
    while (position < fileBytes) {
      const block = await readExactly(
        fh,
        position,
        Math.min(fileBytes - position, Math.max(RECOVERY_BLOCK_BYTES, needBytes)),
      );
      const scan = scanBatches(block, 0, { minBaseOffset: minBase, maxLastOffset: this.maxIndexableOffset });
      for (const b of scan.batches)
        this.indexBatch(position + b.position, b.size, b.lastOffset, b.maxTimestamp, indexIntervalBytes);
      const last = scan.batches.at(-1);
      if (last) {
        minBase = last.lastOffset + 1;
        nextOffset = minBase;
      }
      position += scan.end;
      if (scan.stop === 'corrupt') return { validBytes: position, nextOffset, reason: scan.reason };
      if (scan.stop === 'partial') {
        if (position + scan.needBytes > fileBytes) {
          const reason = `torn batch: ${fileBytes - position} of ${scan.needBytes} bytes present`;
          return { validBytes: position, nextOffset, reason };
        }
        needBytes = scan.needBytes;
      } else {
        needBytes = 0;
      }
    }
    return { validBytes: position, nextOffset };
  }

  private indexBatch(
    position: number,
    size: number,
    lastOffset: number,
    maxTimestamp: number,
    indexIntervalBytes: number,
  ): void {
    if (position === 0) this.firstBatchTimestamp = maxTimestamp;
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = lastOffset;
    }
    if (this.bytesSinceLastIndexEntry > indexIntervalBytes) {
      this.offsetIndex!.append(lastOffset, position);
      this.timeIndex!.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += size;
  }

  /**
   * Writes batches at the end of the segment in one call, then indexes them. `chunks` hold the
   * batches' bytes in order; only whole, written batches become visible to reads.
   */
  async append(
    chunks: Buffer[],
    bytes: number,
    batches: StoredBatch[],
    indexIntervalBytes: number,
    nowMs: number,
  ): Promise<void> {
    const fh = await this.file();
    const start = this.size;
    this.dirty = true;
    const { bytesWritten } = await fh.writev(chunks, start);
    if (bytesWritten !== bytes) throw new Error(`short write to ${this.logPath}: ${bytesWritten} of ${bytes} bytes`);
    let position = start;
    for (const b of batches) {
      this.indexBatch(position, b.size, b.lastOffset, b.maxTimestamp, indexIntervalBytes);
      position += b.size;
    }
    this.size = position;
    this.lastModifiedMs = nowMs;
  }

  /** Records the segment's max timestamp as the last time index entry (on roll and close, as Kafka). */
  sealTimeIndex(): void {
    if (this.maxTimestamp !== NO_TIMESTAMP) this.timeIndex?.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
  }

  /** fsyncs the log file and writes and fsyncs both indexes; flushes of one segment run in order. */
  flush(): Promise<void> {
    const run = this.flushes.then(async () => {
      this.dirty = false;
      await (await this.file()).sync();
      await this.offsetIndex?.persist(true);
      await this.timeIndex?.persist(true);
    });
    this.flushes = run.catch(() => undefined);
    return run;
  }

  /**
   * Log truncation (Kafka's LogSegment.truncateTo): removes every batch whose last offset is at
   * or after `offset` (a batch holding `offset` goes whole) from the log file and both indexes,
   * recomputes the max timestamp, and fsyncs the file and both indexes before resolving. Returns
   * where the segment's offsets now end: the base offset of the first batch removed, or `offset`
   * when no batch was removed or the first one removed starts after it (a gap left by compaction).
   * Runs in line with this segment's flushes.
   */
  truncateTo(offset: number, indexIntervalBytes: number, nowMs: number): Promise<number> {
    const run = this.flushes.then(() => this.truncateNow(offset, indexIntervalBytes, nowMs));
    this.flushes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async truncateNow(offset: number, indexIntervalBytes: number, nowMs: number): Promise<number> {
    const { offsetIndex, timeIndex } = await this.indexes(indexIntervalBytes);
    const fh = await this.file();
    const end = this.size;
    const cursor = new BlockCursor(fh, end);
    let cut = offsetIndex.lookup(offset);
    let nextOffset = offset;
    while (cut < end) {
      await cursor.need(cut, RECORD_BATCH_OVERHEAD, SEARCH_BLOCK_BYTES);
      if (lastOffsetAt(cursor.buf, cursor.at(cut)) >= offset) {
        nextOffset = Math.min(offset, baseOffsetAt(cursor.buf, cursor.at(cut)));
        break;
      }
      cut += checkedSize(cursor, cut, end);
    }
    // Reads from here on stop at the cut; the file is cut below, after the index entries go.
    this.size = cut;
    this.truncations++;
    this.dirty = true;
    this.lastModifiedMs = nowMs;
    offsetIndex.truncateToPosition(cut);
    timeIndex.truncateToOffset(nextOffset);
    await this.recomputeTail(fh, offsetIndex.lastPosition(), cut, timeIndex.lastEntry());
    await fh.truncate(cut);
    this.dirty = false;
    await fh.sync();
    await offsetIndex.persist(true);
    await timeIndex.persist(true);
    return nextOffset;
  }

  /**
   * After a truncation: the max timestamp is the time index's last entry (which covers every
   * batch up to the last offset index entry's) or a later batch's; the batches from `from`
   * (the last offset index entry's position, or 0) to `end` are read to find out, which also
   * gives the bytes written since that entry.
   */
  private async recomputeTail(
    fh: FileHandle,
    from: number,
    end: number,
    lastTimeEntry: { timestamp: number; offset: number } | null,
  ): Promise<void> {
    this.maxTimestamp = lastTimeEntry?.timestamp ?? NO_TIMESTAMP;
    this.offsetOfMaxTimestamp = lastTimeEntry?.offset ?? -1;
    this.bytesSinceLastIndexEntry = end - from;
    this.firstBatchTimestamp = null;
    if (end === 0) return;
    const cursor = new BlockCursor(fh, end);
    await cursor.need(0, RECORD_BATCH_OVERHEAD, RECORD_BATCH_OVERHEAD);
    this.firstBatchTimestamp = maxTimestampAt(cursor.buf, cursor.at(0));
    for (let pos = from; pos < end;) {
      await cursor.need(pos, RECORD_BATCH_OVERHEAD, SEARCH_BLOCK_BYTES);
      const at = cursor.at(pos);
      const timestamp = maxTimestampAt(cursor.buf, at);
      if (timestamp > this.maxTimestamp) {
        this.maxTimestamp = timestamp;
        this.offsetOfMaxTimestamp = lastOffsetAt(cursor.buf, at);
      }
      pos += checkedSize(cursor, pos, end);
    }
  }

  /**
   * Whole batches from the one holding `fetchOffset`, up to `maxBytes` (the first batch whole if
   * `minOneBatch`), as slices of block reads. Null when no batch here ends at or after
   * `fetchOffset`, so the caller moves on to the next segment.
   */
  async read(q: ReadQuery): Promise<SegmentRead | null> {
    // Indexes first: rebuilding a damaged one can shorten the segment.
    const { offsetIndex } = await this.indexes(q.indexIntervalBytes);
    const end = this.size;
    const cursor = new BlockCursor(await this.file(), end, q.buffers);
    let pos = offsetIndex.lookup(q.fetchOffset);
    // The index lands at most about index.interval.bytes before the target batch: one read
    // usually covers the skipped batches and the answer.
    const firstReadBytes = q.indexIntervalBytes + q.maxBytes + RECORD_BATCH_OVERHEAD;
    for (;;) {
      if (pos >= end) return null;
      await cursor.need(pos, RECORD_BATCH_OVERHEAD, firstReadBytes);
      if (lastOffsetAt(cursor.buf, cursor.at(pos)) >= q.fetchOffset) break;
      pos += checkedSize(cursor, pos, end);
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    let chunkStart = pos;
    const cut = () => {
      if (pos > chunkStart) chunks.push(cursor.slice(chunkStart, pos));
    };
    while (pos < end) {
      if (!cursor.has(pos, RECORD_BATCH_OVERHEAD)) {
        cut();
        await cursor.need(pos, RECORD_BATCH_OVERHEAD, q.maxBytes - bytes);
        chunkStart = pos;
      }
      if (baseOffsetAt(cursor.buf, cursor.at(pos)) >= q.maxOffset) break;
      const size = checkedSize(cursor, pos, end);
      if (bytes + size > q.maxBytes && !(bytes === 0 && q.minOneBatch)) break;
      if (!cursor.has(pos, size)) {
        cut();
        await cursor.need(pos, size, Math.max(size, q.maxBytes - bytes));
        chunkStart = pos;
      }
      pos += size;
      bytes += size;
    }
    cut();
    return { chunks, bytes };
  }

  /**
   * Kafka's ListOffsets search in this segment: the first record at or after `startOffset` whose
   * timestamp is >= `timestampMs`. Index lookups bound the scan; only the matching batch is
   * decoded (decompressed when compressed). Under LogAppendTime the batch's first offset (from
   * `startOffset`) and max timestamp stand for the record.
   */
  async findOffsetByTimestamp(
    timestampMs: number,
    startOffset: number,
    indexIntervalBytes: number,
  ): Promise<TimestampAndOffset | null> {
    const { offsetIndex, timeIndex } = await this.indexes(indexIntervalBytes);
    const end = this.size;
    const cursor = new BlockCursor(await this.file(), end);
    let pos = offsetIndex.lookup(Math.max(timeIndex.lookup(timestampMs), startOffset));
    while (pos < end) {
      await cursor.need(pos, RECORD_BATCH_OVERHEAD, SEARCH_BLOCK_BYTES);
      const at = cursor.at(pos);
      const size = checkedSize(cursor, pos, end);
      if (maxTimestampAt(cursor.buf, at) >= timestampMs && lastOffsetAt(cursor.buf, at) >= startOffset) {
        await cursor.need(pos, size, SEARCH_BLOCK_BYTES);
        const batch = cursor.slice(pos, pos + size);
        const baseOffset = baseOffsetAt(batch, 0);
        if (!needsRecordSearch(batch))
          return { offset: Math.max(baseOffset, startOffset), timestamp: maxTimestampAt(batch, 0) };
        const hit = (await decodeRecordsAsync(batch)).find(
          (r) => r.timestampMs >= timestampMs && r.offset >= startOffset,
        );
        if (hit) return { offset: hit.offset, timestamp: hit.timestampMs };
      }
      pos += size;
    }
    return null;
  }

  /**
   * The first record carrying this segment's max timestamp (Kafka's ListOffsets MAX_TIMESTAMP):
   * the batch is found from offsetOfMaxTimestamp, then searched record by record.
   */
  async findMaxTimestampRecord(indexIntervalBytes: number): Promise<TimestampAndOffset | null> {
    if (this.maxTimestamp === NO_TIMESTAMP) return null;
    const { offsetIndex } = await this.indexes(indexIntervalBytes);
    const end = this.size;
    const cursor = new BlockCursor(await this.file(), end);
    let pos = offsetIndex.lookup(this.offsetOfMaxTimestamp);
    while (pos < end) {
      await cursor.need(pos, RECORD_BATCH_OVERHEAD, SEARCH_BLOCK_BYTES);
      const size = checkedSize(cursor, pos, end);
      if (maxTimestampAt(cursor.buf, cursor.at(pos)) === this.maxTimestamp) {
        await cursor.need(pos, size, SEARCH_BLOCK_BYTES);
        const batch = cursor.slice(pos, pos + size);
        const hit = needsRecordSearch(batch)
          ? (await decodeRecordsAsync(batch)).find((r) => r.timestampMs === this.maxTimestamp)
          : undefined;
        return { offset: hit?.offset ?? baseOffsetAt(batch, 0), timestamp: this.maxTimestamp };
      }
      pos += size;
    }
    return null;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs > 0) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Whether the handle and indexes can be dropped now without losing anything. */
  get canUnload(): boolean {
    return (
      this.refs === 0 &&
      !this.dirty &&
      this.opening === null &&
      this.loadingIndexes === null &&
      (this.offsetIndex?.persisted ?? true) &&
      (this.timeIndex?.persisted ?? true)
    );
  }

  /** Closes the file and drops the indexes of an idle closed segment; they reload on next use. */
  async unload(): Promise<void> {
    const fh = this.handle;
    this.handle = null;
    this.offsetIndex = null;
    this.timeIndex = null;
    await fh?.close();
  }

  /** Waits for readers and flushes to finish, then closes the file. */
  async closeWhenIdle(): Promise<void> {
    while (this.refs > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.flushes;
    const fh = this.handle;
    this.handle = null;
    await fh?.close();
  }

  /**
   * Calls `visit` with every whole batch from file position `from` (a batch boundary) to the
   * end, in order, reading blocks of at least `blockBytes`. Batches are slices of freshly read
   * blocks, so they stay valid after the call.
   */
  async forEachBatch(
    visit: (batch: Buffer, position: number) => void | Promise<void>,
    from = 0,
    blockBytes = RECOVERY_BLOCK_BYTES,
  ): Promise<void> {
    const end = this.size;
    const cursor = new BlockCursor(await this.file(), end);
    for (let pos = from; pos < end;) {
      await cursor.need(pos, RECORD_BATCH_OVERHEAD, blockBytes);
      const size = checkedSize(cursor, pos, end);
      await cursor.need(pos, size, blockBytes);
      await visit(cursor.slice(pos, pos + size), pos);
      pos += size;
    }
  }

  /** File position of the batch holding `offset`, or of a batch before it (an index lookup). */
  async positionAtOrBefore(offset: number, indexIntervalBytes: number): Promise<number> {
    const { offsetIndex } = await this.indexes(indexIntervalBytes);
    return offsetIndex.lookup(offset);
  }

  /**
   * Renames the segment's files (those that exist) from their current suffix to `suffix`
   * (CLEANED_SUFFIX → SWAP_SUFFIX → ''); the open file handle keeps working.
   */
  async renameFiles(suffix: string): Promise<void> {
    const from = [this.logPath, this.indexPath, this.timeIndexPath];
    this.fileSuffix = suffix;
    const to = [this.logPath, this.indexPath, this.timeIndexPath];
    if (this.offsetIndex) this.offsetIndex.path = this.indexPath;
    if (this.timeIndex) this.timeIndex.path = this.timeIndexPath;
    for (let i = 0; i < from.length; i++) await rename(from[i], to[i]).catch(ignoreMissing);
  }

  /** Sets the log file's modification time (a cleaned segment keeps its sources' time). */
  async setLastModified(ms: number): Promise<void> {
    await utimes(this.logPath, ms / 1000, ms / 1000);
    this.lastModifiedMs = ms;
  }

  /** Removes the files of a segment that never became live (an abandoned cleaned segment). */
  async discard(): Promise<void> {
    await this.closeWhenIdle();
    for (const file of [this.logPath, this.indexPath, this.timeIndexPath]) await unlink(file).catch(ignoreMissing);
  }

  /** Renames the files so a restart does not load them; open handles keep working. */
  async markDeleted(): Promise<void> {
    this.deleted = true;
    // Readers still holding the segment open its files by their new names: the old names may
    // already belong to the cleaned segment that replaced it.
    await this.renameFiles(DELETED_SUFFIX);
  }

  async deleteFiles(): Promise<void> {
    for (const file of [this.logPath, this.indexPath, this.timeIndexPath]) {
      await unlink(file).catch(ignoreMissing);
    }
  }

  private async file(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    this.opening ??= open(this.logPath, 'r+').finally(() => {
      this.opening = null;
    });
    this.handle = await this.opening;
    return this.handle;
  }

  /** The indexes, loading (and if needed rebuilding) those of a closed segment on first use. */
  private async indexes(indexIntervalBytes: number): Promise<{ offsetIndex: OffsetIndex; timeIndex: TimeIndex }> {
    if (!this.offsetIndex || !this.timeIndex) {
      this.loadingIndexes ??= this.loadIndexes(indexIntervalBytes).finally(() => {
        this.loadingIndexes = null;
      });
      await this.loadingIndexes;
    }
    return { offsetIndex: this.offsetIndex!, timeIndex: this.timeIndex! };
  }

  private async loadIndexes(indexIntervalBytes: number): Promise<void> {
    const offsets = await OffsetIndex.load(this.indexPath, this.baseOffset, this.size);
    const times = typeof offsets === 'string' ? offsets : await TimeIndex.load(this.timeIndexPath, this.baseOffset);
    if (typeof offsets !== 'string' && typeof times !== 'string') {
      this.offsetIndex = offsets;
      this.timeIndex = times;
      return;
    }
    // Its files were renamed away by retention or a cleaner swap: nothing to rebuild.
    if (this.deleted) throw new LogCorruptionError(`segment ${this.baseOffset} was removed`);
    this.logger.warn({ reason: typeof offsets === 'string' ? offsets : times }, 'rebuilding log segment index');
    const sizeBefore = this.size;
    const result = await this.recover(indexIntervalBytes);
    if (result.truncatedBytes > 0) {
      this.logger.error(
        { sizeBefore, truncatedBytes: result.truncatedBytes },
        'closed log segment was corrupt and has been truncated',
      );
    }
  }
}

/** Whether finding a record by timestamp means decoding the batch: under LogAppendTime every record carries the batch's max timestamp. */
function needsRecordSearch(batch: Buffer): boolean {
  return timestampTypeAt(batch, 0) === 'CreateTime';
}

function checkedSize(cursor: BlockCursor, pos: number, end: number): number {
  const size = batchSizeAt(cursor.buf, cursor.at(pos));
  if (size < RECORD_BATCH_OVERHEAD || pos + size > end) {
    throw new LogCorruptionError(
      `batch at position ${pos} claims ${size} bytes; the segment's valid data ends at ${end}`,
    );
  }
  return size;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

async function readExactly(fh: FileHandle, position: number, length: number, buffers?: ReadLoan): Promise<Buffer> {
  const buf = buffers ? buffers.alloc(length) : Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new LogCorruptionError(`file ends at ${position + done}, before ${position + length}`);
    done += bytesRead;
  }
  return buf;
}

/** One block of a segment in memory; reads a new block when asked for bytes outside it. */
class BlockCursor {
  buf: Buffer = Buffer.alloc(0);
  private start = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly end: number,
    private readonly buffers?: ReadLoan,
  ) {}

  has(pos: number, n: number): boolean {
    return pos >= this.start && pos + n <= this.start + this.buf.length;
  }

  /** Index in `buf` of file position `pos`. */
  at(pos: number): number {
    return pos - this.start;
  }

  slice(from: number, to: number): Buffer {
    return this.buf.subarray(from - this.start, to - this.start);
  }

  /** Ensures [pos, pos + n) is in memory, reading at least `hintBytes` from `pos` when it must read. */
  async need(pos: number, n: number, hintBytes: number): Promise<void> {
    if (this.has(pos, n)) return;
    if (pos + n > this.end) {
      throw new LogCorruptionError(`needed bytes up to ${pos + n}; the segment's valid data ends at ${this.end}`);
    }
    this.buf = await readExactly(this.fh, pos, Math.min(this.end - pos, Math.max(n, hintBytes)), this.buffers);
    this.start = pos;
  }
}
