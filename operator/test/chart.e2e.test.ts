// The Helm chart, checked by a real helm binary (built by e2e/control-plane/setup.sh).

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ensureBuilt, repoRoot } from '../../e2e/control-plane/paths.js';

const CHART = path.join(repoRoot(), 'charts/runnel-operator');

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { resources: string[]; verbs: string[] }[];
  spec?: {
    replicas?: number;
    template?: { spec: { containers: { image: string; env: { name: string; value?: string }[] }[] } };
  };
}

describe('runnel-operator chart', () => {
  let helm: (...args: string[]) => Promise<string>;

  beforeAll(() => {
    const bin = ensureBuilt({ log: (l) => console.log(l) });
    helm = async (...args) => (await promisify(execFile)(path.join(bin, 'helm'), args)).stdout;
  });

  const render = async (...set: string[]) =>
    parseAllDocuments(
      await helm(
        'template',
        'runnel-operator',
        CHART,
        '--namespace',
        'runnel-system',
        '--kube-version',
        '1.33.0',
        ...set.flatMap((s) => ['--set', s]),
      ),
    )
      .map((d) => d.toJSON() as Manifest | null)
      .filter((m): m is Manifest => m !== null);

  it('passes helm lint --strict', async () => {
    expect(await helm('lint', '--strict', CHART)).toContain('0 chart(s) failed');
  });

  it('grants cluster-wide RBAC by default, and never secrets', async () => {
    const manifests = await render();
    const role = manifests.find((m) => m.kind === 'ClusterRole' && m.metadata.name === 'runnel-operator')!;
    expect(role.metadata.name).toBe('runnel-operator');
    expect(manifests.some((m) => m.kind === 'ClusterRoleBinding')).toBe(true);
    expect(role.rules!.flatMap((r) => r.resources)).not.toContain('secrets');
    expect(role.rules!.flatMap((r) => r.verbs)).not.toContain('*');
  });

  it('grants a Role in each watched namespace when namespaces are listed, and cluster-wide only reading nodes and StorageClasses', async () => {
    const manifests = await render('watchNamespaces={team-a,team-b}');
    const clusterWide = manifests.filter((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding');
    expect(clusterWide.map((m) => `${m.kind} ${m.metadata.name}`).sort()).toEqual([
      'ClusterRole runnel-operator-nodes',
      'ClusterRole runnel-operator-storageclasses',
      'ClusterRoleBinding runnel-operator-nodes',
      'ClusterRoleBinding runnel-operator-storageclasses',
    ]);
    const rules = clusterWide.filter((m) => m.kind === 'ClusterRole').flatMap((m) => m.rules!);
    expect(rules.sort((a, b) => (a.resources[0] < b.resources[0] ? -1 : 1))).toEqual([
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
      { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list'] },
    ]);
    const withoutRacks = await render('watchNamespaces={team-a}', 'rackAwareness=false');
    expect(
      withoutRacks
        .filter((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding')
        .map((m) => `${m.kind} ${m.metadata.name}`)
        .sort(),
    ).toEqual(['ClusterRole runnel-operator-storageclasses', 'ClusterRoleBinding runnel-operator-storageclasses']);
    const roles = manifests.filter((m) => m.kind === 'Role' && m.metadata.name === 'runnel-operator');
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const env = manifests.find((m) => m.kind === 'Deployment')!.spec!.template!.spec.containers[0].env;
    expect(env.find((e) => e.name === 'WATCH_NAMESPACES')!.value).toBe('team-a,team-b');
  });

  it("runs the operator and brokers of the chart's version unless told otherwise", async () => {
    const deployment = (await render('replicas=2', 'logLevel=debug')).find((m) => m.kind === 'Deployment')!;
    expect(deployment.spec!.replicas).toBe(2);
    const container = deployment.spec!.template!.spec.containers[0];
    expect(container.image).toBe('runnel/operator:0.1.0');
    expect(container.env.find((e) => e.name === 'RUNNEL_BROKER_IMAGE')!.value).toBe('runnel/broker:0.1.0');
    expect(container.env.find((e) => e.name === 'RUNNEL_OPERATOR_IMAGE')!.value).toBe('runnel/operator:0.1.0');
    expect(container.env.find((e) => e.name === 'LOG_LEVEL')!.value).toBe('debug');
  });

  it('rejects values outside the schema', async () => {
    await expect(helm('template', 'x', CHART, '--kube-version', '1.33.0', '--set', 'logLevel=loud')).rejects.toThrow(
      /logLevel/,
    );
  });
});
