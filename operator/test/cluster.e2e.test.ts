// The chart installed by helm into a real API server, and the operator's controllers running
// (in this process) under the chart's ServiceAccount, so RBAC is the real one. No node runs pods
// yet (the node agent of issue 6), so brokers stay Pending: these tests stop at what the API
// server, the StatefulSet controller and the garbage collector do.

import type { KubernetesObject, V1ConfigMap, V1Role, V1StatefulSet } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '../../e2e/control-plane/cluster.js';
import { repoRoot } from '../../e2e/control-plane/paths.js';
import type { KafkaCluster } from '../api/types.js';
import { OperatorMetrics } from '../runtime/metrics.js';
import { startControllers, type RunningControllers } from '../controllers.js';
import { eventually, getJson, kubeConfigFor, operatorConfig, startControlPlane } from './e2e.js';

const NS = 'demo';
const SA = 'system:serviceaccount:runnel-system:runnel-operator';

const clusterYaml = (name: string, spec: string) => `apiVersion: kafka.runnel.dev/v1alpha1
kind: KafkaCluster
metadata:
  name: ${name}
  namespace: ${NS}
spec:
${spec.replace(/^/gm, '  ')}
`;
const topicYaml = (name: string, spec: string) => `apiVersion: kafka.runnel.dev/v1alpha1
kind: KafkaTopic
metadata:
  name: ${name}
  namespace: ${NS}
spec:
${spec.replace(/^/gm, '  ')}
`;

describe('operator on a real API server', () => {
  let plane: Cluster;
  let controllers: RunningControllers | undefined;

  const apply = (yaml: string) => plane.kubectl(['apply', '-f', '-'], { input: yaml });
  const rejected = async (yaml: string) => {
    const r = await plane.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: yaml });
    expect(r.code, `accepted:\n${yaml}`).not.toBe(0);
    return r.stderr;
  };

  beforeAll(async () => {
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
    const token = (
      await plane.kubectlOk(['create', 'token', 'runnel-operator', '-n', 'runnel-system', '--duration=2h'])
    ).trim();
    controllers = startControllers({
      config: operatorConfig(),
      kubeConfig: kubeConfigFor(plane, token),
      log: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
      metrics: new OperatorMetrics(),
    });
    await eventually('watch caches', () => Promise.resolve(controllers!.synced()));
  });

  afterAll(async () => {
    await controllers?.stop();
    await plane?.stop();
  });

  it('installs the CRDs with their short names and printer columns', async () => {
    const resources = await plane.kubectlOk(['api-resources', '--api-group=kafka.runnel.dev', '-o', 'wide']);
    expect(resources).toMatch(/kafkaclusters\s+kc\s+kafka.runnel.dev\/v1alpha1\s+true\s+KafkaCluster/);
    expect(resources).toMatch(/kafkatopics\s+kt\s+kafka.runnel.dev\/v1alpha1\s+true\s+KafkaTopic/);
  });

  it('rejects invalid KafkaClusters with a message naming the field', async () => {
    expect(await rejected(clusterYaml('bad', 'replicas: 0'))).toContain('spec.replicas');
    expect(await rejected(clusterYaml('bad', 'replicas: 3\ncontrollerVoters: 2'))).toContain('spec.controllerVoters');
    expect(await rejected(clusterYaml('bad', 'replicas: 1\ncontrollerVoters: 3'))).toContain(
      'spec.controllerVoters cannot exceed spec.replicas',
    );
    expect(await rejected(clusterYaml('bad', 'config:\n  node.id: 4'))).toContain(
      'spec.config cannot set keys the operator manages',
    );
    expect(await rejected(clusterYaml('bad', 'storage:\n  size: ten gigs'))).toContain('spec.storage.size');
    expect(await rejected(clusterYaml('a'.repeat(41), 'replicas: 1\ncontrollerVoters: 1'))).toContain(
      'metadata.name of a KafkaCluster can have at most 40 characters',
    );
  });

  it('rejects invalid KafkaTopics with a message naming the field', async () => {
    expect(await rejected(topicYaml('bad', 'cluster: c\npartitions: 0'))).toContain('spec.partitions');
    expect(await rejected(topicYaml('bad', 'cluster: c\ntopicName: "no spaces"'))).toContain('spec.topicName');
    expect(await rejected(topicYaml('bad', 'partitions: 1'))).toContain('spec.cluster');
    expect(await rejected(topicYaml('bad', 'cluster: c\nconfig:\n  retention.ms: [1]'))).toContain('spec.config');
  });

  it('keeps immutable fields immutable', async () => {
    expect((await apply(topicYaml('fixed', 'cluster: c\ntopicName: fixed.v1'))).code).toBe(0);
    expect(await rejected(topicYaml('fixed', 'cluster: c\ntopicName: fixed.v2'))).toContain(
      'spec.topicName is immutable',
    );
    expect(await rejected(topicYaml('fixed', 'cluster: d\ntopicName: fixed.v1'))).toContain(
      'spec.cluster is immutable',
    );
    await plane.kubectlOk(['delete', 'kafkatopic', 'fixed', '-n', NS, '--wait=false']);
  });

  it("lets the operator's ServiceAccount do what the operator does, and no more", async () => {
    const can = async (...args: string[]) =>
      (await plane.kubectl(['auth', 'can-i', ...args, '-n', NS, `--as=${SA}`])).stdout.trim();
    expect(await can('patch', 'statefulsets.apps')).toBe('yes');
    expect(await can('delete', 'pods')).toBe('yes');
    expect(await can('patch', 'kafkaclusters.kafka.runnel.dev', '--subresource=status')).toBe('yes');
    expect(await can('get', 'secrets')).toBe('no');
    expect(await can('delete', 'statefulsets.apps')).toBe('no');
    expect(await can('delete', 'kafkaclusters.kafka.runnel.dev')).toBe('no');
    expect(await can('create', 'clusterroles.rbac.authorization.k8s.io')).toBe('no');
    expect(await can('create', 'roles.rbac.authorization.k8s.io')).toBe('yes');
    expect(await can('patch', 'pods')).toBe('yes');
    expect(await can('get', 'nodes')).toBe('yes');
    expect(await can('patch', 'nodes')).toBe('no');
  });

  describe('a KafkaCluster', () => {
    let uid = '';

    beforeAll(async () => {
      await plane.kubectlOk(['apply', '-f', '-'], {
        input: clusterYaml('events', 'replicas: 1\ncontrollerVoters: 1\nstorage:\n  size: 1Gi\n  deleteClaim: true'),
      });
      uid = (await getJson<KafkaCluster>(plane, ['kafkacluster', 'events', '-n', NS]))!.metadata.uid;
    });

    it('gets its owned objects, applied by the operator, with owner references', async () => {
      const owned = [
        'serviceaccount/events-broker',
        'configmap/events-config',
        'service/events-brokers',
        'service/events-bootstrap',
        'poddisruptionbudget/events-broker',
        'statefulset/events-broker',
      ];
      for (const ref of owned) {
        const obj = await eventually(ref, () =>
          getJson<KubernetesObject>(plane, [ref, '-n', NS, '--show-managed-fields']),
        );
        expect(obj.metadata?.ownerReferences, ref).toEqual([
          {
            apiVersion: 'kafka.runnel.dev/v1alpha1',
            kind: 'KafkaCluster',
            name: 'events',
            uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ]);
        expect(
          obj.metadata?.managedFields?.some((f) => f.manager === 'runnel-operator' && f.operation === 'Apply'),
          ref,
        ).toBe(true);
      }
      const sts = (await getJson<V1StatefulSet>(plane, ['statefulset/events-broker', '-n', NS]))!;
      expect(sts.spec?.updateStrategy?.type).toBe('OnDelete');
      expect(sts.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Delete', whenScaled: 'Retain' });
    });

    it('reports its id, bootstrap address and starting brokers in status', async () => {
      const status = await eventually('status with a broker', async () => {
        const s = (await getJson<KafkaCluster>(plane, ['kafkacluster', 'events', '-n', NS]))?.status;
        return s?.brokers?.length === 1 && s;
      });
      expect(status.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(status.bootstrap).toBe(`events-bootstrap.${NS}.svc.cluster.local:9092`);
      expect(status.observedGeneration).toBe(1);
      expect(status.brokers).toEqual([{ id: 0, pod: 'events-broker-0', state: 'Pending' }]);
      const ready = status.conditions?.find((c) => c.type === 'Ready');
      expect(ready).toMatchObject({ status: 'False', reason: 'BrokersStarting', message: '0/1 brokers ready' });
      const cm = (await getJson<V1ConfigMap>(plane, ['configmap/events-config', '-n', NS]))!;
      expect(cm.data?.['server.properties']).toContain(`runnel.cluster.id=${status.clusterId}`);
      expect(await plane.kubectlOk(['get', 'kafkaclusters', '-n', NS])).toMatch(/events\s+False\s+1\s+0\s+/);
    });

    it('scales with kubectl scale, through the scale subresource', async () => {
      await plane.kubectlOk(['scale', 'kafkacluster/events', '-n', NS, '--replicas=2']);
      await eventually(
        'StatefulSet at 2 replicas',
        async () =>
          (await getJson<V1StatefulSet>(plane, ['statefulset/events-broker', '-n', NS]))?.spec?.replicas === 2,
      );
      const cm = (await getJson<V1ConfigMap>(plane, ['configmap/events-config', '-n', NS]))!;
      expect(Object.keys(cm.data ?? {}).sort()).toEqual([
        'cluster-size.properties',
        'node-0.properties',
        'node-1.properties',
        'server.properties',
      ]);
      await eventually(
        'status.replicas 2',
        async () => (await getJson<KafkaCluster>(plane, ['kafkacluster', 'events', '-n', NS]))?.status?.replicas === 2,
      );
    });

    it('puts a new config hash on the pod template when spec.config changes', async () => {
      const hash = async () =>
        (await getJson<V1StatefulSet>(plane, ['statefulset/events-broker', '-n', NS]))!.spec!.template.metadata!
          .annotations!['kafka.runnel.dev/config-hash'];
      const before = await hash();
      await plane.kubectlOk([
        'patch',
        'kafkacluster/events',
        '-n',
        NS,
        '--type=merge',
        '-p',
        '{"spec":{"config":{"num.partitions":4}}}',
      ]);
      await eventually('a new config hash', async () => (await hash()) !== before);
    });

    it('with spec.rack, lets the rack init container read its own pod, and takes that back without', async () => {
      const role = () => getJson<V1Role>(plane, ['role/events-broker', '-n', NS]);
      await plane.kubectlOk([
        'patch',
        'kafkacluster/events',
        '-n',
        NS,
        '--type=merge',
        '-p',
        '{"spec":{"rack":{"topologyKey":"topology.kubernetes.io/zone"}}}',
      ]);
      const granted = await eventually('broker Role', role);
      expect(granted.rules).toEqual([
        { apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['events-broker-0', 'events-broker-1'] },
      ]);
      const brokerSa = 'system:serviceaccount:demo:events-broker';
      const brokerCan = async (...args: string[]) =>
        (await plane.kubectl(['auth', 'can-i', ...args, '-n', NS, `--as=${brokerSa}`])).stdout.trim();
      await eventually('RoleBinding in effect', async () => (await brokerCan('get', 'pods/events-broker-1')) === 'yes');
      expect(await brokerCan('get', 'pods/other')).toBe('no');
      expect(await brokerCan('list', 'pods')).toBe('no');
      const sts = await eventually('rack init container', async () => {
        const s = await getJson<V1StatefulSet>(plane, ['statefulset/events-broker', '-n', NS]);
        return s?.spec?.template.spec?.initContainers?.length === 1 && s;
      });
      expect(sts.spec?.template.spec?.initContainers?.[0]).toMatchObject({
        name: 'rack',
        image: 'runnel/operator:e2e',
      });
      await plane.kubectlOk([
        'patch',
        'kafkacluster/events',
        '-n',
        NS,
        '--type=json',
        '-p',
        '[{"op":"remove","path":"/spec/rack"}]',
      ]);
      await eventually(
        'broker Role gone',
        async () =>
          (await role()) === undefined &&
          (await getJson<KubernetesObject>(plane, ['rolebinding/events-broker', '-n', NS])) === undefined,
      );
    });

    it('puts back an owned object deleted behind its back, without waiting for the resync', async () => {
      await plane.kubectlOk(['delete', 'service/events-bootstrap', '-n', NS]);
      await eventually(
        'bootstrap Service back',
        () => getJson<KubernetesObject>(plane, ['service/events-bootstrap', '-n', NS]),
        30_000,
      );
    });

    it('is garbage-collected with everything it owned when deleted', async () => {
      await plane.kubectlOk(['delete', 'kafkacluster/events', '-n', NS]);
      // The garbage collector learns new resource types from discovery every 30 s.
      await eventually(
        'owned objects gone',
        async () => {
          const left = await plane.kubectlOk([
            'get',
            'statefulsets,configmaps,services,poddisruptionbudgets,serviceaccounts,roles,rolebindings',
            '-n',
            NS,
            '-l',
            'app.kubernetes.io/instance=events',
            '-o',
            'name',
          ]);
          return left.trim() === '';
        },
        120_000,
      );
    });
  });
});
