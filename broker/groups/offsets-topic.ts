// Group metadata and committed offsets as records of the internal, compacted topic
// `__consumer_offsets`. Keys identify what a record is about (one group, or one group's
// offset for one partition) so compaction keeps only the latest of each; a null value is a
// tombstone. Keys and values are JSON: readable with any consumer, and ours to evolve.

import type { PartitionLog } from '../log/partition-log.js';
import {
  LOG_OVERHEAD,
  batchSizeAt,
  buildRecordBatch,
  decodeRecordsAsync,
  lastOffsetAt,
  validateProducedBatches,
  type BatchInfo,
  type DecodedRecord,
} from '../protocol/record-batch.js';

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

/** The record, or why it is not one of ours (written by something else, or damaged). */
function parse(key: Buffer, value: Buffer | null): OffsetsRecord | string {
  let k: unknown;
  let v: unknown;
  try {
    k = JSON.parse(key.toString());
    v = value === null ? null : JSON.parse(value.toString());
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!Array.isArray(k)) return 'key is not a group or offset key';
  if (v !== null && (typeof v !== 'object' || Array.isArray(v))) return 'value is not an object';
  if (
    k[0] === 'offset' &&
    k.length === 4 &&
    typeof k[1] === 'string' &&
    typeof k[2] === 'string' &&
    Number.isInteger(k[3])
  ) {
    const o = v as CommittedOffset | null;
    if (
      o !== null &&
      (!Number.isSafeInteger(o.offset) || typeof o.metadata !== 'string' || !Number.isFinite(o.commitTimestampMs))
    )
      return 'offset value is malformed';
    return { kind: 'offset', group: k[1], topic: k[2], partition: k[3] as number, value: o };
  }
  if (k[0] === 'group' && k.length === 2 && typeof k[1] === 'string') {
    const g = v as GroupSnapshot | null;
    if (g !== null && (!Number.isInteger(g.generation) || !Array.isArray(g.members))) return 'group value is malformed';
    return { kind: 'group', group: k[1], value: g };
  }
  return 'key is not a group or offset key';
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

/** The records as one batch to append to an offsets partition. */
export function encodeOffsetsRecords(records: OffsetsRecord[], now: number): { batch: Buffer; batches: BatchInfo[] } {
  const batch = buildRecordBatch({
    records: records.map((r) => ({
      key: keyOf(r),
      value: r.value === null ? null : JSON.stringify(r.value),
      timestampMs: now,
    })),
  });
  const checked = validateProducedBatches(batch);
  if (!checked.ok) throw new Error(`internal offsets batch rejected: ${checked.message}`);
  return { batch, batches: checked.batches };
}

export interface ReplayCounts {
  records: number;
  /** Records (or whole batches) that did not decode: skipped, reported to `skip`. */
  skipped: number;
}

/**
 * Replays one offsets partition from its log start, calling `apply` for every record in order.
 * The log is not trusted blindly: a record or batch that does not decode is reported to `skip`
 * and passed over, so one bad record cannot keep the broker from starting.
 */
export async function replayOffsetsPartition(
  log: PartitionLog,
  apply: (r: OffsetsRecord) => void,
  skip: (offset: number, reason: string) => void,
): Promise<ReplayCounts> {
  let offset = log.logStartOffset;
  const counts: ReplayCounts = { records: 0, skipped: 0 };
  while (offset < log.highWatermark) {
    const read = await log.read(offset, LOAD_READ_BYTES, true);
    if (!read.ok || read.bytes === 0) break;
    const data = read.chunks.length === 1 ? read.chunks[0] : Buffer.concat(read.chunks);
    for (let at = 0; at + LOG_OVERHEAD <= data.length;) {
      const size = batchSizeAt(data, at);
      if (at + size > data.length) break;
      let records: DecodedRecord[] = [];
      try {
        records = await decodeRecordsAsync(data.subarray(at, at + size));
      } catch (err) {
        counts.skipped++;
        skip(offset, `batch does not decode: ${(err as Error).message}`);
      }
      for (const rec of records) {
        if (rec.offset < offset) continue;
        const parsed = rec.key === null ? 'record has no key' : parse(rec.key, rec.value);
        if (typeof parsed === 'string') {
          counts.skipped++;
          skip(rec.offset, parsed);
          continue;
        }
        try {
          apply(parsed);
          counts.records++;
        } catch (err) {
          counts.skipped++;
          skip(rec.offset, `record does not apply: ${(err as Error).message}`);
        }
      }
      offset = lastOffsetAt(data, at) + 1;
      at += size;
    }
  }
  return counts;
}
