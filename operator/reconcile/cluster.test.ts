import type { V1ConfigMap, V1Role } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KafkaClusterStatus } from '../api/types.js';
import { labels } from '../desired/names.js';
import { FakeAdmin, FakeKube, partitionState, silentLog } from '../test/fakes.js';
import { OPTIONS, kafkaCluster } from '../test/fixtures.js';
import { reconcileCluster, type ClusterDeps } from './cluster.js';

const NOW = new Date('2026-02-01T00:00:00Z');

describe('KafkaCluster reconcile', () => {
  let kube: FakeKube;
  let admin: FakeAdmin;
  let deps: ClusterDeps;
  const cluster = kafkaCluster({ replicas: 2, controllerVoters: 1 });
  const statusOf = () => kube.status<KafkaClusterStatus>('KafkaCluster', 'prod', 'events')!;
  const condition = (type: string) => statusOf().conditions!.find((c) => c.type === type);

  beforeEach(() => {
    kube = new FakeKube();
    admin = new FakeAdmin();
    deps = { kube, admin: () => admin, options: OPTIONS, now: () => NOW, log: silentLog };
  });

  /** The StatefulSet controller's part: pods of a revision, and the counts in its status. */
  function brokersRunning(revision: string, podRevisions: string[], readyCount = podRevisions.length) {
    kube.put({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'events-broker', namespace: 'prod', generation: 1 },
      status: {
        observedGeneration: 1,
        replicas: podRevisions.length,
        readyReplicas: readyCount,
        updateRevision: revision,
      },
    });
    podRevisions.forEach((rev, i) =>
      kube.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `events-broker-${i}`,
          namespace: 'prod',
          labels: { ...labels(cluster), 'controller-revision-hash': rev, 'apps.kubernetes.io/pod-index': String(i) },
        },
        spec: { nodeName: `node-${i}` },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: i < readyCount ? 'True' : 'False' }] },
      } as never),
    );
  }

  it('stores a new cluster id first, then applies the owned objects in order', async () => {
    await reconcileCluster(cluster, deps);
    expect(kube.writes.slice(0, 7)).toEqual([
      'applyStatus KafkaCluster prod/events',
      'apply ServiceAccount prod/events-broker',
      'apply ConfigMap prod/events-config',
      'apply Service prod/events-brokers',
      'apply Service prod/events-bootstrap',
      'apply PodDisruptionBudget prod/events-broker',
      'apply StatefulSet prod/events-broker',
    ]);
    const clusterId = statusOf().clusterId!;
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const cm = await kube.get<V1ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'prod',
      name: 'events-config',
    });
    expect(cm!.data!['server.properties']).toContain(`runnel.cluster.id=${clusterId}`);
  });

  it('adopts the cluster id of volumes kept from an earlier cluster of the same name', async () => {
    const claim = (name: string, id: string) =>
      kube.put({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name,
          namespace: 'prod',
          labels: labels(cluster),
          annotations: { 'kafka.runnel.dev/cluster-id': id },
        },
      });
    claim('data-events-broker-0', 'old-id');
    claim('data-events-broker-1', 'old-id');
    await reconcileCluster(cluster, deps);
    expect(statusOf().clusterId).toBe('old-id');
    expect(kube.writes).toContain('event KafkaCluster prod/events Normal ClusterIdAdopted');
    const cm = await kube.get<V1ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'prod',
      name: 'events-config',
    });
    expect(cm!.data!['server.properties']).toContain('runnel.cluster.id=old-id');
  });

  it('refuses to choose between kept volumes of different clusters, naming them', async () => {
    for (const [name, id] of [
      ['data-events-broker-0', 'id-a'],
      ['data-events-broker-1', 'id-b'],
    ]) {
      kube.put({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name,
          namespace: 'prod',
          labels: labels(cluster),
          annotations: { 'kafka.runnel.dev/cluster-id': id },
        },
      });
    }
    await expect(reconcileCluster(cluster, deps)).rejects.toThrow(
      'clusterId: the kept broker volumes belong to different clusters (data-events-broker-0 of cluster id-a; data-events-broker-1 of cluster id-b)',
    );
    expect(kube.writes.filter((w) => w.startsWith('apply '))).toEqual([]);
  });

  it('keeps the cluster id it stored', async () => {
    await reconcileCluster({ ...cluster, status: { clusterId: 'kept-id' } }, deps);
    expect(kube.writes[0]).toBe('apply ServiceAccount prod/events-broker');
    expect(statusOf().clusterId).toBe('kept-id');
  });

  it('is Progressing while brokers start, and says how many are ready', async () => {
    brokersRunning('r1', ['r1', 'r1'], 1);
    const result = await reconcileCluster({ ...cluster, status: { clusterId: 'id' } }, deps);
    expect(result.requeueAfterMs).toBeGreaterThan(0);
    expect(condition('Ready')).toMatchObject({
      status: 'False',
      reason: 'BrokersStarting',
      message: '1/2 brokers ready',
    });
    expect(condition('Progressing')).toMatchObject({ status: 'True' });
    expect(statusOf()).toMatchObject({
      replicas: 2,
      readyReplicas: 1,
      labelSelector: 'app.kubernetes.io/name=runnel-broker,app.kubernetes.io/instance=events',
      bootstrap: 'events-bootstrap.prod.svc.cluster.local:9092',
    });
    expect(statusOf().brokers).toEqual([
      { id: 0, pod: 'events-broker-0', state: 'Ready' },
      { id: 1, pod: 'events-broker-1', state: 'NotReady' },
    ]);
  });

  it('is Ready when every broker is ready on the current revision, and then writes status no more', async () => {
    brokersRunning('r1', ['r1', 'r1']);
    await reconcileCluster({ ...cluster, status: { clusterId: 'id' } }, deps);
    expect(condition('Ready')).toMatchObject({ status: 'True', observedGeneration: 1 });
    expect(condition('Degraded')).toMatchObject({ status: 'False' });
    expect(kube.writes).toContain('event KafkaCluster prod/events Normal Ready');
    kube.writes.length = 0;
    await reconcileCluster({ ...cluster, status: statusOf() }, deps);
    expect(kube.writes.filter((w) => !w.startsWith('apply '))).toEqual([]);
  });

  it('restarts one outdated broker at a time, the active controller last', async () => {
    brokersRunning('r2', ['r1', 'r1']);
    admin.clusterHealth = { controllerId: 0, partitions: [], replicasByBroker: new Map() };
    await reconcileCluster({ ...cluster, status: { clusterId: 'id' } }, deps);
    expect(kube.writes).toContain('delete Pod prod/events-broker-1');
    expect(kube.writes).not.toContain('delete Pod prod/events-broker-0');
    expect(condition('Progressing')).toMatchObject({ status: 'True', reason: 'RollingRestart' });
  });

  it('holds the restart while the next broker would take a partition below min.insync.replicas', async () => {
    brokersRunning('r2', ['r1', 'r1']);
    admin.clusterHealth = {
      controllerId: 0,
      partitions: [partitionState('orders-0', [0, 1, 2], [1, 2], 2)],
      replicasByBroker: new Map(),
    };
    await reconcileCluster({ ...cluster, status: { clusterId: 'id' } }, deps);
    expect(kube.writes.filter((w) => w.startsWith('delete Pod'))).toEqual([]);
    expect(condition('Progressing')).toMatchObject({
      status: 'True',
      reason: 'RollingRestart',
      message:
        'waiting to restart broker 1: orders-0 has 2 in-sync replicas [1,2] of 3, min.insync.replicas 2: restarting broker 1 would leave 1',
    });
  });

  it('reports a failed step as Degraded, naming the step, and fails the pass for a retry', async () => {
    kube.failNext = { kind: 'StatefulSet', error: new Error('admission webhook said no') };
    await expect(reconcileCluster({ ...cluster, status: { clusterId: 'id' } }, deps)).rejects.toThrow(
      'statefulSet: admission webhook said no',
    );
    expect(condition('Degraded')).toMatchObject({
      status: 'True',
      reason: 'ReconcileFailed',
      message: 'statefulSet: admission webhook said no',
    });
  });

  describe('with spec.rack', () => {
    const racked = {
      ...kafkaCluster({ replicas: 2, controllerVoters: 1, rack: { topologyKey: 'topology.kubernetes.io/zone' } }),
      status: { clusterId: 'id' },
    };
    const node = (name: string, zone?: string) =>
      kube.put({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, namespace: '', labels: zone ? { 'topology.kubernetes.io/zone': zone } : {} },
      });

    it('lets the brokers read their own pods, and only those', async () => {
      await reconcileCluster(racked, deps);
      const role = await kube.get<V1Role>({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        namespace: 'prod',
        name: 'events-broker',
      });
      expect(role!.rules).toEqual([
        { apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['events-broker-0', 'events-broker-1'] },
      ]);
      expect(kube.writes).toContain('apply RoleBinding prod/events-broker');
      await reconcileCluster({ ...cluster, status: { clusterId: 'id' } }, deps);
      expect(kube.writes).toContain('delete Role prod/events-broker');
      expect(kube.writes).toContain('delete RoleBinding prod/events-broker');
    });

    it("copies each scheduled broker's node label onto its pod, once", async () => {
      brokersRunning('r1', ['r1', 'r1']);
      node('node-0', 'zone-a');
      node('node-1', 'zone-b');
      await reconcileCluster(racked, deps);
      expect(kube.writes).toContain('annotate Pod prod/events-broker-0 kafka.runnel.dev/rack=zone-a');
      expect(kube.writes).toContain('annotate Pod prod/events-broker-1 kafka.runnel.dev/rack=zone-b');
      expect(statusOf().brokers!.map((b) => b.rack)).toEqual(['zone-a', 'zone-b']);
      kube.writes.length = 0;
      await reconcileCluster(racked, deps);
      expect(kube.writes.filter((w) => w.startsWith('annotate'))).toEqual([]);
    });

    it('says which node lacks the label, and how to fix it', async () => {
      brokersRunning('r1', ['r1', 'r1']);
      node('node-0', 'zone-a');
      node('node-1');
      const result = await reconcileCluster(racked, deps);
      expect(result.requeueAfterMs).toBeGreaterThan(0);
      expect(kube.writes).toContain('annotate Pod prod/events-broker-0 kafka.runnel.dev/rack=zone-a');
      expect(condition('Progressing')).toMatchObject({ status: 'True', reason: 'NodeLabelMissing' });
      expect(condition('Progressing')!.message).toContain('node node-1 has no label topology.kubernetes.io/zone');
      expect(condition('Progressing')!.message).toContain('kubectl label node');
    });
  });

  describe('scaling', () => {
    const scaled = (replicas: number) => kafkaCluster({ replicas, controllerVoters: 1 });
    /** One pass over the cluster as the API server has it: the status the previous pass wrote. */
    const pass = (replicas: number) =>
      reconcileCluster(
        { ...scaled(replicas), status: { clusterId: 'id', ...kube.status('KafkaCluster', 'prod', 'events') } },
        deps,
      );
    const scaling = () => statusOf().scaling!;

    /** The StatefulSet controller has run `count` ready pods of the current revision. */
    function statefulSetRuns(count: number) {
      const replicas = (
        kube.objects.get('StatefulSet prod/events-broker') as { spec?: { replicas?: number } } | undefined
      )?.spec?.replicas;
      for (const [key, obj] of kube.objects) if (obj.kind === 'Pod') kube.objects.delete(key);
      brokersRunning('r1', Array<string>(count).fill('r1'));
      kube.put({
        ...kube.objects.get('StatefulSet prod/events-broker')!,
        spec: { replicas: replicas ?? count },
      } as never);
      admin.liveBrokers = Array.from({ length: count }, (_, id) => ({ id }));
    }
    /** Topic orders, 6 partitions at RF 2, round-robin over `brokers`, leaders first. */
    function placedOn(brokers: number[]) {
      admin.clusterHealth = {
        controllerId: 0,
        partitions: Array.from({ length: 6 }, (_, p) => {
          const replicas = [brokers[p % brokers.length], brokers[(p + 1) % brokers.length]];
          return partitionState(`orders-${p}`, replicas, replicas, 1);
        }),
        replicasByBroker: new Map(),
      };
    }
    /** The brokers finish every reassignment in flight. */
    function movesComplete() {
      for (const r of admin.reassignments) {
        const p = admin.clusterHealth.partitions.find((q) => q.topic === r.topic && q.partition === r.partition)!;
        p.replicas = r.replicas.filter((id) => !r.removing.includes(id));
        p.isr = [...p.replicas];
        if (!p.replicas.includes(p.leader)) p.leader = p.replicas[0];
      }
      admin.reassignments = [];
    }
    const replicasOn = (id: number) => admin.clusterHealth.partitions.filter((p) => p.replicas.includes(id)).length;

    it('grows the StatefulSet, then moves replicas to the new broker and elects balanced leaders', async () => {
      statefulSetRuns(3);
      placedOn([0, 1, 2]);
      await pass(4);
      expect(scaling()).toMatchObject({ phase: 'AddingBrokers', fromBrokers: 3, toBrokers: 4 });
      expect(kube.objects.get('StatefulSet prod/events-broker')).toMatchObject({ spec: { replicas: 4 } });

      statefulSetRuns(4);
      await pass(4);
      expect(scaling()).toMatchObject({ phase: 'MovingReplicas', plan: { replicaMoves: 3, lowerBound: 3 } });
      expect(condition('Progressing')).toMatchObject({ status: 'True', reason: 'MovingReplicas' });
      expect(admin.writes.filter((w) => w.startsWith('reassign'))).toHaveLength(3);
      expect(kube.writes).toContain('event KafkaCluster prod/events Normal MovingReplicas');

      movesComplete();
      await pass(4);
      expect(scaling()).toMatchObject({ phase: 'Balanced', progress: { pending: 0, moving: 0, done: 3 } });
      expect(condition('Ready')).toMatchObject({ status: 'True' });
      expect([0, 1, 2, 3].map(replicasOn)).toEqual([3, 3, 3, 3]);
      for (const p of admin.clusterHealth.partitions) expect(p.leader).toBe(p.replicas[0]);
    });

    it('plans a partition seen with its leaving replica still listed by the topic’s replication factor', async () => {
      statefulSetRuns(3);
      placedOn([0, 1, 2]);
      // Metadata that has not caught up with a completed move: orders-0 still lists broker 2.
      admin.clusterHealth.partitions[0] = partitionState('orders-0', [0, 1, 2], [0, 1, 2], 1);
      await pass(4);
      statefulSetRuns(4);
      await pass(4);
      const targets = admin.writes.filter((w) => w.startsWith('reassign')).map((w) => w.split(' ')[2].split(','));
      expect(targets.length).toBeGreaterThan(0);
      for (const t of targets) expect(t).toHaveLength(2);
    });

    it('throttles the brokers and partitions taking part while replicas move, and removes the throttle after', async () => {
      statefulSetRuns(4);
      placedOn([0, 1, 2]);
      const throttled = (replicas: number) =>
        reconcileCluster(
          {
            ...scaled(replicas),
            spec: {
              ...scaled(replicas).spec,
              rebalance: { maxPartitionMovements: 2, throttleBytesPerSecond: 1_000_000 },
            },
            status: { clusterId: 'id', ...kube.status('KafkaCluster', 'prod', 'events') },
          },
          deps,
        );
      kube.statuses.set('KafkaCluster prod/events', {
        scaling: { phase: 'MovingReplicas', fromBrokers: 3, toBrokers: 4 },
      });
      await throttled(4);
      expect(admin.reassignments).toHaveLength(2);
      expect(admin.throttledBrokers.get(3)).toBe(1_000_000);
      const moving = admin.reassignments.map((r) => `${r.partition}:${r.adding[0]}`);
      expect(admin.throttledTopics.get('orders')!.follower.sort()).toEqual(moving.sort());
      while (admin.reassignments.length > 0) {
        movesComplete();
        await throttled(4);
      }
      await throttled(4);
      expect(scaling().phase).toBe('Balanced');
      expect(admin.throttledBrokers.size).toBe(0);
      expect(admin.throttledTopics.size).toBe(0);
    });

    it('drains the highest broker before shrinking the StatefulSet, then unregisters it', async () => {
      statefulSetRuns(4);
      placedOn([0, 1, 2, 3]);
      await pass(3);
      expect(scaling()).toMatchObject({ phase: 'MovingReplicas', fromBrokers: 4, toBrokers: 3 });
      expect(kube.objects.get('StatefulSet prod/events-broker')).toMatchObject({ spec: { replicas: 4 } });

      movesComplete();
      expect(replicasOn(3)).toBe(0);
      await pass(3);
      expect(scaling()).toMatchObject({ phase: 'RemovingBrokers' });
      expect(kube.objects.get('StatefulSet prod/events-broker')).toMatchObject({ spec: { replicas: 4 } });

      await pass(3);
      expect(kube.objects.get('StatefulSet prod/events-broker')).toMatchObject({ spec: { replicas: 3 } });
      expect(admin.writes).not.toContain('unregister 3');
      expect(condition('Progressing')).toMatchObject({ reason: 'ScalingDown' });

      statefulSetRuns(3);
      await pass(3);
      expect(admin.writes).toContain('unregister 3');
      expect(scaling()).toMatchObject({ phase: 'Balanced' });
      expect(condition('Ready')).toMatchObject({ status: 'True' });
    });

    it('never shrinks the StatefulSet while a leaving broker holds a replica, whatever the status says', async () => {
      statefulSetRuns(4);
      placedOn([0, 1, 2, 3]);
      kube.statuses.set('KafkaCluster prod/events', {
        scaling: { phase: 'RemovingBrokers', fromBrokers: 4, toBrokers: 3 },
      });
      await pass(3);
      expect(kube.objects.get('StatefulSet prod/events-broker')).toMatchObject({ spec: { replicas: 4 } });
      expect(scaling().phase).toBe('MovingReplicas');
    });

    it('refuses a shrink below a topic’s replication factor, saying why, until spec.replicas goes back', async () => {
      statefulSetRuns(3);
      placedOn([0, 1, 2]);
      admin.clusterHealth.partitions = admin.clusterHealth.partitions.map((p) => ({
        ...p,
        replicas: [0, 1, 2],
        isr: [0, 1, 2],
      }));
      await pass(2);
      expect(scaling()).toMatchObject({ phase: 'Blocked' });
      expect(condition('Ready')).toMatchObject({
        status: 'False',
        reason: 'ScaleDownBlocked',
        message:
          'cannot go from 3 to 2 brokers: topic orders has replication factor 3, more than 2 brokers can hold apart; set spec.replicas back to 3',
      });
      expect(admin.writes.filter((w) => w.startsWith('reassign'))).toEqual([]);
      expect(kube.objects.get('StatefulSet prod/events-broker')).toMatchObject({ spec: { replicas: 3 } });

      await pass(3);
      expect(scaling()).toMatchObject({ phase: 'Balanced', toBrokers: 3 });
      expect(condition('Ready')).toMatchObject({ status: 'True' });
    });

    it('counts a partition in the middle of a move by its target replicas when checking a shrink', async () => {
      statefulSetRuns(3);
      placedOn([0, 1, 2]);
      // orders-0 moving from [0,1] to [1,2]: Metadata lists all three meanwhile.
      admin.clusterHealth.partitions[0] = partitionState('orders-0', [1, 2, 0], [0, 1, 2], 1);
      admin.reassignments = [{ topic: 'orders', partition: 0, replicas: [1, 2, 0], adding: [2], removing: [0] }];
      await pass(2);
      expect(scaling().phase).toBe('MovingReplicas');
      expect(admin.writes).toContain('reassign orders-0 cancel');
    });

    it('cancels moves to a broker that a changed spec.replicas no longer keeps, then drains it', async () => {
      statefulSetRuns(3);
      placedOn([0, 1, 2]);
      await pass(5);
      statefulSetRuns(5);
      await pass(5);
      const toLeaving = admin.reassignments.filter((r) => r.adding.includes(4));
      expect(toLeaving.length).toBeGreaterThan(0);

      await pass(4);
      expect(scaling()).toMatchObject({ fromBrokers: 5, toBrokers: 4 });
      for (const r of toLeaving) expect(admin.writes).toContain(`reassign ${r.topic}-${r.partition} cancel`);
      expect(admin.reassignments.some((r) => r.adding.includes(4))).toBe(false);
      movesComplete();
      await pass(4);
      movesComplete();
      await pass(4);
      expect(replicasOn(4)).toBe(0);
      expect(scaling().phase).toBe('RemovingBrokers');
    });
  });
});
