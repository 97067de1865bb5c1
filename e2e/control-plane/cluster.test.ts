/**
 * Smoke check of the e2e control plane: a real kube-apiserver, kube-controller-manager and
 * kube-scheduler on etcd, driven by kubectl like a user. Not in `npm test`; run it with
 * `npx vitest run --config e2e/vitest.config.mts e2e/control-plane` (builds on a cold cache).
 */
import * as fs from 'node:fs';
import type { V1PodList, V1ReplicaSetList } from '@kubernetes/client-node';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from './cluster.js';
import { ensureBuilt, versions } from './paths.js';
import { processesUnder } from './processes.js';

const NS = 'smoke';

/** The part of `kubectl version -o json` checked here. */
interface VersionInfo {
  serverVersion: { gitVersion: string };
  clientVersion: { gitVersion: string };
}

/** Polls `fn` until it returns a truthy value (returned) or `ms` passes (throws the last error). */
async function eventually<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

describe('e2e control plane', () => {
  let cluster: Cluster;
  let runDir = '';

  beforeAll(async () => {
    const binDir = ensureBuilt({ log: (l) => console.log(l) });
    cluster = await startCluster({ binDir, log: (l) => console.log(`[control-plane] ${l}`) });
    runDir = cluster.runDir;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('serves the version it was built as, with every component healthy', async () => {
    const v = JSON.parse(await cluster.kubectlOk(['version', '-o', 'json'])) as VersionInfo;
    expect(v.serverVersion.gitVersion).toBe(versions().K8S_VERSION);
    expect(v.clientVersion.gitVersion).toBe(versions().K8S_VERSION);
    const readyz = await cluster.request('GET', '/readyz?verbose');
    expect(readyz.status).toBe(200);
    expect(readyz.body).toContain('readyz check passed');
    expect(cluster.pids().map((p) => p.name)).toEqual([
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
    ]);
    expect(cluster.pids().every((p) => p.alive)).toBe(true);
  });

  it('installs a CRD early and serves it, with schema validation', async () => {
    await cluster.kubectlOk(['apply', '-f', '-'], {
      input: `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.runnel.dev
spec:
  group: smoke.runnel.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
    subresources: {status: {}}
`,
    });
    await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/widgets.smoke.runnel.dev']);
    await cluster.kubectlOk(['create', 'namespace', NS]);
    // Discovery may lag the Established condition by a moment.
    await eventually('widget applied', async () => {
      const r = await cluster.kubectl(['apply', '-n', NS, '-f', '-'], {
        input: 'apiVersion: smoke.runnel.dev/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n',
      });
      if (r.code !== 0) throw new Error(r.stderr);
      return true;
    });
    const w = JSON.parse(await cluster.kubectlOk(['get', '-n', NS, 'wd', 'w1', '-o', 'json'])) as {
      spec: { size: number };
    };
    expect(w.spec.size).toBe(3);
    const bad = await cluster.kubectl(['apply', '-n', NS, '-f', '-'], {
      input: 'apiVersion: smoke.runnel.dev/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: 0}\n',
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/spec\.size/);
  });

  it('runs the controller manager: a Deployment gets a ReplicaSet and pods, GC removes them', async () => {
    await cluster.kubectlOk(['apply', '-n', NS, '-f', '-'], {
      input: `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: runnel/none:0
        envFrom: [{configMapRef: {name: settings}}]
`,
    });
    expect(await cluster.kubectlOk(['get', '-n', NS, 'configmap', 'settings', '-o', 'jsonpath={.data.greeting}'])).toBe(
      'hello',
    );
    const rs = await eventually('ReplicaSet of web', async () => {
      const list = JSON.parse(
        await cluster.kubectlOk(['get', '-n', NS, 'replicasets', '-l', 'app=web', '-o', 'json']),
      ) as V1ReplicaSetList;
      return list.items[0];
    });
    expect(rs.metadata!.ownerReferences![0]).toMatchObject({ kind: 'Deployment', name: 'web' });
    // The ReplicaSet controller creates the pods; with no node they stay Pending.
    await eventually('2 pods of web', async () => {
      const pods = JSON.parse(
        await cluster.kubectlOk(['get', '-n', NS, 'pods', '-l', 'app=web', '-o', 'json']),
      ) as V1PodList;
      return pods.items.length === 2;
    });
    // The service-account controllers ran too: every namespace gets `default` and the root CA.
    await eventually('default ServiceAccount and kube-root-ca.crt', async () => {
      const sa = await cluster.kubectl(['get', '-n', NS, 'serviceaccount', 'default']);
      const ca = await cluster.kubectl(['get', '-n', NS, 'configmap', 'kube-root-ca.crt']);
      return sa.code === 0 && ca.code === 0;
    });
    // Garbage collection: deleting the Deployment removes its ReplicaSet and pods.
    await cluster.kubectlOk(['delete', '-n', NS, 'deployment', 'web', '--wait=false']);
    await eventually('ReplicaSet garbage-collected', async () => {
      const out = await cluster.kubectlOk(['get', '-n', NS, 'replicasets,pods', '-l', 'app=web', '-o', 'name']);
      return out.trim() === '';
    });
  });

  it('runs the scheduler: a pod is bound to a (fake) node', async () => {
    await cluster.kubectlOk(['apply', '-f', '-'], {
      input: `apiVersion: v1
kind: Node
metadata: {name: smoke-node, labels: {kubernetes.io/hostname: smoke-node}}
status:
  capacity: {cpu: "2", memory: 4Gi, pods: "10"}
  allocatable: {cpu: "2", memory: 4Gi, pods: "10"}
`,
    });
    await cluster.kubectlOk(['apply', '-n', NS, '-f', '-'], {
      input: `apiVersion: v1
kind: Pod
metadata: {name: placed}
spec:
  # No kubelet runs here, so the node is tainted not-ready; tolerate that.
  tolerations: [{operator: Exists}]
  containers: [{name: c, image: runnel/none:0}]
`,
    });
    const node = await eventually('pod bound', async () =>
      (await cluster.kubectlOk(['get', '-n', NS, 'pod', 'placed', '-o', 'jsonpath={.spec.nodeName}'])).trim(),
    );
    expect(node).toBe('smoke-node');
    await cluster.kubectlOk(['delete', '-n', NS, 'pod', 'placed', '--grace-period=0', '--force', '--wait=false']);
    await cluster.kubectlOk(['delete', 'node', 'smoke-node', '--wait=false']);
  });

  it('enforces RBAC on a ServiceAccount token', async () => {
    await cluster.kubectlOk(['create', '-n', NS, 'serviceaccount', 'robot']);
    const token = (await cluster.kubectlOk(['create', '-n', NS, 'token', 'robot', '--duration=10m'])).trim();
    expect(token.split('.')).toHaveLength(3);

    const denied = await cluster.kubectl(['get', '-n', NS, 'secrets'], { token });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('Forbidden');
    expect(denied.stderr).toContain(`system:serviceaccount:${NS}:robot`);
    expect(denied.stderr).toContain('cannot list resource "secrets"');

    // Grant reading ConfigMaps only; that now works and Secrets stay denied.
    await cluster.kubectlOk(['create', '-n', NS, 'role', 'read-cm', '--verb=get,list', '--resource=configmaps']);
    await cluster.kubectlOk([
      'create',
      '-n',
      NS,
      'rolebinding',
      'robot-read-cm',
      '--role=read-cm',
      `--serviceaccount=${NS}:robot`,
    ]);
    const allowed = await eventually('configmaps readable by robot', async () => {
      const r = await cluster.kubectl(['get', '-n', NS, 'configmap', 'settings', '-o', 'name'], { token });
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    expect(allowed).toBe('configmap/settings');
    expect((await cluster.kubectl(['get', '-n', NS, 'secrets'], { token })).code).not.toBe(0);
    // An unknown token is not authenticated at all.
    const stranger = await cluster.kubectl(['get', 'namespaces'], { token: 'not-a-token' });
    expect(stranger.stderr).toMatch(/Unauthorized|provide credentials/);
  });

  it('tears down, leaving logs and no process', async () => {
    const pids = cluster.pids();
    await cluster.stop();
    for (const { name, pid } of pids) {
      expect(() => process.kill(pid, 0), `${name} (${pid}) still alive`).toThrow();
    }
    expect(processesUnder(runDir)).toEqual([]);
    for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      expect(fs.statSync(path.join(runDir, 'logs', `${name}.log`)).size).toBeGreaterThan(0);
    }
    expect(fs.existsSync(path.join(runDir, 'etcd-data'))).toBe(false);
  });
});
