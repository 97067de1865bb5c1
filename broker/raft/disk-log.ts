// The Raft log on disk: `__cluster_metadata-0/` under the metadata log dir, a partition log of
// Kafka record batches (each batch's partition leader epoch is its Raft epoch; a new leader's
// LeaderChange record is a control batch), so recovery, CRC checks and Kafka's DumpLogSegments
// all work on it as on any partition. The entries are also kept in memory: the quorum state
// machine reads the log synchronously, and the metadata log is small.
//
// Snapshots (`<offset>-<epoch>.checkpoint`, metadata/snapshot.ts) sit beside the segments. The
// log starts at the latest snapshot's end offset: segments wholly below it are deleted, and at
// start-up the entries are read from there. A snapshot file is written to `<name>.part`, fsynced,
// renamed and the directory fsynced, so it exists whole or not at all; older ones are removed
// once a newer one is the log's start. The latest snapshot's bytes stay in memory too, for
// FetchSnapshot.

import { open as openFile, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { DEFAULT_LOG_CONFIG, PartitionLog } from '../log/partition-log.js';
import { decodeRaftEntries, encodeRaftEntries, type MetadataRecord } from '../metadata/records.js';
import { decodeSnapshot, parseSnapshotFileName, snapshotFileName } from '../metadata/snapshot.js';
import { syncDir } from './quorum-state.js';
import { LOG_OVERHEAD, readBatchHeader, type BatchInfo } from '../protocol/record-batch.js';
import { MemoryLog, type LogEntry, type OffsetAndEpoch, type RaftLogReader, type SnapshotChunk } from './log.js';

export const METADATA_PARTITION_DIR = '__cluster_metadata-0';
const CONTROL_ATTRIBUTE = 0x20;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** Flushes are the Raft host's to decide (an fsync before an entry counts as durable). */
const NEVER = 2 ** 53;

export class DiskRaftLog implements RaftLogReader {
  /** Snapshots written by writeSnapshot that the log has not taken yet (deleteBefore), by file name. */
  private readonly written = new Map<string, Buffer>();

  private constructor(
    readonly dir: string,
    private log: PartitionLog,
    private entries: MemoryLog,
    private readonly segmentBytes: number,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly segmentMs: number,
  ) {}

  /** `segmentBytes` and `segmentMs`: metadata.log.segment.bytes and metadata.log.segment.ms. */
  static async open(
    metadataLogDir: string,
    segmentBytes: number,
    logger: Logger,
    clock: Clock,
    segmentMs: number = DEFAULT_LOG_CONFIG.segmentMs,
  ): Promise<DiskRaftLog> {
    const dir = path.join(metadataLogDir, METADATA_PARTITION_DIR);
    const { log, entries } = await load(dir, segmentBytes, segmentMs, logger, clock);
    return new DiskRaftLog(dir, log, entries, segmentBytes, logger, clock, segmentMs);
  }

  /** Reopens the log after a failed write: recovery keeps whole batches, the entries follow it. */
  async recover(): Promise<void> {
    await this.log.close().catch(() => undefined);
    ({ log: this.log, entries: this.entries } = await load(
      this.dir,
      this.segmentBytes,
      this.segmentMs,
      this.logger,
      this.clock,
    ));
  }

  endOffset(): number {
    return this.entries.endOffset();
  }
  startOffset(): number {
    return this.entries.startOffset();
  }
  latestSnapshot(): OffsetAndEpoch | null {
    return this.entries.latestSnapshot();
  }
  readSnapshot(id: OffsetAndEpoch, position: number, maxBytes: number): SnapshotChunk | undefined {
    return this.entries.readSnapshot(id, position, maxBytes);
  }

  /** The metadata records of the latest snapshot (the image at the log start), null without one. */
  snapshotRecords(): MetadataRecord[] | null {
    const s = this.entries.snapshotData();
    return s ? decodeSnapshot(s.data) : null;
  }

  /** Writes a snapshot file durably; the log starts at it once deleteBefore says so. */
  async writeSnapshot(id: OffsetAndEpoch, bytes: Buffer): Promise<void> {
    await writeSnapshotFile(this.dir, id, bytes);
    this.written.set(snapshotFileName(id), bytes);
  }

  /**
   * The snapshot `id` (written by writeSnapshot) becomes the latest: entries below its end offset
   * go, the log start offset moves up to it and segments wholly below are deleted; older snapshot
   * files are removed.
   */
  async deleteBefore(id: OffsetAndEpoch): Promise<void> {
    const name = snapshotFileName(id);
    const bytes = this.written.get(name);
    if (!bytes) throw new Error(`no snapshot ${name} was written`);
    this.written.clear();
    this.entries.snapshotAndDeleteBefore(id, bytes);
    await this.log.deleteRecordsBefore(id.offset);
    await removeOlderSnapshots(this.dir, id, this.logger);
    this.logger.info({ snapshot: name, logStartOffset: id.offset }, 'metadata log starts at a snapshot');
  }

  /** A snapshot from the leader: stored durably, and the log is emptied to start at its end offset. */
  async installSnapshot(id: OffsetAndEpoch, bytes: Buffer): Promise<void> {
    decodeSnapshot(bytes); // whole and readable, or nothing changes
    await writeSnapshotFile(this.dir, id, bytes);
    this.written.clear();
    this.entries.resetToSnapshot(id, bytes);
    await this.log.truncateTo(id.offset, { fully: true });
    await removeOlderSnapshots(this.dir, id, this.logger);
    this.logger.info({ snapshot: snapshotFileName(id) }, 'installed a snapshot from the quorum leader');
  }
  lastEpoch(): number {
    return this.entries.lastEpoch();
  }
  epochAt(offset: number): number | undefined {
    return this.entries.epochAt(offset);
  }
  read(fromOffset: number, maxEntries: number): LogEntry[] {
    return this.entries.read(fromOffset, maxEntries);
  }
  endOffsetForEpoch(epoch: number): OffsetAndEpoch {
    return this.entries.endOffsetForEpoch(epoch);
  }

  /** Writes the entries (not yet durable: see flush). They must continue the log. */
  async append(entries: readonly LogEntry[]): Promise<void> {
    this.entries.append(entries);
    const encoded = encodeRaftEntries(entries, this.clock.nowMs());
    for (let at = 0; at < encoded.length;) {
      const header = readBatchHeader(encoded, at);
      const size = header.batchLength + LOG_OVERHEAD;
      const info: BatchInfo = {
        position: 0,
        size,
        recordCount: header.recordCount,
        lastOffsetDelta: header.lastOffsetDelta,
        maxTimestamp: header.maxTimestamp,
        producerId: header.producerId,
        producerEpoch: header.producerEpoch,
        baseSequence: header.baseSequence,
        compression: 'none',
        isControl: (header.attributes & CONTROL_ATTRIBUTE) !== 0,
        isTransactional: false,
      };
      const written = await this.log.append(encoded.subarray(at, at + size), [info], header.partitionLeaderEpoch);
      if (written.baseOffset !== header.baseOffset)
        throw new Error(`metadata log wrote offset ${written.baseOffset} where Raft expected ${header.baseOffset}`);
      at += size;
    }
  }

  /** Removes every entry at or after `offset` (never below the log start), durably. */
  async truncate(offset: number): Promise<void> {
    this.entries.truncateTo(offset);
    await this.log.truncateTo(offset);
  }

  /** Fsyncs what was written; resolves with the end offset that is now durable. */
  async flush(): Promise<number> {
    const end = this.entries.endOffset();
    await this.log.flush();
    return end;
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

async function load(
  dir: string,
  segmentBytes: number,
  segmentMs: number,
  logger: Logger,
  clock: Clock,
): Promise<{ log: PartitionLog; entries: MemoryLog }> {
  const config = { ...DEFAULT_LOG_CONFIG, segmentBytes, segmentMs, retentionMs: -1, retentionBytes: -1 };
  const log = await PartitionLog.open(dir, { ...config, flushMessages: NEVER, flushMs: NEVER }, logger, clock);
  try {
    const snapshot = await latestValidSnapshot(dir, logger);
    const start = snapshot?.id.offset ?? 0;
    if (log.logStartOffset > start) {
      throw new Error(
        `the metadata log in ${dir} starts at offset ${log.logStartOffset}, but its latest snapshot ends at ${start}: entries in between are missing; start this node with an empty ${dir} to fetch everything from the quorum again`,
      );
    }
    const entries = new MemoryLog();
    // From the entry before the snapshot's end: it tells whether the log still continues the snapshot.
    const tail = await readEntries(log, dir, Math.max(log.logStartOffset, start - 1));
    if (snapshot) {
      const before = tail.find((e) => e.offset === start - 1);
      entries.resetToSnapshot(snapshot.id, snapshot.bytes);
      // The log moves its start only to a snapshot's end; one starting below must hold the same entry before it.
      const continues =
        log.logEndOffset >= start && (log.logStartOffset === start || before?.epoch === snapshot.id.epoch);
      if (!continues) {
        // The snapshot was installed from the leader and the log not yet emptied when the node stopped.
        await log.truncateTo(start, { fully: true });
        logger.info(
          { snapshot: snapshotFileName(snapshot.id) },
          'the metadata log did not continue its snapshot; emptied it',
        );
      } else {
        entries.append(tail.filter((e) => e.offset >= start));
      }
    } else {
      entries.append(tail);
    }
    return { log, entries };
  } catch (err) {
    await log.close().catch(() => undefined);
    throw err;
  }
}

async function readEntries(log: PartitionLog, dir: string, from: number): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  let offset = from;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, READ_CHUNK_BYTES, true, { maxOffset: log.logEndOffset });
    if (!read.ok) throw new Error(`reading the metadata log in ${dir}: ${read.message}`);
    const decoded = decodeRaftEntries(Buffer.concat(read.chunks)).filter((e) => e.offset >= offset);
    if (decoded.length === 0) break;
    out.push(...decoded);
    offset = decoded[decoded.length - 1].offset + 1;
  }
  return out;
}

/** The snapshot with the highest end offset that reads whole; broken ones are left aside with a warning. */
async function latestValidSnapshot(
  dir: string,
  logger: Logger,
): Promise<{ id: OffsetAndEpoch; bytes: Buffer } | undefined> {
  const names = await readdir(dir);
  for (const name of names) {
    // A snapshot whose write did not finish.
    if (name.endsWith(PART_SUFFIX)) await unlink(path.join(dir, name)).catch(() => undefined);
  }
  const ids = names
    .map(parseSnapshotFileName)
    .filter((id): id is OffsetAndEpoch => id !== undefined)
    .sort((a, b) => b.offset - a.offset || b.epoch - a.epoch);
  for (const id of ids) {
    const file = path.join(dir, snapshotFileName(id));
    const bytes = await readFile(file);
    try {
      decodeSnapshot(bytes);
      return { id, bytes };
    } catch (err) {
      logger.warn({ err, file }, 'ignoring a metadata snapshot that does not read whole');
    }
  }
  return undefined;
}

const PART_SUFFIX = '.part';

/** tmp file, fsync, rename, fsync the directory: the snapshot exists whole or not at all. */
async function writeSnapshotFile(dir: string, id: OffsetAndEpoch, bytes: Buffer): Promise<void> {
  const file = path.join(dir, snapshotFileName(id));
  const part = file + PART_SUFFIX;
  const handle = await openFile(part, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(part, file);
  await syncDir(dir);
}

async function removeOlderSnapshots(dir: string, latest: OffsetAndEpoch, logger: Logger): Promise<void> {
  for (const name of await readdir(dir)) {
    const id = parseSnapshotFileName(name);
    if (id && (id.offset < latest.offset || (id.offset === latest.offset && id.epoch !== latest.epoch))) {
      await unlink(path.join(dir, name)).catch((err: unknown) =>
        logger.warn({ err, name }, 'could not remove an old snapshot'),
      );
    }
  }
}
