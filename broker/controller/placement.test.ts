import { describe, expect, it } from 'vitest';
import { placeReplicas, rackAlternatingOrder } from './placement.js';

const brokers = (...racks: (string | null)[]) => racks.map((rack, i) => ({ id: i + 1, rack }));

describe('replica placement', () => {
  it('spreads leaders evenly: 12 partitions on 3 brokers lead 4 each', () => {
    const placed = placeReplicas(brokers(null, null, null), 0, 12, 1, 0);
    const leaders = new Map<number, number>();
    for (const r of placed) leaders.set(r[0], (leaders.get(r[0]) ?? 0) + 1);
    expect([...leaders.values()]).toEqual([4, 4, 4]);
  });

  it('puts every replica of a partition on a different broker, and on different racks when it can', () => {
    const cluster = brokers('a', 'a', 'b', 'b', 'c', 'c');
    const rackOf = new Map(cluster.map((b) => [b.id, b.rack]));
    for (const replicas of placeReplicas(cluster, 0, 30, 3, 2)) {
      expect(new Set(replicas).size).toBe(3);
      expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(3);
    }
  });

  it('interleaves racks in the ring, ids ascending within a rack', () => {
    expect(rackAlternatingOrder(brokers('a', 'a', 'b', 'c'))).toEqual([1, 3, 4, 2]);
  });

  it('continues a topic where its partitions end (CreatePartitions) and rotates the start between topics', () => {
    const cluster = brokers(null, null, null);
    expect(placeReplicas(cluster, 3, 2, 1, 0)).toEqual([[1], [2]]);
    expect(placeReplicas(cluster, 0, 1, 1, 1)).toEqual([[2]]);
  });

  it('refuses more replicas than brokers', () => {
    expect(() => placeReplicas(brokers(null, null), 0, 1, 3, 0)).toThrow(/replication factor 3/);
  });
});
