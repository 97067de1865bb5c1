// Brokers restarting under an acks=-1 producer lose nothing it saw acknowledged, with every
// partition on REPLICATION brokers (3) and min.insync.replicas one less (2):
//
// - a config change rolls the brokers, one at a time: the StatefulSet is OnDelete and the operator
//   deletes one outdated broker pod, waits for it to be back and ready, and restarts the next only
//   when that leaves every partition it is in sync for at min.insync.replicas or above ("can
//   roll": the one before must have caught up and rejoined the ISR), the active controller last;
// - a user deletes the pod of a partition leader (`kubectl delete pod`): its leaderships move to
//   another in-sync replica, the StatefulSet brings the pod back on the same volume, and the
//   broker catches up and rejoins the ISR.
//
// The producer is clients/acked-producer.mjs: @platformatic/kafka's idempotent producer, acks=-1,
// one record in flight, a record retried until acknowledged. Its retries carry the same producer
// id and sequence number, so a copy the broker did store is recognised and not written again:
// every record read back is one it saw acknowledged, at the offset the acknowledgement named,
// exactly once. Each test writes its own topic. Written for RUNNEL_E2E_BROKERS brokers (3).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BROKERS,
  REPLICATION,
  brokerPods,
  clusterSettled,
  eventually,
  example,
  isReady,
  kafkaBrokersAre,
  kafkaReachable,
  ordinal,
  useEnv,
  type BrokerConfigs,
  type Env,
  type KafkaTopic,
  type Pod,
  type StatefulSet,
} from './env.js';

const CLUSTER = 'events';
/** The rolling restart's topic, and the one written while a leader's pod is deleted. */
const ROLLING_TOPIC = 'rolling';
const FAILOVER_TOPIC = 'failover';
const PARTITIONS = 3;
const MIN_INSYNC = Math.max(1, REPLICATION - 1);
const CONFIG_KEY = 'log.retention.hours';
const PODS = Array.from({ length: BROKERS }, (_, i) => `${CLUSTER}-broker-${i}`);
/** Acknowledgements to see before disturbing the brokers, and again once they are back. */
const ACKS_BEFORE_AND_AFTER = 50;

interface Ack {
  key: string;
  partition: number;
  offset: number;
}

/** The producer's report (see clients/acked-producer.mjs). */
function acksOf(output: string): Ack[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('ack '))
    .map((l) => {
      const [, key, partition, offset] = l.split(' ');
      return { key: key, partition: Number(partition), offset: Number(offset) };
    });
}

/** clients/topic-metadata.mjs's answer: Metadata of one topic, as an admin client reads it. */
interface TopicMetadata {
  brokers: number[];
  controller: number;
  partitions: { partition: number; leader: number; leaderEpoch: number; replicas: number[]; isr: number[] }[];
}

async function topicMetadata(env: Env, bootstrap: string, topic: string): Promise<TopicMetadata> {
  const r = await env.nodeRun('topic-metadata.mjs', [bootstrap, topic]);
  if (r.code !== 0) throw new Error(`topic-metadata ${topic}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as TopicMetadata;
}

const brief = (m: TopicMetadata) =>
  m.partitions.map((p) => `${p.partition}: leader ${p.leader} isr [${p.isr.join(',')}]`).join('; ');

/** Waits until every partition of `topic` has a leader and every one of its REPLICATION replicas in sync. */
async function fullyInSync(env: Env, bootstrap: string, topic: string, ms = 120_000): Promise<TopicMetadata> {
  let last: TopicMetadata | undefined;
  try {
    return await eventually(
      `every partition of ${topic} with all ${REPLICATION} replicas in sync`,
      async () => {
        last = await topicMetadata(env, bootstrap, topic);
        return (
          last.partitions.length === PARTITIONS &&
          last.partitions.every(
            (p) =>
              p.leader >= 0 &&
              p.replicas.length === REPLICATION &&
              [...p.isr].sort().join() === [...p.replicas].sort().join(),
          ) &&
          last
        );
      },
      ms,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message} (last seen: ${last ? brief(last) : 'nothing'})`);
  }
}

/**
 * Samples the ISR of every partition of `topic` (kcat -L, about twice a second, whichever broker
 * answers) until stopped; returns the smallest ISR seen of each partition.
 */
function sampleIsrs(env: Env, bootstrap: string, topic: string) {
  const smallest = new Map<number, number[]>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const r = await env.kcat(['-b', bootstrap, '-L', '-t', topic, '-m', '5']).catch(() => undefined);
      if (r?.code === 0) {
        samples++;
        for (const m of r.stdout.matchAll(/^\s*partition (\d+), leader -?\d+, replicas: [\d,]*, isrs: ([\d,]*)/gm)) {
          const isr = m[2].split(',').filter(Boolean).map(Number);
          const p = Number(m[1]);
          if (!smallest.has(p) || isr.length < smallest.get(p)!.length) smallest.set(p, isr);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  return {
    async stop(): Promise<{ samples: number; smallest: Map<number, number[]> }> {
      stopped = true;
      await loop;
      return { samples, smallest };
    },
  };
}

/** Checks that no partition's ISR was seen below min.insync.replicas: acks=-1 was never refused for want of replicas. */
function expectNeverBelowMinInsync(topic: string, sampled: { samples: number; smallest: Map<number, number[]> }) {
  expect(sampled.samples, `ISR samples of ${topic}`).toBeGreaterThan(5);
  expect(
    [...sampled.smallest]
      .filter(([, isr]) => isr.length < MIN_INSYNC)
      .map(([p, isr]) => `${topic}-${p} isr [${isr.join(',')}]`),
    `partitions seen below min.insync.replicas ${MIN_INSYNC}`,
  ).toEqual([]);
}

/** clients/acked-producer.mjs writing `topic`, its output kept in the run dir when it stops. */
function startProducer(env: Env, bootstrap: string, topic: string) {
  const client = env.nodeClient('acked-producer.mjs', [bootstrap, topic]);
  const acks = () => acksOf(client.stdout);
  return {
    acked: () => acks().length,
    /** Waits until `n` records more than the first `from` were acknowledged, and on every partition. */
    async ackedAtLeast(what: string, n: number, from = 0, ms = 120_000): Promise<void> {
      await eventually(
        what,
        () => {
          const since = acks().slice(from);
          return Promise.resolve(since.length >= n && new Set(since.map((a) => a.partition)).size === PARTITIONS);
        },
        ms,
      ).catch((e: Error) => {
        const last = client.stdout.trim().split('\n').slice(-5).join(' | ');
        throw new Error(`${e.message} (${acks().length - from} since; last lines: ${last})`);
      });
    },
    /** Tells it to stop; once it has, what it said (also kept in the run dir). */
    async stop(): Promise<{ acks: Ack[]; retries: string[]; done: string | undefined; stderr: string }> {
      client.end('stop\n');
      const r = await client.done;
      fs.writeFileSync(path.join(env.logDir, `acked-producer-${topic}.log`), `${r.stdout}\n--- stderr\n${r.stderr}`);
      return {
        acks: acksOf(r.stdout),
        retries: r.stdout.split('\n').filter((l) => l.startsWith('retry ')),
        done: /^done \d+ \d+$/m.exec(r.stdout)?.[0],
        stderr: r.stderr,
      };
    },
  };
}

/**
 * Reads `topic` back with kcat and checks that it holds exactly the acknowledged records: each at
 * the partition and offset its acknowledgement named, none twice, nothing else, and offsets growing
 * in acknowledgement order within each partition.
 */
async function expectExactlyAcknowledged(env: Env, bootstrap: string, topic: string, acks: Ack[]): Promise<void> {
  const c = await env.kcat(['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %k %s\\n']);
  expect(c.code, c.stderr).toBe(0);
  const stored = new Map<string, string>();
  const copies = new Map<string, number>();
  for (const line of c.stdout.trim().split('\n').filter(Boolean)) {
    const [p, o, k, v] = line.split(' ');
    stored.set(`${p}/${o}`, `${k} ${v}`);
    copies.set(k, (copies.get(k) ?? 0) + 1);
  }
  const lost = acks.filter((a) => stored.get(`${a.partition}/${a.offset}`) !== `${a.key} v${a.key.slice(1)}`);
  expect(lost.slice(0, 10), `${lost.length} acknowledged records are not where their acknowledgement said`).toEqual([]);
  expect([...copies].filter(([, n]) => n > 1).slice(0, 10), 'records stored twice').toEqual([]);
  const acknowledged = new Set(acks.map((a) => a.key));
  expect(
    [...copies.keys()].filter((k) => !acknowledged.has(k)).slice(0, 10),
    'records stored that were never acknowledged',
  ).toEqual([]);
  expect(stored.size).toBe(acks.length);
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = acks.filter((a) => a.partition === p).map((a) => a.offset);
    expect(offsets.length, `partition ${p} got records`).toBeGreaterThan(0);
    expect(
      offsets.every((o, i) => i === 0 || o > offsets[i - 1]),
      `partition ${p} offsets in acknowledgement order`,
    ).toBe(true);
  }
}

/** How often each kind of error made the producer retry a record (its `retry <key> <error>` lines: the client's codes). */
function retryCauses(retries: string[]): string {
  const causes = new Map<string, number>();
  for (const line of retries) {
    const codes = new Set(
      [...line.matchAll(/\bPLT_KFK_\w+/g)].map((m) => m[0]).filter((c) => c !== 'PLT_KFK_MULTIPLE'),
    );
    const cause = [...codes].join('+') || 'other';
    causes.set(cause, (causes.get(cause) ?? 0) + 1);
  }
  return [...causes].map(([c, n]) => `${c} ×${n}`).join(', ') || 'none';
}

/** Broker pods in the order they were deleted (their deletionTimestamp first seen), from the same watch. */
function deletionOrder(watch: string): string[] {
  const order: string[] = [];
  for (const line of watch.split('\n')) {
    const [type, name, , deletion] = line.split(' ');
    if (name && PODS.includes(name) && (deletion || type === 'DELETED') && !order.includes(name)) order.push(name);
  }
  return order;
}

/**
 * The most broker pods unavailable (missing, terminating or not ready) at once, over a pod watch
 * (`kubectl get -w --output-watch-events` lines: type name uid deletionTimestamp ready), counted
 * from the first moment all were available.
 */
function mostUnavailable(watch: string): number {
  const pods = new Map<string, { uid: string; deleting: boolean; ready: boolean }>();
  let allSeen = false;
  let most = 0;
  for (const line of watch.split('\n')) {
    const [type, name, uid, deletion, ready] = line.split(' ');
    if (!name || !PODS.includes(name)) continue;
    if (type === 'DELETED') pods.delete(name);
    else if (type === 'ADDED' || type === 'MODIFIED')
      pods.set(name, { uid: uid, deleting: !!deletion, ready: ready === 'True' });
    const unavailable = PODS.filter((p) => !pods.get(p) || pods.get(p)!.deleting || !pods.get(p)!.ready).length;
    if (unavailable === 0) allSeen = true;
    if (allSeen) most = Math.max(most, unavailable);
  }
  return most;
}

describe(`brokers restarting under an acks=-1 producer (replication factor ${REPLICATION}, min.insync.replicas ${MIN_INSYNC}) lose nothing acknowledged`, () => {
  const env = useEnv({ namespace: 'e2e-rolling-restart', operator: true });
  let bootstrap = '';

  it(`starts from a Ready cluster and two topics, every partition on ${REPLICATION} brokers and in sync`, async () => {
    await env.k(['apply', '-n', env.namespace, '-f', '-'], example('kafka-cluster.yaml'));
    for (const name of [ROLLING_TOPIC, FAILOVER_TOPIC]) {
      const topic = {
        apiVersion: 'kafka.runnel.dev/v1alpha1',
        kind: 'KafkaTopic',
        metadata: { name },
        spec: {
          cluster: CLUSTER,
          partitions: PARTITIONS,
          replicationFactor: REPLICATION,
          config: { 'min.insync.replicas': MIN_INSYNC },
        },
      };
      await env.k(['apply', '-n', env.namespace, '-f', '-'], JSON.stringify(topic));
    }
    const kc = await clusterSettled(env, CLUSTER);
    bootstrap = kc.status!.bootstrap!;
    await kafkaReachable(env, bootstrap);
    for (const name of [ROLLING_TOPIC, FAILOVER_TOPIC]) {
      await eventually(`KafkaTopic ${name} Ready`, async () =>
        (await env.json<KafkaTopic>(['kafkatopic', name, '-n', env.namespace]))?.status?.conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        ),
      );
      await fullyInSync(env, bootstrap, name);
    }
  });

  it(
    'a config change rolls every broker while a producer runs, each only once the one before is back in sync, the active controller last',
    { timeout: 480_000 },
    async () => {
      const ns = env.namespace;
      const before = await brokerPods(env, CLUSTER);
      expect(before.map((p) => p.metadata.name)).toEqual(PODS);
      // One cluster, and which of its brokers is the active controller (Metadata's controller id).
      const { controller } = await kafkaBrokersAre(
        env,
        bootstrap,
        PODS.map((_, i) => i),
      );
      expect(controller).toBeGreaterThanOrEqual(0);
      const configsBefore = JSON.parse(
        (await env.nodeRun('broker-configs.mjs', [bootstrap, CONFIG_KEY])).stdout,
      ) as BrokerConfigs;
      expect(Object.values(configsBefore).map((c) => c[CONFIG_KEY])).toEqual(PODS.map(() => '168'));

      const watch = env.kubectlSpawn([
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        `app.kubernetes.io/instance=${CLUSTER}`,
        '--watch',
        '--output-watch-events',
        '-o',
        'jsonpath={.type} {.object.metadata.name} {.object.metadata.uid} {.object.metadata.deletionTimestamp} {.object.status.conditions[?(@.type=="Ready")].status}{"\\n"}',
      ]);
      // What the operator says while it rolls (its Ready condition's message), to show its waits.
      const progress = env.kubectlSpawn([
        'get',
        `kafkacluster/${CLUSTER}`,
        '-n',
        ns,
        '--watch',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].message}{"\\n"}',
      ]);
      const producer = startProducer(env, bootstrap, ROLLING_TOPIC);
      const isrs = sampleIsrs(env, bootstrap, ROLLING_TOPIC);
      let report: Awaited<ReturnType<typeof producer.stop>>;
      let sampled: Awaited<ReturnType<typeof isrs.stop>>;
      try {
        await producer.ackedAtLeast('the producer acknowledged before the change', ACKS_BEFORE_AND_AFTER, 0, 60_000);
        await env.k([
          'patch',
          `kafkacluster/${CLUSTER}`,
          '-n',
          ns,
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { config: { [CONFIG_KEY]: 96 } } }),
        ]);
        // Wait for the pods to be replaced (clusterSettled alone could see the status of before).
        await eventually(
          'every broker pod replaced',
          async () => {
            const now = await brokerPods(env, CLUSTER);
            return (
              now.length === BROKERS && now.every((p, i) => p.metadata.uid !== before[i].metadata.uid && isReady(p))
            );
          },
          300_000,
        );
        await clusterSettled(env, CLUSTER);
        // ...and the producer carries on afterwards.
        await producer.ackedAtLeast(
          'the producer acknowledged after the restart',
          ACKS_BEFORE_AND_AFTER,
          producer.acked(),
        );
      } finally {
        watch.kill();
        progress.kill();
        sampled = await isrs.stop();
        report = await producer.stop();
      }
      const { acks, retries } = report;
      expect(report.done, report.stderr).toBe(`done ${acks.length} 0`);
      console.log(
        `[e2e] rolling restart: ${acks.length} records acknowledged, ${retries.length} sends retried (${retryCauses(retries)})`,
      );

      // Each broker went only once the one before had rejoined the ISR: no partition was left
      // below min.insync.replicas.
      expectNeverBelowMinInsync(ROLLING_TOPIC, sampled);
      console.log(
        `[e2e] smallest ISR seen: ${[...sampled.smallest].map(([p, isr]) => `${p}: [${isr.join(',')}]`).join('; ')}`,
      );
      const said = (await progress.done).stdout;
      fs.writeFileSync(path.join(env.logDir, 'rolling-restart-progress.log'), said);
      const waits = new Set(said.split('\n').filter((l) => l.startsWith('waiting to restart broker')));
      console.log(`[e2e] the operator waited for in-sync replicas: ${[...waits].join(' | ') || 'never'}`);
      // One broker at a time: never two unavailable at once, and each was.
      const watched = (await watch.done).stdout;
      expect(mostUnavailable(watched), watched).toBe(1);
      // Each broker once, the active controller last (so the quorum's leadership moves only once).
      const order = deletionOrder(watched);
      expect(order.slice().sort(), watched).toEqual(PODS);
      expect(order.at(-1), `restart order ${order.join(', ')}`).toBe(`${CLUSTER}-broker-${controller}`);

      // Every pod was replaced and runs the new revision, with the new config hash.
      const sts = (await env.json<StatefulSet>(['statefulset', `${CLUSTER}-broker`, '-n', ns]))!;
      const after = await brokerPods(env, CLUSTER);
      for (const [i, pod] of after.entries()) {
        expect(ordinal(pod)).toBe(i);
        expect(pod.metadata.uid).not.toBe(before[i].metadata.uid);
        expect(pod.metadata.labels!['controller-revision-hash']).toBe(sts.status!.updateRevision);
        expect(pod.metadata.annotations!['kafka.runnel.dev/config-hash']).toBe(
          sts.spec.template.metadata!.annotations!['kafka.runnel.dev/config-hash'],
        );
        expect(pod.metadata.annotations!['kafka.runnel.dev/config-hash']).not.toBe(
          before[i].metadata.annotations!['kafka.runnel.dev/config-hash'],
        );
      }
      const restarts = await env.k([
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        `involvedObject.name=${CLUSTER},reason=RollingRestart`,
        '-o',
        'jsonpath={range .items[*]}{.message}{"\\n"}{end}',
      ]);
      for (let i = 0; i < BROKERS; i++) expect(restarts).toContain(`restarting broker ${i}`);

      // The brokers run with the new value (they say so themselves).
      const configsAfter = JSON.parse(
        (await env.nodeRun('broker-configs.mjs', [bootstrap, CONFIG_KEY])).stdout,
      ) as BrokerConfigs;
      expect(Object.keys(configsAfter)).toEqual(PODS.map((_, i) => String(i)));
      expect(Object.values(configsAfter).map((c) => c[CONFIG_KEY])).toEqual(PODS.map(() => '96'));

      // Nothing acknowledged is lost, and every replica is back in sync.
      await expectExactlyAcknowledged(env, bootstrap, ROLLING_TOPIC, acks);
      await fullyInSync(env, bootstrap, ROLLING_TOPIC);
    },
  );

  it(
    '`kubectl delete pod` of a partition leader: its partitions move to another in-sync replica, the pod comes back and rejoins the ISR, nothing acknowledged is lost',
    { timeout: 300_000 },
    async () => {
      const ns = env.namespace;
      const before = await fullyInSync(env, bootstrap, FAILOVER_TOPIC);
      // A leader that is not the active controller (the rolling restart above restarted that
      // one already): here only partition leaderships move.
      const victim =
        before.partitions.map((p) => p.leader).find((l) => l !== before.controller) ?? before.partitions[0].leader;
      const led = before.partitions.filter((p) => p.leader === victim).map((p) => p.partition);
      const pod = `${CLUSTER}-broker-${victim}`;
      const podBefore = (await env.json<Pod>(['pod', pod, '-n', ns]))!;
      console.log(`[e2e] deleting ${pod}, leader of ${FAILOVER_TOPIC} partitions ${led.join(', ')} (${brief(before)})`);

      const producer = startProducer(env, bootstrap, FAILOVER_TOPIC);
      const isrs = sampleIsrs(env, bootstrap, FAILOVER_TOPIC);
      let report: Awaited<ReturnType<typeof producer.stop>>;
      let sampled: Awaited<ReturnType<typeof isrs.stop>>;
      try {
        await producer.ackedAtLeast('the producer acknowledged before the deletion', ACKS_BEFORE_AND_AFTER, 0, 60_000);
        // As a user would: kubectl waits until the pod is gone (the broker shut down).
        await env.k(['delete', 'pod', pod, '-n', ns, '--timeout=120s']);
        // Its partitions are led by another in-sync replica (leaders move back to the preferred
        // replica only at the next leader.imbalance.check.interval.seconds, 300 by default).
        const moved = await eventually(`leaders of ${FAILOVER_TOPIC} other than broker ${victim}`, async () => {
          const m = await topicMetadata(env, bootstrap, FAILOVER_TOPIC);
          return m.partitions.every((p) => p.leader >= 0 && p.leader !== victim) && m;
        });
        for (const p of led) {
          expect(before.partitions[p].isr).toContain(moved.partitions[p].leader);
          expect(moved.partitions[p].leaderEpoch).toBeGreaterThan(before.partitions[p].leaderEpoch);
        }
        // The StatefulSet brings the pod back; the broker catches up and rejoins every ISR.
        await eventually(
          `${pod} back and ready`,
          async () => {
            const p = await env.json<Pod>(['pod', pod, '-n', ns]);
            return p && p.metadata.uid !== podBefore.metadata.uid && isReady(p);
          },
          120_000,
        );
        const rejoined = await fullyInSync(env, bootstrap, FAILOVER_TOPIC);
        console.log(`[e2e] ${pod} back in sync: ${brief(rejoined)}`);
        // The producer carries on, on every partition.
        const backAt = producer.acked();
        await producer.ackedAtLeast('the producer acknowledged after the pod came back', ACKS_BEFORE_AND_AFTER, backAt);
      } finally {
        sampled = await isrs.stop();
        report = await producer.stop();
      }
      const { acks, retries } = report;
      expect(report.done, report.stderr).toBe(`done ${acks.length} 0`);
      console.log(
        `[e2e] leader pod deleted: ${acks.length} records acknowledged, ${retries.length} sends retried (${retryCauses(retries)})`,
      );
      expectNeverBelowMinInsync(FAILOVER_TOPIC, sampled);
      await expectExactlyAcknowledged(env, bootstrap, FAILOVER_TOPIC, acks);
    },
  );
});
