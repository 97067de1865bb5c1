import { describe, expect, it } from 'vitest';
import { kafkaTopic } from '../test/fixtures.js';
import { olderClaimant } from './claims.js';

describe('topic claims', () => {
  const older = kafkaTopic({}, { name: 'orders', uid: 'a', creationTimestamp: '2026-01-01T00:00:00Z' });
  const newer = kafkaTopic(
    { topicName: 'orders' },
    { name: 'orders-again', uid: 'b', creationTimestamp: '2026-01-02T00:00:00Z' },
  );

  it('gives a topic name to the older KafkaTopic', () => {
    expect(olderClaimant(newer, [older, newer])).toBe(older);
    expect(olderClaimant(older, [older, newer])).toBeUndefined();
  });

  it('breaks a tie in creation time by name', () => {
    const twin = kafkaTopic(
      { topicName: 'orders' },
      { name: 'a-orders', uid: 'c', creationTimestamp: older.metadata.creationTimestamp },
    );
    expect(olderClaimant(older, [older, twin])).toBe(twin);
  });

  it('sees no conflict across clusters or namespaces', () => {
    const otherCluster = kafkaTopic({ cluster: 'logs' }, { uid: 'd', creationTimestamp: '2025-01-01T00:00:00Z' });
    const otherNamespace = kafkaTopic({}, { namespace: 'dev', uid: 'e', creationTimestamp: '2025-01-01T00:00:00Z' });
    expect(olderClaimant(newer, [otherCluster, otherNamespace, newer])).toBeUndefined();
  });
});
