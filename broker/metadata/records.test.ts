import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../raft/log.js';
import { BatchField, decodeRecords, isControlBatch, readBatchHeader, scanBatches } from '../protocol/record-batch.js';
import {
  decodeMetadataRecord,
  decodeRaftEntries,
  encodeMetadataRecord,
  encodeRaftEntries,
  METADATA_RECORDS,
  METADATA_VERSION_LEVEL,
  MetadataRecordError,
  type MetadataRecord,
} from './records.js';

const topicId = Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64url');
const dirA = Buffer.alloc(16, 0xa1).toString('base64url');
const dirB = Buffer.alloc(16, 0xb2).toString('base64url');
const incarnation = Buffer.alloc(16, 7).toString('base64url');

/** One record of every type, with values away from the defaults so that a dropped field shows. */
const EVERY_TYPE: MetadataRecord[] = [
  {
    type: 'RegisterBrokerRecord',
    brokerId: 1,
    isMigratingZkBroker: false,
    incarnationId: incarnation,
    brokerEpoch: 17,
    endPoints: [{ name: 'PLAINTEXT', host: 'broker-1.local', port: 9092, securityProtocol: 0 }],
    features: [{ name: 'metadata.version', minSupportedVersion: 7, maxSupportedVersion: METADATA_VERSION_LEVEL }],
    rack: 'rack-a',
    fenced: true,
    inControlledShutdown: false,
    logDirs: [dirA, dirB],
  },
  { type: 'UnregisterBrokerRecord', brokerId: 3, brokerEpoch: 99 },
  { type: 'TopicRecord', name: 'orders', topicId },
  {
    type: 'PartitionRecord',
    partitionId: 2,
    topicId,
    replicas: [1, 2, 3],
    isr: [1, 2],
    removingReplicas: [3],
    addingReplicas: [],
    leader: 1,
    leaderRecoveryState: 1,
    leaderEpoch: 4,
    partitionEpoch: 9,
    directories: [dirA, dirB, dirA],
  },
  {
    type: 'PartitionChangeRecord',
    partitionId: 2,
    topicId,
    isr: [1],
    leader: -2,
    replicas: null,
    removingReplicas: null,
    addingReplicas: [4],
    leaderRecoveryState: -1,
    directories: [dirB],
  },
  { type: 'ConfigRecord', resourceType: 2, resourceName: 'orders', name: 'retention.ms', value: '60000' },
  { type: 'ConfigRecord', resourceType: 2, resourceName: 'orders', name: 'cleanup.policy', value: null },
  { type: 'FenceBrokerRecord', id: 2, epoch: 18 },
  { type: 'UnfenceBrokerRecord', id: 2, epoch: 19 },
  { type: 'RemoveTopicRecord', topicId },
  { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL },
  { type: 'ProducerIdsRecord', brokerId: 1, brokerEpoch: 17, nextProducerId: 2 ** 40 },
  {
    type: 'BrokerRegistrationChangeRecord',
    brokerId: 1,
    brokerEpoch: 17,
    fenced: -1,
    inControlledShutdown: 1,
    logDirs: [dirA],
  },
  {
    type: 'BrokerRegistrationChangeRecord',
    brokerId: 1,
    brokerEpoch: 17,
    fenced: 0,
    inControlledShutdown: 0,
    logDirs: null,
  },
  { type: 'NoOpRecord' },
];

describe('metadata records in the MetadataRecordSerde framing of Kafka', () => {
  it('every record type round-trips', () => {
    const types = new Set(EVERY_TYPE.map((r) => r.type));
    expect([...types].sort()).toStrictEqual(Object.keys(METADATA_RECORDS).sort());
    for (const r of EVERY_TYPE) expect(decodeMetadataRecord(encodeMetadataRecord(r)), r.type).toStrictEqual(r);
  });

  it('a value starts with frame version 1, the apiKey and the version written', () => {
    for (const r of EVERY_TYPE) {
      const s = METADATA_RECORDS[r.type];
      const value = encodeMetadataRecord(r);
      // Every apiKey and version is below 128, so each varint is one byte.
      expect([...value.subarray(0, 3)], r.type).toStrictEqual([1, s.apiKey, s.writeVersion]);
    }
  });

  it('a TopicRecord is exactly the bytes Kafka writes', () => {
    const value = encodeMetadataRecord({ type: 'TopicRecord', name: 'orders', topicId });
    const expected = Buffer.concat([
      Buffer.from([1, 2, 0]), // frame version, apiKey 2, version 0
      Buffer.from([7]), // compact string: length + 1
      Buffer.from('orders'),
      Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
      Buffer.from([0]), // no tagged fields
    ]);
    expect(value.toString('hex')).toBe(expected.toString('hex'));
  });

  it('tagged fields at their defaults stay off the wire: an empty PartitionChangeRecord is its id and topic', () => {
    const value = encodeMetadataRecord({
      type: 'PartitionChangeRecord',
      partitionId: 0,
      topicId,
      isr: null,
      leader: -2,
      replicas: null,
      removingReplicas: null,
      addingReplicas: null,
      leaderRecoveryState: -1,
      directories: null,
    });
    expect(value.length).toBe(3 + 4 + 16 + 1);
    expect(value.at(-1)).toBe(0);
  });

  it('reads the older versions Kafka defines, with their defaults for fields they lack', () => {
    // RegisterBrokerRecord v0: no IsMigratingZkBroker, InControlledShutdown or LogDirs.
    const v0 = Buffer.concat([
      Buffer.from([1, 0, 0]),
      Buffer.from([0, 0, 0, 5]), // brokerId
      Buffer.alloc(16, 7), // incarnationId
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 3]), // brokerEpoch
      Buffer.from([1]), // no endpoints
      Buffer.from([1]), // no features
      Buffer.from([0]), // rack null
      Buffer.from([1]), // fenced
      Buffer.from([0]), // tagged fields
    ]);
    expect(decodeMetadataRecord(v0)).toStrictEqual({
      type: 'RegisterBrokerRecord',
      brokerId: 5,
      isMigratingZkBroker: false,
      incarnationId: incarnation,
      brokerEpoch: 3,
      endPoints: [],
      features: [],
      rack: null,
      fenced: true,
      inControlledShutdown: false,
      logDirs: [],
    });
  });

  it('refuses an unknown frame version, type or version, and trailing bytes, saying which', () => {
    const topic = encodeMetadataRecord({ type: 'TopicRecord', name: 't', topicId });
    const withHeader = (h: number[]) => Buffer.concat([Buffer.from(h), topic.subarray(3)]);
    expect(() => decodeMetadataRecord(withHeader([0, 2, 0]))).toThrow(/frame version 0/);
    expect(() => decodeMetadataRecord(withHeader([1, 99, 0]))).toThrow(/unknown metadata record type \(apiKey 99\)/);
    expect(() => decodeMetadataRecord(withHeader([1, 2, 1]))).toThrow(/TopicRecord version 1 is unknown/);
    expect(() => decodeMetadataRecord(Buffer.concat([topic, Buffer.from([0])]))).toThrow(/1 bytes of garbage/);
    expect(() => decodeMetadataRecord(topic.subarray(0, 10))).toThrow(MetadataRecordError);
    expect(() => decodeMetadataRecord(Buffer.alloc(0))).toThrow(MetadataRecordError);
  });
});

const leaderChange = (offset: number, epoch: number, leaderId: number): LogEntry => ({
  offset,
  epoch,
  record: { type: 'leaderChange', leaderId, voters: [1, 2, 3], grantingVoters: [leaderId, 2] },
});
const data = (offset: number, epoch: number, value: MetadataRecord): LogEntry => ({
  offset,
  epoch,
  record: { type: 'data', value },
});

/** Three epochs: each opens with a leader change, then data. */
const ENTRIES: LogEntry[] = [
  leaderChange(0, 1, 1),
  data(1, 1, { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL }),
  data(2, 1, { type: 'TopicRecord', name: 'orders', topicId }),
  data(3, 1, EVERY_TYPE[3]),
  leaderChange(4, 2, 2),
  data(5, 2, { type: 'NoOpRecord' }),
  leaderChange(6, 5, 3),
  ...EVERY_TYPE.map((r, i) => data(7 + i, 5, r)),
];

describe('Raft entries as Kafka record batches', () => {
  it('round-trip with their offsets and epochs', () => {
    expect(decodeRaftEntries(encodeRaftEntries(ENTRIES, 1_700_000_000_000))).toStrictEqual(ENTRIES);
  });

  it('a leader change is a control batch of its own; data of one epoch share a batch', () => {
    const buf = encodeRaftEntries(ENTRIES, 1_700_000_000_000);
    const scan = scanBatches(buf, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
    expect(scan.stop).toBe('end');
    const batches = scan.batches.map((b) => {
      const batch = buf.subarray(b.position, b.position + b.size);
      const h = readBatchHeader(batch);
      return { base: h.baseOffset, last: b.lastOffset, epoch: h.partitionLeaderEpoch, control: isControlBatch(h), h };
    });
    expect(batches.map(({ base, last, epoch, control }) => ({ base, last, epoch, control }))).toStrictEqual([
      { base: 0, last: 0, epoch: 1, control: true },
      { base: 1, last: 3, epoch: 1, control: false },
      { base: 4, last: 4, epoch: 2, control: true },
      { base: 5, last: 5, epoch: 2, control: false },
      { base: 6, last: 6, epoch: 5, control: true },
      { base: 7, last: 7 + EVERY_TYPE.length - 1, epoch: 5, control: false },
    ]);
    for (const { h } of batches) {
      expect(h.producerId).toBe(-1);
      expect(h.baseTimestamp).toBe(1_700_000_000_000);
    }
  });

  it('a leader change record has the LEADER_CHANGE key and a version-0 LeaderChangeMessage', () => {
    const buf = encodeRaftEntries([leaderChange(0, 1, 1)], 0);
    const [record] = decodeRecords(buf);
    expect(record.key?.toString('hex')).toBe('00000002');
    expect(record.value?.toString('hex')).toBe(
      [
        '0000', // Version 0
        '00000001', // LeaderId
        '04', // three voters (compact array: n + 1)
        '0000000100',
        '0000000200',
        '0000000300', // VoterId, no tagged fields
        '03', // two granting voters
        '0000000100',
        '0000000200',
        '00', // no tagged fields
      ].join(''),
    );
  });

  it('data entries with a gap in their offsets start a new batch', () => {
    const entries = [data(10, 3, EVERY_TYPE[2]), data(12, 3, EVERY_TYPE[1])];
    const buf = encodeRaftEntries(entries, 0);
    expect(readBatchHeader(buf).recordCount).toBe(1);
    expect(decodeRaftEntries(buf)).toStrictEqual(entries);
  });

  it('a batch whose CRC does not match is refused', () => {
    const buf = encodeRaftEntries(ENTRIES, 0);
    const corrupt = Buffer.from(buf);
    corrupt[corrupt.length - 3] ^= 0xff;
    expect(() => decodeRaftEntries(corrupt)).toThrow(/CRC mismatch/);
  });

  it('a torn tail is refused', () => {
    const buf = encodeRaftEntries(ENTRIES, 0);
    expect(() => decodeRaftEntries(buf.subarray(0, buf.length - 5))).toThrow(/cut short/);
  });

  it('a control record other than LEADER_CHANGE is refused by name', () => {
    const buf = Buffer.from(encodeRaftEntries([leaderChange(0, 1, 1)], 0));
    const key = buf.indexOf(Buffer.from('00000002', 'hex'), BatchField.recordCount + 4);
    buf.writeInt16BE(3, key + 2); // SNAPSHOT_HEADER
    buf.writeUInt32BE(crc32c(buf.subarray(BatchField.attributes)), BatchField.crc);
    expect(() => decodeRaftEntries(buf)).toThrow(/SNAPSHOT_HEADER/);
  });

  it('an empty buffer is no entries', () => {
    expect(decodeRaftEntries(Buffer.alloc(0))).toStrictEqual([]);
    expect(encodeRaftEntries([], 0).length).toBe(0);
  });
});
