import type { V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { statefulSet } from '../desired/statefulset.js';
import { labels } from '../desired/names.js';
import { FakeKube, silentLog } from '../test/fakes.js';
import { OPTIONS, kafkaCluster } from '../test/fixtures.js';
import type { KafkaCluster } from '../api/types.js';
import { expandStorage, type StorageContext } from './storage.js';

const NS = 'prod';
const STS = 'StatefulSet prod/events-broker';

function storageClass(name: string, allowVolumeExpansion: boolean | undefined, isDefault = false): V1StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: {
      name,
      namespace: '',
      annotations: isDefault ? { 'storageclass.kubernetes.io/is-default-class': 'true' } : {},
    },
    provisioner: 'example.com/disk',
    allowVolumeExpansion,
  };
}

function claim(
  cluster: KafkaCluster,
  ordinal: number,
  size: string,
  opts: { capacity?: string; phase?: string; storageClassName?: string } = {},
): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: `data-events-broker-${ordinal}`, namespace: NS, labels: labels(cluster) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: opts.storageClassName ?? 'standard',
      resources: { requests: { storage: size } },
    },
    status: { phase: opts.phase ?? 'Bound', capacity: { storage: opts.capacity ?? size } },
  };
}

describe('expandStorage', () => {
  let kube: FakeKube;
  const run = async (cluster: KafkaCluster) => {
    const ctx: StorageContext = { cluster, deps: { kube, log: silentLog } };
    const result = await expandStorage(ctx);
    return { result, claimSize: ctx.claimSize };
  };
  /** A cluster running at `size`: its StatefulSet and three bound claims. */
  const running = (size: string, storageClassName?: string) => {
    const cluster = kafkaCluster({ storage: { size, storageClassName, deleteClaim: false } });
    kube.put(statefulSet(cluster, 'cluster-id', 'h', OPTIONS));
    for (let i = 0; i < 3; i++) kube.put(claim(cluster, i, size, { storageClassName: storageClassName ?? 'standard' }));
    return cluster;
  };
  const grown = (size: string, storageClassName?: string) =>
    kafkaCluster({ storage: { size, storageClassName, deleteClaim: false } });
  const pvc = (i: number) =>
    kube.objects.get(`PersistentVolumeClaim ${NS}/data-events-broker-${i}`) as V1PersistentVolumeClaim;

  beforeEach(() => {
    kube = new FakeKube();
  });

  it('is done, changing nothing, for a new cluster and for one at its size', async () => {
    expect(await run(grown('10Gi'))).toEqual({ result: { kind: 'done' }, claimSize: '10Gi' });
    running('10Gi');
    expect(await run(grown('10Gi'))).toEqual({ result: { kind: 'done' }, claimSize: '10Gi' });
    expect(kube.writes).toEqual([]);
  });

  it('expands every claim, then deletes the StatefulSet orphaning its pods, where the class allows it', async () => {
    running('10Gi', 'fast');
    kube.put(storageClass('fast', true));
    const { result, claimSize } = await run(grown('20Gi', 'fast'));
    expect(claimSize).toBe('20Gi');
    expect(result).toMatchObject({ kind: 'requeue', reason: 'ExpandingStorage' });
    expect(kube.writes).toEqual([
      'mergePatch PersistentVolumeClaim prod/data-events-broker-0 {"spec":{"resources":{"requests":{"storage":"20Gi"}}}}',
      'mergePatch PersistentVolumeClaim prod/data-events-broker-1 {"spec":{"resources":{"requests":{"storage":"20Gi"}}}}',
      'mergePatch PersistentVolumeClaim prod/data-events-broker-2 {"spec":{"resources":{"requests":{"storage":"20Gi"}}}}',
      `delete ${STS} Orphan`,
      'event KafkaCluster prod/events Normal ExpandingStorage',
    ]);
    expect(pvc(1).spec!.resources!.requests!.storage).toBe('20Gi');
    expect(pvc(1).spec!.accessModes).toEqual(['ReadWriteOnce']);
    // Gone: the next pass lets the StatefulSet be applied with the new template, unblocked.
    expect(await run(grown('20Gi', 'fast'))).toEqual({ result: { kind: 'done' }, claimSize: '20Gi' });
  });

  it("uses the cluster's default class when the claims name none", async () => {
    const cluster = grown('1Gi');
    kube.put(statefulSet(cluster, 'cluster-id', 'h', OPTIONS));
    kube.put({ ...claim(cluster, 0, '1Gi'), spec: { resources: { requests: { storage: '1Gi' } } } } as never);
    kube.put(storageClass('other', false));
    kube.put(storageClass('standard', true, true));
    expect((await run(grown('2Gi'))).claimSize).toBe('2Gi');
    expect(kube.writes).toContain(`delete ${STS} Orphan`);
  });

  it('waits for the deleted StatefulSet to go', async () => {
    const cluster = running('10Gi');
    kube.put({
      ...statefulSet(cluster, 'cluster-id', 'h', OPTIONS),
      metadata: { name: 'events-broker', namespace: NS, deletionTimestamp: new Date() },
    });
    expect(await run(grown('20Gi'))).toMatchObject({
      result: { kind: 'requeue', reason: 'ExpandingStorage', afterMs: 1000 },
    });
    expect(kube.writes).toEqual([]);
  });

  it('keeps the old size and says what to do when the class does not allow expansion', async () => {
    running('10Gi');
    kube.put(storageClass('standard', undefined));
    const { result, claimSize } = await run(grown('20Gi'));
    expect(claimSize).toBe('10Gi');
    expect(result).toEqual({
      kind: 'requeue',
      afterMs: 60_000,
      reason: 'StorageNotExpandable',
      message:
        'cannot expand the broker volumes from 10Gi to 20Gi: StorageClass standard does not allow volume expansion (allowVolumeExpansion is not true); use a StorageClass with allowVolumeExpansion: true, or set spec.storage.size back to 10Gi',
    });
    expect(kube.writes).toEqual([]);
  });

  it('names a missing class, and a missing default', async () => {
    running('10Gi', 'gone');
    const missing = (await run(grown('20Gi', 'gone'))).result;
    expect(missing).toMatchObject({ reason: 'StorageNotExpandable' });
    expect(missing.kind === 'requeue' && missing.message).toContain('StorageClass gone does not exist;');
    kube = new FakeKube();
    const cluster = grown('1Gi');
    kube.put(statefulSet(cluster, 'cluster-id', 'h', OPTIONS));
    const noDefault = (await run(grown('2Gi'))).result;
    expect(noDefault).toMatchObject({ reason: 'StorageNotExpandable' });
    expect(noDefault.kind === 'requeue' && noDefault.message).toContain(
      'the claims have no StorageClass (spec.storage.storageClassName is unset and the cluster has no default class)',
    );
  });

  it('refuses to shrink, and applies nothing', async () => {
    running('20Gi');
    kube.put(storageClass('standard', true));
    const { result, claimSize } = await run(grown('10Gi'));
    expect(claimSize).toBe('20Gi');
    expect(result).toEqual({
      kind: 'requeue',
      afterMs: 60_000,
      reason: 'StorageShrinkRefused',
      message:
        "spec.storage.size 10Gi is smaller than the brokers' volumes (20Gi); a volume cannot be made smaller: set spec.storage.size back to at least 20Gi",
    });
    expect(kube.writes).toEqual([]);
    // The same size in other units is no change.
    expect((await run(grown('20480Mi'))).result).toEqual({ kind: 'done' });
  });

  it('reports progress until every bound claim has its new capacity', async () => {
    const cluster = grown('20Gi');
    kube.put(storageClass('standard', true));
    kube.put(statefulSet(cluster, 'cluster-id', 'h', OPTIONS));
    kube.put(claim(cluster, 0, '20Gi'));
    kube.put(claim(cluster, 1, '20Gi', { capacity: '10Gi' }));
    kube.put(claim(cluster, 2, '20Gi', { capacity: '10Gi' }));
    (pvc(2).status!.conditions ??= []).push({ type: 'FileSystemResizePending', status: 'True' });
    expect((await run(cluster)).result).toEqual({
      kind: 'requeue',
      afterMs: 5_000,
      reason: 'ExpandingStorage',
      message:
        "expanding broker volumes to 20Gi: 1/3 done (data-events-broker-2: the volume was resized, its filesystem waits for the broker's pod to start again)",
    });
    pvc(1).status!.capacity!.storage = '20Gi';
    pvc(2).status = { phase: 'Bound', capacity: { storage: '21474836480' } };
    expect((await run(cluster)).result).toEqual({ kind: 'done' });
    expect(kube.writes).toEqual([]);
  });

  it('expands a claim bound after the template changed, and leaves unbound ones alone', async () => {
    const cluster = grown('20Gi');
    kube.put(storageClass('standard', true));
    kube.put(statefulSet(cluster, 'cluster-id', 'h', OPTIONS));
    kube.put(claim(cluster, 0, '20Gi'));
    kube.put(claim(cluster, 1, '10Gi'));
    kube.put(claim(cluster, 2, '10Gi', { phase: 'Pending', capacity: undefined }));
    delete pvc(2).status!.capacity;
    const { result } = await run(cluster);
    expect(kube.writes).toEqual([
      'mergePatch PersistentVolumeClaim prod/data-events-broker-1 {"spec":{"resources":{"requests":{"storage":"20Gi"}}}}',
    ]);
    expect(result).toMatchObject({ reason: 'ExpandingStorage', message: 'expanding broker volumes to 20Gi: 1/2 done' });
  });

  it("ignores claims that are not this cluster's broker volumes", async () => {
    const cluster = running('10Gi');
    kube.put(storageClass('standard', true));
    kube.put({
      ...claim(cluster, 0, '1Gi'),
      metadata: { ...claim(cluster, 0, '1Gi').metadata, name: 'scratch-events-broker-0' },
    });
    kube.put({
      ...claim(cluster, 0, '1Gi'),
      metadata: { ...claim(cluster, 0, '1Gi').metadata, name: 'data-events-broker-x' },
    });
    expect(await run(grown('10Gi'))).toEqual({ result: { kind: 'done' }, claimSize: '10Gi' });
    expect(kube.writes).toEqual([]);
  });
});
