// The Raft log on disk: `__cluster_metadata-0/` under the metadata log dir, a partition log of
// Kafka record batches (each batch's partition leader epoch is its Raft epoch; a new leader's
// LeaderChange record is a control batch), so recovery, CRC checks and Kafka's DumpLogSegments
// all work on it as on any partition. The entries are also kept in memory: the quorum state
// machine reads the log synchronously, and the metadata log is small.

import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { DEFAULT_LOG_CONFIG, PartitionLog } from '../log/partition-log.js';
import { decodeRaftEntries, encodeRaftEntries } from '../metadata/records.js';
import { LOG_OVERHEAD, readBatchHeader, type BatchInfo } from '../protocol/record-batch.js';
import { MemoryLog, type LogEntry, type OffsetAndEpoch, type RaftLogReader } from './log.js';

export const METADATA_PARTITION_DIR = '__cluster_metadata-0';
const CONTROL_ATTRIBUTE = 0x20;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** Flushes are the Raft host's to decide (an fsync before an entry counts as durable). */
const NEVER = 2 ** 53;

export class DiskRaftLog implements RaftLogReader {
  private constructor(
    readonly dir: string,
    private log: PartitionLog,
    private entries: MemoryLog,
    private readonly segmentBytes: number,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  static async open(metadataLogDir: string, segmentBytes: number, logger: Logger, clock: Clock): Promise<DiskRaftLog> {
    const dir = path.join(metadataLogDir, METADATA_PARTITION_DIR);
    const { log, entries } = await load(dir, segmentBytes, logger, clock);
    return new DiskRaftLog(dir, log, entries, segmentBytes, logger, clock);
  }

  /** Reopens the log after a failed write: recovery keeps whole batches, the entries follow it. */
  async recover(): Promise<void> {
    await this.log.close().catch(() => undefined);
    ({ log: this.log, entries: this.entries } = await load(this.dir, this.segmentBytes, this.logger, this.clock));
  }

  endOffset(): number {
    return this.entries.endOffset();
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

  /** Removes every entry at or after `offset`, durably. */
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
  logger: Logger,
  clock: Clock,
): Promise<{ log: PartitionLog; entries: MemoryLog }> {
  const config = { ...DEFAULT_LOG_CONFIG, segmentBytes, retentionMs: -1, retentionBytes: -1 };
  const log = await PartitionLog.open(dir, { ...config, flushMessages: NEVER, flushMs: NEVER }, logger, clock);
  if (log.logStartOffset !== 0) {
    await log.close();
    throw new Error(
      `the metadata log in ${dir} starts at offset ${log.logStartOffset}, and Runnel cannot load snapshots yet; start this node with an empty ${dir}`,
    );
  }
  const entries = new MemoryLog();
  while (entries.endOffset() < log.logEndOffset) {
    const offset = entries.endOffset();
    const read = await log.read(offset, READ_CHUNK_BYTES, true, { maxOffset: log.logEndOffset });
    if (!read.ok) throw new Error(`reading the metadata log in ${dir}: ${read.message}`);
    const decoded = decodeRaftEntries(Buffer.concat(read.chunks)).filter((e) => e.offset >= offset);
    if (decoded.length === 0) break;
    entries.append(decoded);
  }
  return { log, entries };
}
