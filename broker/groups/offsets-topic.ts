// Group metadata and committed offsets as records of the internal, compacted topic
// `__consumer_offsets`. Keys identify what a record is about (one group, or one group's
// offset for one partition) so compaction keeps only the latest of each; a null value is a
// tombstone. Keys and values are Kafka's own record schemas (see offsets-records.ts), so Kafka's
// tools decode them and offsets written by Kafka load here.

import type { PartitionLog } from '../log/partition-log.js';
import {
  GROUP_METADATA_VALUE_WRITE_VERSION,
  GroupMetadataKey,
  GroupMetadataValue,
  OFFSET_COMMIT_VALUE_WRITE_VERSION,
  OffsetCommitKey,
  OffsetCommitValue,
  RecordType,
  decodeKeyBody,
  decodeValue,
  encodeKey,
  encodeValue,
  readRecordType,
} from './offsets-records.js';
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
  /** The member's metadata for the chosen protocol, and its assignment. */
  subscription: Buffer;
  assignment: Buffer;
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

function keyOf(r: OffsetsRecord): Buffer {
  return r.kind === 'offset'
    ? encodeKey(RecordType.OFFSET_COMMIT, OffsetCommitKey.struct, {
        group: r.group,
        topic: r.topic,
        partition: r.partition,
      })
    : encodeKey(RecordType.GROUP_METADATA, GroupMetadataKey.struct, { group: r.group });
}

function valueOf(r: OffsetsRecord, now: number): Buffer | null {
  if (r.value === null) return null;
  if (r.kind === 'offset') {
    const o = r.value;
    return encodeValue(OFFSET_COMMIT_VALUE_WRITE_VERSION, OffsetCommitValue.struct, {
      offset: o.offset,
      leaderEpoch: o.leaderEpoch,
      metadata: o.metadata,
      commitTimestamp: o.commitTimestampMs,
    });
  }
  const g = r.value;
  return encodeValue(GROUP_METADATA_VALUE_WRITE_VERSION, GroupMetadataValue.struct, {
    protocolType: g.protocolType ?? '',
    generation: g.generation,
    protocol: g.protocolName,
    leader: g.leaderId,
    currentStateTimestamp: now,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeout: m.rebalanceTimeoutMs,
      sessionTimeout: m.sessionTimeoutMs,
      subscription: m.subscription,
      assignment: m.assignment,
    })),
  });
}

/** The record, or why it is not one of ours (another kind of group's record, or damaged). */
export function parseOffsetsRecord(key: Buffer, value: Buffer | null): OffsetsRecord | string {
  try {
    const { type, body } = readRecordType(key);
    if (type === RecordType.OFFSET_COMMIT || type === RecordType.LEGACY_OFFSET_COMMIT) {
      const k = decodeKeyBody(body, OffsetCommitKey.struct);
      let v: CommittedOffset | null = null;
      if (value !== null) {
        const o = decodeValue(value, OffsetCommitValue.struct);
        v = {
          offset: o.offset,
          leaderEpoch: o.leaderEpoch,
          metadata: o.metadata,
          commitTimestampMs: o.commitTimestamp,
        };
      }
      return { kind: 'offset', group: k.group, topic: k.topic, partition: k.partition, value: v };
    }
    if (type === RecordType.GROUP_METADATA) {
      const k = decodeKeyBody(body, GroupMetadataKey.struct);
      let v: GroupSnapshot | null = null;
      if (value !== null) {
        const g = decodeValue(value, GroupMetadataValue.struct);
        v = {
          protocolType: g.protocolType === '' ? null : g.protocolType,
          protocolName: g.protocol,
          generation: g.generation,
          leaderId: g.leader,
          members: g.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            sessionTimeoutMs: m.sessionTimeout,
            rebalanceTimeoutMs: m.rebalanceTimeout,
            subscription: m.subscription,
            assignment: m.assignment,
          })),
        };
      }
      return { kind: 'group', group: k.group, value: v };
    }
    return `record type ${type} is not a classic group's metadata or a committed offset`;
  } catch (err) {
    return `record does not decode: ${(err as Error).message}`;
  }
}

const INT32_MIN = -0x80000000;

/** Java's String.hashCode, which Kafka uses to place a group on an offsets partition. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * Kafka's GroupCoordinator.partitionFor: Utils.abs(groupId.hashCode) % partitions, where Utils.abs
 * maps Integer.MIN_VALUE to 0. (Masking the sign bit, as the producer's partitioner does, would
 * place every group with a negative hash elsewhere than Kafka.)
 */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  const hash = javaStringHash(groupId);
  return (hash === INT32_MIN ? 0 : Math.abs(hash)) % partitions;
}

/** The records as one batch to append to an offsets partition. */
export function encodeOffsetsRecords(records: OffsetsRecord[], now: number): { batch: Buffer; batches: BatchInfo[] } {
  const batch = buildRecordBatch({
    records: records.map((r) => ({
      key: keyOf(r),
      value: valueOf(r, now),
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
 * Replays one offsets partition from its log start to its end, calling `apply` for every record in order.
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
  // To the log end, not the high watermark: a new leader learns the high watermark only as its
  // followers fetch, and every record in its log is what the partition holds from now on.
  const end = log.writtenEnd;
  while (offset < end) {
    const read = await log.read(offset, LOAD_READ_BYTES, true, { maxOffset: end });
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
        const parsed = rec.key === null ? 'record has no key' : parseOffsetsRecord(rec.key, rec.value);
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
