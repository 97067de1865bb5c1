// What the cluster tests ask a running Runnel cluster, and through which client: the broker's own
// NodeClient for the protocol facts a test asserts exactly (Metadata leaders, DescribeQuorum,
// FindCoordinator, CreateTopics), and kcat, kafkajs, the Java client and confluent-kafka for what
// users see. Every wait polls a condition until a deadline; nothing sleeps for a fixed time.

import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { systemClock } from '../../clock.js';
import { NodeClient } from '../../net/node-client.js';
import { ErrorCode, errorName } from '../../protocol/errors.js';
import { CreateTopics, DescribeQuorum, FindCoordinator, ListOffsets, Metadata } from '../../protocol/messages/index.js';
import { CLIENTS, type ClientId } from '../compat/clients.js';
import type { ClusterDescription, ClusterResult, GroupResult, ReadRecord } from '../compat/tasks.js';
import type { TestCluster } from '../cluster-processes.js';
import { kcat } from '../kcat.js';

const REQUEST_TIMEOUT_MS = 10_000;
const DRIVER_TIMEOUT_MS = 90_000;
const POLL_MS = 50;
export const LOOPBACK = '127.0.0.1';

/** One request to the broker at `port` on a fresh connection, closed after. */
export async function ask<T>(port: number, send: (client: NodeClient) => Promise<T>): Promise<T> {
  const client = new NodeClient({ host: LOOPBACK, port, clock: systemClock, clientId: 'runnel-cluster-test' });
  try {
    return await send(client);
  } finally {
    client.close();
  }
}

/** Writes every running node's log next to its data, for a test that failed; returns where. */
export async function keepNodeLogs(cluster: TestCluster): Promise<string[]> {
  const files: string[] = [];
  for (const n of cluster.nodes) {
    if (!n.process) continue;
    const file = path.join(cluster.dataDir, `node-${n.nodeId}.log`);
    await writeFile(file, n.process.output());
    files.push(file);
  }
  return files;
}

// ---- protocol facts --------------------------------------------------------------------------

export interface MetadataView {
  clusterId: string | null;
  controllerId: number;
  brokers: number[];
  /** Client port of each broker listed. */
  brokerPorts: Map<number, number>;
  /** Leader of each partition of each topic asked for, by partition index (-1: offline). */
  leaders: Map<string, number[]>;
  /** In-sync replicas of each partition, by partition index. */
  isr: Map<string, number[][]>;
}

/** Metadata as the broker at `port` answers it (never auto-creating a topic). */
export function metadata(port: number, topics: string[] | null = null): Promise<MetadataView> {
  return ask(port, async (c) => {
    const res = await c.request(
      Metadata,
      'latest',
      {
        topics: topics === null ? null : topics.map((name) => ({ name })),
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      },
      { timeoutMs: REQUEST_TIMEOUT_MS },
    );
    const leaders = new Map<string, number[]>();
    const isr = new Map<string, number[][]>();
    for (const t of res.topics) {
      if (t.errorCode !== ErrorCode.NONE) throw new Error(`Metadata of ${t.name}: ${errorName(t.errorCode)}`);
      const byIndex = [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex);
      leaders.set(
        t.name!,
        byIndex.map((p) => p.leaderId),
      );
      isr.set(
        t.name!,
        byIndex.map((p) => [...p.isrNodes].sort((a, b) => a - b)),
      );
    }
    return {
      clusterId: res.clusterId,
      controllerId: res.controllerId,
      brokers: res.brokers.map((b) => b.nodeId).sort((a, b) => a - b),
      brokerPorts: new Map(res.brokers.map((b) => [b.nodeId, b.port])),
      leaders,
      isr,
    };
  });
}

export interface QuorumView {
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  voters: number[];
  observers: number[];
  /** How far each voter's log reaches, as the quorum leader last saw it. */
  voterLogEndOffsets: Map<number, number>;
}

/** DescribeQuorum of `__cluster_metadata-0`, through the broker at `port` (forwarded to the quorum leader). */
export function describeQuorum(port: number): Promise<QuorumView> {
  return ask(port, async (c) => {
    const res = await c.request(
      DescribeQuorum,
      'latest',
      { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] },
      { timeoutMs: REQUEST_TIMEOUT_MS },
    );
    if (res.errorCode !== ErrorCode.NONE) throw new Error(`DescribeQuorum: ${errorName(res.errorCode)}`);
    const p = res.topics[0].partitions[0];
    if (p.errorCode !== ErrorCode.NONE) throw new Error(`DescribeQuorum: ${errorName(p.errorCode)}`);
    return {
      leaderId: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      highWatermark: Number(p.highWatermark),
      voters: p.currentVoters.map((v) => v.replicaId).sort((a, b) => a - b),
      observers: p.observers.map((v) => v.replicaId).sort((a, b) => a - b),
      voterLogEndOffsets: new Map(p.currentVoters.map((v) => [v.replicaId, Number(v.logEndOffset)])),
    };
  });
}

/** The node FindCoordinator names for a consumer group, asked of the broker at `port`. */
export function findCoordinator(port: number, groupId: string): Promise<number> {
  return ask(port, async (c) => {
    const res = await c.request(
      FindCoordinator,
      'latest',
      { key: groupId, keyType: 0, coordinatorKeys: [groupId] },
      { timeoutMs: REQUEST_TIMEOUT_MS },
    );
    const answer = res.coordinators[0] ?? res;
    if (answer.errorCode !== ErrorCode.NONE) throw new Error(`FindCoordinator: ${errorName(answer.errorCode)}`);
    return answer.nodeId;
  });
}

/** CreateTopics through the broker at `port`; resolves with the error name ('NONE' when created). */
export function createTopic(
  port: number,
  name: string,
  partitions: number,
  options: { replicationFactor?: number; configs?: Record<string, string> } = {},
): Promise<string> {
  return ask(port, async (c) => {
    const configs = Object.entries(options.configs ?? {}).map(([n, value]) => ({ name: n, value }));
    const res = await c.request(
      CreateTopics,
      'latest',
      {
        topics: [
          {
            name,
            numPartitions: partitions,
            replicationFactor: options.replicationFactor ?? -1,
            assignments: [],
            configs,
          },
        ],
        timeoutMs: REQUEST_TIMEOUT_MS,
        validateOnly: false,
      },
      { timeoutMs: REQUEST_TIMEOUT_MS + 1000 },
    );
    return errorName(res.topics[0].errorCode);
  });
}

/** ListOffsets (latest) of these partitions at the broker at `port`: the error name of each. */
export function listOffsetErrors(port: number, topic: string, partitions: number[]): Promise<string[]> {
  return ask(port, async (c) => {
    const res = await c.request(
      ListOffsets,
      'latest',
      {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: partitions.map((p) => ({ partitionIndex: p, timestamp: -1 })) }],
        timeoutMs: REQUEST_TIMEOUT_MS,
      },
      { timeoutMs: REQUEST_TIMEOUT_MS },
    );
    return res.topics[0].partitions.map((p) => errorName(p.errorCode));
  });
}

/**
 * Waits until the leader of every partition of `topic`, as the broker at `port` names it, serves
 * it. Metadata names a new partition's leader as soon as the broker has applied the topic's
 * records, a moment before that leader has opened the partition's log (Produce meanwhile gets
 * NOT_LEADER_OR_FOLLOWER, which clients retry; kafkajs, not idempotent, resends the whole
 * request and duplicates the records of the partitions that had succeeded).
 */
export async function untilServing(port: number, topic: string, timeoutMs = 20_000): Promise<void> {
  await until(
    `every partition of ${topic} to be served by its leader`,
    async () => {
      const md = await metadata(port, [topic]);
      const byLeader = new Map<number, number[]>();
      md.leaders.get(topic)!.forEach((leader, p) => byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]));
      if (byLeader.has(-1)) return undefined;
      for (const [leader, partitions] of byLeader) {
        const errors = await listOffsetErrors(md.brokerPorts.get(leader)!, topic, partitions);
        if (errors.some((e) => e !== 'NONE')) return undefined;
      }
      return true;
    },
    timeoutMs,
  );
}

/** Kafka's GroupCoordinator.partitionFor: Utils.abs(groupId.hashCode) % partitions. */
export function kafkaOffsetsPartition(groupId: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
  return (h === -0x80000000 ? 0 : Math.abs(h)) % partitions;
}

/** Polls `check` until it returns a value other than undefined (errors count as not yet). */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      last = 'condition not met';
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last})`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// ---- the cluster as each client sees it ---------------------------------------------------------

/** kcat -L: brokers and controller from -J, the cluster id from librdkafka's metadata debug line. */
export async function kcatCluster(bootstrap: string): Promise<ClusterDescription> {
  const { code, stdout, stderr } = await kcat(['-b', bootstrap, '-L', '-J', '-X', 'debug=metadata']);
  if (code !== 0) throw new Error(`kcat -L failed (${code}): ${stderr.slice(-2000)}`);
  const md = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!) as {
    controllerid: number;
    brokers: Array<{ id: number; name: string }>;
  };
  const clusterId = /ClusterId: ([A-Za-z0-9_-]+)/.exec(stderr)?.[1] ?? null;
  return {
    clusterId,
    controller: md.controllerid,
    nodes: md.brokers
      .map((b) => {
        const [host, port] = b.name.split(':');
        return { id: b.id, host, port: Number(port) };
      })
      .sort((a, b) => a.id - b.id),
  };
}

export function kafkajsClient(bootstrap: string | string[], clientId = 'runnel-cluster-test'): Kafka {
  return new Kafka({
    clientId,
    brokers: typeof bootstrap === 'string' ? bootstrap.split(',') : bootstrap,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

export async function kafkajsCluster(bootstrap: string): Promise<ClusterDescription> {
  const admin = kafkajsClient(bootstrap).admin();
  await admin.connect();
  try {
    const c = await admin.describeCluster();
    return {
      clusterId: c.clusterId,
      controller: c.controller,
      nodes: c.brokers.map((b) => ({ id: b.nodeId, host: b.host, port: b.port })).sort((a, b) => a.id - b.id),
    };
  } finally {
    await admin.disconnect();
  }
}

const prepared = new Map<ClientId, Promise<void>>();

/** Runs one operation of a compatibility driver (Java, confluent-kafka) and returns its JSON answer. */
export async function runDriver<R extends { error?: string }>(
  id: ClientId,
  op: string,
  task: object,
  timeoutMs = DRIVER_TIMEOUT_MS,
): Promise<R> {
  const client = CLIENTS.find((c) => c.id === id)!;
  if (!prepared.has(id))
    prepared.set(
      id,
      client.prepare((line) => process.stderr.write(`[${id}] ${line}\n`)),
    );
  await prepared.get(id);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'runnel-cluster-task-'));
  const taskFile = path.join(dir, `${op}.json`);
  await writeFile(taskFile, JSON.stringify(task));
  const { cmd, args, env } = client.command(op, taskFile);
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ stdout: out, stderr: err });
    });
  });
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith('{') && !l.startsWith('{"event"'))
    .pop();
  if (!line) throw new Error(`${id} ${op} printed no result; stderr:\n${stderr.slice(-3000)}`);
  const result = JSON.parse(line) as R;
  if (result.error) throw new Error(`${id} ${op}: ${result.error}\nstderr:\n${stderr.slice(-3000)}`);
  return result;
}

export async function driverCluster(id: 'java' | 'python', bootstrap: string): Promise<ClusterDescription> {
  return (await runDriver<ClusterResult>(id, 'cluster', { bootstrap })).cluster!;
}

/** The Java consumer in group `groupId`: reads `count` records from the beginning, committing. */
export async function javaGroupRead(
  bootstrap: string,
  topic: string,
  groupId: string,
  count: number,
): Promise<ReadRecord[]> {
  const r = await runDriver<GroupResult>('java', 'group', { bootstrap, topic, groupId, count, deadlineMs: 60_000 });
  return r.records!;
}

// ---- records -------------------------------------------------------------------------------------

export interface KeyedRecord {
  partition: number;
  key: string;
  value: string;
}

/** Records by partition, in the order read: what must come back exactly. */
export function byPartition(records: readonly KeyedRecord[]): Map<number, Array<[string, string]>> {
  const out = new Map<number, Array<[string, string]>>();
  for (const r of records) {
    const list = out.get(r.partition) ?? [];
    list.push([r.key, r.value]);
    out.set(r.partition, list);
  }
  return new Map([...out].sort(([a], [b]) => a - b));
}

/** kafkajs produces `records` through the given bootstrap broker only (it routes each to its leader). */
export async function kafkajsProduce(bootstrap: string, topic: string, records: readonly KeyedRecord[]): Promise<void> {
  const producer = kafkajsClient(bootstrap).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: records.map((r) => ({ partition: r.partition, key: r.key, value: r.value })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** A kafkajs consumer in group `groupId` reads `count` records from the beginning, then leaves. */
export async function kafkajsGroupRead(
  bootstrap: string,
  topic: string,
  groupId: string,
  count: number,
  timeoutMs = 60_000,
): Promise<KeyedRecord[]> {
  const consumer = kafkajsClient(bootstrap).consumer({ groupId, maxWaitTimeInMs: 200 });
  const records: KeyedRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      // eslint-disable-next-line @typescript-eslint/require-await -- kafkajs wants a promise
      eachMessage: async ({ partition, message }) => {
        records.push({ partition, key: message.key!.toString(), value: message.value!.toString() });
      },
    });
    await until(
      `kafkajs group ${groupId} to read ${count} records`,
      () => Promise.resolve(records.length >= count ? true : undefined),
      timeoutMs,
    );
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** kcat reads one partition from the beginning to its end. */
export async function kcatReadPartition(
  bootstrap: string,
  topic: string,
  partition: number,
): Promise<Array<KeyedRecord & { offset: number }>> {
  const { code, stdout, stderr } = await kcat([
    '-b',
    bootstrap,
    '-C',
    '-t',
    topic,
    '-p',
    String(partition),
    '-o',
    'beginning',
    '-e',
    '-J',
  ]);
  if (code !== 0) throw new Error(`kcat consume of ${topic}-${partition} failed (${code}): ${stderr.slice(-2000)}`);
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { partition: number; offset: number; key: string; payload: string })
    .map((r) => ({ partition: r.partition, offset: r.offset, key: r.key, value: r.payload }));
}

/** kcat produces keyed records to one partition through the given bootstrap. */
export async function kcatProduce(
  bootstrap: string,
  topic: string,
  partition: number,
  records: ReadonlyArray<{ key: string; value: string }>,
): Promise<void> {
  const input = records.map((r) => `${r.key}\t${r.value}\n`).join('');
  const { code, stderr } = await kcat(
    ['-b', bootstrap, '-P', '-t', topic, '-p', String(partition), '-K', '\t', '-X', 'acks=all'],
    input,
  );
  if (code !== 0) throw new Error(`kcat produce to ${topic}-${partition} failed (${code}): ${stderr.slice(-2000)}`);
}
