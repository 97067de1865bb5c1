// Changing the brokers' configuration (spec.config) rolls them, one at a time: the
// StatefulSet is OnDelete and the operator deletes one outdated broker pod, waits for it to be
// back and ready, then the next, the active controller last. A producer at acks=-1 with retries
// runs throughout, and every record it saw acknowledged is in the log afterwards, where the
// acknowledgement said, in order within its partition. Written for RUNNEL_E2E_BROKERS brokers
// (3) and REPLICATION replicas per partition (1 until brokers replicate: meanwhile a restarting
// broker's partitions wait for it, and the producer retries).

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
  type KafkaTopic,
  type StatefulSet,
} from './env.js';

const CLUSTER = 'events';
const TOPIC = 'rolling';
const PARTITIONS = 3;
const CONFIG_KEY = 'log.retention.hours';
const PODS = Array.from({ length: BROKERS }, (_, i) => `${CLUSTER}-broker-${i}`);

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

describe('rolling restart under an acks=-1 producer: a config change restarts the brokers one at a time, losing nothing acknowledged', () => {
  const env = useEnv({ namespace: 'e2e-rolling-restart', operator: true });
  let bootstrap = '';

  it('starts from a Ready cluster and a topic', async () => {
    await env.k(['apply', '-n', env.namespace, '-f', '-'], example('kafka-cluster.yaml'));
    const topic = {
      apiVersion: 'kafka.runnel.dev/v1alpha1',
      kind: 'KafkaTopic',
      metadata: { name: TOPIC },
      spec: {
        cluster: CLUSTER,
        partitions: PARTITIONS,
        replicationFactor: REPLICATION,
        config: { 'min.insync.replicas': Math.min(2, REPLICATION) },
      },
    };
    await env.k(['apply', '-n', env.namespace, '-f', '-'], JSON.stringify(topic));
    const kc = await clusterSettled(env, CLUSTER);
    bootstrap = kc.status!.bootstrap!;
    await kafkaReachable(env, bootstrap);
    await eventually('KafkaTopic Ready', async () =>
      (await env.json<KafkaTopic>(['kafkatopic', TOPIC, '-n', env.namespace]))?.status?.conditions?.some(
        (c) => c.type === 'Ready' && c.status === 'True',
      ),
    );
  });

  it(
    'rolls every broker onto the new config while a producer runs, the active controller last',
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
      const producer = env.nodeClient('acked-producer.mjs', [bootstrap, TOPIC]);
      try {
        await eventually(
          'the producer acknowledged before the change',
          () => Promise.resolve(acksOf(producer.stdout).length >= 50),
          60_000,
        );
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
        const settledAt = acksOf(producer.stdout).length;
        await eventually(
          'the producer acknowledged after the restart',
          () => Promise.resolve(acksOf(producer.stdout).length >= settledAt + 50),
          120_000,
        ).catch((e: Error) => {
          const last = producer.stdout.trim().split('\n').slice(-5).join(' | ');
          throw new Error(`${e.message} (${acksOf(producer.stdout).length - settledAt} since; last lines: ${last})`);
        });
      } finally {
        producer.end('stop\n');
        watch.kill();
        // What the producer saw, kept with the other logs of the run.
        void producer.done.then((r) =>
          fs.writeFileSync(path.join(env.logDir, 'acked-producer.log'), `${r.stdout}\n--- stderr\n${r.stderr}`),
        );
      }
      const report = await producer.done;
      expect(report.stdout, report.stderr).toMatch(/^done \d+ 0$/m);
      const acks = acksOf(report.stdout);
      const retried = report.stdout.split('\n').filter((l) => l.startsWith('retry ')).length;
      console.log(`[e2e] producer: ${acks.length} records acknowledged, ${retried} sends retried during the restart`);

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

      // Nothing acknowledged is lost: each record at the offset its acknowledgement named, once.
      const c = await env.kcat([
        '-b',
        bootstrap,
        '-C',
        '-t',
        TOPIC,
        '-o',
        'beginning',
        '-e',
        '-q',
        '-f',
        '%p %o %k %s\\n',
      ]);
      expect(c.code, c.stderr).toBe(0);
      const stored = new Map<string, string>();
      const copies = new Map<string, number>();
      for (const line of c.stdout.trim().split('\n')) {
        const [p, o, k, v] = line.split(' ');
        stored.set(`${p}/${o}`, `${k} ${v}`);
        copies.set(k, (copies.get(k) ?? 0) + 1);
      }
      const lost = acks.filter((a) => stored.get(`${a.partition}/${a.offset}`) !== `${a.key} v${a.key.slice(1)}`);
      expect(lost.slice(0, 10), `${lost.length} acknowledged records are not where their acknowledgement said`).toEqual(
        [],
      );
      expect([...copies].filter(([, n]) => n > 1).slice(0, 10), 'records stored twice').toEqual([]);
      // In order within each partition: acknowledged one after another, so offsets only grow.
      for (let p = 0; p < PARTITIONS; p++) {
        const offsets = acks.filter((a) => a.partition === p).map((a) => a.offset);
        expect(offsets.length, `partition ${p} got records`).toBeGreaterThan(0);
        expect(
          offsets.every((o, i) => i === 0 || o > offsets[i - 1]),
          `partition ${p} offsets in acknowledgement order`,
        ).toBe(true);
      }
    },
  );
});
