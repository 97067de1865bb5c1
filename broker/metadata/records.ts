// Kafka's KRaft metadata records (common/metadata/*.json in the kafka-metadata jar) and the Raft
// record batches of `__cluster_metadata-0` that carry them, byte for byte as Kafka writes them, so
// that `kafka-dump-log.sh --cluster-metadata-decoder` reads our segments and Kafka's controllers
// could read our log.
//
// A metadata record is the value of a data record with a null key, framed as Kafka's
// MetadataRecordSerde (AbstractApiMessageSerde) frames it: unsigned varint frame version (1),
// unsigned varint apiKey, unsigned varint record version, then the record in the flexible
// encoding (every metadata record is flexible from version 0). A decoder rejects anything after
// the record, as Kafka's does.
//
// Raft's LeaderChange is a control record (control bit in the batch attributes): key =
// ControlRecordType (int16 version 0, int16 type 2), value = LeaderChangeMessage at schema
// version 0, whose first field is its own int16 Version (0); Kafka reads it at version 0 whatever
// that field says (ControlRecordUtils.LEADER_CHANGE_CURRENT_VERSION).
//
// Each record type is defined once below, with the versions Kafka defines; the schemas are checked
// against Kafka's JSON by records-definitions.test.ts, and Kafka's DumpLogSegments decodes what
// encodeRaftEntries writes in records-dump.test.ts.

import type { LogEntry } from '../raft/log.js';
import {
  buildRecordBatch,
  decodeRecords,
  isControlBatch,
  readBatchHeader,
  scanBatches,
  type RecordInput,
} from '../protocol/record-batch.js';
import {
  array,
  bool,
  compile,
  int16,
  int32,
  int64,
  int8,
  nullableArray,
  nullableString,
  string,
  struct,
  uint16,
  uuid,
  type Decoded,
  type Field,
  type Fields,
  type Input,
  type Struct,
} from '../protocol/schema.js';
import { Reader, Writer } from '../protocol/wire.js';

/**
 * The `metadata.version` feature level of Kafka 4.1: 27 = MetadataVersion.IBP_4_1_IV1, the
 * LATEST_PRODUCTION of kafka-server-common 4.1.2 (`MetadataVersion.LATEST_PRODUCTION.featureLevel()`;
 * 4.1-IV0 is 26, 4.2-IV0 (28) is not production). A log's FeatureLevelRecord for
 * `metadata.version` carries it.
 */
export const METADATA_VERSION_LEVEL = 27;
/** The oldest `metadata.version` Kafka 4 accepts: 7 = 3.3-IV3. A broker supports [7, 27]. */
export const METADATA_VERSION_MIN_LEVEL = 7;

// ---- Kafka's record schemas ------------------------------------------------------------------

const RegisterBrokerRecord = struct({
  brokerId: int32,
  isMigratingZkBroker: bool.v(2),
  incarnationId: uuid,
  brokerEpoch: int64,
  endPoints: array(struct({ name: string, host: string, port: uint16, securityProtocol: int16 })),
  features: array(struct({ name: string, minSupportedVersion: int16, maxSupportedVersion: int16 })),
  rack: nullableString,
  fenced: bool.default(true),
  inControlledShutdown: bool.v(1),
  logDirs: array(uuid).tagged(0, 3),
});

const UnregisterBrokerRecord = struct({ brokerId: int32, brokerEpoch: int64 });

const TopicRecord = struct({ name: string, topicId: uuid });

const PartitionRecord = struct({
  partitionId: int32.default(-1),
  topicId: uuid,
  replicas: array(int32),
  isr: array(int32),
  removingReplicas: array(int32),
  addingReplicas: array(int32),
  leader: int32.default(-1),
  leaderRecoveryState: int8.tagged(0),
  leaderEpoch: int32.default(-1),
  partitionEpoch: int32.default(-1),
  directories: array(uuid).v(1),
  eligibleLeaderReplicas: nullableArray(int32).tagged(1, 2),
  lastKnownElr: nullableArray(int32).tagged(2, 2),
});

const ConfigRecord = struct({ resourceType: int8, resourceName: string, name: string, value: nullableString });

const PartitionChangeRecord = struct({
  partitionId: int32.default(-1),
  topicId: uuid,
  isr: nullableArray(int32).tagged(0),
  leader: int32.default(-2).tagged(1),
  replicas: nullableArray(int32).tagged(2),
  removingReplicas: nullableArray(int32).tagged(3),
  addingReplicas: nullableArray(int32).tagged(4),
  leaderRecoveryState: int8.default(-1).tagged(5),
  directories: nullableArray(uuid).tagged(8, 1),
  eligibleLeaderReplicas: nullableArray(int32).tagged(6, 2),
  lastKnownElr: nullableArray(int32).tagged(7, 2),
});

const FenceBrokerRecord = struct({ id: int32, epoch: int64 });
const UnfenceBrokerRecord = struct({ id: int32, epoch: int64 });
const RemoveTopicRecord = struct({ topicId: uuid });
const FeatureLevelRecord = struct({ name: string, featureLevel: int16 });
const ProducerIdsRecord = struct({ brokerId: int32, brokerEpoch: int64.default(-1), nextProducerId: int64 });

const BrokerRegistrationChangeRecord = struct({
  brokerId: int32,
  brokerEpoch: int64,
  fenced: int8.tagged(0),
  inControlledShutdown: int8.tagged(1, 1),
  logDirs: array(uuid).tagged(2, 2),
});

const NoOpRecord = struct({});

/** LeaderChangeMessage (common/message in kafka-clients): the value of a LEADER_CHANGE control record. */
const Voter = struct({ voterId: int32, voterDirectoryId: uuid.v(1) });
export const LeaderChangeMessage = struct({
  version: int16,
  leaderId: int32,
  voters: array(Voter),
  grantingVoters: array(Voter),
});
/** The schema version Kafka 4.1 writes and reads LeaderChangeMessage at (ControlRecordUtils). */
export const LEADER_CHANGE_VERSION = 0;

// ---- the records as the rest of the broker sees them -------------------------------------------

/** Discriminant `type` = Kafka's message name; fields = Kafka's field names in camelCase. */
export type MetadataRecord =
  | {
      type: 'RegisterBrokerRecord';
      brokerId: number;
      isMigratingZkBroker: boolean;
      incarnationId: string;
      brokerEpoch: number;
      endPoints: { name: string; host: string; port: number; securityProtocol: number }[];
      features: { name: string; minSupportedVersion: number; maxSupportedVersion: number }[];
      rack: string | null;
      fenced: boolean;
      inControlledShutdown: boolean;
      logDirs: string[];
    }
  | { type: 'UnregisterBrokerRecord'; brokerId: number; brokerEpoch: number }
  | { type: 'TopicRecord'; name: string; topicId: string }
  | {
      type: 'PartitionRecord';
      partitionId: number;
      topicId: string;
      replicas: number[];
      isr: number[];
      removingReplicas: number[];
      addingReplicas: number[];
      leader: number;
      leaderRecoveryState: number;
      leaderEpoch: number;
      partitionEpoch: number;
      directories: string[];
    }
  | {
      type: 'PartitionChangeRecord';
      partitionId: number;
      topicId: string;
      isr: number[] | null;
      /** -2: unchanged; -1: no leader. */
      leader: number;
      replicas: number[] | null;
      removingReplicas: number[] | null;
      addingReplicas: number[] | null;
      /** -1: unchanged. */
      leaderRecoveryState: number;
      directories: string[] | null;
    }
  | { type: 'ConfigRecord'; resourceType: number; resourceName: string; name: string; value: string | null }
  | { type: 'FenceBrokerRecord'; id: number; epoch: number }
  | { type: 'UnfenceBrokerRecord'; id: number; epoch: number }
  | { type: 'RemoveTopicRecord'; topicId: string }
  | { type: 'FeatureLevelRecord'; name: string; featureLevel: number }
  | { type: 'ProducerIdsRecord'; brokerId: number; brokerEpoch: number; nextProducerId: number }
  | {
      type: 'BrokerRegistrationChangeRecord';
      brokerId: number;
      brokerEpoch: number;
      /** -1: unfenced; 0: unchanged; 1: fenced. */
      fenced: number;
      /** 0: unchanged; 1: in controlled shutdown. */
      inControlledShutdown: number;
      /** null: unchanged (Kafka writes no change as an empty list). */
      logDirs: string[] | null;
    }
  | { type: 'NoOpRecord' };

export type MetadataRecordType = MetadataRecord['type'];
type RecordOf<T extends MetadataRecordType> = Omit<Extract<MetadataRecord, { type: T }>, 'type'>;

/** One record type: Kafka's apiKey and versions, its schema, and how our shape maps onto it. */
export interface MetadataRecordSchema<T extends MetadataRecordType = MetadataRecordType> {
  type: T;
  apiKey: number;
  /** The highest version Kafka 4.1 defines (validVersions 0-max); every one is read. */
  maxVersion: number;
  /** The version written. */
  writeVersion: number;
  struct: Struct<Fields>;
  toWire(r: RecordOf<T>): Record<string, unknown>;
  fromWire(d: Record<string, unknown>): RecordOf<T>;
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

interface SchemaDef<T extends MetadataRecordType, F extends Fields> {
  type: T;
  apiKey: number;
  maxVersion: number;
  writeVersion: number;
  struct: Field<unknown, unknown, boolean> & { struct: Struct<F> };
}

/**
 * A record type whose TS shape is its schema's decoded type, less the `unmodelled` fields (written
 * as their defaults, dropped when read). When the shape and the schema disagree, `def` demands a
 * property that cannot be given: a compile error at the definition.
 */
function schema<T extends MetadataRecordType, F extends Fields, Unmodelled extends keyof F & string = never>(
  def: SchemaDef<T, F> & { unmodelled?: readonly Unmodelled[] } & (Same<
      Omit<Decoded<F>, Unmodelled>,
      RecordOf<T>
    > extends true
      ? unknown
      : { shapeDiffersFromKafkaSchema: never }),
): MetadataRecordSchema<T> {
  const unmodelled = new Set<string>(def.unmodelled ?? []);
  return mappedSchema(
    def,
    (r) => r as unknown as Input<F>,
    (d) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(d)) if (!unmodelled.has(k)) out[k] = v;
      return out as RecordOf<T>;
    },
  );
}

/** A record type whose TS shape differs from its schema's, with the mapping both ways. */
function mappedSchema<T extends MetadataRecordType, F extends Fields>(
  def: SchemaDef<T, F>,
  toWire: (r: RecordOf<T>) => Input<F>,
  fromWire: (d: Decoded<F>) => RecordOf<T>,
): MetadataRecordSchema<T> {
  return {
    type: def.type,
    apiKey: def.apiKey,
    maxVersion: def.maxVersion,
    writeVersion: def.writeVersion,
    struct: def.struct.struct,
    toWire,
    fromWire,
  };
}

/**
 * Every record type, with the version written: the highest Kafka 4.1 defines, which is also what
 * its controller writes at metadata.version 4.1-IV1 (MetadataVersion.partitionRecordVersion() and
 * partitionChangeRecordVersion() 2, registerBrokerRecordVersion() 3). PartitionRecord v2 and PartitionChangeRecord v2
 * add only the eligible-leader-replica fields (tagged, null by default), which Runnel does not
 * model: it writes them null (absent from the wire) and drops them when reading.
 */
export const METADATA_RECORDS = {
  RegisterBrokerRecord: schema({
    type: 'RegisterBrokerRecord',
    apiKey: 0,
    maxVersion: 3,
    writeVersion: 3,
    struct: RegisterBrokerRecord,
  }),
  UnregisterBrokerRecord: schema({
    type: 'UnregisterBrokerRecord',
    apiKey: 1,
    maxVersion: 0,
    writeVersion: 0,
    struct: UnregisterBrokerRecord,
  }),
  TopicRecord: schema({ type: 'TopicRecord', apiKey: 2, maxVersion: 0, writeVersion: 0, struct: TopicRecord }),
  PartitionRecord: schema({
    type: 'PartitionRecord',
    apiKey: 3,
    maxVersion: 2,
    writeVersion: 2,
    struct: PartitionRecord,
    unmodelled: ['eligibleLeaderReplicas', 'lastKnownElr'],
  }),
  ConfigRecord: schema({ type: 'ConfigRecord', apiKey: 4, maxVersion: 0, writeVersion: 0, struct: ConfigRecord }),
  PartitionChangeRecord: schema({
    type: 'PartitionChangeRecord',
    apiKey: 5,
    maxVersion: 2,
    writeVersion: 2,
    struct: PartitionChangeRecord,
    unmodelled: ['eligibleLeaderReplicas', 'lastKnownElr'],
  }),
  FenceBrokerRecord: schema({
    type: 'FenceBrokerRecord',
    apiKey: 7,
    maxVersion: 0,
    writeVersion: 0,
    struct: FenceBrokerRecord,
  }),
  UnfenceBrokerRecord: schema({
    type: 'UnfenceBrokerRecord',
    apiKey: 8,
    maxVersion: 0,
    writeVersion: 0,
    struct: UnfenceBrokerRecord,
  }),
  RemoveTopicRecord: schema({
    type: 'RemoveTopicRecord',
    apiKey: 9,
    maxVersion: 0,
    writeVersion: 0,
    struct: RemoveTopicRecord,
  }),
  FeatureLevelRecord: schema({
    type: 'FeatureLevelRecord',
    apiKey: 12,
    maxVersion: 0,
    writeVersion: 0,
    struct: FeatureLevelRecord,
  }),
  ProducerIdsRecord: schema({
    type: 'ProducerIdsRecord',
    apiKey: 15,
    maxVersion: 0,
    writeVersion: 0,
    struct: ProducerIdsRecord,
  }),
  // Kafka's LogDirs here is a plain list in which empty means unchanged (its replay treats an
  // empty list as no change); our shape says so with null.
  BrokerRegistrationChangeRecord: mappedSchema(
    {
      type: 'BrokerRegistrationChangeRecord',
      apiKey: 17,
      maxVersion: 2,
      writeVersion: 2,
      struct: BrokerRegistrationChangeRecord,
    },
    (r) => ({ ...r, logDirs: r.logDirs ?? [] }),
    (d) => ({ ...d, logDirs: d.logDirs.length === 0 ? null : d.logDirs }),
  ),
  NoOpRecord: schema({ type: 'NoOpRecord', apiKey: 20, maxVersion: 0, writeVersion: 0, struct: NoOpRecord }),
} satisfies { [T in MetadataRecordType]: MetadataRecordSchema<T> };

const BY_API_KEY = new Map<number, MetadataRecordSchema>(
  Object.values(METADATA_RECORDS).map((s: MetadataRecordSchema) => [s.apiKey, s]),
);

/** MetadataRecordSerde's frame version: the only one Kafka reads (0 was KRaft's 2.8 preview). */
const FRAME_VERSION = 1;
/** Kafka reads the frame's varints as shorts and refuses larger ones. */
const SHORT_MAX = 0x7fff;

export class MetadataRecordError extends Error {}

/** The value of a data record in the metadata log: the frame header, then the record. */
export function encodeMetadataRecord(r: MetadataRecord): Buffer {
  const s = METADATA_RECORDS[r.type] as MetadataRecordSchema | undefined;
  if (!s)
    throw new MetadataRecordError(`unknown metadata record type ${JSON.stringify((r as { type: unknown }).type)}`);
  const fields: Partial<MetadataRecord> = { ...r };
  delete fields.type;
  const w = new Writer(64);
  w.uvarint(FRAME_VERSION);
  w.uvarint(s.apiKey);
  w.uvarint(s.writeVersion);
  compile(s.struct, s.writeVersion, true).write(w, s.toWire(fields));
  return w.toBuffer();
}

/** A record value back; throws MetadataRecordError on an unknown frame, type or version, or bytes that do not decode. */
export function decodeMetadataRecord(value: Buffer): MetadataRecord {
  const r = new Reader(value);
  try {
    const frameVersion = r.uvarint();
    if (frameVersion !== FRAME_VERSION)
      throw new MetadataRecordError(`metadata record frame version ${frameVersion}, only ${FRAME_VERSION} is known`);
    const apiKey = r.uvarint();
    const version = r.uvarint();
    if (apiKey > SHORT_MAX || version > SHORT_MAX)
      throw new MetadataRecordError(`metadata record type ${apiKey} version ${version} out of range`);
    const s = BY_API_KEY.get(apiKey);
    if (!s) throw new MetadataRecordError(`unknown metadata record type (apiKey ${apiKey})`);
    if (version > s.maxVersion)
      throw new MetadataRecordError(`${s.type} version ${version} is unknown (Kafka 4.1 defines 0-${s.maxVersion})`);
    const decoded = compile(s.struct, version, true).read(r);
    if (r.remaining !== 0) throw new MetadataRecordError(`${r.remaining} bytes of garbage after ${s.type} v${version}`);
    return { type: s.type, ...s.fromWire(decoded) } as MetadataRecord;
  } catch (e) {
    if (e instanceof MetadataRecordError) throw e;
    throw new MetadataRecordError(`metadata record does not decode: ${(e as Error).message}`, { cause: e });
  }
}

// ---- LeaderChange control records ------------------------------------------------------------

export interface LeaderChange {
  leaderId: number;
  voters: number[];
  grantingVoters: number[];
}

/** ControlRecordType: the key of a control record (int16 version 0, int16 type). */
const CONTROL_KEY_VERSION = 0;
const LEADER_CHANGE_TYPE = 2;
const CONTROL_TYPE_NAMES: Record<number, string> = {
  0: 'ABORT',
  1: 'COMMIT',
  2: 'LEADER_CHANGE',
  3: 'SNAPSHOT_HEADER',
  4: 'SNAPSHOT_FOOTER',
  5: 'KRAFT_VERSION',
  6: 'KRAFT_VOTERS',
};

function leaderChangeKey(): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(CONTROL_KEY_VERSION, 0);
  key.writeInt16BE(LEADER_CHANGE_TYPE, 2);
  return key;
}

function encodeLeaderChange(c: LeaderChange): Buffer {
  const w = new Writer(64);
  compile(LeaderChangeMessage.struct, LEADER_CHANGE_VERSION, true).write(w, {
    version: LEADER_CHANGE_VERSION,
    leaderId: c.leaderId,
    voters: c.voters.map((voterId) => ({ voterId })),
    grantingVoters: c.grantingVoters.map((voterId) => ({ voterId })),
  });
  return w.toBuffer();
}

function decodeLeaderChange(key: Buffer | null, value: Buffer | null): LeaderChange {
  if (key === null || key.length < 4) throw new MetadataRecordError('control record without a ControlRecordType key');
  const type = key.readInt16BE(2);
  if (type !== LEADER_CHANGE_TYPE) {
    throw new MetadataRecordError(
      `control record of type ${type} (${CONTROL_TYPE_NAMES[type] ?? 'unknown'}); only LEADER_CHANGE (2) is supported`,
    );
  }
  if (value === null) throw new MetadataRecordError('LEADER_CHANGE control record without a value');
  const r = new Reader(value);
  let m: Decoded<typeof LeaderChangeMessage.struct.fields>;
  try {
    m = compile(LeaderChangeMessage.struct, LEADER_CHANGE_VERSION, true).read(r);
  } catch (e) {
    throw new MetadataRecordError(`LeaderChangeMessage does not decode: ${(e as Error).message}`, { cause: e });
  }
  if (r.remaining !== 0) throw new MetadataRecordError(`${r.remaining} bytes after the LeaderChangeMessage`);
  return {
    leaderId: m.leaderId,
    voters: m.voters.map((v) => v.voterId),
    grantingVoters: m.grantingVoters.map((v) => v.voterId),
  };
}

// ---- Raft entries as record batches ----------------------------------------------------------

/**
 * The entries as Kafka record batches (magic 2, uncompressed, CreateTime `timestampMs`, no
 * producer): each batch's base offset is its first entry's offset and its partition leader epoch
 * the entries' epoch. Consecutive data entries of one epoch (with consecutive offsets) share a
 * batch; each leader change is a control batch of its own, as Kafka's KafkaRaftClient writes it.
 */
export function encodeRaftEntries(entries: readonly LogEntry[], timestampMs: number): Buffer {
  const batches: Buffer[] = [];
  /** The data entries of the batch being gathered: its first offset and epoch, the next offset, the values. */
  let run: { baseOffset: number; epoch: number; nextOffset: number; values: Buffer[] } | null = null;
  const flush = () => {
    if (!run) return;
    const records = run.values.map((value): RecordInput => ({ key: null, value, timestampMs }));
    batches.push(buildRecordBatch({ baseOffset: run.baseOffset, partitionLeaderEpoch: run.epoch, records }));
    run = null;
  };
  for (const e of entries) {
    if (e.record.type === 'leaderChange') {
      flush();
      const record: RecordInput = { key: leaderChangeKey(), value: encodeLeaderChange(e.record), timestampMs };
      batches.push(
        buildRecordBatch({ baseOffset: e.offset, partitionLeaderEpoch: e.epoch, isControl: true, records: [record] }),
      );
      continue;
    }
    if (run && (run.epoch !== e.epoch || run.nextOffset !== e.offset)) flush();
    run ??= { baseOffset: e.offset, epoch: e.epoch, nextOffset: e.offset, values: [] };
    run.values.push(encodeMetadataRecord(e.record.value as MetadataRecord));
    run.nextOffset++;
  }
  flush();
  return Buffer.concat(batches);
}

/**
 * The entries of record batches written by encodeRaftEntries or by Kafka: offsets from the
 * batches, epochs from their partition leader epoch. Throws MetadataRecordError on a torn or
 * corrupt batch (framing, magic, CRC, offsets going backwards), a compressed batch, a control
 * record other than LEADER_CHANGE, or a record that does not decode.
 */
export function decodeRaftEntries(records: Buffer): LogEntry[] {
  const scan = scanBatches(records, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
  if (scan.stop === 'corrupt')
    throw new MetadataRecordError(`corrupt record batch at byte ${scan.end}: ${scan.reason}`);
  if (scan.stop === 'partial')
    throw new MetadataRecordError(`record batch at byte ${scan.end} is cut short (${scan.needBytes} bytes needed)`);
  const out: LogEntry[] = [];
  for (const b of scan.batches) {
    const batch = records.subarray(b.position, b.position + b.size);
    const h = readBatchHeader(batch, 0);
    let decoded;
    try {
      decoded = decodeRecords(batch);
    } catch (e) {
      throw new MetadataRecordError(`batch at offset ${h.baseOffset}: ${(e as Error).message}`, { cause: e });
    }
    const control = isControlBatch(h);
    for (const rec of decoded) {
      if (control) {
        out.push({
          offset: rec.offset,
          epoch: h.partitionLeaderEpoch,
          record: { type: 'leaderChange', ...decodeLeaderChange(rec.key, rec.value) },
        });
        continue;
      }
      if (rec.value === null) throw new MetadataRecordError(`metadata record at offset ${rec.offset} has no value`);
      out.push({
        offset: rec.offset,
        epoch: h.partitionLeaderEpoch,
        record: { type: 'data', value: decodeMetadataRecord(rec.value) },
      });
    }
  }
  return out;
}
