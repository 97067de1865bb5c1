// Kafka's record schemas for the classic group coordinator's records in `__consumer_offsets`
// (common/message/OffsetCommitKey.json, OffsetCommitValue.json, GroupMetadataKey.json and
// GroupMetadataValue.json in the kafka-group-coordinator jar), so that Kafka's tools
// (DumpLogSegments --offsets-decoder) and Kafka's brokers read what Runnel writes, and Runnel
// reads what they write.
//
// A record key is an int16 record type (the key schema's apiKey) and the key struct at
// version 0, never flexible. A record value is an int16 version and the value struct at that
// version, flexible from version 4; a tombstone is a null value.

import { MalformedFrameError, Reader, Writer } from '../protocol/wire.js';
import {
  array,
  bytes,
  compile,
  int32,
  int64,
  nullableString,
  string,
  struct,
  uuid,
  type Decoded,
  type Fields,
  type Input,
  type Struct,
} from '../protocol/schema.js';

/** Record types (the `apiKey` of the key and value schemas). */
export const RecordType = {
  /** LegacyOffsetCommitKey: the same key as OffsetCommitKey; its value is OffsetCommitValue v0. */
  LEGACY_OFFSET_COMMIT: 0,
  OFFSET_COMMIT: 1,
  GROUP_METADATA: 2,
} as const;

export const OffsetCommitKey = struct({
  group: string,
  topic: string,
  partition: int32,
});

export const OffsetCommitValue = struct({
  offset: int64,
  leaderEpoch: int32.v(3).default(-1),
  metadata: string,
  commitTimestamp: int64,
  expireTimestamp: int64.v(1, 1).default(-1),
  topicId: uuid.tagged(0, 4),
});

export const GroupMetadataKey = struct({
  group: string,
});

const MemberMetadata = struct({
  memberId: string,
  groupInstanceId: nullableString.v(3),
  clientId: string,
  clientHost: string,
  rebalanceTimeout: int32.v(1).default(-1),
  sessionTimeout: int32,
  subscription: bytes,
  assignment: bytes,
});

export const GroupMetadataValue = struct({
  protocolType: string,
  generation: int32,
  protocol: nullableString,
  leader: nullableString,
  currentStateTimestamp: int64.v(2).default(-1),
  members: array(MemberMetadata),
});

/** Value versions read (validVersions "0-4"), the version written, and the first flexible one. */
export const VALUE_VERSIONS = { min: 0, max: 4, flexibleFrom: 4 } as const;
export const OFFSET_COMMIT_VALUE_WRITE_VERSION = 3;
export const GROUP_METADATA_VALUE_WRITE_VERSION = 3;

export type OffsetCommitKeyData = Decoded<typeof OffsetCommitKey.struct.fields>;
export type OffsetCommitValueData = Decoded<typeof OffsetCommitValue.struct.fields>;
export type GroupMetadataKeyData = Decoded<typeof GroupMetadataKey.struct.fields>;
export type GroupMetadataValueData = Decoded<typeof GroupMetadataValue.struct.fields>;

/** A record key: the record type, then the key struct (version 0, not flexible). */
export function encodeKey<F extends Fields>(type: number, s: Struct<F>, key: Input<F>): Buffer {
  const w = new Writer(64);
  w.int16(type);
  compile(s, 0, false).write(w, key);
  return w.toBuffer();
}

/** A record value: its version, then the value struct at that version. */
export function encodeValue<F extends Fields>(version: number, s: Struct<F>, value: Input<F>): Buffer {
  const w = new Writer(128);
  w.int16(version);
  compile(s, version, version >= VALUE_VERSIONS.flexibleFrom).write(w, value);
  return w.toBuffer();
}

/** The record type at the start of a key; throws if the key is too short. */
export function readRecordType(key: Buffer): { type: number; body: Reader } {
  const r = new Reader(key);
  const type = r.int16();
  return { type, body: r };
}

/** The key struct after the record type; throws MalformedFrameError if it does not decode exactly. */
export function decodeKeyBody<F extends Fields>(r: Reader, s: Struct<F>): Decoded<F> {
  const out = compile(s, 0, false).read(r);
  if (r.remaining !== 0) throw new MalformedFrameError(`${r.remaining} bytes after the key`);
  return out;
}

/** A value at the version it starts with; throws MalformedFrameError if it does not decode exactly. */
export function decodeValue<F extends Fields>(value: Buffer, s: Struct<F>): Decoded<F> {
  const r = new Reader(value);
  const version = r.int16();
  if (version < VALUE_VERSIONS.min || version > VALUE_VERSIONS.max)
    throw new MalformedFrameError(`value version ${version} is not one of ${VALUE_VERSIONS.min}-${VALUE_VERSIONS.max}`);
  const out = compile(s, version, version >= VALUE_VERSIONS.flexibleFrom).read(r);
  if (r.remaining !== 0) throw new MalformedFrameError(`${r.remaining} bytes after the value`);
  return out;
}
