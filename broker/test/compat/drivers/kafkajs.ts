// kafkajs 2.2.4: its side of the compatibility matrix (see ../tasks.ts for the operations).
// kafkajs has gzip built in and needs codec plugins for snappy, lz4 and zstd (the matrix marks
// those n/a); it has AlterConfigs but not IncrementalAlterConfigs, and no consumer without a
// group, so `read` uses a throwaway group that commits nothing.

import { CompressionTypes, Kafka, logLevel, type IHeaders, type KafkaMessage } from 'kafkajs';
import { existsSync } from 'node:fs';
import {
  CONFIG_SOURCES,
  type MemberResult,
  type MemberTask,
  type AdminResult,
  type AdminTask,
  type ConfigObservation,
  type GroupResult,
  type GroupTask,
  type ProduceResult,
  type ProduceTask,
  type ReadRecord,
  type ReadResult,
  type ReadTask,
} from '../tasks.js';
import { packageVersion, runDriver, sleep } from './main.js';

const CLIENT_ID = 'runnel-compat-kafkajs';
const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP } as const;

function kafka(bootstrap: string): Kafka {
  return new Kafka({
    clientId: CLIENT_ID,
    brokers: bootstrap.split(','),
    logLevel: logLevel.ERROR,
    retry: { retries: 5 },
  });
}

function headersOf(h: IHeaders | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(h ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, one === undefined ? '' : one.toString()]);
  }
  return out;
}

function record(partition: number, m: KafkaMessage): ReadRecord {
  return {
    partition,
    offset: Number(m.offset),
    key: m.key === null ? null : m.key.toString(),
    value: m.value === null ? null : m.value.toString(),
    headers: headersOf(m.headers),
    timestamp: Number(m.timestamp),
  };
}

async function produce(task: ProduceTask, out: ProduceResult): Promise<void> {
  const codec = CODECS[task.compression as keyof typeof CODECS];
  if (codec === undefined) throw new Error(`kafkajs has no built-in ${task.compression} codec`);
  const producer = kafka(task.bootstrap).producer(
    task.idempotence === 'on' ? { idempotent: true, maxInFlightRequests: 1 } : {},
  );
  await producer.connect();
  const delivered: NonNullable<ProduceResult['delivered']> = [];
  out.delivered = delivered;
  try {
    // One send per partition: kafkajs reports the base offset of each partition's batch.
    for (const p of [...new Set(task.records.map((r) => r.partition))]) {
      const indexes = task.records.map((r, i) => (r.partition === p ? i : -1)).filter((i) => i >= 0);
      const meta = await producer.send({
        topic: task.topic,
        acks: -1,
        compression: codec,
        messages: indexes.map((i) => {
          const r = task.records[i];
          // Headers as an object: kafkajs writes each key once, in insertion order.
          return {
            partition: r.partition,
            key: r.key,
            value: r.value,
            headers: Object.fromEntries(r.headers),
            ...(r.timestamp === null ? {} : { timestamp: String(r.timestamp) }),
          };
        }),
      });
      for (const m of meta) delivered.push({ index: indexes[0], partition: m.partition, offset: Number(m.baseOffset) });
    }
  } finally {
    await producer.disconnect();
  }
}

async function consumeInGroup(
  bootstrap: string,
  groupId: string,
  topic: string,
  count: number,
  deadlineMs: number,
  commit: boolean,
): Promise<{ records: ReadRecord[]; error?: string }> {
  const consumer = kafka(bootstrap).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const next = new Map<number, number>();
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (records.length >= count) return;
        records.push(record(partition, message));
        next.set(partition, Number(message.offset) + 1);
        if (records.length === count) {
          if (commit)
            await consumer.commitOffsets([...next].map(([p, o]) => ({ topic, partition: p, offset: String(o) })));
          done();
        }
      },
    });
    const timedOut = await Promise.race([finished.then(() => false), sleep(deadlineMs).then(() => true)]);
    if (timedOut) return { records, error: `read ${records.length} of ${count} records before the deadline` };
    return { records };
  } finally {
    await consumer.disconnect();
  }
}

async function read(task: ReadTask, out: ReadResult): Promise<void> {
  const want = task.endOffsets.reduce((a, b) => a + b, 0);
  const r = await consumeInGroup(
    task.bootstrap,
    `runnel-compat-read-${process.pid}-${Date.now()}`,
    task.topic,
    want,
    task.deadlineMs,
    false,
  );
  out.records = r.records;
  if (r.error) throw new Error(r.error);
}

async function group(task: GroupTask, out: GroupResult): Promise<void> {
  const r = await consumeInGroup(task.bootstrap, task.groupId, task.topic, task.count, task.deadlineMs, true);
  out.records = r.records;
  if (r.error) throw new Error(r.error);
  const admin = kafka(task.bootstrap).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: task.groupId, topics: [task.topic] });
    out.committed = Object.fromEntries(
      (t?.partitions ?? [])
        .sort((a, b) => a.partition - b.partition)
        .map((p) => [String(p.partition), Number(p.offset)]),
    );
  } finally {
    await admin.disconnect();
  }
}

async function member(task: MemberTask, out: MemberResult): Promise<void> {
  const consumer = kafka(task.bootstrap).consumer({
    groupId: task.groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    rebalanceTimeout: 10_000,
  });
  const records: ReadRecord[] = [];
  out.records = records;
  let assignment: number[] = [];
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assignment = [...(e.payload.memberAssignment[task.topic] ?? [])].sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({ event: 'assigned', partitions: assignment }) + '\n');
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: task.topic, fromBeginning: true });
    // Each record is committed before the next is handled, so a partition that moves to the
    // other member resumes exactly after what this one read.
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        records.push(record(partition, message));
        await consumer.commitOffsets([{ topic: task.topic, partition, offset: String(Number(message.offset) + 1) }]);
      },
    });
    const end = Date.now() + task.deadlineMs;
    while (!existsSync(task.stopFile)) {
      if (Date.now() > end) throw new Error(`not told to stop before the deadline; read ${records.length} records`);
      await sleep(100);
    }
    out.assignment = assignment;
  } finally {
    await consumer.disconnect();
  }
}

function errorType(e: unknown): string {
  const x = e as { type?: string; errors?: Array<{ type?: string }>; message?: string };
  return x.type ?? x.errors?.[0]?.type ?? String(x.message ?? e);
}

async function admin(task: AdminTask, out: AdminResult): Promise<void> {
  const admin = kafka(task.bootstrap).admin();
  await admin.connect();
  try {
    const topic = task.topic;
    const created = await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: task.partitions,
          replicationFactor: task.replicationFactor,
          configEntries: [{ name: 'retention.ms', value: '86400000' }],
        },
      ],
      waitForLeaders: true,
    });
    out.create = created ? 'ok' : 'TOPIC_ALREADY_EXISTS';
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    out.createdPartitions = md.topics[0].partitions.length;
    try {
      // kafkajs resolves false (instead of failing) when the topic already exists.
      const again = await admin.createTopics({
        topics: [{ topic, numPartitions: task.partitions, replicationFactor: task.replicationFactor }],
      });
      out.createAgain = again ? 'ok' : 'TOPIC_ALREADY_EXISTS';
    } catch (e) {
      out.createAgain = errorType(e);
    }
    out.listed = (await admin.listTopics()).includes(topic);
    out.partitions = md.topics[0].partitions
      .map((p) => ({
        partition: p.partitionId,
        leader: p.leader,
        replicas: [...p.replicas].sort((a, b) => a - b),
        isr: [...p.isr].sort((a, b) => a - b),
      }))
      .sort((a, b) => a.partition - b.partition);

    const c = await admin.describeCluster();
    out.cluster = {
      clusterId: c.clusterId,
      controller: c.controller,
      nodes: c.brokers.map((b) => ({ id: b.nodeId, host: b.host, port: b.port })).sort((a, b) => a.id - b.id),
    };

    const describe = async (type: number, name: string, keys: string[]): Promise<ConfigObservation> => {
      const res = await admin.describeConfigs({ resources: [{ type, name }], includeSynonyms: false });
      const entries = new Map(res.resources[0].configEntries.map((e) => [e.configName, e]));
      return Object.fromEntries(
        keys.map((k) => {
          const e = entries.get(k) as { configValue: string; configSource?: number } | undefined;
          return [k, e ? [e.configValue, CONFIG_SOURCES[e.configSource ?? 0] ?? String(e.configSource)] : null];
        }),
      );
    };
    out.topicConfigs = await describe(2, topic, task.topicConfigKeys);
    // AlterConfigs replaces the topic's whole set: sending only retention.bytes sets it and
    // drops the retention.ms override, as the incremental SET + DELETE of other clients does.
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: topic, configEntries: [{ name: 'retention.bytes', value: '1048576' }] }],
    });
    out.topicConfigsAltered = await describe(2, topic, task.topicConfigKeys);
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: topic, configEntries: [{ name: 'retention.bytes', value: 'lots' }] }],
      });
      out.alterInvalid = 'ok';
    } catch (e) {
      out.alterInvalid = errorType(e);
    }
    out.brokerConfigs = await describe(4, String(c.controller), task.brokerConfigKeys);

    await admin.deleteTopics({ topics: [topic] });
    out.delete = 'ok';
    out.listedAfterDelete = (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

function version(_task: unknown, out: Record<string, unknown>): Promise<void> {
  out.name = 'kafkajs';
  out.version = packageVersion('kafkajs');
  out.runtime = `Node ${process.versions.node}`;
  return Promise.resolve();
}

await runDriver({ produce, read, group, member, admin, version });
