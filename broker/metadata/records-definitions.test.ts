// The metadata record schemas checked against Kafka's own definitions: common/metadata/*.json in
// the kafka-metadata jar, and LeaderChangeMessage in kafka-clients' common/message (both fetched by
// Maven into ~/.cache/runnel on first run). At every version Kafka defines, each record must have
// Kafka's fields in Kafka's order with Kafka's types, nullability, tags and defaults; its apiKey,
// version range and flexible versions must be Kafka's.

import { beforeAll, describe, expect, test } from 'vitest';
import {
  compareStruct,
  inVersions,
  kafkaClientsJar,
  kafkaJar,
  KAFKA_CLIENTS_VERSION,
  parseVersions,
  readKafkaMessages,
  type KafkaMessage,
} from '../test/kafka-definitions.js';
import { array, int32, int8, nullableArray, struct, uuid, type Fields, type Struct } from '../protocol/schema.js';
import { LEADER_CHANGE_VERSION, LeaderChangeMessage, METADATA_RECORDS, type MetadataRecordSchema } from './records.js';
import { SnapshotFooterRecord, SnapshotHeaderRecord } from './snapshot.js';

/** Everything in which `ours` differs from Kafka's `message` at versions 0..maxVersion, one line each. */
function compareWithKafka(name: string, ours: Struct<Fields>, maxVersion: number, message: KafkaMessage): string[] {
  const issues = new Set<string>();
  const common = new Map((message.commonStructs ?? []).map((s) => [s.name, s.fields]));
  const flexible = parseVersions(message.flexibleVersions);
  for (let version = 0; version <= maxVersion; version++) {
    // Every record we define is flexible at every version (compile(..., true)).
    if (!inVersions(flexible, version)) issues.add(`${name} v${version}: not flexible in Kafka, flexible in ours`);
    compareStruct({ api: name, side: 'value', version, flexible: true, common, issues }, '', message.fields, ours);
  }
  return [...issues];
}

let metadata: Map<string, KafkaMessage>;
let clients: Map<string, KafkaMessage>;

beforeAll(async () => {
  const log = (line: string) => console.log(line);
  metadata = await readKafkaMessages(await kafkaJar('kafka-metadata', log), 'common/metadata');
  clients = await readKafkaMessages(await kafkaClientsJar(log));
}, 15 * 60_000);

const schemas = Object.values(METADATA_RECORDS) as MetadataRecordSchema[];

describe(`metadata records match Kafka ${KAFKA_CLIENTS_VERSION}'s (kafka-metadata common/metadata/*.json)`, () => {
  test.each(schemas.map((s) => [s.type, s] as const))('%s at every version Kafka defines', (name, s) => {
    const message = metadata.get(name);
    expect(message, `Kafka defines ${name}`).toBeDefined();
    expect(message!.type).toBe('metadata');
    expect(message!.apiKey, 'apiKey').toBe(s.apiKey);
    // We read every version Kafka defines, and write one of them that Kafka marks stable.
    expect(parseVersions(message!.validVersions), 'validVersions').toStrictEqual({ from: 0, to: s.maxVersion });
    expect(s.writeVersion).toBeLessThanOrEqual(s.maxVersion);
    if (message!.latestVersionUnstable) expect(s.writeVersion).toBeLessThan(s.maxVersion);
    expect(compareWithKafka(name, s.struct, s.maxVersion, message!)).toStrictEqual([]);
  });

  test('the apiKeys are distinct', () => {
    expect(new Set(schemas.map((s) => s.apiKey)).size).toBe(schemas.length);
  });
});

describe(`LeaderChangeMessage matches Kafka ${KAFKA_CLIENTS_VERSION}'s (kafka-clients common/message)`, () => {
  test('at every version Kafka defines, and we write one of them', () => {
    const message = clients.get('LeaderChangeMessage')!;
    expect(message.type).toBe('data');
    const valid = parseVersions(message.validVersions);
    expect(inVersions(valid, LEADER_CHANGE_VERSION)).toBe(true);
    expect(compareWithKafka('LeaderChangeMessage', LeaderChangeMessage.struct, valid.to, message)).toStrictEqual([]);
  });
});

describe(`snapshot control records match Kafka ${KAFKA_CLIENTS_VERSION}'s (kafka-clients common/message)`, () => {
  test.each([
    ['SnapshotHeaderRecord', SnapshotHeaderRecord.struct],
    ['SnapshotFooterRecord', SnapshotFooterRecord.struct],
  ] as const)('%s v0, the version written', (name, ours) => {
    const message = clients.get(name)!;
    expect(message.type).toBe('data');
    expect(parseVersions(message.validVersions)).toStrictEqual({ from: 0, to: 0 });
    expect(compareWithKafka(name, ours, 0, message)).toStrictEqual([]);
  });
});

describe('the check reports a wrong record schema', () => {
  test('a wrong default, tag and nullability are named', () => {
    const wrong = struct({
      partitionId: int32.default(-1),
      topicId: uuid,
      isr: array(int32).tagged(0),
      leader: int32.tagged(1),
      replicas: nullableArray(int32).tagged(2),
      removingReplicas: nullableArray(int32).tagged(3),
      addingReplicas: nullableArray(int32).tagged(4),
      leaderRecoveryState: int8.default(-1).tagged(9),
      directories: nullableArray(uuid).tagged(8, 1),
    });
    const found = compareWithKafka('PartitionChangeRecord', wrong.struct, 1, metadata.get('PartitionChangeRecord')!);
    expect(found).toContain(
      'PartitionChangeRecord v0 value isr: nullable in Kafka (nullableVersions 0+), not nullable in ours',
    );
    expect(found).toContain('PartitionChangeRecord value leader: default -2 in Kafka, 0 in ours');
    expect(found).toContain(
      "PartitionChangeRecord v1 value leaderRecoveryState: Kafka's LeaderRecoveryState is tagged 5, ours is tagged 9",
    );
  });
});
