import { describe, expect, it } from 'vitest';
import { OPTIONS, kafkaCluster } from '../test/fixtures.js';
import { statefulSet, terminationGracePeriodSeconds } from './statefulset.js';

describe('broker StatefulSet', () => {
  const sts = statefulSet(kafkaCluster(), 'cluster-id', 'hash1', OPTIONS);
  const pod = sts.spec!.template.spec!;
  const broker = pod.containers[0];
  const env = (name: string) => broker.env!.find((e) => e.name === name);

  it('leaves restarts to the operator and starts all brokers at once', () => {
    expect(sts.spec!.updateStrategy).toEqual({ type: 'OnDelete' });
    expect(sts.spec!.podManagementPolicy).toBe('Parallel');
    expect(sts.spec!.serviceName).toBe('events-brokers');
  });

  it('gives each broker its node.id from the pod ordinal and a stable advertised name', () => {
    expect(env('KAFKA_CFG_NODE_ID')!.valueFrom!.fieldRef!.fieldPath).toBe(
      "metadata.labels['apps.kubernetes.io/pod-index']",
    );
    expect(env('KAFKA_CFG_ADVERTISED_LISTENERS')!.value).toBe(
      'PLAINTEXT://$(POD_NAME).events-brokers.prod.svc.cluster.local:9092',
    );
    expect(broker.args).toEqual([
      '--config',
      '/etc/runnel/server.properties',
      '--config',
      '/etc/runnel/cluster-size.properties',
      '--config',
      '/etc/runnel/node-$(KAFKA_CFG_NODE_ID).properties',
    ]);
  });

  it('is ready when the broker says so on /readyz', () => {
    expect(broker.readinessProbe!.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(broker.ports!.find((p) => p.name === 'http')!.containerPort).toBe(9644);
  });

  it('runs as a non-root user without privileges', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    expect(broker.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("waits longer than the broker's own shutdown timeout before killing it", () => {
    expect(pod.terminationGracePeriodSeconds).toBe(60);
    expect(terminationGracePeriodSeconds(kafkaCluster({ config: { 'shutdown.timeout.ms': 120_000 } }))).toBe(150);
  });

  it('restarts brokers when the config hash changes', () => {
    expect(sts.spec!.template.metadata!.annotations!['kafka.runnel.dev/config-hash']).toBe('hash1');
  });

  it('claims a volume per broker and keeps it unless told to delete it', () => {
    const claim = sts.spec!.volumeClaimTemplates![0];
    expect(claim.spec!.resources!.requests!.storage).toBe('10Gi');
    expect(broker.volumeMounts!.find((m) => m.name === claim.metadata!.name)!.mountPath).toBe('/var/lib/runnel');
    expect(sts.spec!.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(claim.metadata!.annotations).toEqual({ 'kafka.runnel.dev/cluster-id': 'cluster-id' });
    const deleting = statefulSet(
      kafkaCluster({ storage: { size: '1Gi', storageClassName: 'fast', deleteClaim: true } }),
      'cluster-id',
      'h',
      OPTIONS,
    );
    expect(deleting.spec!.persistentVolumeClaimRetentionPolicy).toEqual({
      whenDeleted: 'Delete',
      whenScaled: 'Delete',
    });
    expect(deleting.spec!.volumeClaimTemplates![0].spec!.storageClassName).toBe('fast');
  });

  it('carries the claim size it is given (the expandStorage step), else spec.storage.size', () => {
    const cluster = kafkaCluster({ storage: { size: '20Gi', deleteClaim: false } });
    const size = (s: typeof sts) => s.spec!.volumeClaimTemplates![0].spec!.resources!.requests!.storage;
    expect(size(statefulSet(cluster, 'cluster-id', 'h', OPTIONS))).toBe('20Gi');
    expect(size(statefulSet(cluster, 'cluster-id', 'h', OPTIONS, '10Gi'))).toBe('10Gi');
  });

  it("uses the operator's broker image unless the cluster names one", () => {
    expect(broker.image).toBe(OPTIONS.defaultImage);
    expect(
      statefulSet(kafkaCluster({ image: 'my/broker:1' }), 'cluster-id', 'h', OPTIONS).spec!.template.spec!.containers[0]
        .image,
    ).toBe('my/broker:1');
  });

  it('applies pod template overrides without losing the labels its selector needs', () => {
    const custom = statefulSet(
      kafkaCluster({
        resources: { requests: { cpu: 1, memory: '2Gi' } },
        template: {
          labels: { team: 'payments', 'app.kubernetes.io/instance': 'hijack' },
          annotations: { note: 'x' },
          nodeSelector: { disk: 'ssd' },
          tolerations: [{ key: 'dedicated', operator: 'Exists' }],
          priorityClassName: 'high',
          affinity: { nodeAffinity: {} },
        },
      }),
      'cluster-id',
      'h',
      OPTIONS,
    ).spec!;
    expect(custom.template.metadata!.labels).toMatchObject({
      team: 'payments',
      'app.kubernetes.io/instance': 'events',
    });
    expect(custom.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'runnel-broker',
      'app.kubernetes.io/instance': 'events',
    });
    expect(custom.template.metadata!.annotations).toMatchObject({ note: 'x', 'kafka.runnel.dev/config-hash': 'h' });
    expect(custom.template.spec).toMatchObject({
      nodeSelector: { disk: 'ssd' },
      priorityClassName: 'high',
      affinity: { nodeAffinity: {} },
    });
    expect(custom.template.spec!.tolerations).toEqual([{ key: 'dedicated', operator: 'Exists' }]);
    expect(custom.template.spec!.containers[0].resources!.requests).toEqual({ cpu: '1', memory: '2Gi' });
  });

  it('spreads brokers over nodes by default', () => {
    expect(
      pod.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0].podAffinityTerm.topologyKey,
    ).toBe('kubernetes.io/hostname');
  });

  it('gives brokers no API token and no init container without spec.rack', () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.initContainers).toBeUndefined();
    expect(pod.volumes!.map((v) => v.name)).toEqual(['config', 'tmp']);
  });

  describe('with spec.rack', () => {
    const racked = statefulSet(
      kafkaCluster({ rack: { topologyKey: 'topology.kubernetes.io/zone' } }),
      'cluster-id',
      'hash1',
      OPTIONS,
    ).spec!.template.spec!;
    const init = racked.initContainers![0];
    const brokerOf = racked.containers[0];

    it('runs the operator image as an init container that writes broker.rack', () => {
      expect(init.image).toBe(OPTIONS.operatorImage);
      expect(init.args).toEqual([
        'rack-init',
        '--topology-key',
        'topology.kubernetes.io/zone',
        '--out',
        '/run/runnel/rack/rack.properties',
      ]);
      expect(init.env!.map((e) => e.valueFrom?.fieldRef?.fieldPath)).toEqual(['metadata.name', 'metadata.namespace']);
    });

    it('has the broker read that file as its last config file', () => {
      expect(brokerOf.args!.slice(-2)).toEqual(['--config', '/run/runnel/rack/rack.properties']);
      expect(brokerOf.volumeMounts).toContainEqual({ name: 'rack', mountPath: '/run/runnel/rack', readOnly: true });
      expect(init.volumeMounts).toContainEqual({ name: 'rack', mountPath: '/run/runnel/rack' });
    });

    it('mounts an API token in the init container only', () => {
      expect(racked.automountServiceAccountToken).toBe(false);
      const token = racked.volumes!.find((v) => v.projected)!;
      expect(token.projected!.sources!.map((s) => Object.keys(s)[0])).toEqual([
        'serviceAccountToken',
        'configMap',
        'downwardAPI',
      ]);
      expect(init.volumeMounts).toContainEqual({
        name: token.name,
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        readOnly: true,
      });
      expect(brokerOf.volumeMounts!.map((m) => m.name)).not.toContain(token.name);
    });
  });
});
