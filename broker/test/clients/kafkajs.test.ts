import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../broker-process.js';
import { readAll } from '../read-all.js';
import {
  PARTITIONS,
  RECORDS_PER_PARTITION,
  byPartitionAndOffset,
  expectedRecords,
  type ExpectedRecord,
} from '../scenario.js';

const TOPIC = 'kafkajs-orders';

describe('kafkajs 2.2.4 against the broker', () => {
  let broker: BrokerProcess;
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    broker = await startBroker();
    kafka = new Kafka({
      clientId: 'runnel-test',
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 3 },
    });
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
    await broker?.stop();
  });

  it('validates a topic without creating it (validateOnly)', async () => {
    // kafkajs would otherwise fetch metadata for the topic afterwards, which auto-creates it.
    await admin.createTopics({
      validateOnly: true,
      waitForLeaders: false,
      topics: [{ topic: 'only-validated', numPartitions: 2 }],
    });
    await expect(
      admin.createTopics({
        validateOnly: true,
        waitForLeaders: false,
        topics: [{ topic: 'bad-config', configEntries: [{ name: 'retention.ms', value: 'soon' }] }],
      }),
    ).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_CONFIG' })],
    });
    expect(await admin.listTopics()).not.toContain('only-validated');
  });

  it('creates a topic with partitions and configs, and describes the cluster', async () => {
    const created = await admin.createTopics({
      topics: [
        { topic: TOPIC, numPartitions: PARTITIONS, configEntries: [{ name: 'retention.ms', value: '86400000' }] },
      ],
      waitForLeaders: true,
    });
    expect(created).toBe(true);
    const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    expect(metadata.topics[0].partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: broker.port }]);
    expect(cluster.controller).toBe(1);
    expect(cluster.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('produces keyed records with headers and timestamps that read back exactly', async () => {
    const expected = expectedRecords('kafkajs');
    const producer = kafka.producer();
    await producer.connect();
    try {
      const sent = await producer.send({
        topic: TOPIC,
        acks: -1,
        messages: expected.map((r) => ({
          partition: r.partition,
          key: r.key,
          value: r.value,
          headers: Object.fromEntries(r.headers),
          timestamp: String(r.timestamp),
        })),
      });
      expect(sent.map((s) => s.errorCode)).toEqual(Array(PARTITIONS).fill(0));
    } finally {
      await producer.disconnect();
    }
    expect(await readAll(broker.bootstrap, TOPIC, PARTITIONS)).toEqual(expected);
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    expect(offsets.map((o) => [o.partition, o.low, o.high]).sort()).toEqual(
      [0, 1, 2].map((p) => [p, '0', String(RECORDS_PER_PARTITION)]),
    );
  });

  it('consumes them back through a consumer group, exactly, and again after a restart', async () => {
    const consumeAll = async (groupId: string) => {
      const consumer = kafka.consumer({ groupId });
      const got: ExpectedRecord[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      const done = new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: ({ partition, message }) => {
              got.push({
                partition,
                offset: Number(message.offset),
                key: message.key!.toString(),
                value: message.value!.toString(),
                headers: Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
                timestamp: Number(message.timestamp),
              });
              if (got.length === PARTITIONS * RECORDS_PER_PARTITION) resolve();
              return Promise.resolve();
            },
          })
          .catch(reject);
      });
      await done;
      await consumer.disconnect();
      return byPartitionAndOffset(got);
    };
    expect(await consumeAll('kafkajs-readers-1')).toEqual(expectedRecords('kafkajs'));

    const port = broker.port;
    await admin.disconnect();
    expect(await broker.stop()).toBe(0);
    broker = await startBroker({ dataDir: broker.dataDir, port });
    admin = kafka.admin();
    await admin.connect();
    expect(await consumeAll('kafkajs-readers-2')).toEqual(expectedRecords('kafkajs'));
    // The first group's committed offsets survived the restart.
    const committed = await admin.fetchOffsets({ groupId: 'kafkajs-readers-1', topics: [TOPIC] });
    expect(committed[0].partitions.map((p) => p.offset).sort()).toEqual(
      Array(PARTITIONS).fill(String(RECORDS_PER_PARTITION)),
    );
  });

  it('describes and alters topic configs', async () => {
    const describe = async () => {
      const res = await admin.describeConfigs({ resources: [{ type: 2, name: TOPIC }], includeSynonyms: false });
      return new Map(res.resources[0].configEntries.map((e) => [e.configName, e]));
    };
    const before = await describe();
    expect(before.get('retention.ms')!.configValue).toBe('86400000');
    expect(before.get('cleanup.policy')!.configValue).toBe('delete');
    expect(before.get('cleanup.policy')!.isDefault).toBe(true);

    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: TOPIC, configEntries: [{ name: 'retention.bytes', value: '1048576' }] }],
    });
    const after = await describe();
    expect(after.get('retention.bytes')!.configValue).toBe('1048576');
    // AlterConfigs replaces the whole set: retention.ms returns to its default.
    expect(after.get('retention.ms')!.configValue).toBe('604800000');

    await expect(
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: TOPIC, configEntries: [{ name: 'retention.bytes', value: 'lots' }] }],
      }),
    ).rejects.toMatchObject({ type: 'INVALID_CONFIG' });
  });

  it('adds partitions, then deletes the topic', async () => {
    await admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: PARTITIONS + 2 }] });
    const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    expect(metadata.topics[0].partitions).toHaveLength(PARTITIONS + 2);
    await admin.deleteTopics({ topics: [TOPIC] });
    expect(await admin.listTopics()).not.toContain(TOPIC);
  });

  it('refuses a topic that already exists and an invalid name, with their error codes', async () => {
    await admin.createTopics({ topics: [{ topic: 'dup', numPartitions: 1 }] });
    await expect(admin.createTopics({ topics: [{ topic: 'dup', numPartitions: 1 }] })).resolves.toBe(false);
    await expect(admin.createTopics({ topics: [{ topic: 'bad/name', numPartitions: 1 }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_TOPIC_EXCEPTION' })],
    });
    await expect(
      admin.createTopics({ topics: [{ topic: 'too-many-replicas', numPartitions: 1, replicationFactor: 3 }] }),
    ).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_REPLICATION_FACTOR' })],
    });
  });
});
