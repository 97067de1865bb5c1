// Replication, as clients see it, on three brokers with three controller-only voters (so that
// stopping brokers never stops the quorum): topics with replication factor 3 and
// min.insync.replicas=2 lose nothing acknowledged at acks=all while partition leaders are killed
// and restarted under idempotent producers (the Java client's defaults and @platformatic/kafka),
// the ISR shrinks when a follower freezes and grows back when it catches up, acks=all is refused
// below min.insync.replicas while acks=1 goes on, and consumer groups (kafkajs, kcat -G) keep
// consuming, skipping nothing, while the broker coordinating them is killed.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../cluster-processes.js';
import {
  LOOPBACK,
  createTopic,
  findCoordinator,
  kafkajsClient,
  kcatReadPartition,
  keepNodeLogs,
  metadata,
  runDriver,
  until,
  untilServing,
} from './cluster-clients.js';

const CONTROLLERS = 3;
const BROKERS = [4, 5, 6];
const PARTITIONS = 3;
const SESSION_TIMEOUT_MS = 4000;
const LAG_TIME_MS = 3000;
/** Fencing, election and catching up, with room for a busy 2-core machine. */
const RECOVERY_TIMEOUT_MS = 45_000;
/** Leader kills per producer; `npm run soak:replication` runs many more. */
const KILL_ROUNDS = Number(process.env.RUNNEL_REPLICATION_KILL_ROUNDS ?? 3);
const TEST_TIMEOUT_MS = 120_000 + KILL_ROUNDS * 40_000;
const REPLICATED = { replicationFactor: 3, configs: { 'min.insync.replicas': '2' } };

interface Acked {
  partition: number;
  offset: number;
  key: string;
}

interface ContinuousResult {
  acked: Acked[];
  failed: number;
  errors: string[];
  sent: number;
}

describe('replicated partitions on three brokers', () => {
  let cluster: TestCluster;

  const portOf = (nodeId: number) => cluster.node(nodeId).clientPort!;
  const runningBrokers = () => BROKERS.filter((id) => cluster.node(id).process !== null);
  const bootstrap = () =>
    runningBrokers()
      .map((id) => `${LOOPBACK}:${portOf(id)}`)
      .join(',');
  const view = (topic: string) => metadata(portOf(runningBrokers()[0]), [topic]);

  /** Waits until every partition of `topic` has all three brokers in its ISR, as every running broker says. */
  const untilFullIsr = (topic: string) =>
    until(
      `every partition of ${topic} to have ${BROKERS.join(',')} in its ISR`,
      async () => {
        for (const id of runningBrokers()) {
          const md = await metadata(portOf(id), [topic]);
          if (!md.isr.get(topic)!.every((isr) => BROKERS.every((b) => isr.includes(b)))) return undefined;
        }
        return true;
      },
      RECOVERY_TIMEOUT_MS,
    );

  /** The high watermark of every partition, through kafkajs (ListOffsets latest). */
  const highWatermarks = async (topic: string): Promise<number[]> => {
    const admin = kafkajsClient(bootstrap()).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
    } finally {
      await admin.disconnect();
    }
  };

  /** Waits until every partition's high watermark passed what it was: producers get through. */
  const untilProgress = async (topic: string) => {
    const before = await highWatermarks(topic);
    await until(
      `records to be acknowledged on every partition of ${topic}`,
      async () => {
        const now = await highWatermarks(topic);
        return now.every((hw, p) => hw > before[p]) ? true : undefined;
      },
      RECOVERY_TIMEOUT_MS,
    );
  };

  beforeAll(async () => {
    cluster = await startCluster({
      nodes: CONTROLLERS + BROKERS.length,
      controllers: CONTROLLERS,
      controllerOnly: true,
      overrides: {
        'broker.session.timeout.ms': String(SESSION_TIMEOUT_MS),
        'broker.heartbeat.interval.ms': '500',
        'replica.lag.time.max.ms': String(LAG_TIME_MS),
        'offsets.topic.replication.factor': '3',
        'group.initial.rebalance.delay.ms': '0',
      },
    });
  }, 60_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail')
      return keepNodeLogs(cluster).then((files) => console.error(`node logs kept: ${files.join(', ')}`));
  });

  afterAll(async () => {
    for (const n of cluster?.nodes ?? []) if (n.process) process.kill(n.process.pid, 'SIGCONT');
    await cluster?.stopAll();
  });

  for (const client of ['java', 'platformatic'] as const) {
    it(
      `${client}: an idempotent acks=all producer loses and duplicates nothing while partition leaders are killed (${KILL_ROUNDS} rounds)`,
      async () => {
        const topic = `acked-${client}`;
        expect(await createTopic(portOf(BROKERS[0]), topic, PARTITIONS, REPLICATED)).toBe('NONE');
        await untilServing(portOf(BROKERS[0]), topic);
        await untilFullIsr(topic);
        const stopFile = path.join(cluster.dataDir, `${topic}.stop`);
        const producing = runDriver<ContinuousResult & { error?: string }>(
          client,
          'produce-continuously',
          {
            bootstrap: bootstrap(),
            topic,
            keyPrefix: client,
            stopFile,
            deadlineMs: TEST_TIMEOUT_MS - 60_000,
            intervalMs: 5,
          },
          TEST_TIMEOUT_MS,
        );
        try {
          await untilProgress(topic);
          for (let round = 0; round < KILL_ROUNDS; round++) {
            const victim = (await view(topic)).leaders.get(topic)![round % PARTITIONS];
            expect(BROKERS).toContain(victim);
            await cluster.kill(victim);
            await until(
              `partitions led by broker ${victim} to get another leader`,
              async () =>
                (await view(topic)).leaders.get(topic)!.every((l) => l !== victim && l >= 0) ? true : undefined,
              RECOVERY_TIMEOUT_MS,
            );
            await untilProgress(topic);
            await cluster.restart(victim);
            // The restarted broker truncates what it alone held, catches up and rejoins every ISR.
            await untilFullIsr(topic);
            await untilProgress(topic);
          }
        } finally {
          await writeFile(stopFile, '');
          // The next test starts with every broker up, whatever happened here.
          for (const id of BROKERS) if (!cluster.node(id).process) await cluster.restart(id);
        }
        const result = await producing;
        expect(result.acked.length).toBeGreaterThan(0);
        const acked = new Map(result.acked.map((a) => [a.key, a]));
        expect(acked.size).toBe(result.acked.length);
        for (let p = 0; p < PARTITIONS; p++) {
          const read = await kcatReadPartition(bootstrap(), topic, p);
          // Offsets are contiguous from 0: nothing was lost between acknowledged records.
          expect(read.map((r) => r.offset)).toEqual(read.map((_, i) => i));
          // Every key once: the idempotent producer's retries across leader changes were deduplicated.
          const keys = read.map((r) => r.key);
          expect(new Set(keys).size).toBe(keys.length);
          // In the order sent, per partition.
          const seqs = keys.map((k) => Number(k.slice(k.lastIndexOf('-') + 1)));
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
          const byKey = new Map(read.map((r) => [r.key, r]));
          for (const a of result.acked.filter((x) => x.partition === p)) {
            expect(byKey.get(a.key)?.offset, `acknowledged ${a.key} at ${p}/${a.offset}`).toBe(a.offset);
          }
        }
      },
      TEST_TIMEOUT_MS,
    );
  }

  it(
    'a frozen follower leaves the ISR after the lag time and rejoins when it thaws; below min.insync.replicas acks=all is refused and acks=1 goes on',
    async () => {
      const topic = 'frozen';
      expect(await createTopic(portOf(BROKERS[0]), topic, 1, REPLICATED)).toBe('NONE');
      await untilServing(portOf(BROKERS[0]), topic);
      await untilFullIsr(topic);
      const leader = (await view(topic)).leaders.get(topic)![0];
      const [first, second] = BROKERS.filter((b) => b !== leader);
      const producer = kafkajsClient(`${LOOPBACK}:${portOf(leader)}`).producer({
        allowAutoTopicCreation: false,
        retry: { retries: 1 },
      });
      await producer.connect();
      const frozen: number[] = [];
      try {
        const send = (acks: number, tag: string) =>
          producer.send({ topic, acks, timeout: 30_000, messages: [{ key: tag, value: tag }] });
        await send(-1, 'before');
        process.kill(cluster.node(first).process!.pid, 'SIGSTOP');
        frozen.push(first);
        // Held until the leader drops the frozen follower from the ISR, then acknowledged.
        await send(-1, 'one-frozen');
        const isr = async () => (await metadata(portOf(leader), [topic])).isr.get(topic)![0];
        // The produce completes once the controller accepts the shrink; Metadata shows it a moment later.
        await until(`the ISR to drop broker ${first}`, async () => !(await isr()).includes(first) || undefined);

        process.kill(cluster.node(second).process!.pid, 'SIGSTOP');
        frozen.push(second);
        await until(
          `the ISR to shrink to the leader ${leader}`,
          async () => ((await isr()).length === 1 ? true : undefined),
          RECOVERY_TIMEOUT_MS,
        );
        await expect(send(-1, 'refused')).rejects.toThrow(/in-sync replicas/i);
        await send(1, 'acks-1');

        for (const id of frozen.splice(0)) process.kill(cluster.node(id).process!.pid, 'SIGCONT');
        await untilFullIsr(topic);
        await send(-1, 'after');
      } finally {
        for (const id of frozen) process.kill(cluster.node(id).process!.pid, 'SIGCONT');
        await producer.disconnect();
      }
      const read = await kcatReadPartition(bootstrap(), topic, 0);
      expect(read.map((r) => r.key)).toEqual(['before', 'one-frozen', 'acks-1', 'after']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'after an unclean election, the old leader truncates what only it held when it returns as a follower (diverging epoch)',
    async () => {
      const topic = 'diverged';
      expect(
        await createTopic(portOf(BROKERS[0]), topic, 1, {
          replicationFactor: 3,
          configs: { 'unclean.leader.election.enable': 'true' },
        }),
      ).toBe('NONE');
      await untilServing(portOf(BROKERS[0]), topic);
      await untilFullIsr(topic);
      const leader = (await view(topic)).leaders.get(topic)![0];
      const followers = BROKERS.filter((b) => b !== leader);
      const sendTo = async (broker: number, keys: string[]) => {
        const producer = kafkajsClient(`${LOOPBACK}:${portOf(broker)}`).producer({ allowAutoTopicCreation: false });
        await producer.connect();
        try {
          await producer.send({ topic, acks: -1, messages: keys.map((k) => ({ key: k, value: k })) });
        } finally {
          await producer.disconnect();
        }
      };
      await sendTo(leader, ['replicated-0', 'replicated-1']);
      // The followers die; once fenced, the leader is the whole ISR and writes records no one copies.
      for (const id of followers) await cluster.kill(id);
      await until(
        `the ISR of ${topic} to shrink to ${leader}`,
        async () => (await metadata(portOf(leader), [topic])).isr.get(topic)![0].join() === String(leader) || undefined,
        RECOVERY_TIMEOUT_MS,
      );
      await sendTo(leader, ['only-on-old-leader-0', 'only-on-old-leader-1']);
      await cluster.kill(leader);
      // The followers return; with unclean election on, one of them leads although it was not in the ISR.
      for (const id of followers) await cluster.restart(id);
      const newLeader = await until(
        `a former follower to lead ${topic}`,
        async () => {
          const l = (await metadata(portOf(followers[0]), [topic])).leaders.get(topic)![0];
          return followers.includes(l) ? l : undefined;
        },
        RECOVERY_TIMEOUT_MS,
      );
      await sendTo(newLeader, ['new-leader']);
      await cluster.restart(leader);
      await untilFullIsr(topic);
      // Logged before it fetched again; the line may reach us a moment after the ISR change.
      await until(`broker ${leader} to log its truncation`, () =>
        Promise.resolve(
          /log diverged from the leader; truncating/.test(cluster.node(leader).process!.output()) || undefined,
        ),
      );
      expect((await kcatReadPartition(bootstrap(), topic, 0)).map((r) => r.key)).toEqual([
        'replicated-0',
        'replicated-1',
        'new-leader',
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'consumer groups (kafkajs and kcat -G) keep consuming, skipping nothing, while their coordinator is killed',
    async () => {
      const topic = 'grouped';
      expect(await createTopic(portOf(BROKERS[0]), topic, PARTITIONS, REPLICATED)).toBe('NONE');
      await untilServing(portOf(BROKERS[0]), topic);
      await untilFullIsr(topic);
      // Patient enough to outlast the killed leader's session timeout (kafkajs gives up after ~3 s by default).
      const producer = kafkajsClient(bootstrap()).producer({
        allowAutoTopicCreation: false,
        idempotent: true,
        retry: { initialRetryTime: 300, retries: 12 },
      });
      await producer.connect();
      const produced: string[] = [];
      const produce = async (tag: string, count: number) => {
        const messages = Array.from({ length: count }, (_, i) => ({ key: `${tag}-${i}`, value: `${tag}-${i}` }));
        await producer.send({ topic, acks: -1, messages });
        produced.push(...messages.map((m) => m.key));
      };

      const kafkajsGroup = 'replicated-kafkajs';
      const coordinator = await until(`a coordinator for ${kafkajsGroup}`, async () => {
        const id = await findCoordinator(portOf(BROKERS[0]), kafkajsGroup);
        return id >= 0 ? id : undefined;
      });
      // Both groups coordinated by one broker, so one kill leaves the other two for min.insync.replicas.
      let kcatGroup = '';
      for (let i = 0; !kcatGroup; i++)
        if ((await findCoordinator(portOf(BROKERS[0]), `replicated-kcat-${i}`)) === coordinator)
          kcatGroup = `replicated-kcat-${i}`;
      const consumed = { kafkajs: new Set<string>(), kcat: new Set<string>() };
      const consumer = kafkajsClient(bootstrap()).consumer({ groupId: kafkajsGroup, maxWaitTimeInMs: 200 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        // eslint-disable-next-line @typescript-eslint/require-await -- kafkajs wants a promise
        eachMessage: async ({ message }) => void consumed.kafkajs.add(message.key!.toString()),
      });
      const kcat = startKcatGroup(bootstrap(), kcatGroup, topic, (key) => consumed.kcat.add(key));
      const admin = kafkajsClient(bootstrap()).admin();
      await admin.connect();
      const committed = async (group: string) =>
        new Map(
          (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions.map((p) => [
            p.partition,
            Number(p.offset),
          ]),
        );
      const consumedAll = (what: keyof typeof consumed) =>
        until(
          `${what} to consume all ${produced.length} records`,
          () => Promise.resolve(produced.every((k) => consumed[what].has(k)) ? true : undefined),
          RECOVERY_TIMEOUT_MS,
        );
      try {
        await produce('first', 60);
        await consumedAll('kafkajs');
        await consumedAll('kcat');
        const before = { kafkajs: await committed(kafkajsGroup), kcat: await committed(kcatGroup) };
        await cluster.kill(coordinator);
        await produce('second', 60);
        await consumedAll('kafkajs');
        await consumedAll('kcat');
        await cluster.restart(coordinator);
        await produce('third', 60);
        await consumedAll('kafkajs');
        await consumedAll('kcat');
        for (const [group, what] of [
          [kafkajsGroup, 'kafkajs'],
          [kcatGroup, 'kcat'],
        ] as const) {
          const after = await until(
            `${group} to commit past where it was`,
            async () => {
              const now = await committed(group);
              return [...before[what]].every(([p, o]) => (now.get(p) ?? -1) >= o) ? now : undefined;
            },
            RECOVERY_TIMEOUT_MS,
          );
          for (const [p, o] of before[what]) expect(after.get(p)).toBeGreaterThanOrEqual(o);
        }
      } finally {
        kcat.kill('SIGTERM');
        await consumer.disconnect();
        await producer.disconnect();
        await admin.disconnect();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

/** kcat's high-level consumer (-G) in `group`, calling `onKey` for every record's key as it arrives. */
function startKcatGroup(bootstrap: string, group: string, topic: string, onKey: (key: string) => void): ChildProcess {
  const child = spawn(
    'kcat',
    [
      '-b',
      bootstrap,
      '-u',
      '-G',
      group,
      '-X',
      'auto.offset.reset=earliest',
      '-X',
      'auto.commit.interval.ms=200',
      '-f',
      '%k\\n',
      topic,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) if (l) onKey(l);
  });
  child.stderr.resume();
  return child;
}
