// Kafka's own decoder reads the metadata log we write: a segment of encodeRaftEntries output in a
// `__cluster_metadata-0` directory, decoded by `kafka.tools.DumpLogSegments --cluster-metadata-decoder`
// (Apache Kafka 4.1 jars from Maven Central, cached under ~/.cache/runnel).

import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaTool, prepareKafka, type KafkaInstall } from '../bench/kafka.js';
import type { LogEntry } from '../raft/log.js';
import { encodeRaftEntries, METADATA_VERSION_LEVEL, type MetadataRecord } from './records.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;

const topicId = Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64url');
const incarnationId = Buffer.alloc(16, 7).toString('base64url');
const logDir = Buffer.alloc(16, 0xa1).toString('base64url');

const data = (offset: number, epoch: number, value: MetadataRecord): LogEntry => ({
  offset,
  epoch,
  record: { type: 'data', value },
});

const ENTRIES: LogEntry[] = [
  { offset: 0, epoch: 3, record: { type: 'leaderChange', leaderId: 1, voters: [1, 2, 3], grantingVoters: [1, 3] } },
  data(1, 3, { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL }),
  data(2, 3, {
    type: 'RegisterBrokerRecord',
    brokerId: 1,
    isMigratingZkBroker: false,
    incarnationId,
    brokerEpoch: 2,
    endPoints: [{ name: 'PLAINTEXT', host: 'broker-1.local', port: 9092, securityProtocol: 0 }],
    features: [{ name: 'metadata.version', minSupportedVersion: 7, maxSupportedVersion: METADATA_VERSION_LEVEL }],
    rack: null,
    fenced: true,
    inControlledShutdown: false,
    logDirs: [logDir],
  }),
  data(3, 3, { type: 'TopicRecord', name: 'dumped-orders', topicId }),
  data(4, 3, {
    type: 'PartitionRecord',
    partitionId: 0,
    topicId,
    replicas: [1, 2],
    isr: [1, 2],
    removingReplicas: [],
    addingReplicas: [],
    leader: 1,
    leaderRecoveryState: 0,
    leaderEpoch: 0,
    partitionEpoch: 0,
    directories: [logDir, logDir],
  }),
  data(5, 3, {
    type: 'ConfigRecord',
    resourceType: 2,
    resourceName: 'dumped-orders',
    name: 'retention.ms',
    value: '60000',
  }),
  data(6, 3, {
    type: 'PartitionChangeRecord',
    partitionId: 0,
    topicId,
    isr: [1],
    leader: -2,
    replicas: null,
    removingReplicas: null,
    addingReplicas: null,
    leaderRecoveryState: -1,
    directories: null,
  }),
  data(7, 3, { type: 'UnfenceBrokerRecord', id: 1, epoch: 2 }),
  data(8, 3, { type: 'ProducerIdsRecord', brokerId: 1, brokerEpoch: 2, nextProducerId: 1000 }),
  {
    offset: 9,
    epoch: 4,
    record: { type: 'leaderChange', leaderId: 2, voters: [1, 2, 3], grantingVoters: [2, 3] },
  },
  data(10, 4, {
    type: 'BrokerRegistrationChangeRecord',
    brokerId: 1,
    brokerEpoch: 2,
    fenced: 1,
    inControlledShutdown: 0,
    logDirs: null,
  }),
  data(11, 4, { type: 'RemoveTopicRecord', topicId }),
  data(12, 4, { type: 'NoOpRecord' }),
];

let kafka: KafkaInstall;
let dir: string;
let output: string;

beforeAll(async () => {
  kafka = await prepareKafka((line) => console.log(line));
  dir = await mkdtemp(path.join(os.tmpdir(), 'runnel-metadata-dump-'));
  const partitionDir = path.join(dir, '__cluster_metadata-0');
  await mkdir(partitionDir);
  const segment = path.join(partitionDir, '00000000000000000000.log');
  await writeFile(segment, encodeRaftEntries(ENTRIES, 1_700_000_000_000));
  output = await kafkaTool(kafka, 'kafka.tools.DumpLogSegments', ['--cluster-metadata-decoder', '--files', segment]);
}, FIRST_RESOLVE_TIMEOUT_MS);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The decoded payload lines: `| offset: N ... payload: {...}` for data, `LeaderChange: {...}` for control. */
function lineAt(offset: number): string {
  const line = output.split('\n').find((l) => l.startsWith(`| offset: ${offset} `));
  if (!line) throw new Error(`DumpLogSegments printed no record at offset ${offset}:\n${output}`);
  return line;
}

describe('kafka-dump-log --cluster-metadata-decoder reads the metadata log we write', () => {
  it('decodes every batch without an error', () => {
    expect(output).not.toMatch(/Exception|error|corrupt/i);
    for (const e of ENTRIES) lineAt(e.offset);
  });

  it('batches carry the entries’ epochs and the control bit', () => {
    const batches = output.split('\n').filter((l) => l.startsWith('baseOffset:'));
    expect(batches.map((l) => /baseOffset: (\d+) lastOffset: (\d+)/.exec(l)!.slice(1).map(Number))).toStrictEqual([
      [0, 0],
      [1, 8],
      [9, 9],
      [10, 12],
    ]);
    expect(batches.map((l) => /partitionLeaderEpoch: (\d+)/.exec(l)![1])).toStrictEqual(['3', '3', '4', '4']);
    expect(batches.map((l) => /isControl: (\w+)/.exec(l)![1])).toStrictEqual(['true', 'false', 'true', 'false']);
    expect(batches.every((l) => l.includes('crc:') && l.includes('isvalid: true'))).toBe(true);
  });

  it('leader changes decode as Kafka’s LeaderChangeMessage', () => {
    expect(lineAt(0)).toContain('LeaderChange: {"version":0,"leaderId":1,');
    expect(lineAt(0)).toContain('"voters":[{"voterId":1},{"voterId":2},{"voterId":3}]');
    expect(lineAt(0)).toContain('"grantingVoters":[{"voterId":1},{"voterId":3}]');
    expect(lineAt(9)).toContain('"leaderId":2');
  });

  it('data records decode as the metadata records we wrote, at the versions we chose', () => {
    expect(lineAt(1)).toContain(
      `{"type":"FEATURE_LEVEL_RECORD","version":0,"data":{"name":"metadata.version","featureLevel":${METADATA_VERSION_LEVEL}}}`,
    );
    const broker = lineAt(2);
    expect(broker).toContain('"type":"REGISTER_BROKER_RECORD","version":3');
    expect(broker).toContain(`"incarnationId":"${incarnationId}"`);
    expect(broker).toContain(
      '"endPoints":[{"name":"PLAINTEXT","host":"broker-1.local","port":9092,"securityProtocol":0}]',
    );
    expect(broker).toContain(`"logDirs":["${logDir}"]`);
    expect(lineAt(3)).toContain(
      `{"type":"TOPIC_RECORD","version":0,"data":{"name":"dumped-orders","topicId":"${topicId}"}}`,
    );
    const partition = lineAt(4);
    expect(partition).toContain('"type":"PARTITION_RECORD","version":2');
    expect(partition).toContain('"replicas":[1,2],"isr":[1,2]');
    expect(partition).toContain(`"directories":["${logDir}","${logDir}"]`);
    expect(lineAt(5)).toContain('"type":"CONFIG_RECORD"');
    expect(lineAt(5)).toContain('"name":"retention.ms","value":"60000"');
    const change = lineAt(6);
    expect(change).toContain('"type":"PARTITION_CHANGE_RECORD","version":2');
    expect(change).toContain('"isr":[1]');
    // Kafka's JSON, like its wire format, leaves out tagged fields at their defaults (leader -2 = unchanged).
    expect(change).toContain(`"data":{"partitionId":0,"topicId":"${topicId}","isr":[1]}}`);
    expect(lineAt(7)).toContain('{"type":"UNFENCE_BROKER_RECORD","version":0,"data":{"id":1,"epoch":2}}');
    expect(lineAt(8)).toContain('"type":"PRODUCER_IDS_RECORD"');
    expect(lineAt(8)).toContain('"nextProducerId":1000');
    expect(lineAt(10)).toContain('"type":"BROKER_REGISTRATION_CHANGE_RECORD","version":2');
    expect(lineAt(10)).toContain('"fenced":1');
    expect(lineAt(11)).toContain(`{"type":"REMOVE_TOPIC_RECORD","version":0,"data":{"topicId":"${topicId}"}}`);
    expect(lineAt(12)).toContain('{"type":"NO_OP_RECORD","version":0,"data":{}}');
  });
});
