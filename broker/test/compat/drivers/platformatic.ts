// @platformatic/kafka: its side of the compatibility matrix (see ../tasks.ts for the
// operations). 1.x compresses snappy and lz4 with bundled codecs and zstd only where node:zlib
// has it (Node 22.15+; the matrix marks zstd n/a below that). `read` uses raw Fetch requests
// through Consumer.fetch, which needs no group.

import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  ProduceAcks,
  defaultPartitioner,
  alterPartitionReassignmentsV0,
  kGetBootstrapConnection,
  listPartitionReassignmentsV0,
  type Connection,
  type Message,
} from '@platformatic/kafka';
import type { ReadRecord } from '../records.js';
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
  type ReadResult,
  type ReadTask,
} from '../tasks.js';
import { deadline, packageVersion, runDriver, sleep } from './main.js';

const CLIENT_ID = 'runnel-compat-platformatic';

function brokers(bootstrap: string): string[] {
  return bootstrap.split(',');
}

async function produce(task: ProduceTask, out: ProduceResult): Promise<void> {
  const producer = new Producer({
    clientId: CLIENT_ID,
    bootstrapBrokers: brokers(task.bootstrap),
    ...(task.compression === 'none' ? {} : { compression: task.compression }),
    ...(task.idempotence === 'on' ? { idempotent: true } : task.idempotence === 'off' ? { idempotent: false } : {}),
  });
  const delivered: NonNullable<ProduceResult['delivered']> = [];
  out.delivered = delivered;
  try {
    // One send per partition: the result holds each partition's base offset.
    for (const p of [...new Set(task.records.map((r) => r.partition))]) {
      const indexes = task.records.map((r, i) => (r.partition === p ? i : -1)).filter((i) => i >= 0);
      const result = await producer.send({
        acks: ProduceAcks.ALL,
        messages: indexes.map((i) => {
          const r = task.records[i];
          return {
            topic: task.topic,
            partition: r.partition,
            key: Buffer.from(r.key),
            value: Buffer.from(r.value),
            headers: new Map(r.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
            ...(r.timestamp === null ? {} : { timestamp: BigInt(r.timestamp) }),
          };
        }),
      });
      for (const o of result.offsets ?? [])
        delivered.push({ index: indexes[0], partition: o.partition, offset: Number(o.offset) });
    }
  } finally {
    await producer.close();
  }
}

function headersOf(h: Map<Buffer, Buffer> | undefined): Array<[string, string]> {
  return [...(h ?? new Map<Buffer, Buffer>())].map(([k, v]) => [
    k.toString(),
    v === undefined || v === null ? '' : v.toString(),
  ]);
}

async function read(task: ReadTask, out: ReadResult): Promise<void> {
  const consumer = new Consumer({
    clientId: CLIENT_ID,
    groupId: 'runnel-compat-unused',
    bootstrapBrokers: brokers(task.bootstrap),
  });
  const records: ReadRecord[] = [];
  out.records = records;
  const late = deadline(task.deadlineMs);
  try {
    const md = await consumer.metadata({ topics: [task.topic] });
    const topic = md.topics.get(task.topic)!;
    const next = new Map<number, bigint>(task.endOffsets.map((_, p) => [p, 0n]));
    const want = task.endOffsets.reduce((a, b) => a + b, 0);
    while ([...next].some(([p, o]) => o < BigInt(task.endOffsets[p]))) {
      if (late()) throw new Error(`read ${records.length} of ${want} records before the deadline`);
      // Each partition from its leader.
      const byLeader = new Map<number, number[]>();
      for (const p of next.keys()) {
        const leader = topic.partitions[p].leader;
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
      }
      for (const [node, partitions] of byLeader) {
        const response = await consumer.fetch({
          node,
          maxWaitTime: 100,
          topics: [
            {
              topicId: topic.id,
              partitions: partitions.map((partition) => ({
                partition,
                fetchOffset: next.get(partition)!,
                partitionMaxBytes: 4 << 20,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              })),
            },
          ],
        });
        for (const p of response.responses[0].partitions) {
          if (p.errorCode !== 0)
            throw new Error(`fetch of ${task.topic}-${p.partitionIndex} failed with error ${p.errorCode}`);
          for (const batch of p.records ?? []) {
            for (const r of batch.records) {
              const offset = batch.firstOffset + BigInt(r.offsetDelta);
              if (offset < next.get(p.partitionIndex)!) continue;
              records.push({
                partition: p.partitionIndex,
                offset: Number(offset),
                key: r.key === null || r.key === undefined ? null : r.key.toString(),
                value: r.value === null || r.value === undefined ? null : r.value.toString(),
                headers: r.headers.map(([k, v]) => [k!.toString(), v === null || v === undefined ? '' : v.toString()]),
                timestamp: Number(batch.firstTimestamp + r.timestampDelta),
              });
              next.set(p.partitionIndex, offset + 1n);
            }
          }
        }
      }
    }
  } finally {
    await consumer.close();
  }
}

async function group(task: GroupTask, out: GroupResult): Promise<void> {
  const consumer = new Consumer({
    clientId: CLIENT_ID,
    groupId: task.groupId,
    bootstrapBrokers: brokers(task.bootstrap),
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  const records: ReadRecord[] = [];
  out.records = records;
  try {
    const stream = await consumer.consume({
      topics: [task.topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
    });
    const timer = sleep(task.deadlineMs).then(() => 'deadline' as const);
    const iterator = stream[Symbol.asyncIterator]();
    while (records.length < task.count) {
      const next = await Promise.race([iterator.next(), timer]);
      if (next === 'deadline') {
        await stream.close();
        throw new Error(`read ${records.length} of ${task.count} records before the deadline`);
      }
      if (next.done) break;
      const m = next.value;
      records.push({
        partition: m.partition,
        offset: Number(m.offset),
        key: m.key === null || m.key === undefined ? null : m.key.toString(),
        value: m.value === null || m.value === undefined ? null : m.value.toString(),
        headers: headersOf(m.headers),
        timestamp: Number(m.timestamp),
      });
      await m.commit();
    }
    await stream.close();
  } finally {
    await consumer.close();
  }
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: brokers(task.bootstrap) });
  try {
    const [g] = await admin.listConsumerGroupOffsets({ groups: [task.groupId] });
    const t = g?.topics.find((x) => x.name === task.topic);
    out.committed = Object.fromEntries(
      (t?.partitions ?? [])
        .sort((a, b) => a.partitionIndex - b.partitionIndex)
        .map((p) => [String(p.partitionIndex), Number(p.committedOffset)]),
    );
  } finally {
    await admin.close();
  }
}

async function member(task: MemberTask, out: MemberResult): Promise<void> {
  const consumer = new Consumer({
    clientId: CLIENT_ID,
    groupId: task.groupId,
    bootstrapBrokers: brokers(task.bootstrap),
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    rebalanceTimeout: 10_000,
  });
  const records: ReadRecord[] = [];
  out.records = records;
  let assignment: number[] = [];
  consumer.on('consumer:group:join', (e: { assignments: Array<{ topic: string; partitions: number[] }> | null }) => {
    assignment = [...(e.assignments?.find((a) => a.topic === task.topic)?.partitions ?? [])].sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({ event: 'assigned', partitions: assignment }) + '\n');
  });
  try {
    const stream = await consumer.consume({
      topics: [task.topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
    });
    let failure: Error | undefined;
    stream.on('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => {
      records.push({
        partition: m.partition,
        offset: Number(m.offset),
        key: m.key === null || m.key === undefined ? null : m.key.toString(),
        value: m.value === null || m.value === undefined ? null : m.value.toString(),
        headers: headersOf(m.headers),
        timestamp: Number(m.timestamp),
      });
      stream.pause();
      // Called without a callback, commit() returns its promise.
      Promise.resolve(m.commit()).then(
        () => stream.resume(),
        (e: Error) => {
          failure = e;
          stream.resume();
        },
      );
    });
    stream.on('error', (e: Error) => (failure = e));
    const late = deadline(task.deadlineMs);
    while (!existsSync(task.stopFile)) {
      if (failure) throw failure;
      if (late()) throw new Error(`not told to stop before the deadline; read ${records.length} records`);
      await sleep(100);
    }
    out.assignment = assignment;
    await stream.close();
  } finally {
    await consumer.close();
  }
}

function errorName(e: unknown): string {
  const x = e as {
    apiId?: string;
    errors?: Array<{ apiId?: string; errors?: Array<{ apiId?: string }> }>;
    message?: string;
  };
  return x.apiId ?? x.errors?.[0]?.apiId ?? x.errors?.[0]?.errors?.[0]?.apiId ?? String(x.message ?? e);
}

async function admin(task: AdminTask, out: AdminResult): Promise<void> {
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: brokers(task.bootstrap) });
  try {
    const topic = task.topic;
    const [created] = await admin.createTopics({
      topics: [topic],
      partitions: task.partitions,
      replicas: task.replicationFactor,
      configs: [{ name: 'retention.ms', value: '86400000' }],
    });
    out.create = 'ok';
    out.createdPartitions = created.partitions;
    try {
      await admin.createTopics({ topics: [topic], partitions: task.partitions, replicas: task.replicationFactor });
      out.createAgain = 'ok';
    } catch (e) {
      out.createAgain = errorName(e);
    }
    out.listed = (await admin.listTopics()).includes(topic);
    const md = await admin.metadata({ topics: [topic], forceUpdate: true });
    out.partitions = md.topics.get(topic)!.partitions.map((p, partition) => ({
      partition,
      leader: p.leader,
      replicas: [...p.replicas].sort((a, b) => a - b),
      isr: [...p.isr].sort((a, b) => a - b),
    }));
    // @platformatic/kafka has no describeCluster: the cluster as Metadata reports it.
    out.cluster = {
      clusterId: md.id,
      controller: md.controllerId,
      nodes: [...md.brokers].map(([id, b]) => ({ id, host: b.host, port: b.port })).sort((a, b) => a.id - b.id),
    };

    const describe = async (resourceType: 2 | 4, resourceName: string, keys: string[]): Promise<ConfigObservation> => {
      const [res] = await admin.describeConfigs({
        resources: [{ resourceType, resourceName, configurationKeys: keys }],
      });
      const entries = new Map(res.configs.map((c) => [c.name, c]));
      return Object.fromEntries(
        keys.map((k) => {
          const e = entries.get(k);
          return [k, e ? [e.value ?? null, CONFIG_SOURCES[e.configSource] ?? String(e.configSource)] : null];
        }),
      );
    };
    out.topicConfigs = await describe(2, topic, task.topicConfigKeys);
    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: 2,
          resourceName: topic,
          configs: [
            { name: 'retention.bytes', configOperation: 0, value: '1048576' },
            { name: 'retention.ms', configOperation: 1 },
          ],
        },
      ],
    });
    out.topicConfigsAltered = await describe(2, topic, task.topicConfigKeys);
    try {
      await admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: 2,
            resourceName: topic,
            configs: [{ name: 'retention.bytes', configOperation: 0, value: 'lots' }],
          },
        ],
      });
      out.alterInvalid = 'ok';
    } catch (e) {
      out.alterInvalid = errorName(e);
    }
    out.brokerConfigs = await describe(4, String(md.controllerId), task.brokerConfigKeys);

    await admin.deleteTopics({ topics: [topic] });
    out.delete = 'ok';
    out.listedAfterDelete = (await admin.listTopics()).includes(topic);
  } finally {
    await admin.close();
  }
}

/** Produces until told to stop, for the replication failover tests (broker/test/cluster/). */
interface ProduceContinuouslyTask {
  bootstrap: string;
  topic: string;
  keyPrefix: string;
  stopFile: string;
  deadlineMs: number;
  intervalMs: number;
}

interface ProduceContinuouslyResult {
  acked?: Array<{ partition: number; offset: number; key: string }>;
  failed?: number;
  errors?: string[];
  sent?: number;
}

const SETTLE_MS = 60_000;
const MAX_ERRORS = 20;
const MAX_BATCH = 500;
/** The default, 3 retries a second apart, gives up within ~4 s: retry for ~30 s (see below where). */
const RETRIES = 30;

/** An error's message with the distinct messages of the errors it gathers (retries, destinations). */
function errorSummary(e: unknown): string {
  const leaves = new Set<string>();
  const walk = (x: unknown): void => {
    const nested = (x as { errors?: unknown[] }).errors;
    if (Array.isArray(nested) && nested.length > 0) nested.forEach(walk);
    else leaves.add(x instanceof Error ? `${x.name}: ${x.message}` : String(x));
  };
  walk(e);
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return leaves.has(message) ? message : `${message} (${[...leaves].join('; ')})`;
}

/**
 * One record every intervalMs (key and value `<keyPrefix>-<seq>`, the default partitioner
 * choosing the partition) through an idempotent producer at acks=all, until stopFile exists or
 * deadlineMs passed; then every send settles (up to SETTLE_MS). A failed send is an outcome
 * here, not an error of the op.
 *
 * @platformatic/kafka takes a partition's sequence number when it encodes a batch and advances
 * it only once the batch is acknowledged: two sends in flight to one partition carry the same
 * sequence, and the broker rightly answers the second as a duplicate of the first (with the
 * first one's offset; its records are dropped). So each partition has at most one send in
 * flight, carrying every record made for it meanwhile. Nor does the client reset a partition's
 * sequence when a send fails (its batch may have been appended, or not): after a failure, once
 * nothing is in flight, the producer takes a new producer id, which starts every sequence at 0.
 * Its retries go to the leader the send started with (a NOT_LEADER_OR_FOLLOWER answer refreshes
 * the metadata once); later sends find a new leader when the metadata is refreshed (5 s).
 */
async function produceContinuously(task: ProduceContinuouslyTask, out: ProduceContinuouslyResult): Promise<void> {
  const producer = new Producer({
    clientId: CLIENT_ID,
    bootstrapBrokers: brokers(task.bootstrap),
    idempotent: true,
    retries: RETRIES,
  });
  const acked: NonNullable<ProduceContinuouslyResult['acked']> = [];
  const errors = new Set<string>();
  let failed = 0;
  let sent = 0;
  let settled = false;
  const noteError = (e: unknown): void => {
    if (errors.size < MAX_ERRORS) errors.add(errorSummary(e));
  };
  try {
    const md = await producer.metadata({ topics: [task.topic] });
    const partitions = md.topics.get(task.topic)!.partitionsCount;
    // Where the client's default partitioner puts a key (no partition given).
    const partitionOf = (key: Buffer): number => defaultPartitioner({ topic: task.topic, key }, key) % partitions;
    const queues = Array.from({ length: partitions }, (): string[] => []);
    const busy = new Set<number>();
    let stopping = false;
    let renew = false;
    const sendPartition = async (keys: string[]): Promise<void> => {
      try {
        const result = await producer.send({
          acks: ProduceAcks.ALL,
          messages: keys.map((k) => ({ topic: task.topic, key: Buffer.from(k), value: Buffer.from(k) })),
        });
        if (settled) return;
        const [o] = result.offsets ?? [];
        if (!o) throw new Error('the send result has no offset');
        keys.forEach((key, i) => acked.push({ partition: o.partition, offset: Number(o.offset) + i, key }));
      } catch (e) {
        if (settled) return;
        failed += keys.length;
        noteError(e);
        renew = true;
      }
    };
    const sender = (async () => {
      while (!settled && !(stopping && busy.size === 0 && queues.every((q) => q.length === 0))) {
        if (renew && busy.size === 0) {
          try {
            await producer.initIdempotentProducer({});
            renew = false;
          } catch (e) {
            noteError(e);
            await sleep(1000);
          }
          continue;
        }
        if (!renew) {
          queues.forEach((queue, partition) => {
            if (queue.length === 0 || busy.has(partition)) return;
            busy.add(partition);
            void sendPartition(queue.splice(0, MAX_BATCH)).finally(() => busy.delete(partition));
          });
        }
        await sleep(Math.min(5, task.intervalMs));
      }
    })();
    const late = deadline(task.deadlineMs);
    while (!existsSync(task.stopFile) && !late()) {
      const key = `${task.keyPrefix}-${sent}`;
      queues[partitionOf(Buffer.from(key))].push(key);
      sent++;
      await sleep(task.intervalMs);
    }
    stopping = true;
    const timer = sleep(SETTLE_MS).then(() => 'timeout' as const);
    if ((await Promise.race([sender, timer])) === 'timeout') {
      // Records still queued or in flight: their fate is unknown.
      failed = sent - acked.length;
      noteError(new Error(`sends not settled within ${SETTLE_MS} ms`));
    }
  } finally {
    settled = true;
    out.acked = [...acked].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    out.failed = failed;
    out.errors = [...errors];
    out.sent = sent;
    await producer.close();
  }
}

/** Moves one partition (replicas a list) or cancels its reassignment in flight (replicas null). */
interface ReassignTask {
  bootstrap: string;
  topic: string;
  partition: number;
  replicas: number[] | null;
  waitMs: number;
}

interface ReassignResult {
  listedWhileMoving?: boolean;
  done?: boolean;
  replicas?: number[];
}

const REASSIGN_TIMEOUT_MS = 30_000;
const REASSIGN_POLL_MS = 200;

/**
 * @platformatic/kafka 1.x encodes AlterPartitionReassignments and ListPartitionReassignments but
 * its Admin has no methods for them: the driver sends the client's own requests on a bootstrap
 * connection (any broker forwards them to the active controller). AlterPartitionReassignments is
 * pinned to v0: the client's v1 response parser lacks AllowReplicationFactorChange (a bool before
 * ErrorCode in Kafka's schema from v1), so it reads a v1 answer one byte off.
 */
function bootstrapConnection(admin: Admin): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) =>
    admin[kGetBootstrapConnection]((e, c) => (e ? reject(e) : resolve(c!))),
  );
}

/**
 * AlterPartitionReassignments for one partition, then ListPartitionReassignments until the
 * partition is no longer listed or waitMs passed; the replicas at the end as Metadata reports them.
 */
async function reassign(task: ReassignTask, out: ReassignResult): Promise<void> {
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: brokers(task.bootstrap) });
  try {
    // A null replicas list (cancel) is encoded as a null array.
    const replicas = task.replicas as number[];
    // v0 ignores allowReplicationFactorChange.
    await alterPartitionReassignmentsV0.api.async(await bootstrapConnection(admin), REASSIGN_TIMEOUT_MS, true, [
      { name: task.topic, partitions: [{ partitionIndex: task.partition, replicas }] },
    ]);
    const late = deadline(task.waitMs);
    out.listedWhileMoving = false;
    out.done = false;
    while (!late()) {
      const listed = await listPartitionReassignmentsV0.api.async(
        await bootstrapConnection(admin),
        REASSIGN_TIMEOUT_MS,
        [{ name: task.topic, partitionIndexes: [task.partition] }],
      );
      const moving = listed.topics.some(
        (t) => t.name === task.topic && t.partitions.some((p) => p.partitionIndex === task.partition),
      );
      if (!moving) {
        out.done = true;
        break;
      }
      out.listedWhileMoving = true;
      await sleep(REASSIGN_POLL_MS);
    }
    const md = await admin.metadata({ topics: [task.topic], forceUpdate: true });
    out.replicas = [...md.topics.get(task.topic)!.partitions[task.partition].replicas];
  } finally {
    await admin.close();
  }
}

function version(_task: unknown, out: Record<string, unknown>): Promise<void> {
  out.name = '@platformatic/kafka';
  out.version = packageVersion('@platformatic/kafka');
  out.runtime = `Node ${process.versions.node}`;
  return Promise.resolve();
}

await runDriver({
  produce,
  read,
  group,
  member,
  admin,
  version,
  reassign,
  'produce-continuously': produceContinuously,
});
