// Kafka's own decoder reads the metadata snapshots we write: an image written as
// `<offset>-<epoch>.checkpoint` in a `__cluster_metadata-0` directory, decoded by
// `kafka.tools.DumpLogSegments --cluster-metadata-decoder` (Apache Kafka 4.1 jars from Maven
// Central, cached under ~/.cache/runnel).

import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareKafka } from '../bench/kafka.js';
import { run } from '../test/compat/clients.js';
import { MetadataDelta, MetadataImage } from './image.js';
import { METADATA_VERSION_LEVEL, type MetadataRecord } from './records.js';
import { encodeSnapshot, imageRecords, snapshotFileName } from './snapshot.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;
const TOOL_TIMEOUT_MS = 60_000;

const topicId = Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64url');

const HISTORY: MetadataRecord[] = [
  { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL },
  {
    type: 'RegisterBrokerRecord',
    brokerId: 1,
    isMigratingZkBroker: false,
    incarnationId: Buffer.alloc(16, 7).toString('base64url'),
    brokerEpoch: 2,
    endPoints: [{ name: 'PLAINTEXT', host: 'broker-1.local', port: 9092, securityProtocol: 0 }],
    features: [{ name: 'metadata.version', minSupportedVersion: 1, maxSupportedVersion: METADATA_VERSION_LEVEL }],
    rack: null,
    fenced: true,
    inControlledShutdown: false,
    logDirs: [],
  },
  { type: 'UnfenceBrokerRecord', id: 1, epoch: 2 },
  { type: 'TopicRecord', name: 'snapshotted-orders', topicId },
  {
    type: 'PartitionRecord',
    partitionId: 0,
    topicId,
    replicas: [1],
    isr: [1],
    removingReplicas: [],
    addingReplicas: [],
    leader: 1,
    leaderRecoveryState: 0,
    leaderEpoch: 0,
    partitionEpoch: 0,
    directories: [],
  },
  {
    type: 'ConfigRecord',
    resourceType: 2,
    resourceName: 'snapshotted-orders',
    name: 'retention.ms',
    value: '60000',
  },
  { type: 'ProducerIdsRecord', brokerId: 1, brokerEpoch: 2, nextProducerId: 1000 },
];

let dir: string;
let output: string;

beforeAll(async () => {
  const kafka = await prepareKafka((line) => console.log(line));
  dir = await mkdtemp(path.join(os.tmpdir(), 'runnel-snapshot-dump-'));
  const partitionDir = path.join(dir, '__cluster_metadata-0');
  await mkdir(partitionDir);
  const image = new MetadataImage();
  for (const r of HISTORY) image.apply(r, new MetadataDelta());
  const snapshot = path.join(partitionDir, snapshotFileName({ offset: 42, epoch: 4 }));
  await writeFile(snapshot, encodeSnapshot(imageRecords(image), 4, 1_700_000_000_000));
  output = await run(
    'java',
    [
      '-Xmx256M',
      `-Dlog4j2.configurationFile=${kafka.toolsLog4j}`,
      '-cp',
      kafka.classpath,
      'kafka.tools.DumpLogSegments',
      '--cluster-metadata-decoder',
      '--files',
      snapshot,
    ],
    { timeoutMs: TOOL_TIMEOUT_MS },
  );
}, FIRST_RESOLVE_TIMEOUT_MS);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kafka-dump-log --cluster-metadata-decoder reads a snapshot we write', () => {
  const lines = () => output.split('\n');

  it('decodes it without an error: header, records, footer, each batch valid and of the snapshot epoch', () => {
    expect(output).not.toMatch(/Exception|error|corrupt/i);
    const batches = lines().filter((l) => l.startsWith('baseOffset:'));
    expect(batches.map((l) => /isControl: (\w+)/.exec(l)![1])).toStrictEqual(['true', 'false', 'true']);
    expect(batches.every((l) => l.includes('partitionLeaderEpoch: 4') && l.includes('isvalid: true'))).toBe(true);
    expect(output).toMatch(/SnapshotHeader.*"version":0,"lastContainedLogTimestamp":1700000000000/);
    expect(output).toMatch(/SnapshotFooter.*"version":0/);
  });

  it('holds the records that rebuild the image: metadata.version first, the broker with its fence state, topic, partition, config, producer ids', () => {
    const types = lines()
      .filter((l) => l.startsWith('| offset:'))
      .map((l) => /"type":"(\w+)"/.exec(l)?.[1])
      .filter(Boolean);
    expect(types).toStrictEqual([
      'FEATURE_LEVEL_RECORD',
      'REGISTER_BROKER_RECORD',
      'TOPIC_RECORD',
      'PARTITION_RECORD',
      'CONFIG_RECORD',
      'PRODUCER_IDS_RECORD',
    ]);
    const broker = lines().find((l) => l.includes('REGISTER_BROKER_RECORD'))!;
    expect(broker).toContain('"fenced":false');
    expect(broker).toContain('"host":"broker-1.local"');
    expect(lines().find((l) => l.includes('PRODUCER_IDS_RECORD'))).toContain('"nextProducerId":1000');
  });
});
