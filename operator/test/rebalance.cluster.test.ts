// The operator's rebalance executor against real brokers on loopback, through the operator's own
// admin client: four Runnel nodes, then four Apache Kafka 4.1 nodes (three voters and a broker),
// each holding topics placed on three of them as a three-broker cluster would have placed them.
// The same executor spreads them over all four (a scale-up), then drains the fourth (a scale-down),
// with a throttle and a bound on partitions in flight; every record stays readable.

import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaCluster, startRunnelCluster, type BenchCluster } from '../../broker/bench/bench-cluster.js';
import { prepareKafka } from '../../broker/bench/kafka.js';
import { kafkajsProduce, kcatReadPartition, type KeyedRecord } from '../../broker/test/cluster/cluster-clients.js';
import { AdminPool, type KafkaAdmin, type PartitionReplicas } from '../kafka/admin.js';
import { advanceRebalance, type PlanSummary, type RebalanceStep } from '../rebalance/executor.js';

const TOPICS = [
  { name: 'orders', partitions: 12, replicationFactor: 3 },
  { name: 'events', partitions: 5, replicationFactor: 2 },
];
const RECORDS_PER_PARTITION = 40;
const THROTTLE_BYTES_PER_SECOND = 50_000_000;
const MAX_PARTITION_MOVEMENTS = 4;
const REBALANCE_TIMEOUT_MS = 120_000;
const POLL_MS = 250;

/** Round-robin over brokers 1..3, leaders rotating: the placement a three-broker cluster makes. */
function threeBrokerPlacement(partitions: number, replicationFactor: number): number[][] {
  return Array.from({ length: partitions }, (_, p) =>
    Array.from({ length: replicationFactor }, (_, r) => ((p + r) % 3) + 1),
  );
}

function kafkajs(bootstrap: string): Kafka {
  return new Kafka({ clientId: 'rebalance-test', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
}

async function createPlacedTopics(bootstrap: string): Promise<void> {
  const admin = kafkajs(bootstrap).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: TOPICS.map((t) => ({
        topic: t.name,
        replicaAssignment: threeBrokerPlacement(t.partitions, t.replicationFactor).map((replicas, partition) => ({
          partition,
          replicas,
        })),
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

function recordsOf(topic: string, partitions: number): KeyedRecord[] {
  return Array.from({ length: partitions * RECORDS_PER_PARTITION }, (_, i) => ({
    partition: i % partitions,
    key: `${topic}-k${i}`,
    value: `${topic}-v${i}-${'x'.repeat(200)}`,
  }));
}

/** Steps the executor until it reports balance; the plan it first computed. */
async function rebalanceTo(
  admin: KafkaAdmin,
  brokers: number[],
): Promise<{ plan: PlanSummary; steps: RebalanceStep[] }> {
  const steps: RebalanceStep[] = [];
  let plan: PlanSummary | undefined;
  const deadline = Date.now() + REBALANCE_TIMEOUT_MS;
  for (;;) {
    const step = await advanceRebalance(
      admin,
      { brokers, throttleBytesPerSecond: THROTTLE_BYTES_PER_SECOND, maxPartitionMovements: MAX_PARTITION_MOVEMENTS },
      plan,
    );
    steps.push(step);
    if (step.kind !== 'waitingForBrokers') plan ??= step.plan;
    if (step.kind === 'balanced') return { plan: step.plan, steps };
    if (Date.now() > deadline)
      throw new Error(`not balanced over ${brokers.join(',')} after ${REBALANCE_TIMEOUT_MS} ms: ${step.message}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function counts(partitions: readonly PartitionReplicas[], pick: (p: PartitionReplicas) => number[]) {
  const byBroker = new Map<number, number>();
  for (const p of partitions) for (const id of pick(p)) byBroker.set(id, (byBroker.get(id) ?? 0) + 1);
  return byBroker;
}

function expectWithinOne(byBroker: Map<number, number>, brokers: number[], total: number) {
  const low = Math.floor(total / brokers.length);
  const high = Math.ceil(total / brokers.length);
  for (const id of brokers) expect(byBroker.get(id) ?? 0, `broker ${id}`).toBeGreaterThanOrEqual(low);
  for (const id of brokers) expect(byBroker.get(id) ?? 0, `broker ${id}`).toBeLessThanOrEqual(high);
  expect([...byBroker.keys()].every((id) => brokers.includes(id))).toBe(true);
}

function rebalanceSuite(name: string, start: () => Promise<BenchCluster>) {
  describe(`the rebalance executor on ${name}`, () => {
    let cluster: BenchCluster;
    let pool: AdminPool;
    let admin: KafkaAdmin;
    /** Each partition's records (offset and key) as read before anything moved. */
    const before = new Map<string, string[]>();
    const readAll = async () => {
      const out = new Map<string, string[]>();
      for (const t of TOPICS)
        for (let p = 0; p < t.partitions; p++)
          out.set(
            `${t.name}-${p}`,
            (await kcatReadPartition(cluster.bootstrap, t.name, p)).map((r) => `${r.offset} ${r.key}`),
          );
      return out;
    };

    beforeAll(async () => {
      cluster = await start();
      pool = new AdminPool();
      admin = pool.get(name, cluster.bootstrap.split(','));
      await createPlacedTopics(cluster.bootstrap);
      for (const t of TOPICS) await kafkajsProduce(cluster.bootstrap, t.name, recordsOf(t.name, t.partitions));
      for (const [partition, records] of await readAll()) {
        expect(records.length, partition).toBeGreaterThanOrEqual(RECORDS_PER_PARTITION);
        before.set(partition, records);
      }
    }, 300_000);

    afterAll(async () => {
      await pool?.closeAll();
      await cluster?.stop();
    }, 120_000);

    const ours = (ps: PartitionReplicas[]) => ps.filter((p) => TOPICS.some((t) => t.name === p.topic));

    it('spreads three brokers’ replicas and leaders over a fourth with the fewest moves, then drains it', async () => {
      const grown = await rebalanceTo(admin, [1, 2, 3, 4]);
      expect(grown.steps.some((s) => s.kind === 'moving')).toBe(true);
      expect(grown.plan.replicaMoves).toBe(grown.plan.lowerBound);
      const total = TOPICS.reduce((n, t) => n + t.partitions * t.replicationFactor, 0);
      const partitionCount = TOPICS.reduce((n, t) => n + t.partitions, 0);
      let { partitions } = await admin.health();
      expectWithinOne(
        counts(ours(partitions), (p) => p.replicas),
        [1, 2, 3, 4],
        total,
      );
      for (const p of ours(partitions)) expect(p.leader, `${p.topic}-${p.partition}`).toBe(p.replicas[0]);
      expectWithinOne(
        counts(ours(partitions), (p) => [p.leader]),
        [1, 2, 3, 4],
        partitionCount,
      );

      const drained = await rebalanceTo(admin, [1, 2, 3]);
      expect(drained.plan.replicaMoves).toBe(drained.plan.lowerBound);
      ({ partitions } = await admin.health());
      expect(partitions.filter((p) => p.replicas.includes(4))).toEqual([]);
      expectWithinOne(
        counts(ours(partitions), (p) => p.replicas),
        [1, 2, 3],
        total,
      );

      expect(await readAll()).toEqual(before);
    }, 300_000);

    it('leaves no replication throttle behind', async () => {
      const configs = kafkajs(cluster.bootstrap).admin();
      await configs.connect();
      try {
        const described = await configs.describeConfigs({
          includeSynonyms: false,
          resources: [1, 2, 3, 4].map((id) => ({ type: 4, name: String(id) })),
        });
        for (const r of described.resources)
          for (const key of ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'])
            expect(
              r.configEntries.find((c) => c.configName === key)?.configSource ?? 5,
              `${key} on ${r.resourceName}`,
            ).toBe(5);
      } finally {
        await configs.disconnect();
      }
    });
  });
}

rebalanceSuite('Runnel', () => startRunnelCluster({}, { nodes: 4, voters: 3 }));
rebalanceSuite('Apache Kafka 4.1', async () =>
  startKafkaCluster(
    await prepareKafka(() => undefined),
    { 'offsets.topic.replication.factor': '3', 'transaction.state.log.replication.factor': '3' },
    { nodes: 4, voters: 3 },
  ),
);
