import { beforeEach, describe, expect, it } from 'vitest';
import { TOPIC_FINALIZER, type KafkaCluster, type KafkaTopic, type KafkaTopicStatus } from '../api/types.js';
import { FakeAdmin, FakeKube, lister, silentLog } from '../test/fakes.js';
import { kafkaCluster, kafkaTopic } from '../test/fixtures.js';
import { reconcileTopic, type TopicDeps } from './topic.js';

const NOW = new Date('2026-02-01T00:00:00Z');

describe('KafkaTopic reconcile', () => {
  let kube: FakeKube;
  let admin: FakeAdmin;
  let clusters: KafkaCluster[];
  let topics: KafkaTopic[];
  let deps: TopicDeps;

  const readyCluster = () => ({ ...kafkaCluster(), status: { readyReplicas: 3 } });
  const held = (t: KafkaTopic): KafkaTopic => ({ ...t, metadata: { ...t.metadata, finalizers: [TOPIC_FINALIZER] } });
  const statusOf = (t: KafkaTopic) => kube.status<KafkaTopicStatus>('KafkaTopic', 'prod', t.metadata.name);
  const ready = (t: KafkaTopic) => statusOf(t)?.conditions?.find((c) => c.type === 'Ready');

  beforeEach(() => {
    kube = new FakeKube();
    admin = new FakeAdmin();
    clusters = [readyCluster()];
    topics = [];
    deps = {
      kube,
      admin: () => admin,
      clusters: lister(() => clusters),
      topics: lister(() => topics),
      now: () => NOW,
      log: silentLog,
    };
  });

  async function reconcile(t: KafkaTopic) {
    topics = topics.some((x) => x.metadata.uid === t.metadata.uid)
      ? topics.map((x) => (x.metadata.uid === t.metadata.uid ? t : x))
      : [...topics, t];
    return reconcileTopic(t, deps);
  }

  it('adds its finalizer, creates the topic and reports it ready with its id', async () => {
    const topic = kafkaTopic({ partitions: 6, config: { 'retention.ms': 60000 } });
    await reconcile(topic);
    expect(kube.writes[0]).toBe(`setFinalizers KafkaTopic prod/orders ${TOPIC_FINALIZER}`);
    expect(admin.topics.get('orders')).toMatchObject({ partitions: 6, config: new Map([['retention.ms', '60000']]) });
    expect(statusOf(topic)).toMatchObject({ topicName: 'orders', topicId: 'topic-id-1', observedGeneration: 1 });
    expect(ready(topic)).toMatchObject({ status: 'True', reason: 'Ready' });
  });

  it('uses spec.topicName for the Kafka topic when given', async () => {
    await reconcile(held(kafkaTopic({ topicName: 'orders.v2' })));
    expect(admin.writes).toEqual(['create orders.v2']);
  });

  it('makes no write, to Kubernetes or the brokers, when reconciling 1 000 topics already in sync', async () => {
    const all = Array.from({ length: 1000 }, (_, i) =>
      held(kafkaTopic({ config: { 'retention.ms': i } }, { name: `t${i}`, uid: `u${i}` })),
    );
    for (const t of all) await reconcile(t);
    const synced = all.map((t) => ({ ...t, status: statusOf(t) }));
    topics = synced;
    kube.writes.length = 0;
    admin.writes.length = 0;
    for (const t of synced) await reconcileTopic(t, deps);
    expect(kube.writes).toEqual([]);
    expect(admin.writes).toEqual([]);
  });

  it('adds partitions and applies config changes incrementally, reverting changes made outside', async () => {
    admin.topics.set('orders', {
      name: 'orders',
      id: 'x',
      partitions: 3,
      replicationFactor: 1,
      config: new Map([
        ['retention.ms', '1'],
        ['cleanup.policy', 'compact'],
      ]),
    });
    await reconcile(held(kafkaTopic({ partitions: 5, config: { 'retention.ms': 2 } })));
    expect(admin.writes).toEqual(['createPartitions orders 5', 'alterConfig orders retention.ms=2 -cleanup.policy']);
  });

  it('reports a partition decrease as NotSupported and changes nothing', async () => {
    admin.topics.set('orders', { name: 'orders', id: 'x', partitions: 8, replicationFactor: 1, config: new Map() });
    const topic = held(kafkaTopic({ partitions: 4, config: { 'retention.ms': 2 } }));
    await reconcile(topic);
    expect(admin.writes).toEqual([]);
    expect(ready(topic)).toMatchObject({ status: 'False', reason: 'NotSupported' });
    expect(ready(topic)!.message).toContain('spec.partitions 4');
  });

  it('refuses a replication factor above the cluster’s broker count and changes nothing', async () => {
    admin.topics.set('orders', { name: 'orders', id: 'x', partitions: 3, replicationFactor: 1, config: new Map() });
    const topic = held(kafkaTopic({ replicationFactor: 5 }));
    await reconcile(topic);
    expect(admin.writes).toEqual([]);
    expect(ready(topic)).toMatchObject({ status: 'False', reason: 'NotSupported' });
    expect(ready(topic)!.message).toContain('spec.replicationFactor 5 exceeds the 3 brokers');
  });

  it('leaves a topic to the older of two KafkaTopics naming it', async () => {
    const older = held(kafkaTopic({}, { uid: 'a', creationTimestamp: '2026-01-01T00:00:00Z' }));
    const newer = held(
      kafkaTopic(
        { topicName: 'orders', partitions: 9 },
        { name: 'orders-copy', uid: 'b', creationTimestamp: '2026-01-03T00:00:00Z' },
      ),
    );
    topics = [older];
    await reconcile(newer);
    expect(admin.writes).toEqual([]);
    expect(ready(newer)).toMatchObject({ status: 'False', reason: 'ResourceConflict' });
    expect(ready(newer)!.message).toContain('"orders"');
  });

  it('waits for a cluster that does not exist, and retries', async () => {
    clusters = [];
    const topic = held(kafkaTopic());
    const result = await reconcile(topic);
    expect(ready(topic)).toMatchObject({ status: 'False', reason: 'ClusterNotFound' });
    expect(result.requeueAfterMs).toBeGreaterThan(0);
  });

  it('waits for a cluster without a ready broker', async () => {
    clusters = [kafkaCluster()];
    const topic = held(kafkaTopic());
    expect((await reconcile(topic)).requeueAfterMs).toBeGreaterThan(0);
    expect(ready(topic)).toMatchObject({ status: 'False', reason: 'ClusterNotReady' });
  });

  it('reports a broker error in status and retries', async () => {
    admin.createTopic = () => Promise.reject(new Error('INVALID_CONFIG: bad value'));
    const topic = held(kafkaTopic());
    await expect(reconcile(topic)).rejects.toThrow('INVALID_CONFIG');
    expect(ready(topic)).toMatchObject({ status: 'False', reason: 'KafkaError', message: 'INVALID_CONFIG: bad value' });
  });

  describe('deletion', () => {
    const deleting = (t: KafkaTopic): KafkaTopic => ({
      ...held(t),
      metadata: { ...held(t).metadata, deletionTimestamp: '2026-02-01T00:00:00Z' },
    });

    it('deletes the topic, then releases the finalizer', async () => {
      admin.topics.set('orders', { name: 'orders', id: 'x', partitions: 3, replicationFactor: 1, config: new Map() });
      await reconcile(deleting(kafkaTopic()));
      expect(admin.writes).toEqual(['delete orders']);
      expect(kube.writes).toEqual(['setFinalizers KafkaTopic prod/orders']);
    });

    it('releases the finalizer when the cluster is gone or going', async () => {
      clusters = [];
      await reconcile(deleting(kafkaTopic()));
      clusters = [
        { ...readyCluster(), metadata: { ...readyCluster().metadata, deletionTimestamp: '2026-02-01T00:00:00Z' } },
      ];
      await reconcile(deleting(kafkaTopic({}, { name: 'other', uid: 'o' })));
      expect(admin.writes).toEqual([]);
      expect(kube.writes).toEqual(['setFinalizers KafkaTopic prod/orders', 'setFinalizers KafkaTopic prod/other']);
    });

    it('does not delete a topic that belongs to an older KafkaTopic', async () => {
      topics = [held(kafkaTopic({}, { uid: 'a', creationTimestamp: '2025-01-01T00:00:00Z', name: 'first' }))];
      await reconcile(deleting(kafkaTopic({ topicName: 'first' }, { uid: 'b' })));
      expect(admin.writes).toEqual([]);
      expect(kube.writes).toEqual(['setFinalizers KafkaTopic prod/orders']);
    });

    it('keeps the finalizer while the brokers cannot be reached', async () => {
      admin.deleteTopic = () => Promise.reject(new Error('connect ECONNREFUSED'));
      await expect(reconcile(deleting(kafkaTopic()))).rejects.toThrow('ECONNREFUSED');
      expect(kube.writes).toEqual([]);
    });
  });
});
