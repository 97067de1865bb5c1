// Whether a broker can restart without stalling producers at acks=all: Strimzi's "can roll"
// (KafkaAvailability), per partition of a topic the broker holds a replica of, with the topic's
// effective min.insync.replicas:
// - a partition with no more replicas than min.insync.replicas never blocks (it could never roll);
// - one already below min.insync.replicas blocks every broker holding a replica of it: one in its
//   ISR would shrink it further, one outside it may be the first to catch up;
// - one exactly at min.insync.replicas blocks the brokers in its ISR, which would take it below.
// A partition the broker holds no replica of never blocks it.

import type { PartitionReplicas } from '../kafka/admin.js';

export interface RollBlocker {
  partition: PartitionReplicas;
  /** `atMinimum`: the broker's restart would take the ISR below min.insync.replicas. */
  kind: 'atMinimum' | 'belowMinimum';
}

/** The partitions that forbid restarting `broker` now, in topic and partition order; none: it can roll. */
export function rollBlockers(broker: number, partitions: readonly PartitionReplicas[]): RollBlocker[] {
  const blockers: RollBlocker[] = [];
  for (const p of partitions) {
    const min = p.minInsyncReplicas;
    if (!p.replicas.includes(broker) || p.replicas.length <= min) continue;
    if (p.isr.length < min) blockers.push({ partition: p, kind: 'belowMinimum' });
    else if (p.isr.length === min && p.isr.includes(broker)) blockers.push({ partition: p, kind: 'atMinimum' });
  }
  return blockers;
}

/** How many blocking partitions a message names; the rest are counted. */
const BLOCKERS_NAMED = 3;

/** Why `broker` waits, naming the first blocking partitions with their ISR and min.insync.replicas. */
export function describeBlockers(broker: number, blockers: readonly RollBlocker[]): string {
  const named = blockers.slice(0, BLOCKERS_NAMED).map(({ partition: p, kind }) => {
    const isr = `${p.isr.length} in-sync replica${p.isr.length === 1 ? '' : 's'} [${p.isr.join(',')}] of ${p.replicas.length}`;
    const what =
      kind === 'atMinimum'
        ? `restarting broker ${broker} would leave ${p.isr.length - 1}`
        : p.isr.includes(broker)
          ? `already below, and restarting broker ${broker} would leave ${p.isr.length - 1}`
          : `already below; broker ${broker} holds a replica that may be the first to catch up`;
    return `${p.topic}-${p.partition} has ${isr}, min.insync.replicas ${p.minInsyncReplicas}: ${what}`;
  });
  const more = blockers.length - named.length;
  return `waiting to restart broker ${broker}: ${named.join('; ')}${more > 0 ? `; and ${more} more partition${more === 1 ? '' : 's'}` : ''}`;
}
