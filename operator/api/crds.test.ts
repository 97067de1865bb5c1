// The CRDs in crds/ are the schema users get; the chart ships the same files, and the operator's
// own idea of the resources must agree with them.

import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MANAGED_KEYS } from '../desired/config.js';
import { GROUP, VERSION } from './types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (...p: string[]) => readFileSync(path.join(ROOT, ...p), 'utf8');

interface Crd {
  spec: {
    group: string;
    names: { kind: string; shortNames: string[] };
    versions: {
      name: string;
      subresources: { status?: object; scale?: Record<string, string> };
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}
interface Schema {
  properties?: Record<string, Schema>;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
}

const crd = (file: string) => parse(read('crds', file)) as Crd;

describe('CRDs', () => {
  it('are shipped unchanged by the Helm chart', () => {
    const files = readdirSync(path.join(ROOT, 'crds')).sort();
    expect(readdirSync(path.join(ROOT, 'charts/runnel-operator/crds')).sort()).toEqual(files);
    for (const f of files)
      expect(
        read('charts/runnel-operator/crds', f),
        `charts/runnel-operator/crds/${f} differs from crds/${f}: copy it`,
      ).toBe(read('crds', f));
  });

  it('serve the group and version the operator uses, with a status subresource', () => {
    for (const file of ['kafkacluster.yaml', 'kafkatopic.yaml']) {
      const { spec } = crd(file);
      expect(spec.group).toBe(GROUP);
      expect(spec.versions[0].name).toBe(VERSION);
      expect(spec.versions[0].subresources.status).toEqual({});
    }
  });

  it('scale KafkaClusters through the status fields the operator writes', () => {
    expect(crd('kafkacluster.yaml').spec.versions[0].subresources.scale).toEqual({
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.labelSelector',
    });
  });

  it('reject in spec.config exactly the keys the operator writes itself', () => {
    const config = crd('kafkacluster.yaml').spec.versions[0].schema.openAPIV3Schema.properties!.spec.properties!.config;
    const rule = config['x-kubernetes-validations']![0];
    const listed = [...rule.rule.matchAll(/'([^']+)'/g)].map((m) => m[1]).sort();
    expect(listed).toEqual([...MANAGED_KEYS].sort());
    for (const key of MANAGED_KEYS) expect(rule.message).toContain(key);
  });
});
