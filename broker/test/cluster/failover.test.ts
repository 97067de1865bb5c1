// A cluster of three combined voters and one broker-only node survives what happens to nodes:
// the active controller killed with SIGKILL (a new one is elected, topics can be created, the
// partitions whose leaders are alive keep serving, and the old one comes back as a follower), a
// broker restarted cleanly (controlled shutdown takes its leaderships offline, it registers again
// and serves them with every record), and a broker frozen past its session (fenced: Metadata stops
// naming it; unfenced and leading again once it heartbeats). Partitions have one in-sync replica
// until replication exists, so a lost leader's partitions are offline (leader -1) until it
// returns, as in Kafka.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../cluster-processes.js';
import {
  LOOPBACK,
  byPartition,
  createTopic,
  keepNodeLogs,
  describeQuorum,
  kafkajsProduce,
  kcatReadPartition,
  metadata,
  until,
  untilServing,
  type KeyedRecord,
} from './cluster-clients.js';

const TOPIC = 'survivor';
const PARTITIONS = 12;
const VOTERS = [1, 2, 3];
const BROKER_ONLY = 4;
const SESSION_TIMEOUT_MS = 2000;
const HEARTBEAT_INTERVAL_MS = 500;
/** Election, fencing after the session timeout and re-registration, with room for a busy machine. */
const RECOVERY_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 90_000;

describe('a cluster of three combined voters and one broker-only node, when nodes fail', () => {
  let cluster: TestCluster;
  /** Every record produced to TOPIC, in order. */
  const produced: KeyedRecord[] = [];
  let batch = 0;

  const portOf = (nodeId: number) => cluster.node(nodeId).clientPort!;
  const running = () => cluster.nodes.filter((n) => n.process !== null).map((n) => n.nodeId);
  const bootstrapOf = (nodeIds: number[]) => nodeIds.map((id) => `${LOOPBACK}:${portOf(id)}`).join(',');
  const leadersSeenBy = async (nodeId: number) => (await metadata(portOf(nodeId), [TOPIC])).leaders.get(TOPIC)!;
  const activeController = async () => (await describeQuorum(portOf(running()[0]))).leaderId;
  const controllerLog = async () => cluster.node(await activeController()).process!.output();

  /** Waits until every running broker's (or these brokers') Metadata satisfies `check`; returns the first one's view. */
  const seenByAll = (
    what: string,
    check: (brokers: number[], leaders: number[]) => boolean,
    asked: () => number[] = running,
  ) =>
    until(
      what,
      async () => {
        const views = await Promise.all(asked().map((id) => metadata(portOf(id), [TOPIC])));
        const ok = views.every((v) => check(v.brokers, v.leaders.get(TOPIC)!));
        return ok ? { brokers: views[0].brokers, leaders: views[0].leaders.get(TOPIC)! } : undefined;
      },
      RECOVERY_TIMEOUT_MS,
    );

  /** Produces a few records to each partition through the given brokers. */
  const produce = async (partitions: number[], through: number[]) => {
    const tag = `batch-${++batch}`;
    const records = partitions.flatMap((partition) =>
      [0, 1, 2].map((i) => ({ partition, key: `${tag}-${partition}-${i}`, value: `${tag} value ${i}` })),
    );
    await kafkajsProduce(bootstrapOf(through), TOPIC, records);
    produced.push(...records);
  };

  /** Every record produced to these partitions is there, once, in order. */
  const expectServed = async (partitions: number[], through: number[]) => {
    const read = (await Promise.all(partitions.map((p) => kcatReadPartition(bootstrapOf(through), TOPIC, p)))).flat();
    expect(byPartition(read)).toEqual(byPartition(produced.filter((r) => partitions.includes(r.partition))));
  };

  const ledBy = (leaders: number[], nodeId: number) =>
    leaders.flatMap((leader, partition) => (leader === nodeId ? [partition] : []));

  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 4,
      controllers: VOTERS.length,
      overrides: {
        'broker.session.timeout.ms': String(SESSION_TIMEOUT_MS),
        'broker.heartbeat.interval.ms': String(HEARTBEAT_INTERVAL_MS),
      },
    });
    expect(await createTopic(portOf(1), TOPIC, PARTITIONS)).toBe('NONE');
    const { leaders } = await seenByAll(
      'every broker to know every broker and the topic',
      (brokers, leaders) => brokers.join() === '1,2,3,4' && leaders.every((l) => l > 0),
    );
    for (const id of [...VOTERS, BROKER_ONLY]) expect(ledBy(leaders, id)).toHaveLength(PARTITIONS / 4);
    await untilServing(portOf(1), TOPIC);
    await produce(
      leaders.map((_, p) => p),
      [1],
    );
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && cluster)
      console.log(`node logs kept in ${(await keepNodeLogs(cluster)).join(', ')}`);
  });
  afterAll(async () => {
    // A frozen node ignores SIGTERM until it runs again.
    const frozen = cluster?.node(BROKER_ONLY).process;
    if (frozen) process.kill(frozen.pid, 'SIGCONT');
    await cluster?.stopAll();
  });

  it(
    'elects a new active controller after kill -9 of the old one, which comes back as a follower',
    async () => {
      const before = await describeQuorum(portOf(1));
      const killed = before.leaderId;
      const survivors = running().filter((id) => id !== killed);
      const leadersBefore = await leadersSeenBy(survivors[0]);
      const alive = leadersBefore.flatMap((l, p) => (l !== killed ? [p] : []));

      const killedAt = performance.now();
      await cluster.kill(killed);
      // Topics can be created as soon as a new controller is elected (the request through a
      // surviving broker is forwarded to it); clients keep producing to the partitions whose
      // leaders are alive meanwhile.
      const [failoverMs] = await Promise.all([
        until(
          'CreateTopics to succeed through a surviving broker',
          async () => {
            const answer = await createTopic(portOf(survivors[0]), 'created-after-failover', 3);
            // A request that timed out may still have created it.
            return answer === 'NONE' || answer === 'TOPIC_ALREADY_EXISTS' ? performance.now() - killedAt : undefined;
          },
          RECOVERY_TIMEOUT_MS,
        ),
        produce(alive, survivors),
      ]);
      console.log(
        `active-controller failover: kill -9 → first successful CreateTopics in ${Math.round(failoverMs)} ms`,
      );

      const after = await describeQuorum(portOf(survivors[0]));
      expect(after.leaderId).not.toBe(killed);
      expect(survivors).toContain(after.leaderId);
      expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
      await expectServed(alive, survivors);

      // Fenced once its session expires at the new controller: its partitions are offline.
      const offline = ledBy(leadersBefore, killed);
      await seenByAll(
        `broker ${killed} to be fenced`,
        (brokers, leaders) => !brokers.includes(killed) && offline.every((p) => leaders[p] === -1),
      );

      await cluster.restart(killed);
      // It follows the new leader and has caught up with the quorum's log.
      await until(
        `node ${killed} to be a caught-up follower in DescribeQuorum`,
        async () => {
          const q = await describeQuorum(portOf(survivors[0]));
          return q.leaderId !== killed &&
            q.voters.includes(killed) &&
            (q.voterLogEndOffsets.get(killed) ?? -1) >= q.highWatermark
            ? q
            : undefined;
        },
        RECOVERY_TIMEOUT_MS,
      );
      expect(cluster.node(killed).process!.output()).toMatch(/"state":"follower"/);
      // Back as the leader of its partitions, with every record.
      await seenByAll(
        `broker ${killed} to lead its partitions again`,
        (brokers, leaders) => brokers.includes(killed) && leaders.join() === leadersBefore.join(),
      );
      await expectServed(offline, [killed]);
      await produce(offline, survivors);
      await expectServed(
        leadersBefore.map((_, p) => p),
        running(),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'moves a cleanly stopped broker’s leaderships off before it exits, and serves them again after its restart',
    async () => {
      const controller = await activeController();
      const restarted = VOTERS.find((id) => id !== controller)!;
      const leadersBefore = await leadersSeenBy(controller);
      const its = ledBy(leadersBefore, restarted);
      expect(its.length).toBeGreaterThan(0);

      expect(await cluster.stop(restarted)).toBe(0);
      // Controlled shutdown: the controller offlined its partitions and fenced it before it exited.
      expect(await controllerLog()).toContain(
        `"brokerId":${restarted},"msg":"broker shut down in a controlled way: its leaderships moved and it is fenced"`,
      );
      await seenByAll(
        `broker ${restarted}'s partitions to be offline`,
        (brokers, leaders) => !brokers.includes(restarted) && its.every((p) => leaders[p] === -1),
      );

      const registrations = (log: string) =>
        log.split('\n').filter((l) => l.includes(`"brokerId":${restarted},`) && l.includes('"msg":"broker registered"'))
          .length;
      const registeredBefore = registrations(await controllerLog());
      await cluster.restart(restarted);
      expect(registrations(await controllerLog())).toBeGreaterThan(registeredBefore);
      await seenByAll(
        `broker ${restarted} to lead its partitions again`,
        (brokers, leaders) => brokers.includes(restarted) && leaders.join() === leadersBefore.join(),
      );
      await expectServed(its, [restarted]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'fences a broker that stops heartbeating for longer than its session, and unfences it when it is back',
    async () => {
      const frozen = cluster.node(BROKER_ONLY).process!;
      const others = running().filter((id) => id !== BROKER_ONLY);
      const leadersBefore = await leadersSeenBy(others[0]);
      const its = ledBy(leadersBefore, BROKER_ONLY);

      process.kill(frozen.pid, 'SIGSTOP');
      try {
        const stoppedAt = performance.now();
        await seenByAll(
          `broker ${BROKER_ONLY} to be fenced`,
          (brokers, leaders) => !brokers.includes(BROKER_ONLY) && its.every((p) => leaders[p] === -1),
          () => others,
        );
        const fencedMs = performance.now() - stoppedAt;
        console.log(
          `fencing: SIGSTOP → partitions offline on every broker in ${Math.round(fencedMs)} ms (session ${SESSION_TIMEOUT_MS} ms)`,
        );
        expect(fencedMs).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS - HEARTBEAT_INTERVAL_MS);
        expect(await controllerLog()).toContain(`"brokerId":${BROKER_ONLY},"sessionTimeoutMs":${SESSION_TIMEOUT_MS}`);
      } finally {
        process.kill(frozen.pid, 'SIGCONT');
      }

      await seenByAll(
        `broker ${BROKER_ONLY} to be unfenced and lead its partitions again`,
        (brokers, leaders) => brokers.includes(BROKER_ONLY) && leaders.join() === leadersBefore.join(),
      );
      // Named leader everywhere is not yet serving everywhere: clients may still hold the old epoch.
      await untilServing(portOf(others[0]), TOPIC);
      await produce(its, others);
      await expectServed(its, running());
    },
    TEST_TIMEOUT_MS,
  );
});
