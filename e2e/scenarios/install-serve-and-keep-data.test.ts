// The user's path, end to end: helm installs the operator (a pod under the chart's
// ServiceAccount), kubectl applies the examples (three brokers, each a controller voter; every
// partition on three of them, min.insync.replicas 2), and then what a user checks: the
// brokers are Ready and form one cluster (Metadata through the bootstrap Service lists all of
// them), the topic exists, kcat produces through the bootstrap Service and consumes everything
// back, and a deleted broker pod comes back with its volume and data (invalid resources and topic changes are in
// operator/test/*.e2e.test.ts). Locally it needs root (the node agent); on kind, e2e/kind.sh runs
// it. See e2e/README.md.

import { describe, expect, it } from 'vitest';
import {
  BROKERS,
  EXISTING,
  eventually,
  example,
  installOperator,
  kafkaBrokersAre,
  kafkaMetadata,
  OPERATOR_NAMESPACE,
  useEnv,
  type KafkaCluster,
  type KafkaTopic,
  type List,
  type PersistentVolumeClaim,
  type Pod,
  type Service,
} from './env.js';

const NS = 'e2e-kafka-cluster';
const CLUSTER = 'events';
const TOPIC = 'orders';
const BROKER_POD = `${CLUSTER}-broker-0`;
const BOOTSTRAP_SVC = `${CLUSTER}-bootstrap`;
const MESSAGES = 200;

describe('a KafkaCluster installed like a user does serves clients and keeps its data', () => {
  const env = useEnv({ namespace: NS });
  let bootstrap: string;

  it("installs the operator with helm; it runs as a pod under the chart's ServiceAccount", async () => {
    await installOperator(env);
    const pods = (await env.json<List<Pod>>([
      'pods',
      '-n',
      OPERATOR_NAMESPACE,
      '-l',
      'app.kubernetes.io/name=runnel-operator',
    ]))!;
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0];
    expect(pod.spec.serviceAccountName).toBe('runnel-operator');
    expect(pod.status!.phase).toBe('Running');
    if (!EXISTING) expect(pod.status!.podIP).toMatch(/^10\.77\./);
    expect(pod.status!.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
  });

  it(`a KafkaCluster of ${BROKERS} brokers becomes Ready and \`kubectl get kafkaclusters\` shows ${BROKERS} of ${BROKERS} ready`, async () => {
    await env.k(['apply', '-n', NS, '-f', '-'], example('kafka-cluster.yaml'));
    await eventually(
      'KafkaCluster Ready',
      async () => {
        const kc = await env.json<KafkaCluster>(['kafkacluster', CLUSTER, '-n', NS]);
        return kc?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      },
      150_000,
    );
    // NAME READY REPLICAS READY BROKERS SCALING AGE (no scaling yet: an empty column)
    const table = await eventually('kubectl get kafkaclusters: every broker ready', async () => {
      const t = await env.k(['get', 'kafkaclusters', '-n', NS]);
      return new RegExp(`^${CLUSTER}\\s+True\\s+${BROKERS}\\s+${BROKERS}\\s`, 'm').test(t) && t;
    });
    expect(table).toMatch(/^NAME\s+READY\s+REPLICAS\s+READY BROKERS\s+SCALING\s+AGE/);
    for (let i = 0; i < BROKERS; i++) {
      const pod = (await env.json<Pod>(['pod', `${CLUSTER}-broker-${i}`, '-n', NS]))!;
      expect(pod.status!.containerStatuses![0].ready, `${pod.metadata.name} ready`).toBe(true);
      const pvc = (await env.json<PersistentVolumeClaim>(['pvc', `data-${pod.metadata.name}`, '-n', NS]))!;
      expect(pvc.status!.phase).toBe('Bound');
    }
  });

  it('its brokers are one cluster: Metadata through the bootstrap Service lists every one, and a controller', async () => {
    const svc = (await env.json<Service>(['service', BOOTSTRAP_SVC, '-n', NS]))!;
    bootstrap = `${svc.spec.clusterIP}:9092`;
    // The node's service rules follow the Endpoints a moment after the brokers turn Ready (as
    // kube-proxy's do), so wait for the ClusterIP to answer with all of them.
    const ids = Array.from({ length: BROKERS }, (_, i) => i);
    const meta = await kafkaBrokersAre(env, bootstrap, ids);
    expect(ids).toContain(meta.controller);
    // Whichever broker the Service picks answers the same.
    for (let i = 0; i < 3; i++) expect((await kafkaMetadata(env, bootstrap)).brokers).toEqual(ids);
  });

  it('a KafkaTopic creates the topic, its partitions led by every broker', async () => {
    await env.k(['apply', '-n', NS, '-f', '-'], example('kafka-topic.yaml'));
    const pod = (await env.json<Pod>(['pod', BROKER_POD, '-n', NS]))!;
    const wanted = (await env.json<KafkaTopic>(['kafkatopic', TOPIC, '-n', NS]))!.spec.partitions;
    // Straight to the broker pod's address, as a client on the node would.
    const meta = await eventually('topic in the broker metadata', async () => {
      const r = await env.kcat(['-b', `${pod.status!.podIP}:9092`, '-L', '-t', TOPIC]);
      return r.code === 0 && r.stdout.includes(`topic "${TOPIC}" with ${wanted} partitions`) ? r.stdout : undefined;
    });
    expect(meta).toContain(`topic "${TOPIC}" with ${wanted} partitions`);
    // The controller spreads the partitions' leaders over every broker.
    const { leaders } = await kafkaMetadata(env, `${pod.status!.podIP}:9092`, TOPIC);
    expect([...new Set(leaders.values())].sort()).toEqual(
      Array.from({ length: Math.min(BROKERS, wanted) }, (_, i) => i),
    );
    const table = await env.k(['get', 'kafkatopics', '-n', NS]);
    expect(table).toMatch(new RegExp(`^${TOPIC}\\s`, 'm'));
  });

  it('kcat produces through the bootstrap Service and consumes everything back', async () => {
    await eventually('the topic in the metadata through the bootstrap Service', async () => {
      const r = await env.kcat(['-b', bootstrap, '-L', '-t', TOPIC]);
      return r.code === 0 && r.stdout.includes(`topic "${TOPIC}" with`);
    });
    const input = Array.from({ length: MESSAGES }, (_, i) => `k${i}:v${i}`).join('\n') + '\n';
    const p = await env.kcat(['-b', bootstrap, '-t', TOPIC, '-P', '-K:', '-X', 'acks=all'], input);
    expect(p.code, p.stderr).toBe(0);
    const c = await env.kcat(['-b', bootstrap, '-t', TOPIC, '-C', '-o', 'beginning', '-e', '-q', '-K:']);
    expect(c.code, c.stderr).toBe(0);
    const got = c.stdout.trim().split('\n').sort();
    expect(got).toEqual(input.trim().split('\n').sort());
  });

  it('a deleted broker pod comes back with the same volume and its data', async () => {
    const before = (await env.json<Pod>(['pod', BROKER_POD, '-n', NS]))!;
    const pvcBefore = (await env.json<PersistentVolumeClaim>(['pvc', `data-${BROKER_POD}`, '-n', NS]))!;
    await env.k(['delete', 'pod', BROKER_POD, '-n', NS, '--wait=true', '--timeout=120s']);
    const after = await eventually(
      'the broker pod back and Ready',
      async () => {
        const p = await env.json<Pod>(['pod', BROKER_POD, '-n', NS]);
        return p && p.metadata.uid !== before.metadata.uid && p.status?.containerStatuses?.[0]?.ready ? p : undefined;
      },
      120_000,
    );
    const pvcAfter = (await env.json<PersistentVolumeClaim>(['pvc', `data-${BROKER_POD}`, '-n', NS]))!;
    expect(pvcAfter.metadata.uid).toBe(pvcBefore.metadata.uid);
    expect(pvcAfter.spec.volumeName).toBe(pvcBefore.spec.volumeName);
    expect(after.spec.volumes!.find((v) => v.name === 'data')!.persistentVolumeClaim!.claimName).toBe(
      `data-${BROKER_POD}`,
    );
    const c = await eventually('all messages consumed again', async () => {
      const r = await env.kcat(['-b', bootstrap, '-t', TOPIC, '-C', '-o', 'beginning', '-e', '-q', '-K:']);
      return r.code === 0 && r.stdout.trim().split('\n').length >= MESSAGES ? r : undefined;
    });
    expect(c.stdout.trim().split('\n')).toHaveLength(MESSAGES);
  });

  // What the node agent does with images it does not have (a real node would pull them).
  it.skipIf(EXISTING)('reports an image the node cannot run as ErrImagePull', async () => {
    await env.k(['run', 'foreign', '-n', NS, '--image=docker.io/library/busybox:1.36', '--restart=Never']);
    const reason = await eventually(
      'waiting reason',
      async () => {
        const p = await env.json<Pod>(['pod', 'foreign', '-n', NS]);
        return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      },
      30_000,
    );
    expect(reason).toBe('ErrImagePull');
    const p = (await env.json<Pod>(['pod', 'foreign', '-n', NS]))!;
    expect(p.status!.containerStatuses![0].state!.waiting!.message).toMatch(/only runnel\/broker/);
    await env.k(['delete', 'pod', 'foreign', '-n', NS, '--wait=true', '--timeout=60s']);
  });
});
