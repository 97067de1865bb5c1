// Deleting a KafkaCluster garbage-collects everything it owned, and its PersistentVolumeClaims as
// spec.storage.deleteClaim says (the StatefulSet's persistentVolumeClaimRetentionPolicy: Delete or
// Retain, when deleted and when scaled). Scaling is scaling-moves-partitions.test.ts.
//
// Two clusters of RUNNEL_E2E_BROKERS brokers: `events` with every broker a controller voter (up to
// 3), `scratch` with one voter and the other brokers broker-only. Each is one cluster: Metadata
// through its bootstrap Service lists all its brokers.
//
// The throwaway cluster is also rack-aware (spec.rack): its brokers' init containers write their
// node's zone label as broker.rack, and its Role and RoleBinding are among what deletion collects.

import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  BROKERS,
  brokerPods,
  clusterSettled,
  eventually,
  example,
  kafkaBrokersAre,
  useEnv,
  type BrokerConfigs,
  type ConfigMap,
  type KafkaCluster,
  type List,
  type NodeObject,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type StatefulSet,
} from './env.js';

const KEPT = 'events'; // deleteClaim: false, as in examples/kafka-cluster.yaml
const SCRATCH = 'scratch'; // deleteClaim: true
const TOPIC = 'before-scaling';
const MESSAGES = 100;
const OWNED_KINDS =
  'statefulsets,pods,services,endpoints,configmaps,poddisruptionbudgets,serviceaccounts,roles,rolebindings';
const ZONE_LABEL = 'topology.kubernetes.io/zone';
const ZONE = 'e2e-zone-a';

describe('scaling a KafkaCluster, and deleting one', () => {
  const env = useEnv({ namespace: 'e2e-scale-delete', operator: true });
  const ns = () => env.namespace;
  /** The cluster's bootstrap Service, by its DNS name (what status.bootstrap says). */
  const bootstrap = (cluster: string) => `${cluster}-bootstrap.${ns()}.svc.cluster.local:9092`;
  const ids = (n: number) => Array.from({ length: n }, (_, i) => i);
  const consumeAll = () => env.kcat(['-b', bootstrap(KEPT), '-C', '-t', TOPIC, '-o', 'beginning', '-e', '-q', '-K:']);
  const owned = async (cluster: string) =>
    (await env.k(['get', OWNED_KINDS, '-n', ns(), '-l', `app.kubernetes.io/instance=${cluster}`, '-o', 'name']))
      .trim()
      .split('\n')
      .filter(Boolean)
      .sort();
  const claims = async (cluster: string) =>
    (await env.json<List<PersistentVolumeClaim>>(['pvc', '-n', ns(), '-l', `app.kubernetes.io/instance=${cluster}`]))!
      .items;
  let keptClusterId = '';
  /** Zone labels the nodes had before (restored at the end, for an existing cluster). */
  const zonesBefore = new Map<string, string | undefined>();
  afterAll(async () => {
    for (const [node, zone] of zonesBefore)
      await env.k(['label', 'node', node, '--overwrite', zone ? `${ZONE_LABEL}=${zone}` : `${ZONE_LABEL}-`]);
  });

  it(`starts two clusters of ${BROKERS} brokers, one that keeps its volumes (${Math.min(3, BROKERS)} voters) and one that does not (1 voter)`, async () => {
    const scratch = parse(example('kafka-cluster.yaml')) as KafkaCluster;
    scratch.metadata.name = SCRATCH;
    scratch.spec.controllerVoters = 1;
    scratch.spec.storage.deleteClaim = true;
    scratch.spec.rack = { topologyKey: ZONE_LABEL };
    for (const node of (await env.json<List<NodeObject>>(['nodes']))!.items) {
      zonesBefore.set(node.metadata.name, node.metadata.labels![ZONE_LABEL]);
      await env.k(['label', 'node', node.metadata.name, '--overwrite', `${ZONE_LABEL}=${ZONE}`]);
    }
    await env.k(['apply', '-n', ns(), '-f', '-'], example('kafka-cluster.yaml'));
    await env.k(['apply', '-n', ns(), '-f', '-'], JSON.stringify(scratch));
    await Promise.all([clusterSettled(env, KEPT), clusterSettled(env, SCRATCH)]);
    // Each is one cluster: whatever broker the bootstrap Service picks lists them all.
    await Promise.all([
      kafkaBrokersAre(env, bootstrap(KEPT), ids(BROKERS)),
      kafkaBrokersAre(env, bootstrap(SCRATCH), ids(BROKERS)),
    ]);
    const cm = (await env.json<ConfigMap>(['configmap', `${SCRATCH}-config`, '-n', ns()]))!;
    expect(cm.data!['node-0.properties']).toContain('process.roles=broker,controller\n');
    for (let i = 1; i < BROKERS; i++) expect(cm.data![`node-${i}.properties`]).toContain('process.roles=broker\n');
    expect(
      (await env.json<StatefulSet>(['statefulset', `${KEPT}-broker`, '-n', ns()]))!.spec
        .persistentVolumeClaimRetentionPolicy,
    ).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(
      (await env.json<StatefulSet>(['statefulset', `${SCRATCH}-broker`, '-n', ns()]))!.spec
        .persistentVolumeClaimRetentionPolicy,
    ).toEqual({ whenDeleted: 'Delete', whenScaled: 'Delete' });
    const input = Array.from({ length: MESSAGES }, (_, i) => `k${i}:v${i}`).join('\n') + '\n';
    const p = await env.kcat(['-b', bootstrap(KEPT), '-t', TOPIC, '-P', '-K:', '-X', 'acks=all'], input);
    expect(p.code, p.stderr).toBe(0);
    // The rack-aware brokers learnt their zone from their init containers.
    for (const racked of await brokerPods(env, SCRATCH))
      expect(racked.status!.initContainerStatuses!.map((s) => [s.name, s.state!.terminated?.exitCode])).toEqual([
        ['rack', 0],
      ]);
    const configs = await env.nodeRun('broker-configs.mjs', [bootstrap(SCRATCH), 'broker.rack']);
    expect(
      Object.values(JSON.parse(configs.stdout || '{}') as BrokerConfigs).map((c) => c['broker.rack']),
      configs.stderr,
    ).toEqual(Array(BROKERS).fill(ZONE));
  });

  describe('kubectl delete kafkacluster garbage-collects what it owned, and its volumes as deleteClaim says', () => {
    /** Deletes the cluster and waits until nothing it owned is left. */
    async function deleteAndCollect(
      cluster: string,
      kinds: string[] = [],
    ): Promise<{ claims: PersistentVolumeClaim[] }> {
      const before = await owned(cluster);
      for (const kind of [
        'statefulset.apps',
        'pod',
        'service',
        'configmap',
        'poddisruptionbudget.policy',
        'serviceaccount',
        ...kinds,
      ]) {
        expect(
          before.some((o) => o.startsWith(`${kind}/`)),
          `${cluster} owns a ${kind}`,
        ).toBe(true);
      }
      const claimsBefore = await claims(cluster);
      expect(claimsBefore.length).toBeGreaterThanOrEqual(BROKERS);
      await env.k(['delete', 'kafkacluster', cluster, '-n', ns(), '--timeout=120s']);
      // The garbage collector removes the owned objects, the StatefulSet's pods with it.
      await eventually(`everything ${cluster} owned is gone`, async () => (await owned(cluster)).length === 0, 180_000);
      return { claims: claimsBefore };
    }

    it('deleteClaim: true removes the claims, and their volumes go by their reclaim policy', async () => {
      const { claims: before } = await deleteAndCollect(SCRATCH, [
        'role.rbac.authorization.k8s.io',
        'rolebinding.rbac.authorization.k8s.io',
      ]);
      await eventually('claims deleted', async () => (await claims(SCRATCH)).length === 0, 120_000);
      for (const pvc of before) {
        const volume = pvc.spec.volumeName!;
        const pv = await env.json<PersistentVolume>(['pv', volume]);
        if (pv?.spec.persistentVolumeReclaimPolicy === 'Retain') continue;
        await eventually(
          `volume ${volume} deleted (reclaim Delete)`,
          async () => (await env.json<PersistentVolume>(['pv', volume])) === undefined,
          120_000,
        );
      }
    });

    it('deleteClaim: false keeps every claim and its volume, bound', async () => {
      keptClusterId = (await env.json<KafkaCluster>(['kafkacluster', KEPT, '-n', ns()]))!.status!.clusterId!;
      const { claims: before } = await deleteAndCollect(KEPT);
      // One more pass of the StatefulSet and garbage collectors has nothing left to do with them.
      const after = await claims(KEPT);
      expect(after.map((c) => [c.metadata.name, c.metadata.uid, c.status!.phase]).sort()).toEqual(
        before.map((c) => [c.metadata.name, c.metadata.uid, 'Bound']).sort(),
      );
      expect(after.map((c) => c.metadata.name).sort()).toEqual(
        Array.from({ length: BROKERS }, (_, i) => `data-${KEPT}-broker-${i}`).sort(),
      );
      for (const pvc of after)
        expect((await env.json<PersistentVolume>(['pv', pvc.spec.volumeName!]))?.status!.phase).toBe('Bound');
      expect(after.every((c) => !c.metadata.ownerReferences?.length)).toBe(true);
    });

    it('a KafkaCluster created again under the same name adopts the kept volumes and their data', async () => {
      await env.k(['apply', '-n', ns(), '-f', '-'], example('kafka-cluster.yaml'));
      const kc = await clusterSettled(env, KEPT);
      expect(kc.status!.clusterId).toBe(keptClusterId);
      await kafkaBrokersAre(env, bootstrap(KEPT), ids(BROKERS));
      const c = await consumeAll();
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout.trim().split('\n').sort()).toEqual(
        Array.from({ length: MESSAGES }, (_, i) => `k${i}:v${i}`).sort(),
      );
    });
  });
});
