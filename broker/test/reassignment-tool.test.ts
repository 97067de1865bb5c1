// kafka-reassign-partitions.sh (Kafka 4.1's ReassignPartitionsCommand, from the jars cached under
// ~/.cache/runnel) against four Runnel nodes: a partition moves from brokers {1,2,3} to {2,3,4}
// — broker 4 copies it, joins the ISR, the reassignment completes, broker 1 drops its replica and
// its directory — with every record still there; and a reassignment that cannot finish (its new
// replica's broker is frozen) is cancelled back to the original replicas; --generate plans a move,
// --execute --throttle sets the replication throttles and --verify removes them. The same move
// through the Java AdminClient and @platformatic/kafka (the compat drivers' `reassign` op).

import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaTool, prepareKafka, type KafkaInstall } from '../bench/kafka.js';
import { startCluster, type TestCluster } from './cluster-processes.js';
import { kafkajsProduce, kcatReadPartition, metadata, runDriver, until } from './cluster/cluster-clients.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;
const TEST_TIMEOUT_MS = 150_000;
const WAIT_MS = 60_000;
const TOPIC_TOOL = 'org.apache.kafka.tools.TopicCommand';
const REASSIGN_TOOL = 'org.apache.kafka.tools.reassign.ReassignPartitionsCommand';
const CONFIG_TOOL = 'kafka.admin.ConfigCommand';

let kafka: KafkaInstall;
let cluster: TestCluster;

const addressOf = (nodeId: number) => `127.0.0.1:${cluster.node(nodeId).clientPort}`;

async function createTopic(name: string, assignment: string): Promise<void> {
  await kafkaTool(kafka, TOPIC_TOOL, [
    '--bootstrap-server',
    addressOf(2),
    '--create',
    '--topic',
    name,
    '--replica-assignment',
    assignment,
  ]);
}

/** Writes a reassignment plan and runs the tool with it (`--execute`, or `--cancel` and its options). */
async function reassign(action: string[], moves: { topic: string; partition: number; replicas: number[] }[]) {
  const file = path.join(cluster.dataDir, `plan-${Date.now()}.json`);
  await writeFile(
    file,
    JSON.stringify({ version: 1, partitions: moves.map((m) => ({ ...m, log_dirs: m.replicas.map(() => 'any') })) }),
  );
  return kafkaTool(kafka, REASSIGN_TOOL, [
    '--bootstrap-server',
    addressOf(2),
    '--reassignment-json-file',
    file,
    ...action,
  ]);
}

/** What `--list` prints: the reassignments in progress (ListPartitionReassignments). */
function inProgress(): Promise<string> {
  return kafkaTool(kafka, REASSIGN_TOOL, ['--bootstrap-server', addressOf(2), '--list']);
}

/** Replicas and ISR of partition 0, as the broker at node 2 answers Metadata. */
async function partition0(topic: string) {
  const md = await metadata(cluster.node(2).clientPort!, [topic]);
  return { isr: md.isr.get(topic)![0], leader: md.leaders.get(topic)![0] };
}

/** Whether node `nodeId`'s log dirs hold a directory for `topic-partition` (a pending delete does not count). */
async function holds(nodeId: number, dir: string): Promise<boolean> {
  const root = path.join(cluster.dataDir, `node-${nodeId}`);
  const walk = async (d: string, depth: number): Promise<boolean> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === dir) return true;
      if (depth > 0 && (await walk(path.join(d, e.name), depth - 1))) return true;
    }
    return false;
  };
  return walk(root, 2);
}

/** What a compat driver's `reassign` op prints. */
interface ReassignResult {
  listedWhileMoving?: boolean;
  done?: boolean;
  replicas?: number[];
  error?: string;
}

/**
 * Creates `topic` on brokers 1,2,3, writes 40 records to partition 0, moves it to `target` with
 * the client's alterPartitionReassignments (the driver waits until listPartitionReassignments no
 * longer lists it), and checks the outcome: replicas and ISR, the removed broker's directory
 * gone, the new one's there, every record readable.
 */
async function moveThroughClient(client: 'java' | 'platformatic', topic: string, target: number[]): Promise<void> {
  const removed = [1, 2, 3].find((b) => !target.includes(b))!;
  const added = target.find((b) => ![1, 2, 3].includes(b))!;
  await createTopic(topic, '1:2:3');
  const records = Array.from({ length: 40 }, (_, i) => ({ partition: 0, key: `k${i}`, value: `v${i}` }));
  await kafkajsProduce(addressOf(2), topic, records);
  expect(await holds(removed, `${topic}-0`)).toBe(true);

  const moved = await runDriver<ReassignResult>(client, 'reassign', {
    bootstrap: addressOf(2),
    topic,
    partition: 0,
    replicas: target,
    waitMs: WAIT_MS,
  });
  // Whether the client saw it in progress depends on how fast 40 records copy: not asserted.
  expect(typeof moved.listedWhileMoving).toBe('boolean');
  expect(moved.done).toBe(true);
  expect(moved.replicas).toEqual(target);
  const after = await partition0(topic);
  expect([...after.isr].sort()).toEqual([...target].sort());
  expect(target).toContain(after.leader);
  await until(
    `broker ${removed} to remove its replica of ${topic}-0`,
    async () => !(await holds(removed, `${topic}-0`)) || undefined,
    WAIT_MS,
  );
  expect(await holds(added, `${topic}-0`)).toBe(true);
  const read = await kcatReadPartition(addressOf(added), topic, 0);
  expect(read.map((r) => r.key)).toEqual(records.map((r) => r.key));
}

beforeAll(async () => {
  kafka = await prepareKafka(() => undefined);
  cluster = await startCluster({ nodes: 4, controllers: 3, overrides: { 'auto.leader.rebalance.enable': 'false' } });
}, FIRST_RESOLVE_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('kafka-reassign-partitions.sh against four Runnel nodes', () => {
  it(
    'moves a partition from brokers 1,2,3 to 2,3,4: the new replica copies it, the old one and its directory go',
    async () => {
      const topic = 'moving';
      await createTopic(topic, '1:2:3');
      const records = Array.from({ length: 40 }, (_, i) => ({ partition: 0, key: `k${i}`, value: `v${i}` }));
      await kafkajsProduce(addressOf(2), topic, records);
      expect(await holds(1, `${topic}-0`)).toBe(true);

      const started = await reassign(['--execute'], [{ topic, partition: 0, replicas: [2, 3, 4] }]);
      expect(started).toMatch(/Successfully started partition reassignment/);
      await until(
        `the reassignment of ${topic}-0 to complete`,
        async () => !(await inProgress()).includes(`${topic}-0`) || undefined,
        WAIT_MS,
      );
      // --verify also clears the throttles (dynamic broker and topic configs) a move may have set.
      expect(await reassign(['--verify'], [{ topic, partition: 0, replicas: [2, 3, 4] }])).toMatch(
        `Reassignment of partition ${topic}-0 is completed`,
      );
      const after = await partition0(topic);
      expect([...after.isr].sort()).toEqual([2, 3, 4]);
      expect([2, 3, 4]).toContain(after.leader);
      await until(
        `broker 1 to remove its replica of ${topic}-0`,
        async () => !(await holds(1, `${topic}-0`)) || undefined,
        WAIT_MS,
      );
      expect(await holds(4, `${topic}-0`)).toBe(true);
      const read = await kcatReadPartition(addressOf(4), topic, 0);
      expect(read.map((r) => r.key)).toEqual(records.map((r) => r.key));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'cancels a reassignment that cannot finish, back to the original replicas',
    async () => {
      const topic = 'stuck';
      await createTopic(topic, '1:2:3');
      await kafkajsProduce(addressOf(2), topic, [{ partition: 0, key: 'k', value: 'v' }]);
      // Frozen, broker 4 is still registered (the tool checks) but cannot copy the partition.
      process.kill(cluster.node(4).process!.pid, 'SIGSTOP');
      try {
        await reassign(['--execute'], [{ topic, partition: 0, replicas: [1, 2, 4] }]);
        expect(await inProgress()).toMatch(`${topic}-0: replicas: 1,2,4,3. adding: 4. removing: 3.`);
        const cancelled = await reassign(
          // The throttles it would clear include broker 4's, which is frozen.
          ['--cancel', '--preserve-throttles'],
          [{ topic, partition: 0, replicas: [1, 2, 4] }],
        );
        expect(cancelled).toMatch(/Successfully cancelled partition reassignment/);
        const md = await until(
          `${topic}-0 to be back on 1,2,3`,
          async () => {
            const p = await partition0(topic);
            return [...p.isr].sort().join() === '1,2,3' ? p : undefined;
          },
          WAIT_MS,
        );
        expect([1, 2, 3]).toContain(md.leader);
      } finally {
        process.kill(cluster.node(4).process!.pid, 'SIGCONT');
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '--generate proposes a plan over the brokers given; --execute --throttle sets the throttles and --verify removes them',
    async () => {
      const topic = 'planned';
      await createTopic(topic, '1:2:3');
      await kafkajsProduce(addressOf(2), topic, [{ partition: 0, key: 'k', value: 'v' }]);
      const topicsFile = path.join(cluster.dataDir, 'topics-to-move.json');
      await writeFile(topicsFile, JSON.stringify({ version: 1, topics: [{ topic }] }));
      const generated = await kafkaTool(kafka, REASSIGN_TOOL, [
        '--bootstrap-server',
        addressOf(2),
        '--topics-to-move-json-file',
        topicsFile,
        '--broker-list',
        '2,3,4',
        '--generate',
      ]);
      const proposed = JSON.parse(generated.split('Proposed partition reassignment configuration')[1].trim()) as {
        partitions: { topic: string; partition: number; replicas: number[] }[];
      };
      expect(proposed.partitions).toHaveLength(1);
      expect([...proposed.partitions[0].replicas].sort()).toEqual([2, 3, 4]);

      const brokerThrottles = async (id: number) =>
        (
          await kafkaTool(kafka, CONFIG_TOOL, [
            '--bootstrap-server',
            addressOf(2),
            '--entity-type',
            'brokers',
            '--entity-name',
            String(id),
            '--describe',
          ])
        )
          // The config itself starts a line; its synonyms follow on the same line.
          .split('\n')
          .map((line) => /^\s+((?:leader|follower)\.replication\.throttled\.rate=\d+)/.exec(line)?.[1])
          .filter((c) => c !== undefined)
          .sort();
      const started = await reassign(['--execute', '--throttle', '5000000'], proposed.partitions);
      expect(started).toMatch(/Successfully started partition reassignment/);
      expect(await brokerThrottles(4)).toEqual([
        'follower.replication.throttled.rate=5000000',
        'leader.replication.throttled.rate=5000000',
      ]);
      await until(
        `the reassignment of ${topic}-0 to complete and its throttles to be removed`,
        async () => {
          const verified = await reassign(['--verify'], proposed.partitions);
          return verified.includes(`Reassignment of partition ${topic}-0 is completed`) ? verified : undefined;
        },
        WAIT_MS,
      );
      expect(await brokerThrottles(4)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('the same reassignment through admin clients', () => {
  it(
    'the Java AdminClient moves a partition from brokers 1,2,3 to 2,3,4 (its leader removed)',
    () => moveThroughClient('java', 'moving-java', [2, 3, 4]),
    TEST_TIMEOUT_MS,
  );

  it(
    '@platformatic/kafka moves a partition from brokers 1,2,3 to 4,1,2',
    () => moveThroughClient('platformatic', 'moving-platformatic', [4, 1, 2]),
    TEST_TIMEOUT_MS,
  );
});
