// The chart installed by helm into a real API server, and the operator's controllers running
// (in this process) under the chart's ServiceAccount, so RBAC is the real one. No node runs pods
// yet (the node agent of issue 6), so brokers stay Pending: these tests stop at what the API
// server, the StatefulSet controller and the garbage collector do.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Role,
  V1StatefulSet,
  V1StorageClass,
} from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '../../e2e/control-plane/cluster.js';
import { repoRoot } from '../../e2e/control-plane/paths.js';
import { Kube as AgentKube } from '../../e2e/node-agent/kube.js';
import { Provisioner, STORAGE_CLASS } from '../../e2e/node-agent/storage.js';
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
    expect(await can('delete', 'statefulsets.apps')).toBe('yes');
    expect(await can('patch', 'persistentvolumeclaims')).toBe('yes');
    expect(await can('get', 'storageclasses.storage.k8s.io')).toBe('yes');
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
      expect(sts.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Delete', whenScaled: 'Delete' });
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
  // No node runs pods here, so the brokers stay Pending; their claims are bound by the node agent's
  // provisioner (run in this process), which also plays the resizer, once each names a node as the
  // scheduler would. Pending pods still have uids: the re-created StatefulSet must adopt them.
  describe('a KafkaCluster whose storage grows', () => {
    const NODE = 'runnel-e2e-node';
    let provisioner: Provisioner;
    let agentKube: AgentKube;
    let volumeDir = '';
    let syncing: NodeJS.Timeout | undefined;
    let busy = false;
    const claimNames = ['data-grow-broker-0', 'data-grow-broker-1'];
    const claim = (name: string) => getJson<V1PersistentVolumeClaim>(plane, [`pvc/${name}`, '-n', NS]);
    const sts = () => getJson<V1StatefulSet>(plane, ['statefulset/grow-broker', '-n', NS]);
    const templateSize = (s: V1StatefulSet | undefined) =>
      s?.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage;
    const ready = async (name: string) =>
      (await getJson<KafkaCluster>(plane, ['kafkacluster', name, '-n', NS]))?.status?.conditions?.find(
        (c) => c.type === 'Ready',
      );
    const setSize = (name: string, size: string) =>
      plane.kubectlOk([
        'patch',
        `kafkacluster/${name}`,
        '-n',
        NS,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { storage: { size } } }),
      ]);

    beforeAll(async () => {
      // A runnel-local from before expansion was supported: the provisioner turns it on.
      await plane.kubectlOk(['apply', '-f', '-'], {
        input: `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${STORAGE_CLASS}
provisioner: runnel.dev/local-dir
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
`,
      });
      volumeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-e2e-volumes-'));
      agentKube = new AgentKube(plane.kubeconfig);
      provisioner = new Provisioner(agentKube, volumeDir, NODE, () => {});
      await provisioner.ensureStorageClass();
      syncing = setInterval(() => {
        if (busy) return;
        busy = true;
        provisioner
          .sync()
          .catch(() => {})
          .finally(() => (busy = false));
      }, 300);
      await plane.kubectlOk(['apply', '-f', '-'], {
        input: clusterYaml(
          'grow',
          `replicas: 2\ncontrollerVoters: 1\nstorage:\n  size: 1Gi\n  storageClassName: ${STORAGE_CLASS}\n  deleteClaim: true`,
        ),
      });
      for (const name of claimNames) {
        await eventually(name, () => claim(name));
        await plane.kubectlOk(['annotate', `pvc/${name}`, '-n', NS, `volume.kubernetes.io/selected-node=${NODE}`]);
      }
      for (const name of claimNames) {
        await eventually(
          `${name} bound at 1Gi`,
          async () => {
            const c = await claim(name);
            return c?.status?.phase === 'Bound' && c.status.capacity?.storage === '1Gi';
          },
          60_000,
        );
      }
    });

    afterAll(() => {
      if (syncing) clearInterval(syncing);
      agentKube?.destroy();
      if (volumeDir) fs.rmSync(volumeDir, { recursive: true, force: true });
    });

    it("turns on expansion on the node agent's existing StorageClass", async () => {
      const cls = await getJson<V1StorageClass>(plane, [`storageclass/${STORAGE_CLASS}`]);
      expect(cls?.allowVolumeExpansion).toBe(true);
    });

    it('expands the claims and re-creates the StatefulSet with the new template, restarting no broker', async () => {
      const before = (await sts())!;
      expect(templateSize(before)).toBe('1Gi');
      const pods = async () =>
        new Map(
          await Promise.all(
            ['grow-broker-0', 'grow-broker-1'].map(async (p) => {
              const pod = await getJson<V1Pod>(plane, [`pod/${p}`, '-n', NS]);
              return [p, pod] as const;
            }),
          ),
        );
      const podsBefore = await eventually('both broker pods', async () => {
        const m = await pods();
        return [...m.values()].every(Boolean) && m;
      });
      const started = Date.now();
      await setSize('grow', '2Gi');
      const after = await eventually(
        'StatefulSet re-created with 2Gi claims',
        async () => {
          const s = await sts();
          return s && s.metadata?.uid !== before.metadata?.uid && templateSize(s) === '2Gi' && s;
        },
        60_000,
      );
      for (const name of claimNames) {
        const c = await eventually(
          `${name} expanded`,
          async () => {
            const c = await claim(name);
            return c?.status?.capacity?.storage === '2Gi' && c;
          },
          60_000,
        );
        expect(c.spec?.resources?.requests?.storage).toBe('2Gi');
        const pv = await getJson<V1PersistentVolume>(plane, [`pv/${c.spec?.volumeName}`]);
        expect(pv?.spec?.capacity?.storage).toBe('2Gi');
      }
      // The new StatefulSet adopted the same pods: none was deleted and created again.
      await eventually(
        'pods adopted by the new StatefulSet',
        async () => {
          const m = await pods();
          return [...m].every(
            ([p, pod]) =>
              pod?.metadata?.uid === podsBefore.get(p)?.metadata?.uid &&
              pod?.metadata?.ownerReferences?.some((o) => o.uid === after.metadata?.uid && o.controller),
          );
        },
        60_000,
      );
      expect(after.spec?.template).toEqual(before.spec?.template);
      const condition = await eventually('Ready condition past the expansion', async () => {
        const c = await ready('grow');
        return c?.reason === 'BrokersStarting' && c;
      });
      expect(condition.message).toBe('0/2 brokers ready');
      console.log(`[storage] 1Gi -> 2Gi: claims expanded and StatefulSet re-created in ${Date.now() - started} ms`);
    });

    it('refuses to shrink spec.storage.size at admission, saying to what it can go back', async () => {
      const message = await rejected(
        clusterYaml(
          'grow',
          `replicas: 2\ncontrollerVoters: 1\nstorage:\n  size: 1Gi\n  storageClassName: ${STORAGE_CLASS}\n  deleteClaim: true`,
        ),
      );
      expect(message).toContain(
        'spec.storage.size cannot shrink (a volume cannot be made smaller): set it back to at least 2Gi',
      );
      // The same size in other units is no shrink, and growing stays allowed.
      for (const size of ['2048Mi', '3Gi']) {
        const r = await plane.kubectl([
          'patch',
          'kafkacluster/grow',
          '-n',
          NS,
          '--dry-run=server',
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { storage: { size } } }),
        ]);
        expect(r.code, r.stderr).toBe(0);
      }
    });

    it('keeps the size and says what to do when the StorageClass cannot expand', async () => {
      await plane.kubectlOk(['apply', '-f', '-'], {
        input: `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fixed
provisioner: example.com/fixed
volumeBindingMode: WaitForFirstConsumer
`,
      });
      await plane.kubectlOk(['apply', '-f', '-'], {
        input: clusterYaml(
          'fixed',
          'replicas: 1\ncontrollerVoters: 1\nstorage:\n  size: 1Gi\n  storageClassName: fixed\n  deleteClaim: true',
        ),
      });
      const before = await eventually('StatefulSet fixed-broker', () =>
        getJson<V1StatefulSet>(plane, ['statefulset/fixed-broker', '-n', NS]),
      );
      await setSize('fixed', '2Gi');
      const condition = await eventually('StorageNotExpandable', async () => {
        const c = await ready('fixed');
        return c?.reason === 'StorageNotExpandable' && c;
      });
      expect(condition.message).toBe(
        'cannot expand the broker volumes from 1Gi to 2Gi: StorageClass fixed does not allow volume expansion (allowVolumeExpansion is not true); use a StorageClass with allowVolumeExpansion: true, or set spec.storage.size back to 1Gi',
      );
      const still = (await getJson<V1StatefulSet>(plane, ['statefulset/fixed-broker', '-n', NS]))!;
      expect(still.metadata?.uid).toBe(before.metadata?.uid);
      expect(templateSize(still)).toBe('1Gi');
      await plane.kubectlOk(['delete', 'kafkacluster/fixed', 'kafkacluster/grow', '-n', NS, '--wait=false']);
    });
  });
});
