// Scaling a KafkaCluster moves partitions, with clients running throughout: `kubectl scale` from 3
// brokers to 5 spreads replicas and leaders over the new brokers, and back to 3 drains the leaving
// ones before they stop and are unregistered. The operator pod is killed once mid-way (its
// successor resumes from the brokers' reassignments and status.scaling), and spec.replicas changes
// once mid-way (5 → 4 → 3: moves to the broker no longer kept are cancelled, then it is drained
// too). An acks=-1 producer (clients/acked-producer.mjs) and a consumer group
// (clients/group-consumer.mjs) run from before the first scale to after the last: every
// acknowledged record is readable at its offset afterwards, and the group skipped none.
// A scale-down the topics cannot survive (below a replication factor) is refused with its reason.
//
// Written for RUNNEL_E2E_BROKERS = 3 (the suite's default); other counts skip it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  BROKERS,
  OPERATOR_NAMESPACE,
  brokerPods,
  clusterSettled,
  eventually,
  type ConfigMap,
  example,
  kafkaBrokersAre,
  useEnv,
  type Env,
  type KafkaCluster,
  type List,
  type PersistentVolumeClaim,
  type Pod,
  type StatefulSet,
} from './env.js';

const CLUSTER = 'scaling';
const TOPIC = 'moving';
const GROUP = 'e2e-scaling-readers';
const PARTITIONS = 6;
/**
 * Records written before the first scale: 20 MB, more than the throttle's first burst (Kafka's
 * quota window lets about ten seconds' worth through at once), so that each scaling takes long
 * enough for the operator to be killed and the target changed while replicas move.
 */
const PREFILL_RECORDS = 2_000;
const PREFILL_VALUE = 'x'.repeat(10_000);
const THROTTLE_BYTES_PER_SECOND = 500_000;
const MAX_PARTITION_MOVEMENTS = 8;
const SCALING_MS = 420_000;

interface PartitionView {
  topic: string;
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Every partition of every topic, internal ones included, as kcat -L reports them. */
async function allPartitions(env: Env, bootstrap: string): Promise<PartitionView[]> {
  const r = await env.kcat(['-b', bootstrap, '-L', '-m', '10']);
  if (r.code !== 0) throw new Error(`kcat -L: ${r.stderr.trim()}`);
  const out: PartitionView[] = [];
  let topic = '';
  for (const line of r.stdout.split('\n')) {
    const t = /^\s*topic "([^"]+)" with \d+ partitions:/.exec(line);
    if (t) topic = t[1];
    const p = /^\s*partition (\d+), leader (-?\d+), replicas: ([\d,]*), isrs: ([\d,]*)/.exec(line);
    if (p)
      out.push({
        topic,
        partition: Number(p[1]),
        leader: Number(p[2]),
        replicas: p[3].split(',').filter(Boolean).map(Number),
        isr: p[4].split(',').filter(Boolean).map(Number),
      });
  }
  return out;
}

function countBy(values: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** Replicas and preferred leaders within ±1 of the average on each of `brokers`, and none elsewhere. */
function expectBalanced(partitions: PartitionView[], brokers: number[]) {
  const check = (what: string, byBroker: Map<number, number>, total: number) => {
    const low = Math.floor(total / brokers.length);
    const high = Math.ceil(total / brokers.length);
    const seen = Object.fromEntries(brokers.map((b) => [b, byBroker.get(b) ?? 0]));
    for (const b of brokers)
      expect(seen[b], `${what} on broker ${b} (all: ${JSON.stringify(seen)})`).toBeGreaterThanOrEqual(low);
    for (const b of brokers)
      expect(seen[b], `${what} on broker ${b} (all: ${JSON.stringify(seen)})`).toBeLessThanOrEqual(high);
    expect(
      [...byBroker.keys()].filter((b) => !brokers.includes(b)),
      `${what} outside ${brokers.join(',')}`,
    ).toEqual([]);
  };
  check(
    'replicas',
    countBy(partitions.flatMap((p) => p.replicas)),
    partitions.reduce((n, p) => n + p.replicas.length, 0),
  );
  check('leaders', countBy(partitions.map((p) => p.leader)), partitions.length);
  for (const p of partitions)
    expect(p.leader, `${p.topic}-${p.partition} led by its preferred replica`).toBe(p.replicas[0]);
}

interface Ack {
  key: string;
  partition: number;
  offset: number;
}

function linesOf(output: string, tag: string): string[][] {
  return output
    .split('\n')
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) => l.split(' ').slice(1));
}

describe.runIf(BROKERS === 3)('scaling a KafkaCluster moves its partitions, 3 → 5 → 3, under load', () => {
  const env = useEnv({ namespace: 'e2e-scaling', operator: true });
  const ns = () => env.namespace;
  const bootstrap = () => `${CLUSTER}-bootstrap.${ns()}.svc.cluster.local:9092`;
  const cluster = async () => (await env.json<KafkaCluster>(['kafkacluster', CLUSTER, '-n', ns()]))!;
  const scaling = async () => (await cluster()).status?.scaling;
  const scaleTo = (n: number) => env.k(['scale', `kafkacluster/${CLUSTER}`, '-n', ns(), `--replicas=${n}`]);
  const ids = (n: number) => Array.from({ length: n }, (_, i) => i);
  const configFiles = async () => (await env.json<ConfigMap>(['configmap', `${CLUSTER}-config`, '-n', ns()]))!.data!;
  let producer: ReturnType<Env['nodeClient']>;
  let consumer: ReturnType<Env['nodeClient']>;

  /** Waits until status.scaling reached Balanced for `brokers`, and the cluster is Ready. */
  async function balancedAt(brokers: number) {
    await eventually(
      `scaling to ${brokers} brokers done`,
      async () => {
        const s = await scaling();
        return s?.toBrokers === brokers && s.phase === 'Balanced';
      },
      SCALING_MS,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message} (status.scaling: ${JSON.stringify(await scaling())})`);
    });
    return clusterSettled(env, CLUSTER);
  }

  it('runs 3 brokers (one controller voter) with a replicated topic, a producer and a consumer group', async () => {
    const kc = parse(example('kafka-cluster.yaml')) as KafkaCluster;
    kc.metadata.name = CLUSTER;
    // One voter, so that the cluster may shrink below three brokers as far as the quorum goes.
    kc.spec.controllerVoters = 1;
    kc.spec.rebalance = {
      throttleBytesPerSecond: THROTTLE_BYTES_PER_SECOND,
      maxPartitionMovements: MAX_PARTITION_MOVEMENTS,
    };
    await env.k(['apply', '-n', ns(), '-f', '-'], stringify(kc));
    await env.k(
      ['apply', '-n', ns(), '-f', '-'],
      stringify({
        apiVersion: 'kafka.runnel.dev/v1alpha1',
        kind: 'KafkaTopic',
        metadata: { name: TOPIC },
        spec: { cluster: CLUSTER, partitions: PARTITIONS, replicationFactor: 3, config: { 'min.insync.replicas': 2 } },
      }),
    );
    await clusterSettled(env, CLUSTER);
    await eventually('KafkaTopic ready', async () => {
      const t = await env.json<{ status?: { conditions?: { type: string; status: string }[] } }>([
        'kafkatopic',
        TOPIC,
        '-n',
        ns(),
      ]);
      return t?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    const prefill = Array.from({ length: PREFILL_RECORDS }, (_, i) => `pre${i}:${PREFILL_VALUE}`).join('\n') + '\n';
    const p = await env.kcat(['-b', bootstrap(), '-t', TOPIC, '-P', '-K:', '-X', 'acks=all'], prefill);
    expect(p.code, p.stderr).toBe(0);
    producer = env.nodeClient('acked-producer.mjs', [bootstrap(), TOPIC], { timeoutMs: 1_800_000 });
    consumer = env.nodeClient('group-consumer.mjs', [bootstrap(), TOPIC, GROUP], { timeoutMs: 1_800_000 });
    await eventually('the producer acknowledged and the group read', () =>
      Promise.resolve(
        linesOf(producer.stdout, 'ack').length > 20 && linesOf(consumer.stdout, 'rec').length > PREFILL_RECORDS,
      ),
    );
  });

  it('scales to 5: replicas and leaders spread over the new brokers, with the operator killed mid-way', async () => {
    const runningBefore = (await brokerPods(env, CLUSTER)).map((p) => p.metadata.uid);
    await scaleTo(5);
    const moving = await eventually(
      'replicas moving to the new brokers',
      async () => {
        const s = await scaling();
        return (
          s?.toBrokers === 5 &&
          s.phase === 'MovingReplicas' &&
          s.progress &&
          s.progress.done < (s.plan?.partitions ?? 0) &&
          s
        );
      },
      SCALING_MS,
    );
    const operators = (await env.json<List<Pod>>([
      'pods',
      '-n',
      OPERATOR_NAMESPACE,
      '-l',
      'app.kubernetes.io/name=runnel-operator',
    ]))!.items;
    expect(operators).toHaveLength(1);
    await env.k(['delete', 'pod', '-n', OPERATOR_NAMESPACE, operators[0].metadata.name, '--grace-period=0', '--force']);

    const kc = await balancedAt(5);
    const s = kc.status!.scaling!;
    // The plan recorded when the move started is the one finished: not re-planned by the new operator.
    expect(s.plan).toEqual(moving.plan);
    expect(s.plan!.replicaMoves).toBe(s.plan!.lowerBound);
    expect(s.progress).toMatchObject({ pending: 0, moving: 0, done: s.plan!.partitions });
    await kafkaBrokersAre(env, bootstrap(), ids(5));
    expectBalanced(await allPartitions(env, bootstrap()), ids(5));
    // The added brokers have their own files: brokers, not voters (the voters are fixed).
    const files = await configFiles();
    for (const i of [3, 4]) {
      expect(files[`node-${i}.properties`]).toContain('process.roles=broker\n');
      expect(files[`node-${i}.properties`]).not.toContain('CONTROLLER');
    }
    // Nothing restarted the brokers that were running.
    expect((await brokerPods(env, CLUSTER)).slice(0, 3).map((p) => p.metadata.uid)).toEqual(runningBefore);
    const table = await env.k(['get', 'kafkaclusters', CLUSTER, '-n', ns()]);
    expect(table).toMatch(new RegExp(`^${CLUSTER}\\s+True\\s+5\\s+5\\s+Balanced\\s`, 'm'));
    const events = await env.k([
      'get',
      'events',
      '-n',
      ns(),
      '--field-selector',
      `involvedObject.name=${CLUSTER}`,
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    for (const reason of ['ScalingUp', 'MovingReplicas', 'ScalingDone']) expect(events.split(' ')).toContain(reason);
  });

  it('refuses to shrink below the topic’s replication factor, and resumes when spec.replicas goes back', async () => {
    await scaleTo(2);
    const blocked = await eventually('the scale-down refused', async () => {
      const ready = (await cluster()).status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.reason === 'ScaleDownBlocked' && ready;
    });
    expect(blocked.message).toContain('cannot go from 5 to 2 brokers: topic');
    expect(blocked.message).toContain('has replication factor 3, more than 2 brokers can hold apart');
    expect(blocked.message).toContain('set spec.replicas back to 5');
    expect((await env.json<StatefulSet>(['statefulset', `${CLUSTER}-broker`, '-n', ns()]))!.spec.replicas).toBe(5);
    await scaleTo(5);
    await balancedAt(5);
  });

  it('scales back to 3, changing its mind mid-way (5 → 4 → 3): drains, stops and unregisters brokers 3 and 4', async () => {
    await scaleTo(4);
    await eventually(
      'replicas moving off broker 4',
      async () => {
        const s = await scaling();
        return s?.toBrokers === 4 && s.phase === 'MovingReplicas';
      },
      SCALING_MS,
    );
    await scaleTo(3);
    const kc = await balancedAt(3);
    expect(kc.status!.scaling).toMatchObject({ fromBrokers: 5, toBrokers: 3 });
    expect(kc.status!.scaling!.message).toContain('unregistered brokers 3, 4');
    expect((await env.json<StatefulSet>(['statefulset', `${CLUSTER}-broker`, '-n', ns()]))!.spec.replicas).toBe(3);
    await kafkaBrokersAre(env, bootstrap(), ids(3));
    expectBalanced(await allPartitions(env, bootstrap()), ids(3));
    expect(Object.keys(await configFiles()).sort()).toEqual(
      ['cluster-size.properties', 'server.properties', ...ids(3).map((i) => `node-${i}.properties`)].sort(),
    );
    // deleteClaim: false keeps the removed brokers' volumes.
    const claims = (await env.json<List<PersistentVolumeClaim>>([
      'pvc',
      '-n',
      ns(),
      '-l',
      `app.kubernetes.io/instance=${CLUSTER}`,
    ]))!.items;
    expect(claims.map((c) => c.metadata.name).sort()).toEqual(ids(5).map((i) => `data-${CLUSTER}-broker-${i}`));
  });

  it('changes the topic’s replication factor (3 → 2 → 3) by moving replicas, balanced, under the same load', async () => {
    const topicReady = (factor: number) =>
      eventually(
        `KafkaTopic ${TOPIC} at replication factor ${factor}`,
        async () => {
          const t = await env.json<{
            metadata: { generation: number };
            status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
          }>(['kafkatopic', TOPIC, '-n', ns()]);
          if (
            t?.status?.observedGeneration !== t?.metadata.generation ||
            !t?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          )
            return false;
          const ours = (await allPartitions(env, bootstrap())).filter((p) => p.topic === TOPIC);
          return (
            ours.length === PARTITIONS &&
            ours.every((p) => p.replicas.length === factor && p.isr.length === factor) &&
            ours
          );
        },
        SCALING_MS,
      );
    for (const factor of [2, 3]) {
      await env.k([
        'patch',
        'kafkatopic',
        TOPIC,
        '-n',
        ns(),
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { replicationFactor: factor, config: { 'min.insync.replicas': factor - 1 } } }),
      ]);
      const partitions = await topicReady(factor);
      expectBalanced(partitions, ids(3));
    }
  });

  it('lost no acknowledged record, and the group skipped none', async () => {
    producer.end('stop\n');
    const produced = await producer.done;
    fs.writeFileSync(
      path.join(env.logDir, 'scaling-producer.log'),
      `${produced.stdout}\n--- stderr\n${produced.stderr}`,
    );
    const acks: Ack[] = linesOf(produced.stdout, 'ack').map(([key, p, o]) => ({
      key,
      partition: Number(p),
      offset: Number(o),
    }));
    expect(linesOf(produced.stdout, 'fail'), 'records the producer gave up on').toEqual([]);
    expect(acks.length).toBeGreaterThan(100);

    const c = await env.kcat([
      '-b',
      bootstrap(),
      '-C',
      '-t',
      TOPIC,
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%p %o %k\\n',
    ]);
    expect(c.code, c.stderr).toBe(0);
    const stored = new Map<string, string>();
    for (const line of c.stdout.trim().split('\n')) {
      const [p, o, k] = line.split(' ');
      stored.set(`${p}/${o}`, k);
    }
    const missing = acks.filter((a) => stored.get(`${a.partition}/${a.offset}`) !== a.key);
    expect(missing.slice(0, 5), `${missing.length} acknowledged records not at their offsets`).toEqual([]);

    // Every record stored was given to the group at least once.
    const given = () => new Set(linesOf(consumer.stdout, 'rec').map(([, p, o]) => `${p}/${o}`));
    await eventually(
      'the group read to the end',
      () => {
        const read = given();
        return Promise.resolve([...stored.keys()].every((at) => read.has(at)));
      },
      120_000,
    ).catch(() => undefined);
    consumer.end('stop\n');
    const consumed = await consumer.done;
    fs.writeFileSync(
      path.join(env.logDir, 'scaling-consumer.log'),
      `${consumed.stdout}\n--- stderr\n${consumed.stderr}`,
    );
    const read = new Set(linesOf(consumed.stdout, 'rec').map(([, p, o]) => `${p}/${o}`));
    const ackedKeys = new Set(acks.map((a) => a.key));
    const skipped = [...stored].filter(([at, k]) => (ackedKeys.has(k) || k.startsWith('pre')) && !read.has(at));
    expect(skipped.slice(0, 5), `${skipped.length} records the group never got`).toEqual([]);
    const records = linesOf(consumed.stdout, 'rec').length;
    console.log(
      `[e2e] scaling: ${acks.length} records acknowledged, ${records} given to the group (${records - read.size} redelivered), ${linesOf(produced.stdout, 'retry').length} producer retries, ${linesOf(consumed.stdout, 'error').length} group rejoins`,
    );
  }, 300_000);
});
