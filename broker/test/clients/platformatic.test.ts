import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  ProduceAcks,
  stringDeserializers,
} from '@platformatic/kafka';
import { readAll } from '../read-all.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../broker-process.js';
import { PARTITIONS, RECORDS_PER_PARTITION, expectedRecords } from '../scenario.js';

const TOPIC = 'platformatic-orders';
const CLIENT_ID = 'runnel-test';

describe('@platformatic/kafka against the broker', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('creates a topic with several partitions and reports its id', async () => {
    const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: [broker.bootstrap] });
    try {
      const [created] = await admin.createTopics({ topics: [TOPIC], partitions: PARTITIONS, replicas: 1 });
      expect(created.partitions).toBe(PARTITIONS);
      const metadata = await admin.metadata({ topics: [TOPIC] });
      expect(metadata.topics.get(TOPIC)!.id).toBe(created.id);
      expect(metadata.topics.get(TOPIC)!.partitionsCount).toBe(PARTITIONS);
    } finally {
      await admin.close();
    }
  });

  it('produces keyed records with headers and timestamps, and reads them back exactly', async () => {
    const expected = expectedRecords('platformatic');
    const producer = new Producer({ clientId: CLIENT_ID, bootstrapBrokers: [broker.bootstrap] });
    try {
      for (let p = 0; p < PARTITIONS; p++) {
        const result = await producer.send({
          acks: ProduceAcks.ALL,
          messages: expected
            .filter((r) => r.partition === p)
            .map((r) => ({
              topic: TOPIC,
              partition: r.partition,
              key: Buffer.from(r.key),
              value: Buffer.from(r.value),
              headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
              timestamp: BigInt(r.timestamp),
            })),
        });
        expect(result.offsets?.[0]?.offset).toBe(0n);
      }
    } finally {
      await producer.close();
    }
    expect(await readAll(broker.bootstrap, TOPIC, PARTITIONS)).toEqual(expected);
  });

  it('reads the same records after a restart', async () => {
    const port = broker.port;
    expect(await broker.stop()).toBe(0);
    broker = await startBroker({ dataDir: broker.dataDir, port, overrides: { 'auto.create.topics.enable': 'false' } });
    const records = await readAll(broker.bootstrap, TOPIC, PARTITIONS);
    expect(records).toHaveLength(PARTITIONS * RECORDS_PER_PARTITION);
    expect(records).toEqual(expectedRecords('platformatic'));
  });

  it('a consumer group commits as it reads and resumes from its committed offsets after a restart', async () => {
    const consumeFromCommitted = async (count: number) => {
      const consumer = new Consumer({
        clientId: CLIENT_ID,
        groupId: 'platformatic-readers',
        bootstrapBrokers: [broker.bootstrap],
        deserializers: stringDeserializers,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
      });
      const keys: string[] = [];
      try {
        const stream = await consumer.consume({
          topics: [TOPIC],
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: MessagesStreamFallbackModes.EARLIEST,
          autocommit: false,
        });
        for await (const message of stream) {
          keys.push(String(message.key));
          await message.commit();
          if (keys.length === count) break;
        }
        await stream.close();
      } finally {
        await consumer.close();
      }
      return keys;
    };
    // Read two thirds, committing each record.
    const firstPart = await consumeFromCommitted(40);
    expect(new Set(firstPart).size).toBe(40);

    const port = broker.port;
    expect(await broker.stop()).toBe(0);
    broker = await startBroker({ dataDir: broker.dataDir, port, overrides: { 'auto.create.topics.enable': 'false' } });
    const rest = await consumeFromCommitted(PARTITIONS * RECORDS_PER_PARTITION - 40);
    const all = [...firstPart, ...rest];
    expect(new Set(all).size).toBe(PARTITIONS * RECORDS_PER_PARTITION);
    expect(new Set(all)).toEqual(new Set(expectedRecords('platformatic').map((r) => r.key)));
  });

  it('lists offsets by timestamp, earliest and latest', async () => {
    const consumer = new Consumer({
      clientId: CLIENT_ID,
      groupId: 'unused',
      bootstrapBrokers: [broker.bootstrap],
      deserializers: stringDeserializers,
    });
    try {
      const latest = await consumer.listOffsets({ topics: [TOPIC] });
      expect(latest.get(TOPIC)).toEqual(Array(PARTITIONS).fill(BigInt(RECORDS_PER_PARTITION)));
      const earliest = await consumer.listOffsets({ topics: [TOPIC], timestamp: -2n });
      expect(earliest.get(TOPIC)).toEqual(Array(PARTITIONS).fill(0n));
      // Partition 1's records have timestamps BASE + 1000 + offset: offset 5 is the first at or after BASE + 1005.
      const byTime = await consumer.listOffsets({
        topics: [TOPIC],
        partitions: { [TOPIC]: [1] },
        timestamp: BigInt(expectedRecords('x')[RECORDS_PER_PARTITION + 5].timestamp),
      });
      expect(byTime.get(TOPIC)![1]).toBe(5n);
    } finally {
      await consumer.close();
    }
  });

  it('refuses to produce to an unknown topic when auto-creation is off', async () => {
    const producer = new Producer({ clientId: CLIENT_ID, bootstrapBrokers: [broker.bootstrap], retries: 0 });
    try {
      await expect(
        producer.send({ messages: [{ topic: 'no-such-topic', value: Buffer.from('x') }] }),
      ).rejects.toThrow();
      const metadata = await producer.metadata({ topics: [TOPIC] });
      expect(metadata.topics.has('no-such-topic')).toBe(false);
    } finally {
      await producer.close();
    }
  });
});
