// Runnel nodes on loopback form one Kafka cluster, whether every node is a combined voter or one
// controller-only node runs the quorum for three broker-only nodes: kcat, kafkajs, the Java
// client and confluent-kafka all see the same cluster id and every broker; a 12-partition topic
// created through one broker has its leaders spread evenly; records produced through each
// bootstrap broker in turn come back exactly through consumer groups, whose coordinator is the
// leader of the group's __consumer_offsets partition.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../cluster-processes.js';
import {
  LOOPBACK,
  byPartition,
  createTopic,
  keepNodeLogs,
  describeQuorum,
  driverCluster,
  findCoordinator,
  javaGroupRead,
  kafkaOffsetsPartition,
  kafkajsCluster,
  kafkajsGroupRead,
  kafkajsProduce,
  kcatCluster,
  metadata,
  until,
  untilServing,
  type KeyedRecord,
} from './cluster-clients.js';

const TOPIC = 'spread';
const PARTITIONS = 12;
const RECORDS_PER_PARTITION_PER_BROKER = 5;
/** Kafka's default offsets.topic.num.partitions. */
const OFFSETS_PARTITIONS = 50;
/** The Java client and confluent-kafka start a JVM or a venv; the first run may compile the Java driver. */
const CLIENT_TEST_TIMEOUT_MS = 120_000;

const TOPOLOGIES = [
  { name: 'three combined nodes (three voters)', nodes: 3, controllers: 3, controllerOnly: false },
  { name: 'one controller-only node and three broker-only nodes', nodes: 4, controllers: 1, controllerOnly: true },
];

describe.each(TOPOLOGIES)('a cluster of $name', (topology) => {
  let cluster: TestCluster;
  const brokers = () => cluster.nodes.filter((n) => n.broker);
  const brokerIds = () => brokers().map((n) => n.nodeId);
  const portOf = (nodeId: number) => cluster.node(nodeId).clientPort!;

  beforeAll(async () => {
    cluster = await startCluster(topology);
    // Every broker has registered and sees the others.
    for (const b of brokers())
      await until(`broker ${b.nodeId} to list every broker`, async () => {
        const md = await metadata(b.clientPort!);
        return md.brokers.join() === brokerIds().join() ? md : undefined;
      });
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && cluster)
      console.log(`node logs kept in ${(await keepNodeLogs(cluster)).join(', ')}`);
  });
  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('has the configured voters in its quorum and the brokers as observers', async () => {
    const voters = cluster.nodes.filter((n) => n.controller).map((n) => n.nodeId);
    for (const b of brokers()) {
      const q = await describeQuorum(b.clientPort!);
      expect(q.voters).toEqual(voters);
      expect(voters).toContain(q.leaderId);
      // Broker-only nodes follow the metadata log as observers.
      for (const id of brokerIds().filter((id) => !voters.includes(id))) expect(q.observers).toContain(id);
    }
  });

  it(
    'looks like one cluster with every broker to kcat, kafkajs, the Java client and confluent-kafka',
    async () => {
      const expected = {
        clusterId: cluster.clusterId,
        nodes: brokers().map((b) => ({ id: b.nodeId, host: LOOPBACK, port: b.clientPort })),
      };
      // Each client bootstraps from a different broker: any one of them describes the whole cluster.
      const bootstrapAt = (i: number) => `${LOOPBACK}:${brokers()[i % brokers().length].clientPort}`;
      const seen = {
        kcat: await kcatCluster(bootstrapAt(0)),
        kafkajs: await kafkajsCluster(bootstrapAt(1)),
        java: await driverCluster('java', bootstrapAt(2)),
        python: await driverCluster('python', bootstrapAt(3)),
      };
      for (const [client, view] of Object.entries(seen)) {
        expect({ client, clusterId: view.clusterId, nodes: view.nodes }).toEqual({ client, ...expected });
        // The controller clients are told of is one of the brokers (Kafka names a random live one).
        expect(brokerIds()).toContain(view.controller);
      }
    },
    CLIENT_TEST_TIMEOUT_MS,
  );

  it('spreads the leaders of a 12-partition topic created through one broker evenly over the brokers', async () => {
    expect(await createTopic(portOf(brokerIds()[brokerIds().length - 1]), TOPIC, PARTITIONS)).toBe('NONE');
    // Every broker serves the same leaders as soon as it has applied the topic.
    const leaders = await until('every broker to know the new topic', async () => {
      const views = await Promise.all(brokers().map((b) => metadata(b.clientPort!, [TOPIC])));
      const all = views.map((v) => v.leaders.get(TOPIC)!.join());
      return all.every((l) => l === all[0]) ? views[0].leaders.get(TOPIC)! : undefined;
    });
    const perBroker = new Map(brokerIds().map((id) => [id, leaders.filter((l) => l === id).length]));
    expect([...perBroker.values()]).toEqual(brokerIds().map(() => PARTITIONS / brokerIds().length));
    await untilServing(portOf(brokerIds()[0]), TOPIC);
  });

  it(
    'gives back exactly what was produced through each broker in turn to kafkajs and Java consumer groups',
    async () => {
      const produced: KeyedRecord[] = [];
      for (const b of brokers()) {
        const records: KeyedRecord[] = [];
        for (let partition = 0; partition < PARTITIONS; partition++)
          for (let i = 0; i < RECORDS_PER_PARTITION_PER_BROKER; i++)
            records.push({
              partition,
              key: `via-${b.nodeId}-${partition}-${i}`,
              value: `value ${i} through ${b.nodeId}`,
            });
        await kafkajsProduce(`${LOOPBACK}:${b.clientPort}`, TOPIC, records);
        produced.push(...records);
      }

      for (const [groupId, read] of [
        ['kafkajs-readers', kafkajsGroupRead],
        ['java-readers', javaGroupRead],
      ] as const) {
        // FindCoordinator names the same broker everywhere: the leader of the group's offsets
        // partition (COORDINATOR_NOT_AVAILABLE, which clients retry, while the first ask creates
        // __consumer_offsets).
        const coordinators = await until(`every broker to name a coordinator for ${groupId}`, () =>
          Promise.all(brokers().map((b) => findCoordinator(b.clientPort!, groupId))),
        );
        const offsetsLeaders = await until('__consumer_offsets to have leaders', async () => {
          const l = (await metadata(portOf(brokerIds()[0]), ['__consumer_offsets'])).leaders.get('__consumer_offsets');
          return l && l.length === OFFSETS_PARTITIONS && l.every((x) => x >= 0) ? l : undefined;
        });
        const leader = offsetsLeaders[kafkaOffsetsPartition(groupId, OFFSETS_PARTITIONS)];
        expect({ groupId, coordinators }).toEqual({ groupId, coordinators: brokerIds().map(() => leader) });

        // The group bootstraps from one broker and must find its coordinator on another.
        const bootstrap = `${LOOPBACK}:${portOf(brokerIds().find((id) => id !== leader)!)}`;
        const records = await read(bootstrap, TOPIC, groupId, produced.length);
        const got = records.map((r) => ({ partition: r.partition, key: r.key!, value: r.value! }));
        expect({ groupId, records: byPartition(got) }).toEqual({ groupId, records: byPartition(produced) });
      }
    },
    CLIENT_TEST_TIMEOUT_MS,
  );
});
