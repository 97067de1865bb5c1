// A reassignment is metadata (the partition's adding and removing replicas), so it outlives what
// happens to the nodes carrying it out: started while the receiving broker is frozen, it survives
// the active controller's kill -9 (the new controller lists it), then the receiving broker is
// killed and restarted, and it still completes — the partition on its target replicas, every
// record there, the removed replica's directory gone. A follower throttle holds a move back until
// it is lifted. A move off the leader under an acks=all producer (the Java client) and a consumer
// group (kafkajs) loses, skips and repeats nothing.

import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  AlterPartitionReassignments,
  CreateTopics,
  IncrementalAlterConfigs,
  ListPartitionReassignments,
} from '../../protocol/messages/index.js';
import { errorName } from '../../protocol/errors.js';
import { startCluster, type TestCluster } from '../cluster-processes.js';
import {
  LOOPBACK,
  ask,
  describeQuorum,
  kafkajsClient,
  kafkajsProduce,
  kcatReadPartition,
  metadata,
  runDriver,
  until,
} from './cluster-clients.js';

const TOPIC = 'relocated';
const REQUEST_TIMEOUT_MS = 10_000;
const WAIT_MS = 45_000;
const TEST_TIMEOUT_MS = 150_000;

let cluster: TestCluster;
const portOf = (id: number) => cluster.node(id).clientPort!;
const alive = () => cluster.nodes.filter((n) => n.process).map((n) => n.nodeId);

/** ListPartitionReassignments through a running broker: the replicas of `topic`-0 while it moves, else null. */
const moving = (topic = TOPIC) =>
  // Never broker 4: it is frozen for part of the test.
  ask(portOf(alive().find((id) => id !== 4)!), async (c) => {
    const res = await c.request(
      ListPartitionReassignments,
      'latest',
      { timeoutMs: REQUEST_TIMEOUT_MS, topics: null },
      { timeoutMs: REQUEST_TIMEOUT_MS + 1000 },
    );
    return res.topics.find((t) => t.name === topic)?.partitions[0] ?? null;
  });

async function holdsReplica(nodeId: number, topic = TOPIC): Promise<boolean> {
  for (const dir of await readdir(path.join(cluster.dataDir, `node-${nodeId}`), { recursive: true }))
    if (path.basename(dir) === `${topic}-0`) return true;
  return false;
}

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 4,
    controllers: 3,
    overrides: { 'broker.session.timeout.ms': '4000', 'auto.leader.rebalance.enable': 'false' },
  });
}, 60_000);

afterAll(async () => {
  for (const n of cluster?.nodes ?? []) if (n.process) process.kill(n.process.pid, 'SIGCONT');
  await cluster?.stopAll();
});

/** Creates `topic` with one partition on brokers 1, 2, 3 and writes `records` to it. */
async function createOnFirstThree(topic: string, records: { partition: number; key: string; value: string }[]) {
  await ask(portOf(1), async (c) => {
    const res = await c.request(
      CreateTopics,
      'latest',
      {
        topics: [
          {
            name: topic,
            numPartitions: -1,
            replicationFactor: -1,
            assignments: [{ partitionIndex: 0, brokerIds: [1, 2, 3] }],
            configs: [],
          },
        ],
        timeoutMs: REQUEST_TIMEOUT_MS,
        validateOnly: false,
      },
      { timeoutMs: REQUEST_TIMEOUT_MS + 1000 },
    );
    expect(errorName(res.topics[0].errorCode)).toBe('NONE');
  });
  await until('the new topic to take records', async () => {
    await kafkajsProduce(`${LOOPBACK}:${portOf(1)}`, topic, records.slice(0, 1));
    return true;
  });
  for (let i = 1; i < records.length; i += 5)
    await kafkajsProduce(`${LOOPBACK}:${portOf(1)}`, topic, records.slice(i, i + 5));
}

/** AlterPartitionReassignments of `topic`-0 to `replicas`, through broker 2. */
async function move(topic: string, replicas: number[]) {
  const res = await ask(portOf(2), (c) =>
    c.request(
      AlterPartitionReassignments,
      'latest',
      {
        timeoutMs: REQUEST_TIMEOUT_MS,
        allowReplicationFactorChange: true,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, replicas }] }],
      },
      { timeoutMs: REQUEST_TIMEOUT_MS + 1000 },
    ),
  );
  expect(errorName(res.errorCode)).toBe('NONE');
  expect(errorName(res.responses[0].partitions[0].errorCode)).toBe('NONE');
}

/** IncrementalAlterConfigs SET (value) or DELETE (null) of configs of one resource (2 topic, 4 broker). */
async function setConfigs(resourceType: number, resourceName: string, configs: Record<string, string | null>) {
  const res = await ask(portOf(2), (c) =>
    c.request(
      IncrementalAlterConfigs,
      'latest',
      {
        resources: [
          {
            resourceType,
            resourceName,
            configs: Object.entries(configs).map(([name, value]) => ({
              name,
              configOperation: value === null ? 1 : 0,
              value,
            })),
          },
        ],
        validateOnly: false,
      },
      { timeoutMs: REQUEST_TIMEOUT_MS + 1000 },
    ),
  );
  expect(res.responses.map((r) => errorName(r.errorCode))).toEqual(['NONE']);
}

it(
  'a reassignment survives the active controller’s kill -9 and the receiving broker’s restart, and completes',
  async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ partition: 0, key: `k${i}`, value: `v${i}` }));
    await createOnFirstThree(TOPIC, records);

    process.kill(cluster.node(4).process!.pid, 'SIGSTOP');
    await move(TOPIC, [2, 3, 4]);
    expect(await moving()).toMatchObject({ addingReplicas: [4], removingReplicas: [1] });

    const controller = (await describeQuorum(portOf(2))).leaderId;
    await cluster.kill(controller);
    await until(
      'another active controller',
      async () => {
        const q = await describeQuorum(portOf(alive()[0]));
        return q.leaderId >= 0 && q.leaderId !== controller ? true : undefined;
      },
      WAIT_MS,
    );
    expect(await moving()).toMatchObject({ addingReplicas: [4], removingReplicas: [1] });

    // The receiving broker dies mid-way and comes back; so does the old controller.
    process.kill(cluster.node(4).process!.pid, 'SIGCONT');
    await cluster.kill(4);
    await cluster.restart(4);
    await cluster.restart(controller);
    await until('the reassignment to complete', async () => ((await moving()) === null ? true : undefined), WAIT_MS);

    const md = await until(
      'the partition on 2,3,4, all in sync',
      async () => {
        const m = await metadata(portOf(4), [TOPIC]);
        return [...m.isr.get(TOPIC)![0]].sort().join() === '2,3,4' ? m : undefined;
      },
      WAIT_MS,
    );
    expect([2, 3, 4]).toContain(md.leaders.get(TOPIC)![0]);
    const read = await kcatReadPartition(`${LOOPBACK}:${portOf(4)}`, TOPIC, 0);
    expect(read.map((r) => r.key)).toEqual(records.map((r) => r.key));
    await until('broker 1 to drop its replica', async () => !(await holdsReplica(1)) || undefined, WAIT_MS);
  },
  TEST_TIMEOUT_MS,
);

it(
  'a follower throttle (follower.replication.throttled.*) holds a move back until it is lifted',
  async () => {
    const topic = 'throttled';
    const kib = 'x'.repeat(100 * 1024);
    const records = Array.from({ length: 30 }, (_, i) => ({ partition: 0, key: `t${i}`, value: `${i}${kib}` }));
    await createOnFirstThree(topic, records);
    // 100 KB/s on broker 4 for its replica of partition 0: ~3 MB takes tens of seconds, not a moment.
    await setConfigs(4, '4', { 'follower.replication.throttled.rate': '100000' });
    await setConfigs(2, topic, { 'follower.replication.throttled.replicas': '0:4' });
    await move(topic, [2, 3, 4]);
    const startedMs = Date.now();
    await until('broker 4 to copy part of the partition', async () =>
      (await holdsReplica(4, topic)) ? true : undefined,
    );
    while (Date.now() - startedMs < 3000)
      expect(await moving(topic), 'the move must still be held back by the throttle').not.toBeNull();
    await setConfigs(4, '4', { 'follower.replication.throttled.rate': null });
    await setConfigs(2, topic, { 'follower.replication.throttled.replicas': null });
    await until(
      'the move to complete once the throttle is lifted',
      async () => ((await moving(topic)) === null ? true : undefined),
      WAIT_MS,
    );
    const read = await kcatReadPartition(`${LOOPBACK}:${portOf(4)}`, topic, 0);
    expect(read.map((r) => r.key)).toEqual(records.map((r) => r.key));
  },
  TEST_TIMEOUT_MS,
);

it(
  'a move off the leader under an acks=all producer and a consumer group loses, skips and repeats nothing',
  async () => {
    const topic = 'busy';
    await createOnFirstThree(topic, [{ partition: 0, key: 'first', value: 'first' }]);
    await setConfigs(2, topic, { 'min.insync.replicas': '2' });
    const consumed: string[] = [];
    const consumer = kafkajsClient(`${LOOPBACK}:${portOf(2)}`).consumer({
      groupId: 'busy-readers',
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      // eslint-disable-next-line @typescript-eslint/require-await -- kafkajs wants a promise
      eachMessage: async ({ message }) => void consumed.push(message.key!.toString()),
    });
    const stopFile = path.join(cluster.dataDir, `${topic}.stop`);
    const producing = runDriver<{ acked: { partition: number; offset: number; key: string }[]; error?: string }>(
      'java',
      'produce-continuously',
      { bootstrap: `${LOOPBACK}:${portOf(2)}`, topic, keyPrefix: 'busy', stopFile, deadlineMs: 90_000, intervalMs: 5 },
      TEST_TIMEOUT_MS,
    );
    try {
      await until('records to flow', () => Promise.resolve(consumed.length > 100 || undefined), WAIT_MS);
      await move(topic, [2, 3, 4]);
      await until('the move to complete', async () => ((await moving(topic)) === null ? true : undefined), WAIT_MS);
      const after = consumed.length;
      await until(
        'records to flow after the move',
        () => Promise.resolve(consumed.length > after + 100 || undefined),
        WAIT_MS,
      );
    } finally {
      await writeFile(stopFile, '');
    }
    const { acked } = await producing;
    const log = (await kcatReadPartition(`${LOOPBACK}:${portOf(2)}`, topic, 0)).map((r) => r.key);
    await until(
      'the group to read everything',
      () => Promise.resolve(consumed.length >= log.length || undefined),
      WAIT_MS,
    );
    await consumer.disconnect();
    // Every acknowledged record is in the log once, and the group read the log exactly: nothing skipped or repeated.
    const inLog = new Set(log);
    expect(inLog.size).toBe(log.length);
    for (const a of acked) expect(inLog.has(a.key), `acknowledged ${a.key}`).toBe(true);
    expect(consumed).toEqual(log);
    await until('broker 1 to drop its replica', async () => !(await holdsReplica(1, topic)) || undefined, WAIT_MS);
  },
  TEST_TIMEOUT_MS,
);
