import { describe, expect, it } from 'vitest';
import { OPTIONS, kafkaCluster } from '../test/fixtures.js';
import { podDisruptionBudget, serviceAccount } from './policy.js';
import { bootstrapAddress, bootstrapService, headlessService } from './services.js';

describe('services and policies', () => {
  const cluster = kafkaCluster();

  it('gives brokers DNS names before they are ready, so voters can find each other', () => {
    const svc = headlessService(cluster);
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(svc.spec!.ports!.map((p) => p.port)).toEqual([9092, 9093, 9644]);
  });

  it('bootstraps clients through one Service on the Kafka port', () => {
    const svc = bootstrapService(cluster);
    expect(svc.metadata!.name).toBe('events-bootstrap');
    expect(svc.spec!.ports).toEqual([expect.objectContaining({ port: 9092, targetPort: 'kafka' })]);
    expect(svc.spec!.selector).toEqual({
      'app.kubernetes.io/name': 'runnel-broker',
      'app.kubernetes.io/instance': 'events',
    });
    expect(bootstrapAddress(cluster, OPTIONS)).toBe('events-bootstrap.prod.svc.cluster.local:9092');
  });

  it('lets drains take one broker at a time', () => {
    expect(podDisruptionBudget(cluster).spec).toMatchObject({
      maxUnavailable: 1,
      selector: { matchLabels: { 'app.kubernetes.io/instance': 'events' } },
    });
  });

  it('gives brokers an identity without an API token, owned by the cluster', () => {
    const sa = serviceAccount(cluster);
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(sa.metadata!.ownerReferences).toEqual([
      {
        apiVersion: 'kafka.runnel.dev/v1alpha1',
        kind: 'KafkaCluster',
        name: 'events',
        uid: 'uid-events',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });
});
