// Idempotent producers against the broker process: real clients whose connections are cut
// after the broker stored a batch (so they retry it) must leave every record in the log
// exactly once, in order; the sequence and epoch rules over raw requests; and deduplication
// of a retried batch across a clean restart and a kill -9.

import { Producer, ProduceAcks } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../protocol/errors.js';
import { CreateTopics, InitProducerId, ListOffsets, Produce } from '../../protocol/messages/index.js';
import { buildRecordBatch } from '../../protocol/record-batch.js';
import { startBroker, type BrokerProcess } from '../broker-process.js';
import { startCuttingProxy, type CuttingProxy } from '../cutting-proxy.js';
import { kcatConsumeAll } from '../kcat.js';
import { readAll } from '../read-all.js';
import { RawConnection } from '../raw-client.js';

const RECORDS = 40;
/** Every fourth Produce request loses its response and its connection. */
const cutEveryFourth = (n: number) => n % 4 === 2;

function expectedValues(tag: string): string[] {
  return Array.from({ length: RECORDS }, (_, i) => `${tag}-${i}`);
}

async function createTopic(
  c: RawConnection,
  name: string,
  configs: Array<{ name: string; value: string }> = [],
): Promise<void> {
  const res = await c.request(CreateTopics, 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  expect(res.topics.map((t) => [t.name, t.errorCode, t.errorMessage])).toEqual([[name, ErrorCode.NONE, null]]);
}

interface RawBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  count?: number;
  tag?: string;
}

function batchOf(b: RawBatch): Buffer {
  return buildRecordBatch({
    records: Array.from({ length: b.count ?? 3 }, (_, i) => ({
      key: `k${b.baseSequence + i}`,
      value: `${b.tag ?? 'raw'}-${b.producerEpoch}-${b.baseSequence + i}`,
    })),
    producerId: b.producerId,
    producerEpoch: b.producerEpoch,
    baseSequence: b.baseSequence,
  });
}

async function produce(c: RawConnection, topic: string, records: Buffer, version = 9) {
  const res = await c.request(Produce, version, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return res.responses[0].partitionResponses[0];
}

async function logEnd(c: RawConnection, topic: string): Promise<number> {
  const res = await c.request(ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1 }] }],
  });
  return res.topics[0].partitions[0].offset;
}

async function initProducerId(
  c: RawConnection,
  version = 4,
  producerId = -1,
  producerEpoch = -1,
  transactionalId: string | null = null,
) {
  return c.request(InitProducerId, version, {
    transactionalId,
    transactionTimeoutMs: 60_000,
    producerId,
    producerEpoch,
  });
}

describe('idempotent clients whose connections are cut after the broker stored their batch', () => {
  let broker: BrokerProcess;
  let proxy: CuttingProxy;
  let brokerPort = 0;

  beforeAll(async () => {
    proxy = await startCuttingProxy(() => brokerPort, cutEveryFourth);
    // Clients learn the broker's address from Metadata: advertise the proxy, so they stay behind it.
    broker = await startBroker({
      overrides: {
        'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}`,
        'auto.create.topics.enable': 'false',
      },
    });
    brokerPort = broker.port;
    const c = await RawConnection.open(broker.port);
    try {
      await createTopic(c, 'idem-platformatic');
      await createTopic(c, 'idem-kafkajs');
    } finally {
      c.close();
    }
  });
  afterAll(async () => {
    await proxy?.close();
    await broker?.stop();
  });

  it('@platformatic/kafka (idempotent: true) retries and the log holds every record exactly once, in order', async () => {
    const cutsBefore = proxy.cuts;
    const producer = new Producer({
      clientId: 'idem-platformatic',
      bootstrapBrokers: [`127.0.0.1:${proxy.port}`],
      idempotent: true,
      retryDelay: 50,
    });
    try {
      for (const value of expectedValues('p')) {
        await producer.send({
          acks: ProduceAcks.ALL,
          messages: [{ topic: 'idem-platformatic', partition: 0, key: Buffer.from('k'), value: Buffer.from(value) }],
        });
      }
    } finally {
      await producer.close();
    }
    expect(proxy.cuts - cutsBefore).toBeGreaterThanOrEqual(RECORDS / 4 - 1);
    const stored = await readAll(broker.bootstrap, 'idem-platformatic', 1);
    expect(stored.map((r) => r.value)).toEqual(expectedValues('p'));
    expect(stored.map((r) => r.offset)).toEqual(expectedValues('p').map((_, i) => i));
  });

  it('kafkajs (idempotent: true) retries and the log holds every record exactly once, in order', async () => {
    const cutsBefore = proxy.cuts;
    const kafka = new Kafka({
      clientId: 'idem-kafkajs',
      brokers: [`127.0.0.1:${proxy.port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 },
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (const value of expectedValues('j'))
        await producer.send({ topic: 'idem-kafkajs', acks: -1, messages: [{ partition: 0, key: 'k', value }] });
    } finally {
      await producer.disconnect();
    }
    expect(proxy.cuts - cutsBefore).toBeGreaterThanOrEqual(RECORDS / 4 - 1);
    const stored = await kcatConsumeAll(broker.bootstrap, 'idem-kafkajs');
    expect(stored.map((r) => r.payload)).toEqual(expectedValues('j'));
    expect(stored.map((r) => r.offset)).toEqual(expectedValues('j').map((_, i) => i));
  });
});

describe('idempotent produce rules over raw requests', () => {
  let broker: BrokerProcess;
  const connections: RawConnection[] = [];
  const connect = async () => {
    const c = await RawConnection.open(broker.port);
    connections.push(c);
    return c;
  };

  beforeAll(async () => {
    broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  });
  afterEach(() => {
    for (const c of connections.splice(0)) c.close();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('InitProducerId hands out distinct ids at epoch 0 (v0-v5), and refuses transactional ids', async () => {
    const c = await connect();
    const ids = new Set<number>();
    for (const version of [0, 1, 2, 3, 4, 5]) {
      const res = await initProducerId(c, version);
      expect(res).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
      expect(res.producerId).toBeGreaterThan(0);
      ids.add(res.producerId);
    }
    expect(ids.size).toBe(6);
    expect(await initProducerId(c, 4, -1, -1, 'tx-1')).toMatchObject({
      errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
      producerId: -1,
    });
  });

  it('a retried batch is acknowledged with its original offset, a gap is OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch INVALID_PRODUCER_EPOCH', async () => {
    const c = await connect();
    await createTopic(c, 'idem-rules');
    const { producerId } = await initProducerId(c);
    expect(await produce(c, 'idem-rules', batchOf({ producerId, producerEpoch: 0, baseSequence: 0 }))).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 0,
    });
    expect(await produce(c, 'idem-rules', batchOf({ producerId, producerEpoch: 0, baseSequence: 3 }))).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 3,
    });
    // A retry of either of the last batches: original offsets, nothing written.
    expect(await produce(c, 'idem-rules', batchOf({ producerId, producerEpoch: 0, baseSequence: 0 }))).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 0,
    });
    expect(await produce(c, 'idem-rules', batchOf({ producerId, producerEpoch: 0, baseSequence: 3 }))).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 3,
    });
    expect(await logEnd(c, 'idem-rules')).toBe(6);
    // A gap.
    const gap = await produce(c, 'idem-rules', batchOf({ producerId, producerEpoch: 0, baseSequence: 9 }));
    expect(gap).toMatchObject({ errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, baseOffset: -1 });
    expect(gap.errorMessage).toMatch(/out of order sequence number/);

    // KIP-360: the producer asks for its epoch to be bumped; a retry of that request gets the same epoch.
    expect(await initProducerId(c, 4, producerId, 0)).toMatchObject({
      errorCode: ErrorCode.NONE,
      producerId,
      producerEpoch: 1,
    });
    expect(await initProducerId(c, 4, producerId, 0)).toMatchObject({
      errorCode: ErrorCode.NONE,
      producerId,
      producerEpoch: 1,
    });
    expect(await initProducerId(c, 4, producerId, 7)).toMatchObject({ errorCode: ErrorCode.INVALID_PRODUCER_EPOCH });
    // A new epoch starts at sequence 0; the old epoch is fenced.
    expect(await produce(c, 'idem-rules', batchOf({ producerId, producerEpoch: 1, baseSequence: 6 }))).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(await produce(c, 'idem-rules', batchOf({ producerId, producerEpoch: 1, baseSequence: 0 }))).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 6,
    });
    expect(await produce(c, 'idem-rules', batchOf({ producerId, producerEpoch: 0, baseSequence: 6 }))).toMatchObject({
      errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
    });
    expect(await logEnd(c, 'idem-rules')).toBe(9);
  });

  it('accepts a producer id the partition does not know at any sequence (Kafka 4, KIP-360)', async () => {
    const c = await connect();
    await createTopic(c, 'idem-unknown');
    expect(
      await produce(c, 'idem-unknown', batchOf({ producerId: 987_654, producerEpoch: 3, baseSequence: 42 })),
    ).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    expect(
      await produce(c, 'idem-unknown', batchOf({ producerId: 987_654, producerEpoch: 3, baseSequence: 45 })),
    ).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 3 });
  });
});

describe('idempotent deduplication across broker restarts', () => {
  let broker: BrokerProcess;
  const connections: RawConnection[] = [];
  const connect = async () => {
    const c = await RawConnection.open(broker.port);
    connections.push(c);
    return c;
  };

  beforeAll(async () => {
    // Small segments: the producer state comes from a snapshot at a roll plus the batches after it.
    broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false', 'log.segment.bytes': '600' } });
  });
  afterEach(() => {
    for (const c of connections.splice(0)) c.close();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  async function restart(how: 'SIGTERM' | 'kill -9'): Promise<void> {
    const { dataDir, port } = broker;
    if (how === 'SIGTERM') expect(await broker.stop()).toBe(0);
    else await broker.kill9();
    broker = await startBroker({
      dataDir,
      port,
      overrides: { 'auto.create.topics.enable': 'false', 'log.segment.bytes': '600' },
    });
  }

  it('a retry of the last batch is still deduplicated after SIGTERM and after kill -9, and producer ids stay unique', async () => {
    let c = await connect();
    await createTopic(c, 'idem-restart');
    const { producerId } = await initProducerId(c);
    let seq = 0;
    let last = { baseOffset: -1 };
    for (let i = 0; i < 12; i++, seq += 3)
      last = await produce(c, 'idem-restart', batchOf({ producerId, producerEpoch: 0, baseSequence: seq }));
    expect(last).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 33 });

    for (const how of ['SIGTERM', 'kill -9'] as const) {
      await restart(how);
      c = await connect();
      const end = await logEnd(c, 'idem-restart');
      const retry = await produce(c, 'idem-restart', batchOf({ producerId, producerEpoch: 0, baseSequence: seq - 3 }));
      expect(retry, `retry after ${how}`).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: last.baseOffset });
      expect(await logEnd(c, 'idem-restart')).toBe(end);
      expect(
        await produce(c, 'idem-restart', batchOf({ producerId, producerEpoch: 0, baseSequence: seq + 3 })),
      ).toMatchObject({
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      });
      last = await produce(c, 'idem-restart', batchOf({ producerId, producerEpoch: 0, baseSequence: seq }));
      expect(last).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: end });
      seq += 3;
      // Ids come from a new block after a restart: never one handed out before.
      expect((await initProducerId(c)).producerId).toBeGreaterThan(producerId);
    }
    const values = (await kcatConsumeAll(broker.bootstrap, 'idem-restart')).map((r) => r.payload);
    expect(values).toEqual(Array.from({ length: seq }, (_, i) => `raw-0-${i}`));
  });
});
