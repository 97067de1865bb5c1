// The operator's admin (operator/kafka/admin.ts) against real brokers on loopback: what the scaling
// executor needs (brokers, reassignments, preferred leader elections, log dir usage, replication
// throttles, unregistering brokers) on four Runnel nodes (three voters), then the same core checks
// on four Apache Kafka 4.1 nodes (three voters + one broker), so what is asserted of Runnel is what
// Kafka answers. Every wait polls a condition; nothing sleeps for a fixed time.

import { spawnSync } from 'node:child_process';
import {
  Admin,
  ConfigResourceTypes,
  ConfigSources,
  ProduceAcks,
  Producer,
  type ConfigDescription,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaCluster, type BenchCluster } from '../../broker/bench/bench-cluster.js';
import { prepareKafka } from '../../broker/bench/kafka.js';
import { startCluster, type TestCluster } from '../../broker/test/cluster-processes.js';
import { until } from '../../broker/test/cluster/cluster-clients.js';
import { AdminPool, kafkaErrorMessage, type KafkaAdmin } from '../kafka/admin.js';

const TOPIC = 'moving';
const RATE = 10_000_000;
const RECORDS = 200;
const WAIT_MS = 30_000;
const THROTTLE_KEYS = {
  broker: ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'],
  topic: ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'],
};
const NEVER_REGISTERED = 77;
const hasJava = !spawnSync('java', ['-version']).error;

interface Target {
  bootstrap: string;
  admin: KafkaAdmin;
  /** A raw client, for what the checks read besides the admin under test. */
  raw: Admin;
}

/** RECORDS records of 1 KiB into partition 0, every replica acknowledging. */
async function fill(bootstrap: string): Promise<void> {
  const producer = new Producer({ clientId: 'admin-cluster-test', bootstrapBrokers: bootstrap.split(',') });
  try {
    await producer.send({
      acks: ProduceAcks.ALL,
      messages: Array.from({ length: RECORDS }, (_, i) => ({
        topic: TOPIC,
        partition: 0,
        key: Buffer.from(String(i)),
        value: Buffer.alloc(1024, i % 256),
      })),
    });
  } finally {
    await producer.close();
  }
}

/** The values of the throttle keys set on broker `id` and on TOPIC (defaults left out). */
async function throttleSeen(raw: Admin, id: number): Promise<Record<string, string | null>> {
  const described: ConfigDescription[] = await raw.describeConfigs({
    resources: [
      { resourceType: ConfigResourceTypes.BROKER, resourceName: String(id), configurationKeys: THROTTLE_KEYS.broker },
      { resourceType: ConfigResourceTypes.TOPIC, resourceName: TOPIC, configurationKeys: THROTTLE_KEYS.topic },
    ],
  });
  const seen: Record<string, string | null> = {};
  for (const r of described)
    for (const c of r.configs)
      if (c.configSource === ConfigSources.DYNAMIC_BROKER_CONFIG || c.configSource === ConfigSources.TOPIC_CONFIG)
        seen[c.name] = c.value ?? null;
  return seen;
}

/** Polls throttleSeen until it shows `expected`; what it shows last, for the assertion. */
async function untilSeen(raw: Admin, id: number, expected: Record<string, string>) {
  let seen: Record<string, string | null> = {};
  await until(
    `broker ${id} and ${TOPIC} to show ${JSON.stringify(expected)}`,
    async () => {
      seen = await throttleSeen(raw, id);
      return JSON.stringify(seen, Object.keys(seen).sort()) === JSON.stringify(expected, Object.keys(expected).sort())
        ? true
        : undefined;
    },
    WAIT_MS,
  ).catch(() => undefined);
  return seen;
}

async function partition0(admin: KafkaAdmin) {
  const p = (await admin.health()).partitions.find((q) => q.topic === TOPIC && q.partition === 0);
  if (!p) throw new Error(`${TOPIC}-0 not in the cluster's health`);
  return p;
}

/** Waits until no reassignment of TOPIC is listed and health shows `replicas` (in order), all in sync. */
async function untilMoved(admin: KafkaAdmin, replicas: number[]) {
  return until(
    `${TOPIC}-0 on ${replicas.join(',')}`,
    async () => {
      if ((await admin.listReassignments()).some((r) => r.topic === TOPIC)) return undefined;
      const p = await partition0(admin);
      const done =
        p.replicas.join(',') === replicas.join(',') && replicas.every((r) => p.isr.includes(r)) && p.leader >= 0;
      return done ? p : undefined;
    },
    WAIT_MS,
  );
}

/** The checks both clusters pass. */
function coreChecks(target: () => Target, nodeIds: number[]) {
  let moved: number[];

  it('lists every live broker by id', async () => {
    expect((await target().admin.brokers()).map((b) => b.id)).toEqual(nodeIds);
  });

  it('moves a partition off one broker onto the one that had none of it', async () => {
    const { admin } = target();
    const before = await partition0(admin);
    expect(before.replicas).toHaveLength(3);
    expect(before.replicas).toContain(before.leader);
    const newcomer = nodeIds.find((id) => !before.replicas.includes(id))!;
    moved = [...before.replicas.slice(1), newcomer];
    expect(await admin.alterReassignments([{ topic: TOPIC, partition: 0, replicas: moved }])).toEqual([
      { topic: TOPIC, partition: 0 },
    ]);
    const listed = (await admin.listReassignments()).filter((r) => r.topic === TOPIC);
    // Listed while the newcomer catches up, unless it already did.
    for (const r of listed)
      expect(r).toMatchObject({ partition: 0, adding: [newcomer], removing: [before.replicas[0]] });
    await untilMoved(admin, moved);
  });

  it('answers a cancel with nothing in flight, and an unknown broker, per partition', async () => {
    const { admin } = target();
    expect(await admin.alterReassignments([{ topic: TOPIC, partition: 0, replicas: null }])).toEqual([
      expect.objectContaining({ topic: TOPIC, partition: 0, error: 'NO_REASSIGNMENT_IN_PROGRESS' }),
    ]);
    expect(
      await admin.alterReassignments([{ topic: TOPIC, partition: 0, replicas: [moved[0], moved[1], 99] }]),
    ).toEqual([expect.objectContaining({ topic: TOPIC, partition: 0, error: 'INVALID_REPLICA_ASSIGNMENT' })]);
    expect((await admin.listReassignments()).filter((r) => r.topic === TOPIC)).toEqual([]);
  });

  it('elects the preferred replica leader', async () => {
    const { admin } = target();
    // Reordering the replicas so that the leader is last moves nothing and keeps the leader.
    const { leader } = await partition0(admin);
    const reordered = [...moved.filter((r) => r !== leader), leader];
    expect(await admin.alterReassignments([{ topic: TOPIC, partition: 0, replicas: reordered }])).toEqual([
      { topic: TOPIC, partition: 0 },
    ]);
    await untilMoved(admin, reordered);
    expect((await partition0(admin)).leader).not.toBe(reordered[0]);
    expect(await admin.electPreferredLeaders([{ topic: TOPIC, partition: 0 }])).toEqual([
      { topic: TOPIC, partition: 0 },
    ]);
    await until('the preferred replica to lead', async () =>
      (await partition0(admin)).leader === reordered[0] ? true : undefined,
    );
    // Again: ELECTION_NOT_NEEDED, a success.
    expect(await admin.electPreferredLeaders([{ topic: TOPIC, partition: 0 }])).toEqual([
      { topic: TOPIC, partition: 0 },
    ]);
    moved = reordered;
  });

  it("reports each holder's bytes of the partition, from that broker", async () => {
    const { admin } = target();
    const usage = await admin.logDirUsage(nodeIds);
    expect(usage.map((u) => u.broker)).toEqual(nodeIds);
    for (const u of usage) {
      const bytes = u.replicaBytes.get(`${TOPIC}-0`);
      if (moved.includes(u.broker)) expect(bytes).toBeGreaterThan(RECORDS * 1024);
      expect(u.totalBytes === -1 || u.totalBytes >= u.usableBytes).toBe(true);
    }
  });

  it('sets a replication throttle on each broker and the topic, and clears it', async () => {
    const { admin, raw } = target();
    const [first, second] = nodeIds;
    await admin.setReplicationThrottle({
      rateBytesPerSecond: RATE,
      brokers: [first, second],
      leaderReplicas: new Map([[TOPIC, moved.map((b) => `0:${b}`)]]),
      followerReplicas: new Map([[TOPIC, [`0:${first}`]]]),
    });
    const set = {
      'leader.replication.throttled.rate': String(RATE),
      'follower.replication.throttled.rate': String(RATE),
      'leader.replication.throttled.replicas': moved.map((b) => `0:${b}`).join(','),
      'follower.replication.throttled.replicas': `0:${first}`,
    };
    // A broker describes configs from its copy of the metadata, a moment behind the controller.
    for (const id of [first, second]) expect(await untilSeen(raw, id, set)).toEqual(set);
    await admin.clearReplicationThrottle([first, second], [TOPIC, 'no-such-topic']);
    for (const id of [first, second]) expect(await untilSeen(raw, id, {})).toEqual({});
  });

  it('unregisters a broker id that was never registered', async () => {
    await expect(target().admin.unregisterBroker(NEVER_REGISTERED)).resolves.toBeUndefined();
  });
}

async function connect(bootstrap: string, pool: AdminPool): Promise<Target> {
  const admin = pool.get('test', bootstrap.split(','));
  await admin.createTopic({ name: TOPIC, partitions: 1, replicationFactor: 3, config: new Map() });
  await until('the new topic to have a leader', async () => ((await partition0(admin)).leader >= 0 ? true : undefined));
  await fill(bootstrap);
  return {
    bootstrap,
    admin,
    raw: new Admin({ clientId: 'admin-cluster-test-raw', bootstrapBrokers: bootstrap.split(',') }),
  };
}

describe('the admin against four Runnel nodes', () => {
  let cluster: TestCluster;
  let target: Target;
  const pool = new AdminPool();

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 4, controllers: 3 });
    target = await connect(cluster.bootstrap, pool);
  });

  afterAll(async () => {
    await target?.raw.close();
    await pool.closeAll();
    await cluster?.stopAll();
  });

  coreChecks(() => target, [1, 2, 3, 4]);

  // Runnel only: Kafka 4.1 accepts UnregisterBroker for a running broker (it drops out of
  // Metadata at once, and then takes a long time to stop), so the Kafka half does not ask it.
  it('refuses to unregister a running broker, saying why', async () => {
    const err: unknown = await target.admin.unregisterBroker(4).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect(kafkaErrorMessage(err)).toMatch(/^INVALID_REQUEST: .*\brunning\b/);
    expect((await target.admin.brokers()).map((b) => b.id)).toEqual([1, 2, 3, 4]);
  });
});

describe.skipIf(!hasJava)('the admin against four Apache Kafka 4.1 nodes', () => {
  let cluster: BenchCluster;
  let target: Target;
  const pool = new AdminPool();

  beforeAll(async () => {
    const install = await prepareKafka(() => {});
    cluster = await startKafkaCluster(install, { 'group.initial.rebalance.delay.ms': '0' }, { nodes: 4, voters: 3 });
    target = await connect(cluster.bootstrap, pool);
  }, 180_000);

  afterAll(async () => {
    await target?.raw.close();
    await pool.closeAll();
    await cluster?.stop();
  }, 120_000);

  coreChecks(() => target, [1, 2, 3, 4]);
});
