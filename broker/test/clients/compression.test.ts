// Compressed batches from real clients: stored as produced and consumed back intact by other
// clients; topics whose compression.type names a codec store every batch in it; and the
// produce-time checks that need records decoded (zstd before Produce v7, keys on compacted
// topics), over raw requests.

import { Producer, ProduceAcks } from '@platformatic/kafka';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CompressionCodec } from '../../protocol/compression.js';
import { ErrorCode } from '../../protocol/errors.js';
import { CreateTopics, Fetch, Produce } from '../../protocol/messages/index.js';
import { buildCompressedBatch, compressionAt, decodeRecordsAsync, scanBatches } from '../../protocol/record-batch.js';
import { startBroker, type BrokerProcess } from '../broker-process.js';
import { kcat, kcatConsumeAll } from '../kcat.js';
import { readAll } from '../read-all.js';
import { RawConnection } from '../raw-client.js';

const COUNT = 30;
const T0 = 1_700_000_000_000;

interface Rec {
  key: string;
  value: string;
}

function records(tag: string): Rec[] {
  // Compressible values of different lengths, with non-ASCII text.
  return Array.from({ length: COUNT }, (_, i) => ({
    key: `${tag}-key-${i}`,
    value: `${tag} value ${i} ✓ ${'abc'.repeat(i * 7)}`,
  }));
}

let broker: BrokerProcess;
const connections: RawConnection[] = [];

async function connect(): Promise<RawConnection> {
  const c = await RawConnection.open(broker.port);
  connections.push(c);
  return c;
}

async function createTopic(name: string, configs: Record<string, string> = {}): Promise<void> {
  const c = await connect();
  const res = await c.request(CreateTopics, 7, {
    topics: [
      {
        name,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
      },
    ],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  expect(res.topics.map((t) => [t.name, t.errorCode, t.errorMessage])).toEqual([[name, ErrorCode.NONE, null]]);
}

/** The stored batches of partition 0 as a raw Fetch returns them: their codecs and records. */
async function storedBatches(topic: string): Promise<Array<{ codec: CompressionCodec | undefined; records: Rec[] }>> {
  const c = await connect();
  const res = await c.request(Fetch, 12, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 50 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 50 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  });
  const p = res.responses[0].partitions[0];
  expect(p.errorCode).toBe(ErrorCode.NONE);
  const data = p.records ?? Buffer.alloc(0);
  const scan = scanBatches(data, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
  expect(scan.stop).toBe('end');
  const out = [];
  for (const b of scan.batches) {
    const batch = data.subarray(b.position, b.position + b.size);
    const decoded = await decodeRecordsAsync(batch);
    out.push({
      codec: compressionAt(batch, 0),
      records: decoded.map((r) => ({ key: r.key!.toString(), value: r.value!.toString() })),
    });
  }
  return out;
}

async function kcatProduce(topic: string, recs: Rec[], codec: string): Promise<void> {
  // linger.ms lets kcat put several records in one (compressed) batch.
  const { code, stderr } = await kcat(
    [
      '-b',
      broker.bootstrap,
      '-P',
      '-t',
      topic,
      '-p',
      '0',
      '-K',
      '\t',
      '-z',
      codec,
      '-X',
      'linger.ms=50',
      '-X',
      'acks=all',
    ],
    recs.map((r) => `${r.key}\t${r.value}`).join('\n') + '\n',
  );
  expect(code, stderr).toBe(0);
}

async function kcatRead(topic: string): Promise<Rec[]> {
  return (await kcatConsumeAll(broker.bootstrap, topic)).map((r) => ({ key: r.key!, value: r.payload! }));
}

async function readAllRecs(topic: string): Promise<Rec[]> {
  return (await readAll(broker.bootstrap, topic, 1)).map((r) => ({ key: r.key, value: r.value }));
}

beforeAll(async () => {
  broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
});
afterEach(() => {
  for (const c of connections.splice(0)) c.close();
});
afterAll(async () => {
  await broker?.stop();
});

describe('batches compressed by real clients are stored as produced and read back intact', () => {
  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('kcat -z %s', async (codec) => {
    const topic = `kcat-${codec}`;
    await createTopic(topic);
    const expected = records(topic);
    await kcatProduce(topic, expected, codec);
    const stored = await storedBatches(topic);
    expect(
      stored.every((b) => b.codec === codec),
      JSON.stringify(stored.map((b) => b.codec)),
    ).toBe(true);
    expect(stored.some((b) => b.records.length > 1)).toBe(true);
    expect(stored.flatMap((b) => b.records)).toEqual(expected);
    expect(await kcatRead(topic)).toEqual(expected);
    // @platformatic/kafka decodes zstd only with node:zlib's zstd (Node 22.15+).
    if (codec !== 'zstd' || typeof (zlib as unknown as Record<string, unknown>).zstdDecompressSync === 'function') {
      expect(await readAllRecs(topic)).toEqual(expected);
    }
  });

  it('kafkajs with gzip', async () => {
    const topic = 'kafkajs-gzip';
    await createTopic(topic);
    const expected = records(topic);
    const kafka = new Kafka({ clientId: 'compression', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.GZIP,
        messages: expected.map((r) => ({ partition: 0, ...r, timestamp: String(T0) })),
      });
    } finally {
      await producer.disconnect();
    }
    const stored = await storedBatches(topic);
    expect(stored.map((b) => b.codec)).toEqual(['gzip']);
    expect(await kcatRead(topic)).toEqual(expected);
    expect(await readAllRecs(topic)).toEqual(expected);
  });

  // @platformatic/kafka 1.x compresses snappy and lz4 with its WebAssembly codecs, and zstd only
  // where node:zlib has it (Node 22.15+).
  const platformaticCodecs = [
    'gzip',
    'snappy',
    'lz4',
    ...(typeof (zlib as unknown as Record<string, unknown>).zstdCompressSync === 'function' ? ['zstd' as const] : []),
  ] as const;
  it.each(platformaticCodecs)('@platformatic/kafka with %s', async (codec) => {
    const topic = `platformatic-${codec}`;
    await createTopic(topic);
    const expected = records(topic);
    const producer = new Producer({
      clientId: 'compression',
      bootstrapBrokers: [broker.bootstrap],
      compression: codec,
    });
    try {
      await producer.send({
        acks: ProduceAcks.ALL,
        messages: expected.map((r) => ({
          topic,
          partition: 0,
          key: Buffer.from(r.key),
          value: Buffer.from(r.value),
          timestamp: BigInt(T0),
        })),
      });
    } finally {
      await producer.close();
    }
    const stored = await storedBatches(topic);
    expect(stored.map((b) => b.codec)).toEqual([codec]);
    expect(stored.flatMap((b) => b.records)).toEqual(expected);
    expect(await kcatRead(topic)).toEqual(expected);
    expect(await readAllRecs(topic)).toEqual(expected);
  });
});

describe("a topic's compression.type", () => {
  it('zstd: uncompressed batches from kcat and kafkajs are stored zstd-compressed and read back intact', async () => {
    const topic = 'stored-zstd';
    await createTopic(topic, { 'compression.type': 'zstd' });
    const fromKcat = records('kcat-plain');
    const fromKafkajs = records('kafkajs-plain');
    await kcatProduce(topic, fromKcat, 'none');
    const kafka = new Kafka({ clientId: 'compression', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: fromKafkajs.map((r) => ({ partition: 0, ...r })) });
    } finally {
      await producer.disconnect();
    }
    const stored = await storedBatches(topic);
    expect(stored.length).toBeGreaterThan(1);
    expect(stored.map((b) => b.codec)).toEqual(stored.map(() => 'zstd'));
    expect(stored.flatMap((b) => b.records)).toEqual([...fromKcat, ...fromKafkajs]);
    expect(await kcatRead(topic)).toEqual([...fromKcat, ...fromKafkajs]);
  });

  it.each([
    ['gzip', 'snappy', 'gzip'],
    ['uncompressed', 'lz4', 'none'],
    ['snappy', 'gzip', 'snappy'],
  ] as const)(
    '%s: %s batches from kcat are stored as %s and every client reads them',
    async (compressionType, produced, storedCodec) => {
      const topic = `stored-${compressionType}-from-${produced}`;
      await createTopic(topic, { 'compression.type': compressionType });
      const expected = records(topic);
      await kcatProduce(topic, expected, produced);
      const stored = await storedBatches(topic);
      expect(new Set(stored.map((b) => b.codec))).toEqual(new Set([storedCodec]));
      expect(await kcatRead(topic)).toEqual(expected);
      expect(await readAllRecs(topic)).toEqual(expected);
    },
  );

  it('producer (the default) keeps each batch in the codec it was produced with', async () => {
    const topic = 'stored-as-produced';
    await createTopic(topic);
    await kcatProduce(topic, records('a'), 'lz4');
    await kcatProduce(topic, records('b'), 'gzip');
    const codecs = new Set((await storedBatches(topic)).map((b) => b.codec));
    expect(codecs).toEqual(new Set(['lz4', 'gzip']));
  });
});

describe('produce checks that decode records', () => {
  async function produceRaw(topic: string, batch: Buffer, version: number) {
    const c = await connect();
    const res = await c.request(Produce, version, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
    });
    return res.responses[0].partitionResponses[0];
  }

  it('refuses zstd batches before Produce v7 with UNSUPPORTED_COMPRESSION_TYPE, and takes them from v7', async () => {
    await createTopic('zstd-versions');
    const batch = () => buildCompressedBatch({ records: [{ key: 'k', value: 'v' }], compression: 'zstd' });
    expect(await produceRaw('zstd-versions', await batch(), 6)).toMatchObject({
      errorCode: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      baseOffset: -1,
    });
    expect(await produceRaw('zstd-versions', await batch(), 7)).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 0,
    });
  });

  it.each(['none', 'gzip', 'lz4'] as const)(
    'refuses records without a key on a compacted topic (%s batch) with INVALID_RECORD',
    async (codec) => {
      const topic = `compacted-keys-${codec}`;
      await createTopic(topic, { 'cleanup.policy': 'compact' });
      const keyless = await buildCompressedBatch({
        records: [
          { key: 'a', value: '1' },
          { key: null, value: '2' },
          { key: 'c', value: null },
        ],
        compression: codec,
      });
      const refused = await produceRaw(topic, keyless, 9);
      expect(refused).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD, baseOffset: -1 });
      expect(refused.errorMessage).toMatch(/Compacted topic cannot accept message without key/);
      expect(refused.recordErrors.map((e) => e.batchIndex)).toEqual([1]);
      const keyed = await buildCompressedBatch({
        records: [
          { key: 'a', value: '1' },
          { key: 'c', value: null },
        ],
        compression: codec,
      });
      expect(await produceRaw(topic, keyed, 9)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    },
  );

  it('refuses a compressed batch whose records do not decompress with INVALID_RECORD (not retriable: resending the same bytes cannot help)', async () => {
    await createTopic('compacted-corrupt', { 'cleanup.policy': 'compact' });
    const batch = await buildCompressedBatch({ records: [{ key: 'a', value: 'x'.repeat(200) }], compression: 'gzip' });
    // Damage the gzip stream, then fix the CRC so only decompression can notice.
    batch.fill(0, 61 + 12, 61 + 30);
    const { crc32c } = await import('@node-rs/crc32');
    batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
    expect(await produceRaw('compacted-corrupt', batch, 9)).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD });
  });
});
