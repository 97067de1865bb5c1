// Group metadata and committed offsets as records of the internal, compacted topic
// `__consumer_offsets`. Keys identify what a record is about (one group, or one group's
// offset for one partition) so compaction keeps only the latest of each; a null value is a
// tombstone. Keys and values are JSON: readable with any consumer, and ours to evolve.

import type { LogManager } from '../core/log-manager.js';
import type { PartitionLog } from '../log/partition-log.js';
import { LOG_OVERHEAD, batchSizeAt, buildRecordBatch, decodeRecords, lastOffsetAt, validateProducedBatches } from '../protocol/record-batch.js';

export const OFFSETS_TOPIC = '__consumer_offsets';
const LOAD_READ_BYTES = 1 << 20;

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
}

export interface MemberSnapshot extends MemberIdentity {
  /** base64 of the member's metadata for the chosen protocol, and of its assignment. */
  subscription: string;
  assignment: string;
}

export interface GroupSnapshot {
  protocolType: string | null;
  protocolName: string | null;
  generation: number;
  leaderId: string | null;
  members: MemberSnapshot[];
}

export type OffsetsRecord =
  | { kind: 'offset'; group: string; topic: string; partition: number; value: CommittedOffset | null }
  | { kind: 'group'; group: string; value: GroupSnapshot | null };

function keyOf(r: OffsetsRecord): string {
  return JSON.stringify(r.kind === 'offset' ? ['offset', r.group, r.topic, r.partition] : ['group', r.group]);
}

function parse(key: Buffer, value: Buffer | null): OffsetsRecord | undefined {
  const k = JSON.parse(key.toString()) as unknown[];
  const v = value === null ? null : JSON.parse(value.toString());
  if (k[0] === 'offset') return { kind: 'offset', group: String(k[1]), topic: String(k[2]), partition: Number(k[3]), value: v as CommittedOffset | null };
  if (k[0] === 'group') return { kind: 'group', group: String(k[1]), value: v as GroupSnapshot | null };
  return undefined;
}

/** Java's String.hashCode, which Kafka uses to place a group on an offsets partition. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

export function offsetsPartitionFor(groupId: string, partitions: number): number {
  return (javaStringHash(groupId) & 0x7fffffff) % partitions;
}

/** Appends records to an offsets partition; resolves once they are in the log. */
export async function appendOffsetsRecords(log: PartitionLog, records: OffsetsRecord[], leaderEpoch: number): Promise<void> {
  const now = Date.now();
  const batch = buildRecordBatch({
    records: records.map((r) => ({ key: keyOf(r), value: r.value === null ? null : JSON.stringify(r.value), timestampMs: now })),
  });
  const checked = validateProducedBatches(batch);
  if (!checked.ok) throw new Error(`internal offsets batch rejected: ${checked.message}`);
  await log.append(batch, checked.batches, leaderEpoch);
}

/** Replays one offsets partition from its log start, calling `apply` for every record in order. */
export async function replayOffsetsPartition(log: PartitionLog, apply: (r: OffsetsRecord) => void): Promise<number> {
  let offset = log.logStartOffset;
  let count = 0;
  while (offset < log.highWatermark) {
    const read = await log.read(offset, LOAD_READ_BYTES, true);
    if (!read.ok || read.bytes === 0) break;
    const data = read.chunks.length === 1 ? read.chunks[0]! : Buffer.concat(read.chunks);
    for (let at = 0; at + LOG_OVERHEAD <= data.length; ) {
      const size = batchSizeAt(data, at);
      if (at + size > data.length) break;
      for (const rec of decodeRecords(data.subarray(at, at + size))) {
        if (rec.offset < offset || rec.key === null) continue;
        const parsed = parse(rec.key, rec.value);
        if (parsed) {
          apply(parsed);
          count++;
        }
      }
      offset = lastOffsetAt(data, at) + 1;
      at += size;
    }
  }
  return count;
}

export function offsetsLogs(logs: LogManager, partitions: number): Array<{ partition: number; log: PartitionLog }> {
  const out = [];
  for (let p = 0; p < partitions; p++) {
    const log = logs.get(OFFSETS_TOPIC, p);
    if (log) out.push({ partition: p, log });
  }
  return out;
}
