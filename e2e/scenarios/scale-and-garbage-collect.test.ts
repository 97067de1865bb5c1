// `kubectl scale kafkacluster/<name> --replicas=N` changes the brokers' StatefulSet, up and back
// down, without restarting the brokers that keep running. Deleting a KafkaCluster garbage-collects everything it owned, and
// its PersistentVolumeClaims as spec.storage.deleteClaim says (the StatefulSet's
// persistentVolumeClaimRetentionPolicy.whenDeleted: Delete or Retain).
//
// Data movement is not here yet: brokers do not replicate, so nothing moves partitions onto an
// added broker or off a leaving one (a later issue; its scenarios go in this file). What a second
// broker does today: it is not a controller voter, and Runnel cannot join a metadata quorum of
// other nodes yet, so it refuses to start (exit code 2, naming process.roles) instead of coming up
// as a separate one-broker cluster behind the same bootstrap Service. The cluster then reports
// N of N+1 brokers ready until it is scaled back. Reads and writes go to the first broker's own
// address.
//
// The throwaway cluster is also rack-aware (spec.rack): its broker's init container writes its
// node's zone label as broker.rack, and its Role and RoleBinding are among what deletion collects.

import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  BROKERS,
  brokerPods,
  clusterSettled,
  eventually,
  example,
  kafkaReachable,
  useEnv,
  type BrokerConfigs,
  type ConfigMap,
  type KafkaCluster,
  type List,
  type NodeObject,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
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
  /** The first broker, by its own name: it answers for the data it holds. */
  const firstBroker = (cluster: string) => `${cluster}-broker-0.${cluster}-brokers.${ns()}.svc.cluster.local:9092`;
  const consumeAll = () => env.kcat(['-b', firstBroker(KEPT), '-C', '-t', TOPIC, '-o', 'beginning', '-e', '-q', '-K:']);
  const owned = async (cluster: string) =>
    (await env.k(['get', OWNED_KINDS, '-n', ns(), '-l', `app.kubernetes.io/instance=${cluster}`, '-o', 'name']))
      .trim()
      .split('\n')
      .filter(Boolean)
      .sort();
  const claims = async (cluster: string) =>
    (await env.json<List<PersistentVolumeClaim>>(['pvc', '-n', ns(), '-l', `app.kubernetes.io/instance=${cluster}`]))!
      .items;
  const configFiles = async () =>
    Object.keys((await env.json<ConfigMap>(['configmap', `${KEPT}-config`, '-n', ns()]))!.data!).sort();
  let brokersBefore: Pod[] = [];
  let keptClusterId = '';
  /** Zone labels the nodes had before (restored at the end, for an existing cluster). */
  const zonesBefore = new Map<string, string | undefined>();
  afterAll(async () => {
    for (const [node, zone] of zonesBefore)
      await env.k(['label', 'node', node, '--overwrite', zone ? `${ZONE_LABEL}=${zone}` : `${ZONE_LABEL}-`]);
  });

  it('starts two clusters, one that keeps its volumes and one that does not', async () => {
    const scratch = parse(example('kafka-cluster.yaml')) as KafkaCluster;
    scratch.metadata.name = SCRATCH;
    scratch.spec.storage.deleteClaim = true;
    scratch.spec.rack = { topologyKey: ZONE_LABEL };
    for (const node of (await env.json<List<NodeObject>>(['nodes']))!.items) {
      zonesBefore.set(node.metadata.name, node.metadata.labels![ZONE_LABEL]);
      await env.k(['label', 'node', node.metadata.name, '--overwrite', `${ZONE_LABEL}=${ZONE}`]);
    }
    await env.k(['apply', '-n', ns(), '-f', '-'], example('kafka-cluster.yaml'));
    await env.k(['apply', '-n', ns(), '-f', '-'], JSON.stringify(scratch));
    await Promise.all([clusterSettled(env, KEPT), clusterSettled(env, SCRATCH)]);
    await Promise.all([kafkaReachable(env, firstBroker(KEPT)), kafkaReachable(env, firstBroker(SCRATCH))]);
    expect(
      (await env.json<StatefulSet>(['statefulset', `${KEPT}-broker`, '-n', ns()]))!.spec
        .persistentVolumeClaimRetentionPolicy,
    ).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(
      (await env.json<StatefulSet>(['statefulset', `${SCRATCH}-broker`, '-n', ns()]))!.spec
        .persistentVolumeClaimRetentionPolicy,
    ).toEqual({ whenDeleted: 'Delete', whenScaled: 'Retain' });
    const input = Array.from({ length: MESSAGES }, (_, i) => `k${i}:v${i}`).join('\n') + '\n';
    const p = await env.kcat(['-b', firstBroker(KEPT), '-t', TOPIC, '-P', '-K:', '-X', 'acks=all'], input);
    expect(p.code, p.stderr).toBe(0);
    brokersBefore = await brokerPods(env, KEPT);
    // The rack-aware broker learnt its zone from its init container.
    const [racked] = await brokerPods(env, SCRATCH);
    expect(racked.status!.initContainerStatuses!.map((s) => [s.name, s.state!.terminated?.exitCode])).toEqual([
      ['rack', 0],
    ]);
    const configs = await env.nodeRun('broker-configs.mjs', [firstBroker(SCRATCH), 'broker.rack']);
    expect(
      Object.values(JSON.parse(configs.stdout || '{}') as BrokerConfigs).map((c) => c['broker.rack']),
      configs.stderr,
    ).toEqual(Array(BROKERS).fill(ZONE));
  });

  describe('kubectl scale adds and removes brokers without restarting the others', () => {
    it(`adds a broker: --replicas=${BROKERS + 1}; it refuses to start on its own`, async () => {
      const added = `${KEPT}-broker-${BROKERS}`;
      await env.k(['scale', `kafkacluster/${KEPT}`, '-n', ns(), `--replicas=${BROKERS + 1}`]);
      await eventually(
        'StatefulSet scaled up',
        async () =>
          (await env.json<StatefulSet>(['statefulset', `${KEPT}-broker`, '-n', ns()]))?.spec.replicas === BROKERS + 1,
      );
      // Its own per-broker config (a broker, not a voter: the voters are fixed), and its own volume.
      const cm = (await env.json<ConfigMap>(['configmap', `${KEPT}-config`, '-n', ns()]))!;
      expect(cm.data![`node-${BROKERS}.properties`]).toContain('process.roles=broker\n');
      await eventually(
        `claim data-${added} bound`,
        async () =>
          (await env.json<PersistentVolumeClaim>(['pvc', `data-${added}`, '-n', ns()]))?.status!.phase === 'Bound',
      );
      // The broker exits with its bad-config code rather than run as a cluster of its own.
      const exitCode = (p: Pod | undefined) =>
        p?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode ??
        p?.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode;
      const pod = await eventually(
        `broker ${BROKERS} refused to start`,
        async () => {
          const p = await env.json<Pod>(['pod', added, '-n', ns()]);
          return exitCode(p) !== undefined && p;
        },
        120_000,
      );
      expect(exitCode(pod)).toBe(2);
      const kc = await eventually('status counts the added broker as not ready', async () => {
        const c = await env.json<KafkaCluster>(['kafkacluster', KEPT, '-n', ns()]);
        return c?.status?.replicas === BROKERS + 1 && c.status.brokers?.length === BROKERS + 1 && c;
      });
      expect(kc.status!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({
        status: 'False',
        reason: 'BrokersStarting',
        message: `${BROKERS}/${BROKERS + 1} brokers ready`,
      });
      expect(kc.status!.brokers!.map((b) => [b.id, b.state === 'Ready'])).toEqual(
        Array.from({ length: BROKERS + 1 }, (_, i) => [i, i < BROKERS]),
      );
      // The brokers that were there keep serving their data.
      const c = await consumeAll();
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout.trim().split('\n').sort()).toEqual(
        Array.from({ length: MESSAGES }, (_, i) => `k${i}:v${i}`).sort(),
      );
    });

    // Adding brokers adds their files but must not restart the existing ones: the shared config's
    // hash (operator/desired/config.ts, configHash) leaves out what follows the broker count.
    it('does not restart the brokers that were running', async () => {
      const after = await brokerPods(env, KEPT);
      expect(after.slice(0, BROKERS).map((p) => p.metadata.uid)).toEqual(brokersBefore.map((p) => p.metadata.uid));
    });

    it(`removes it again: --replicas=${BROKERS}, keeping its claim (whenScaled: Retain)`, async () => {
      const removed = `${KEPT}-broker-${BROKERS}`;
      await env.k(['scale', `kafkacluster/${KEPT}`, '-n', ns(), `--replicas=${BROKERS}`]);
      await eventually(
        `pod ${removed} gone`,
        async () => (await env.json<Pod>(['pod', removed, '-n', ns()])) === undefined,
        180_000,
      );
      const kc = await clusterSettled(env, KEPT);
      await kafkaReachable(env, firstBroker(KEPT));
      expect(kc.status!.replicas).toBe(BROKERS);
      expect((await env.json<StatefulSet>(['statefulset', `${KEPT}-broker`, '-n', ns()]))!.spec.replicas).toBe(BROKERS);
      expect(await configFiles()).toEqual(
        [
          'cluster-size.properties',
          'server.properties',
          ...Array.from({ length: BROKERS }, (_, i) => `node-${i}.properties`),
        ].sort(),
      );
      expect((await brokerPods(env, KEPT)).map((p) => p.metadata.uid)).toEqual(
        brokersBefore.map((p) => p.metadata.uid),
      );
      expect((await env.json<PersistentVolumeClaim>(['pvc', `data-${removed}`, '-n', ns()]))?.status!.phase).toBe(
        'Bound',
      );
      const c = await consumeAll();
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout.trim().split('\n')).toHaveLength(MESSAGES);
    });
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
        Array.from({ length: BROKERS + 1 }, (_, i) => `data-${KEPT}-broker-${i}`).sort(),
      );
      for (const pvc of after)
        expect((await env.json<PersistentVolume>(['pv', pvc.spec.volumeName!]))?.status!.phase).toBe('Bound');
      expect(after.every((c) => !c.metadata.ownerReferences?.length)).toBe(true);
    });

    it('a KafkaCluster created again under the same name adopts the kept volumes and their data', async () => {
      await env.k(['apply', '-n', ns(), '-f', '-'], example('kafka-cluster.yaml'));
      const kc = await clusterSettled(env, KEPT);
      expect(kc.status!.clusterId).toBe(keptClusterId);
      await kafkaReachable(env, firstBroker(KEPT));
      const c = await consumeAll();
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout.trim().split('\n').sort()).toEqual(
        Array.from({ length: MESSAGES }, (_, i) => `k${i}:v${i}`).sort(),
      );
    });
  });
});
