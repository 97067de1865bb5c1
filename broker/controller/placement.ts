// Replica placement for new partitions: spread replicas and leaders evenly over the unfenced
// brokers, and over racks when brokers name one (broker.rack), so that losing a broker or a rack
// loses at most one replica of a partition where the cluster allows it.
//
// The brokers are ordered so that consecutive ones alternate racks (rack A's first, rack B's
// first, …, rack A's second, …). Partition p's replicas are the `replicationFactor` brokers from
// position (start + p) of that ring, so leaders (the first replica) rotate over every broker, and
// each partition's replicas lie on as many racks as there are.

export interface PlacementBroker {
  id: number;
  rack: string | null;
}

/** Brokers in ring order: racks interleaved, ids ascending within a rack. */
export function rackAlternatingOrder(brokers: readonly PlacementBroker[]): number[] {
  const byRack = new Map<string, number[]>();
  for (const b of [...brokers].sort((x, y) => x.id - y.id)) {
    const rack = b.rack ?? '';
    let ids = byRack.get(rack);
    if (!ids) byRack.set(rack, (ids = []));
    ids.push(b.id);
  }
  const racks = [...byRack.keys()].sort();
  const ring: number[] = [];
  for (let i = 0; ring.length < brokers.length; i++)
    for (const rack of racks) {
      const id = byRack.get(rack)![i];
      if (id !== undefined) ring.push(id);
    }
  return ring;
}

/**
 * Replica lists for partitions [firstPartition, firstPartition + count). `start` rotates where
 * the ring begins, so successive topics do not all put partition 0 on the same broker.
 */
export function placeReplicas(
  brokers: readonly PlacementBroker[],
  firstPartition: number,
  count: number,
  replicationFactor: number,
  start: number,
): number[][] {
  const ring = rackAlternatingOrder(brokers);
  if (replicationFactor > ring.length)
    throw new Error(`replication factor ${replicationFactor} is larger than the ${ring.length} brokers available`);
  const out: number[][] = [];
  for (let p = firstPartition; p < firstPartition + count; p++) {
    const first = (start + p) % ring.length;
    out.push(Array.from({ length: replicationFactor }, (_, i) => ring[(first + i) % ring.length]));
  }
  return out;
}
