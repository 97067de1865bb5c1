// The runner's own view of the brokers, independent of the client under test: topics are
// created and groups' data seeded with @platformatic/kafka (which routes to leaders and
// coordinators by itself), and what is stored is read with raw Fetch requests decoded by the
// broker's record-batch codec, so a scenario can check the batches a client wrote (codec,
// producer id, sequences), not only that the client reads its own records back.

import { Admin, Producer, ProduceAcks } from '@platformatic/kafka';
import type { CompressionCodec } from '../../protocol/compression.js';
import { Fetch, Metadata } from '../../protocol/messages/index.js';
import { compressionAt, decodeRecordsAsync, readBatchHeader, scanBatches } from '../../protocol/record-batch.js';
import { RawConnection } from '../raw-client.js';
import type { ReadRecord, RecordSpec } from './records.js';
import type { Target } from './target.js';

const CLIENT_ID = 'runnel-compat-runner';

export interface StoredBatch {
  partition: number;
  baseOffset: number;
  recordCount: number;
  codec: CompressionCodec | undefined;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

export interface Stored {
  records: ReadRecord[];
  batches: StoredBatch[];
}

function bootstrapList(target: Target): string[] {
  return target.bootstrap.split(',');
}

export async function createTopic(
  target: Target,
  name: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: bootstrapList(target) });
  try {
    await admin.createTopics({
      topics: [name],
      partitions,
      replicas: Math.min(3, target.nodes.length),
      configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
    });
  } finally {
    await admin.close();
  }
}

/** Produces records in order (one request per partition, acks=all), as a known-good writer. */
export async function seed(target: Target, topic: string, records: readonly RecordSpec[]): Promise<void> {
  const producer = new Producer({ clientId: CLIENT_ID, bootstrapBrokers: bootstrapList(target) });
  try {
    const partitions = [...new Set(records.map((r) => r.partition))];
    for (const p of partitions) {
      await producer.send({
        acks: ProduceAcks.ALL,
        messages: records
          .filter((r) => r.partition === p)
          .map((r) => ({
            topic,
            partition: r.partition,
            key: Buffer.from(r.key),
            value: Buffer.from(r.value),
            headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
            ...(r.timestamp === null ? {} : { timestamp: BigInt(r.timestamp) }),
          })),
      });
    }
  } finally {
    await producer.close();
  }
}

/** The group's committed offset per partition of `topic` (-1 where nothing is committed). */
export async function committedOffsets(
  target: Target,
  groupId: string,
  topic: string,
  partitions: number,
): Promise<number[]> {
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: bootstrapList(target) });
  try {
    const [group] = await admin.listConsumerGroupOffsets({
      groups: [{ groupId, topics: [{ name: topic, partitionIndexes: [...Array(partitions).keys()] }] }],
    });
    const out = Array<number>(partitions).fill(-1);
    for (const t of group?.topics ?? []) {
      if (t.name !== topic) continue;
      for (const p of t.partitions) out[p.partitionIndex] = Number(p.committedOffset);
    }
    return out;
  } finally {
    await admin.close();
  }
}

async function withConnection<T>(host: string, port: number, fn: (c: RawConnection) => Promise<T>): Promise<T> {
  const c = await RawConnection.open(port, host);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Cluster id and every partition's leader, from a Metadata request to the first bootstrap broker. */
export async function describe(
  target: Target,
  topic: string,
): Promise<{ clusterId: string | null; leaders: Map<number, { host: string; port: number }> }> {
  const [host, port] = bootstrapList(target)[0].split(':') as [string, string];
  const md = await withConnection(host, Number(port), (c) =>
    c.request(Metadata, 12, {
      topics: [{ name: topic }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    }),
  );
  const brokers = new Map(md.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]));
  const t = md.topics.find((x) => x.name === topic);
  if (!t || t.errorCode !== 0) throw new Error(`topic ${topic} is not in the metadata (error ${t?.errorCode})`);
  const leaders = new Map<number, { host: string; port: number }>();
  for (const p of t.partitions) leaders.set(p.partitionIndex, brokers.get(p.leaderId)!);
  return { clusterId: md.clusterId, leaders };
}

/** Cluster id, controller and brokers as Metadata reports them to the first bootstrap broker. */
export async function clusterInfo(target: Target): Promise<{
  clusterId: string | null;
  controllerId: number;
  brokers: Array<{ nodeId: number; host: string; port: number }>;
}> {
  const [host, port] = bootstrapList(target)[0].split(':') as [string, string];
  const md = await withConnection(host, Number(port), (c) =>
    c.request(Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }),
  );
  return {
    clusterId: md.clusterId,
    controllerId: md.controllerId,
    brokers: md.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })),
  };
}

/** Every record and batch stored in the topic, read from each partition's leader. */
export async function stored(target: Target, topic: string): Promise<Stored> {
  const { leaders } = await describe(target, topic);
  const out: Stored = { records: [], batches: [] };
  for (const [partition, leader] of [...leaders].sort((a, b) => a[0] - b[0])) {
    await withConnection(leader.host, leader.port, async (c) => {
      let offset = 0;
      for (;;) {
        const res = await c.request(Fetch, 12, {
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 64 << 20,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 64 << 20 }] }],
          forgottenTopicsData: [],
          rackId: '',
        });
        const p = res.responses[0].partitions[0];
        if (p.errorCode !== 0) throw new Error(`fetch ${topic}-${partition}@${offset}: error ${p.errorCode}`);
        const data = p.records ?? Buffer.alloc(0);
        const scan = scanBatches(data, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
        for (const b of scan.batches) {
          const batch = data.subarray(b.position, b.position + b.size);
          const h = readBatchHeader(batch, 0);
          out.batches.push({
            partition,
            baseOffset: h.baseOffset,
            recordCount: h.recordCount,
            codec: compressionAt(batch, 0),
            producerId: h.producerId,
            producerEpoch: h.producerEpoch,
            baseSequence: h.baseSequence,
          });
          for (const r of await decodeRecordsAsync(batch)) {
            if (r.offset < offset) continue;
            out.records.push({
              partition,
              offset: r.offset,
              key: r.key === null ? null : r.key.toString(),
              value: r.value === null ? null : r.value.toString(),
              headers: r.headers.map((x) => [x.key, x.value === null ? '' : x.value.toString()] as [string, string]),
              timestamp: r.timestampMs,
            });
          }
          offset = b.lastOffset + 1;
        }
        if (offset >= Number(p.highWatermark)) break;
        if (scan.batches.length === 0)
          throw new Error(
            `fetch ${topic}-${partition}@${offset} returned no whole batch below the high watermark ${p.highWatermark}`,
          );
      }
    });
  }
  return out;
}
