// What the fuzzer starts from: the request frames captured from real clients
// (test/fixtures/*.json), decoded with the broker's own schema, plus a few valid requests
// of every other API the broker serves, written against the fuzz topics and groups. The
// seeded ("kept") topics and group, whose data the run checks at the end, never appear in
// any input: only names that no fuzz mutation can turn into them do.

import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHandlers } from '../../api/handlers.js';
import type { BrokerServices } from '../../api/services.js';
import { compress, type CompressionCodec } from '../../protocol/compression.js';
import * as M from '../../protocol/messages/index.js';
import { buildCompressedBatch, buildRecordBatch, type RecordInput } from '../../protocol/record-batch.js';
import { ZERO_UUID, isFlexible } from '../../protocol/schema.js';
import { Writer } from '../../protocol/wire.js';
import { decodeRequest, type AnyApi } from '../raw-client.js';
import { genericBody } from './schema-walk.js';
import type { CapturedFrame } from '../fixtures/capture-plan.js';

// ---- names -------------------------------------------------------------------------------

/** Topics and group seeded before the run and checked after it; never named by a fuzz input. */
export const KEPT = {
  topics: [
    { name: 'kept-alpha', partitions: 2 },
    { name: 'kept-beta', partitions: 1 },
  ],
  group: 'kept-consumers',
} as const;

/** Topics and groups the fuzz inputs are written against (created and filled by the runner). */
export const FUZZ = {
  topics: [
    { name: 'fz-a', partitions: 3, configs: [] as Array<{ name: string; value: string }> },
    { name: 'fz-compact', partitions: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }] },
    { name: 'fz-gzip', partitions: 1, configs: [{ name: 'compression.type', value: 'gzip' }] },
    { name: 'fz-doomed', partitions: 1, configs: [] },
  ],
  group: 'fz-group',
  doomedGroup: 'fz-doomed-group',
  transactionalId: 'fz-txn',
} as const;

export const INTERNAL_TOPICS = ['__consumer_offsets', '__transaction_state', '__cluster_metadata'] as const;

/**
 * Names a string field may be replaced with: fuzz topics, internal topics, names Kafka
 * refuses (empty, dots, too long, illegal characters) and names that try to leave their
 * directory or alias another partition's directory on disk.
 */
export const NAME_POOL: readonly string[] = [
  'fz-a',
  'fz-compact',
  'fz-gzip',
  'fz-doomed',
  'fz-new',
  'fz-group',
  ...INTERNAL_TOPICS,
  '',
  '.',
  '..',
  'a'.repeat(249),
  'a'.repeat(250),
  'b'.repeat(10_000),
  'fz a',
  'fz-a\u0000',
  'FZ-A',
  'fz_a',
  'fz.a',
  '../fz-escape',
  'fz/../../fz-escape',
  'fz-a-0/../fz-a',
  'café',
  '\u{1f4a5}',
];

// ---- seeds -------------------------------------------------------------------------------

export interface SeedRequest {
  /** Where the seed came from: a fixture file or "synthetic". */
  source: string;
  api: AnyApi;
  version: number;
  clientId: string | null;
  body: Record<string, unknown>;
}

/** Compressed payloads the batch mutator splices in (computed once: compression is async). */
export interface Payloads {
  /** A valid records section compressed with each codec (garbage once truncated). */
  compressedRecords: Partial<Record<CompressionCodec, Buffer>>;
  /** Zeros that decompress to DECOMPRESSION_BOMB_BYTES, per codec. */
  bombs: Partial<Record<CompressionCodec, Buffer>>;
}

export interface Corpus {
  seeds: SeedRequest[];
  payloads: Payloads;
  /** Topic ids of the fuzz topics, for the versions that name topics by id. */
  topicIds: Record<string, string>;
}

/** Beyond MAX_DECOMPRESSED_BYTES (256 MiB) of compression.ts. */
export const DECOMPRESSION_BOMB_BYTES = 300 * 1024 * 1024;
/** Snappy compresses zeros only ~21:1; keep its bomb under the default max.message.bytes. */
const SNAPPY_BOMB_BYTES = 20 * 1024 * 1024;

/** The captured frames; compiled code (dist/broker/test/fuzz) reads them from the source tree. */
function fixtureDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const parts = here.split(path.sep);
  return parts.includes('dist')
    ? path.resolve(here, '../../../../broker/test/fixtures')
    : path.resolve(here, '../fixtures');
}

export function capturedSeeds(): SeedRequest[] {
  const dir = fixtureDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const fixture = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CapturedFrame;
      const { header, api, body } = decodeRequest(Buffer.from(fixture.hex, 'hex'));
      return { source: `fixtures/${f}`, api, version: header.apiVersion, clientId: header.clientId, body };
    });
}

function records(count: number, tag: string): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `${tag}-key-${i % 3}`,
    value: `${tag}-value-${i}-${'x'.repeat(i * 7)}`,
    headers: i % 2 === 0 ? [{ key: 'h', value: `v${i}` }] : [],
    timestampMs: 1_700_000_000_000 + i,
  }));
}

/** Builds the batches and codec payloads the seeds carry. */
async function buildPayloads(): Promise<{ batches: Buffer[]; payloads: Payloads }> {
  const batches: Buffer[] = [
    buildRecordBatch({ records: records(3, 'plain') }),
    buildRecordBatch({ records: records(1, 'idem'), producerId: 1000, producerEpoch: 0, baseSequence: 0 }),
  ];
  const payloads: Payloads = { compressedRecords: {}, bombs: {} };
  const plainRecords = batches[0].subarray(61);
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    try {
      batches.push(await buildCompressedBatch({ records: records(5, codec), compression: codec }));
      payloads.compressedRecords[codec] = await compress(codec, plainRecords);
      const zeros = Buffer.alloc(codec === 'snappy' ? SNAPPY_BOMB_BYTES : DECOMPRESSION_BOMB_BYTES);
      payloads.bombs[codec] = await compress(codec, zeros);
    } catch {
      // The codec is not available on this platform: its seeds are left out.
    }
  }
  return { batches, payloads };
}

/** The ConsumerProtocol subscription a Java or kafkajs consumer puts in JoinGroup. */
function subscription(topics: string[]): Buffer {
  const w = new Writer();
  w.int16(0);
  w.int32(topics.length);
  for (const t of topics) w.nullableString(t, false);
  w.int32(-1);
  return w.toBuffer();
}

function syntheticSeeds(batches: Buffer[], topicIds: Record<string, string>): SeedRequest[] {
  const out: SeedRequest[] = [];
  const add = (api: AnyApi, versions: number[], body: (v: number) => Record<string, unknown>) => {
    for (const version of versions)
      out.push({ source: 'synthetic', api, version, clientId: 'runnel-fuzz', body: body(version) });
  };
  const idOf = (name: string) => topicIds[name] ?? ZERO_UUID;
  const produceTopics = ['fz-a', 'fz-compact', 'fz-gzip'];

  batches.forEach((batch, i) => {
    const topic = produceTopics[i % produceTopics.length];
    add(M.Produce, [3, 9, 13], () => ({
      transactionalId: null,
      acks: i === 1 ? 1 : -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, topicId: idOf(topic), partitionData: [{ index: 0, records: batch }] }],
    }));
  });
  add(M.Produce, [7], () => ({
    transactionalId: null,
    acks: 0,
    timeoutMs: 5000,
    topicData: [{ name: 'fz-a', partitionData: [{ index: 1, records: batches[0] }] }],
  }));
  add(M.Fetch, [4, 11, 12, 13, 17], () => ({
    replicaId: -1,
    maxWaitMs: 50,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: ['fz-a', 'fz-compact'].map((t) => ({
      topic: t,
      topicId: idOf(t),
      partitions: [0, 1].map((p) => ({
        partition: p,
        currentLeaderEpoch: -1,
        fetchOffset: p,
        lastFetchedEpoch: -1,
        logStartOffset: -1,
        partitionMaxBytes: 65536,
      })),
    })),
    forgottenTopicsData: [],
    rackId: '',
  }));
  add(M.ListOffsets, [1, 5, 7, 10], () => ({
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: 'fz-a',
        partitions: [-1, -2, -3, 1_700_000_000_000].map((timestamp, i) => ({
          partitionIndex: i % 3,
          currentLeaderEpoch: -1,
          timestamp,
        })),
      },
    ],
    timeoutMs: 1000,
  }));
  add(M.Metadata, [0, 1, 9, 13], (v) => ({
    topics:
      v === 1
        ? null
        : [
            { topicId: ZERO_UUID, name: 'fz-a' },
            { topicId: ZERO_UUID, name: 'fz-auto' },
          ],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  }));
  add(M.OffsetCommit, [2, 7, 8, 9], () => ({
    groupId: FUZZ.group,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: 'fz-a',
        partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: 'meta' }],
      },
    ],
  }));
  add(M.OffsetFetch, [1, 7, 8, 9], () => ({
    groupId: FUZZ.group,
    topics: [{ name: 'fz-a', partitionIndexes: [0, 1] }],
    groups: [{ groupId: FUZZ.group, memberId: null, memberEpoch: -1, topics: null }],
    requireStable: false,
  }));
  add(M.FindCoordinator, [0, 3, 4, 6], () => ({
    key: FUZZ.group,
    keyType: 0,
    coordinatorKeys: [FUZZ.group, FUZZ.transactionalId],
  }));
  add(M.JoinGroup, [0, 5, 6, 9], () => ({
    groupId: FUZZ.group,
    sessionTimeoutMs: 6000,
    rebalanceTimeoutMs: 6000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription(['fz-a']) }],
    reason: null,
  }));
  add(M.SyncGroup, [0, 3, 5], () => ({
    groupId: FUZZ.group,
    generationId: 1,
    memberId: 'fz-member',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: [
      {
        memberId: 'fz-member',
        assignment: Buffer.from('000000000001000466' + '7a2d610000000100000000ffffffff', 'hex'),
      },
    ],
  }));
  add(M.Heartbeat, [0, 4], () => ({
    groupId: FUZZ.group,
    generationId: 1,
    memberId: 'fz-member',
    groupInstanceId: null,
  }));
  add(M.LeaveGroup, [0, 3, 5], () => ({
    groupId: FUZZ.group,
    memberId: 'fz-member',
    members: [{ memberId: 'fz-member', groupInstanceId: null, reason: 'fuzz' }],
  }));
  add(M.DescribeGroups, [0, 5], () => ({ groups: [FUZZ.group], includeAuthorizedOperations: false }));
  add(M.ListGroups, [0, 4, 5], () => ({ statesFilter: ['Stable', 'Empty'], typesFilter: ['classic'] }));
  add(M.ApiVersions, [0, 4], () => ({ clientSoftwareName: 'runnel-fuzz', clientSoftwareVersion: '1.0' }));
  add(M.CreateTopics, [2, 5, 7], () => ({
    topics: [
      {
        name: 'fz-doomed',
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: [{ name: 'retention.ms', value: '86400000' }],
      },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  }));
  add(M.DeleteTopics, [1, 6], () => ({
    topics: [{ name: 'fz-doomed', topicId: ZERO_UUID }],
    topicNames: ['fz-doomed'],
    timeoutMs: 5000,
  }));
  add(M.DeleteTopics, [6], () => ({ topics: [{ name: null, topicId: idOf('fz-doomed') }], timeoutMs: 5000 }));
  add(M.InitProducerId, [0, 3, 5], (v) => ({
    transactionalId: v === 0 ? null : FUZZ.transactionalId,
    transactionTimeoutMs: 60_000,
    producerId: -1,
    producerEpoch: -1,
  }));
  add(M.OffsetForLeaderEpoch, [2, 3, 4], () => ({
    replicaId: -1,
    topics: [{ topic: 'fz-a', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
  }));
  add(M.DescribeConfigs, [1, 4], () => ({
    resources: [
      { resourceType: 2, resourceName: 'fz-a', configurationKeys: null },
      { resourceType: 4, resourceName: '1', configurationKeys: ['log.retention.ms'] },
    ],
    includeSynonyms: true,
    includeDocumentation: true,
  }));
  add(M.AlterConfigs, [0, 2], () => ({
    resources: [{ resourceType: 2, resourceName: 'fz-a', configs: [{ name: 'retention.ms', value: '604800000' }] }],
    validateOnly: false,
  }));
  add(M.IncrementalAlterConfigs, [0, 1], () => ({
    resources: [
      {
        resourceType: 2,
        resourceName: 'fz-a',
        configs: [{ name: 'max.message.bytes', configOperation: 0, value: '2000000' }],
      },
    ],
    validateOnly: false,
  }));
  add(M.CreatePartitions, [0, 3], () => ({
    topics: [{ name: 'fz-a', count: 4, assignments: null }],
    timeoutMs: 5000,
    validateOnly: true,
  }));
  add(M.DeleteGroups, [0, 2], () => ({ groupsNames: [FUZZ.doomedGroup] }));
  add(M.OffsetDelete, [0], () => ({
    groupId: FUZZ.doomedGroup,
    topics: [{ name: 'fz-a', partitions: [{ partitionIndex: 0 }] }],
  }));
  add(M.DescribeCluster, [0, 1, 2], () => ({
    includeClusterAuthorizedOperations: false,
    endpointType: 1,
    includeFencedBrokers: false,
  }));
  return out;
}

/**
 * The APIs the broker serves: its handler table (only the table is read; no handler runs). Not
 * ALL_APIS, which also defines inter-node messages a broker does not serve to clients.
 */
export const SERVED_APIS: readonly AnyApi[] = createHandlers({} as BrokerServices).map((h) => h.api);

/** Generic seeds (see genericBody) for served APIs that have no written seed, at their lowest and highest version. */
function genericSeeds(covered: ReadonlySet<string>, topicIds: Record<string, string>): SeedRequest[] {
  return SERVED_APIS.filter((api) => !covered.has(api.name)).flatMap((api) =>
    [...new Set([api.minVersion, api.maxVersion])].map((version) => ({
      source: 'generic',
      api,
      version,
      clientId: 'runnel-fuzz',
      body: genericBody(api.request, version, isFlexible(api, version), {
        string: 'fz-a',
        uuid: topicIds['fz-a'] ?? ZERO_UUID,
      }),
    })),
  );
}

/** The whole corpus. `topicIds` come from the running broker (ids are random per topic). */
export async function buildCorpus(topicIds: Record<string, string>): Promise<Corpus> {
  const { batches, payloads } = await buildPayloads();
  const written = [...capturedSeeds(), ...syntheticSeeds(batches, topicIds)];
  const seeds = [...written, ...genericSeeds(new Set(written.map((s) => s.api.name)), topicIds)];
  return { seeds, payloads, topicIds };
}
