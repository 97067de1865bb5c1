// kafka-leader-election.sh (Kafka 4.1's LeaderElectionCommand, from the jars cached under
// ~/.cache/runnel) against three combined Runnel nodes, and the ISR a partition goes through on
// the way: a topic with replication factor 3 is in sync on every replica and led by its first
// (preferred) replica; a broker that stops leaves every ISR and its leaderships move; once it is
// back and its partitions' leaders have taken it back into their ISRs (AlterPartition), a
// preferred election over all partitions gives its leaderships back. The tool sends ElectLeaders
// to a broker, which forwards it to the active controller. AlterPartition itself is checked on a
// controller listener of a voter that is not the active controller, which forwards it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaTool, prepareKafka, type KafkaInstall } from '../bench/kafka.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import { AlterPartition, Metadata } from '../protocol/messages/index.js';
import { startCluster, type TestCluster } from './cluster-processes.js';
import { ask, describeQuorum, until as untilWithin } from './cluster/cluster-clients.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;
const TEST_TIMEOUT_MS = 150_000;
const WAIT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;
const NODES = [1, 2, 3];
const TOPIC = 'elected';
const PARTITIONS = 3;
const TOPIC_TOOL = 'org.apache.kafka.tools.TopicCommand';
const ELECTION_TOOL = 'org.apache.kafka.tools.LeaderElectionCommand';

let kafka: KafkaInstall;
let cluster: TestCluster;

const until = <T>(what: string, check: () => Promise<T | undefined>) => untilWithin(what, check, WAIT_MS);
const addressOf = (nodeId: number) => `127.0.0.1:${cluster.node(nodeId).clientPort}`;

interface PartitionLine {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** `kafka-topics.sh --describe --topic TOPIC` through `nodeId`. */
async function describeTopic(nodeId: number): Promise<PartitionLine[]> {
  const out = await kafkaTool(kafka, TOPIC_TOOL, [
    '--bootstrap-server',
    addressOf(nodeId),
    '--describe',
    '--topic',
    TOPIC,
  ]);
  const ids = (s: string) => (s === '' ? [] : s.split(',').map(Number));
  return [...out.matchAll(/Partition: (\d+)\tLeader: (-?\d+)\tReplicas: ([\d,]*)\tIsr: ([\d,]*)/g)].map((m) => ({
    partition: Number(m[1]),
    leader: Number(m[2]),
    replicas: ids(m[3]),
    isr: ids(m[4]),
  }));
}

const electPreferred = (nodeId: number, ...which: string[]) =>
  kafkaTool(kafka, ELECTION_TOOL, ['--bootstrap-server', addressOf(nodeId), '--election-type', 'preferred', ...which]);

/** The partitions a tool's "… for partitions a-0, a-1" line names, sorted. */
function partitionsIn(out: string, prefix: string): string[] {
  const line = out.split('\n').find((l) => l.startsWith(prefix));
  return line
    ? line
        .slice(prefix.length)
        .split(', ')
        .map((s) => s.trim())
        .sort()
    : [];
}

/** The broker epoch a running broker was unfenced with, from its log. */
function brokerEpochOf(nodeId: number): number {
  const output = cluster.node(nodeId).process!.output();
  const epochs = [...output.matchAll(/"brokerEpoch":(\d+)[^\n]*"msg":"unfenced: serving clients"/g)];
  if (epochs.length === 0) throw new Error(`broker ${nodeId} has not logged its unfencing`);
  return Number(epochs[epochs.length - 1][1]);
}

/** AlterPartition v3 for partition 0 of TOPIC, sent to `nodeId`'s controller listener. */
async function alterPartition(nodeId: number, from: { brokerId: number; brokerEpoch: number }, newIsr: number[]) {
  const { topicId, state } = await ask(cluster.node(nodeId).clientPort!, async (c) => {
    const res = await c.request(
      Metadata,
      'latest',
      { topics: [{ name: TOPIC }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
      { timeoutMs: REQUEST_TIMEOUT_MS },
    );
    const t = res.topics[0];
    return { topicId: t.topicId, state: t.partitions.find((p) => p.partitionIndex === 0)! };
  });
  return ask(cluster.node(nodeId).controllerPort!, (c) =>
    c.request(
      AlterPartition,
      3,
      {
        ...from,
        topics: [
          {
            topicId,
            partitions: [
              {
                partitionIndex: 0,
                leaderEpoch: state.leaderEpoch,
                newIsrWithEpochs: newIsr.map((id) => ({ brokerId: id, brokerEpoch: brokerEpochOf(id) })),
                leaderRecoveryState: 0,
                partitionEpoch: 0,
              },
            ],
          },
        ],
      },
      { timeoutMs: REQUEST_TIMEOUT_MS },
    ),
  ).then((res) => ({ res, leader: state.leaderId }));
}

beforeAll(async () => {
  kafka = await prepareKafka(() => undefined);
  // Leaderships move back only when this test asks: the balancer would do it on its own.
  cluster = await startCluster({ nodes: NODES.length, overrides: { 'auto.leader.rebalance.enable': 'false' } });
}, FIRST_RESOLVE_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('kafka-leader-election.sh against three combined Runnel nodes', () => {
  it('kafka-topics.sh: a topic with replication factor 3 is in sync on every replica, each partition led by its first', async () => {
    const created = await kafkaTool(kafka, TOPIC_TOOL, [
      '--bootstrap-server',
      addressOf(2),
      '--create',
      '--topic',
      TOPIC,
      '--partitions',
      String(PARTITIONS),
      '--replication-factor',
      '3',
    ]);
    expect(created).toContain(`Created topic ${TOPIC}.`);
    const partitions = await until('every broker describing the topic', async () => {
      const d = await describeTopic(3);
      return d.length === PARTITIONS ? d : undefined;
    });
    for (const p of partitions) {
      expect([...p.replicas].sort()).toEqual(NODES);
      expect(p.isr).toEqual(p.replicas);
      expect(p.leader).toBe(p.replicas[0]);
    }
    expect(partitions.map((p) => p.leader).sort()).toEqual(NODES);
  });

  it(
    'a stopped broker leaves every ISR; back and in sync again, --election-type preferred --all-topic-partitions returns its leaderships',
    async () => {
      // Not the active controller: its handover is another test's subject.
      const { leaderId } = await describeQuorum(cluster.node(1).clientPort!);
      const stopped = NODES.find((id) => id !== leaderId)!;
      const survivor = NODES.find((id) => id !== leaderId && id !== stopped)!;
      const preferredBy = (ps: PartitionLine[]) => ps.filter((p) => p.replicas[0] === stopped).map((p) => p.partition);
      const own = preferredBy(await describeTopic(survivor));
      expect(own.length).toBe(1);

      expect(await cluster.stop(stopped)).toBe(0);
      const without = await until(`broker ${stopped} out of every ISR`, async () => {
        const d = await describeTopic(survivor);
        return d.every((p) => !p.isr.includes(stopped)) ? d : undefined;
      });
      for (const p of without) {
        expect(p.leader).not.toBe(stopped);
        expect(p.leader).toBeGreaterThanOrEqual(0);
      }

      await cluster.restart(stopped);
      // Its partitions' leaders take it back into their ISRs once it has caught up.
      const back = await until(`broker ${stopped} in every ISR`, async () => {
        const d = await describeTopic(stopped);
        return d.every((p) => p.isr.includes(stopped)) ? d : undefined;
      });
      expect(back.filter((p) => own.includes(p.partition)).map((p) => p.leader)).not.toContain(stopped);

      const out = await electPreferred(survivor, '--all-topic-partitions');
      expect(partitionsIn(out, 'Successfully completed leader election (PREFERRED) for partitions ')).toEqual(
        own.map((p) => `${TOPIC}-${p}`),
      );
      for (const id of NODES) {
        const after = await until(`broker ${id} naming the preferred leaders`, async () => {
          const d = await describeTopic(id);
          return d.every((p) => p.leader === p.replicas[0]) ? d : undefined;
        });
        expect(after.map((p) => p.leader).sort()).toEqual(NODES);
      }

      // Nothing left to elect: every partition already has its preferred leader, and says so when named.
      const again = await electPreferred(stopped, '--all-topic-partitions');
      expect(again).not.toContain('Successfully completed');
      const named = await electPreferred(stopped, '--topic', TOPIC, '--partition', String(own[0]));
      expect(partitionsIn(named, 'Valid replica already elected for partitions ')).toEqual([`${TOPIC}-${own[0]}`]);
    },
    TEST_TIMEOUT_MS,
  );

  it('--election-type unclean for a partition that has a leader: nothing to do', async () => {
    const out = await kafkaTool(kafka, ELECTION_TOOL, [
      '--bootstrap-server',
      addressOf(1),
      '--election-type',
      'unclean',
      '--topic',
      TOPIC,
      '--partition',
      '0',
    ]);
    expect(partitionsIn(out, 'Valid replica already elected for partitions ')).toEqual([`${TOPIC}-0`]);
  });

  it('AlterPartition on a controller listener (forwarded to the active controller): STALE_BROKER_EPOCH from an old incarnation, INVALID_REQUEST from a broker that does not lead', async () => {
    const { leaderId } = await describeQuorum(cluster.node(1).clientPort!);
    const via = NODES.find((id) => id !== leaderId)!;
    const stale = await alterPartition(via, { brokerId: 1, brokerEpoch: brokerEpochOf(1) - 1 }, NODES);
    expect(stale.res).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.STALE_BROKER_EPOCH, topics: [] });
    const follower = NODES.find((id) => id !== stale.leader)!;
    const { res } = await alterPartition(via, { brokerId: follower, brokerEpoch: brokerEpochOf(follower) }, NODES);
    expect(errorName(res.errorCode)).toBe('NONE');
    expect(errorName(res.topics[0].partitions[0].errorCode)).toBe('INVALID_REQUEST');
  });
});
