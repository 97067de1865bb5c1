// KafkaTopics reconciled against a real API server and a real broker process (started locally:
// broker pods need the node agent of issue 6). The topic controller runs in this process under
// the chart's ServiceAccount; the KafkaCluster's readiness is written by the test, because no
// cluster controller runs here.

import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../../broker/test/broker-process.js';
import type { Cluster } from '../../e2e/control-plane/cluster.js';
import { repoRoot } from '../../e2e/control-plane/paths.js';
import { API_VERSION, type KafkaCluster, type KafkaTopic } from '../api/types.js';
import { AdminPool } from '../kafka/admin.js';
import { describeError } from '../reconcile/errors.js';
import { reconcileTopic } from '../reconcile/topic.js';
import { realClock } from '../runtime/clock.js';
import { Controller } from '../runtime/controller.js';
import { ClientKube } from '../runtime/kube.js';
import { OperatorMetrics } from '../runtime/metrics.js';
import { watch, type Watch } from '../runtime/watch.js';
import { eventually, getJson, kubeConfigFor, startControlPlane } from './e2e.js';

const NS = 'topics';

const topicYaml = (name: string, spec: string) => `apiVersion: kafka.runnel.dev/v1alpha1
kind: KafkaTopic
metadata:
  name: ${name}
  namespace: ${NS}
spec:
${spec.replace(/^/gm, '  ')}
`;

describe('KafkaTopic reconcile against a broker', () => {
  let plane: Cluster;
  let broker: BrokerProcess;
  let client: Admin;
  const pool = new AdminPool();
  let controller: Controller;
  let watches: Watch<unknown>[] = [];

  const apply = (yaml: string) => plane.kubectlOk(['apply', '-f', '-'], { input: yaml });
  const ready = async (name: string) => {
    const status = (await getJson<KafkaTopic>(plane, ['kafkatopic', name, '-n', NS]))?.status;
    return status?.conditions?.find((c) => c.type === 'Ready');
  };
  const configOf = async (topic: string) => {
    const [described] = await client.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic }],
    });
    return new Map(described.configs.map((c) => [c.name, c.value]));
  };
  const partitionsOf = async (topic: string) =>
    (await client.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)?.partitionsCount;

  beforeAll(async () => {
    broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
    client = new Admin({ clientId: 'e2e-check', bootstrapBrokers: [broker.bootstrap] });
    plane = await startControlPlane();
    const install = await plane.helm([
      'install',
      'runnel-operator',
      `${repoRoot()}/charts/runnel-operator`,
      '--namespace',
      'runnel-system',
      '--create-namespace',
      '--set',
      'replicas=0',
    ]);
    if (install.code !== 0) throw new Error(`helm install failed: ${install.stderr}`);
    await plane.kubectlOk([
      'wait',
      '--for=condition=Established',
      'crd/kafkaclusters.kafka.runnel.dev',
      'crd/kafkatopics.kafka.runnel.dev',
      '--timeout=60s',
    ]);
    await plane.kubectlOk(['create', 'namespace', NS]);
    await apply(
      `apiVersion: ${API_VERSION}\nkind: KafkaCluster\nmetadata:\n  name: local\n  namespace: ${NS}\nspec:\n  replicas: 1\n  controllerVoters: 1\n`,
    );
    await plane.kubectlOk([
      'patch',
      'kafkacluster/local',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"readyReplicas":1}}',
    ]);

    const token = (
      await plane.kubectlOk(['create', 'token', 'runnel-operator', '-n', 'runnel-system', '--duration=2h'])
    ).trim();
    const kc = kubeConfigFor(plane, token);
    const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
    const kube = new ClientKube(kc, 'e2e-test');
    controller = new Controller(
      'kafkatopic',
      async (namespace, name) => {
        const topic = topics.get(namespace, name);
        return topic
          ? reconcileTopic(topic, {
              kube,
              clusters,
              topics,
              admin: () => pool.get('local', [broker.bootstrap]),
              now: () => new Date(),
              log,
            })
          : {};
      },
      { workers: 2, metrics: new OperatorMetrics(), log, clock: realClock, describeError },
    );
    const clusters = watch<KafkaCluster>(
      kc,
      { apiVersion: API_VERSION, kind: 'KafkaCluster', plural: 'kafkaclusters' },
      [NS],
      () => undefined,
      log,
      realClock,
    );
    const topics = watch<KafkaTopic>(
      kc,
      { apiVersion: API_VERSION, kind: 'KafkaTopic', plural: 'kafkatopics' },
      [NS],
      (t) => controller.enqueue(t.metadata.namespace, t.metadata.name),
      log,
      realClock,
    );
    watches = [clusters, topics];
    await Promise.all(watches.map((w) => w.synced));
  });

  afterAll(async () => {
    await Promise.all(watches.map((w) => w.stop()));
    await controller?.shutdown();
    await pool.closeAll();
    await client?.close();
    await broker?.stop();
    await plane?.stop();
  });

  it('creates the topic with its partitions, replication factor and config, and reports its id', async () => {
    await apply(topicYaml('orders', 'cluster: local\npartitions: 3\nconfig:\n  retention.ms: 3600000'));
    await eventually('Ready', async () => (await ready('orders'))?.status === 'True');
    expect(await partitionsOf('orders')).toBe(3);
    expect((await configOf('orders')).get('retention.ms')).toBe('3600000');
    const status = (await getJson<KafkaTopic>(plane, ['kafkatopic', 'orders', '-n', NS]))!.status!;
    expect(status.topicId).toBe(
      (await client.metadata({ topics: ['orders'], forceUpdate: true })).topics.get('orders')!.id,
    );
    expect(status.topicName).toBe('orders');
  });

  it('adds partitions and changes config when the resource changes', async () => {
    await apply(
      topicYaml('orders', 'cluster: local\npartitions: 5\nconfig:\n  retention.ms: 7200000\n  cleanup.policy: compact'),
    );
    await eventually('5 partitions', async () => (await partitionsOf('orders')) === 5);
    await eventually('new config', async () => {
      const config = await configOf('orders');
      return config.get('retention.ms') === '7200000' && config.get('cleanup.policy') === 'compact';
    });
  });

  it('reverts a change made on the brokers behind its back', async () => {
    await client.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: 'orders',
          configs: [{ name: 'retention.ms', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '1000' }],
        },
      ],
    });
    // Any event brings the reconcile (the periodic resync would, later).
    await plane.kubectlOk(['annotate', 'kafkatopic/orders', '-n', NS, 'touch=1']);
    await eventually('retention.ms restored', async () => (await configOf('orders')).get('retention.ms') === '7200000');
  });

  it('refuses to remove partitions, changing nothing', async () => {
    await apply(
      topicYaml('orders', 'cluster: local\npartitions: 2\nconfig:\n  retention.ms: 7200000\n  cleanup.policy: compact'),
    );
    const condition = await eventually('NotSupported', async () => {
      const c = await ready('orders');
      return c?.reason === 'NotSupported' && c;
    });
    expect(condition.status).toBe('False');
    expect(condition.message).toContain('spec.partitions 2');
    expect(await partitionsOf('orders')).toBe(5);
  });

  it('leaves a topic to the older of two KafkaTopics naming it', async () => {
    await apply(topicYaml('orders-twin', 'cluster: local\ntopicName: orders\npartitions: 9'));
    const condition = await eventually('ResourceConflict', async () => {
      const c = await ready('orders-twin');
      return c?.reason === 'ResourceConflict' && c;
    });
    expect(condition.message).toContain('"orders"');
    expect(await partitionsOf('orders')).toBe(5);
    await plane.kubectlOk(['delete', 'kafkatopic/orders-twin', '-n', NS]);
    expect(await partitionsOf('orders')).toBe(5);
  });

  it('says when its cluster does not exist', async () => {
    await apply(topicYaml('orphan', 'cluster: nowhere'));
    await eventually('ClusterNotFound', async () => (await ready('orphan'))?.reason === 'ClusterNotFound');
  });

  it('deletes the topic when the resource is deleted', async () => {
    await plane.kubectlOk(['delete', 'kafkatopic/orders', '-n', NS, '--timeout=60s']);
    expect(await client.listTopics()).not.toContain('orders');
  });
});
