// Whether a cluster can shrink to fewer brokers without losing availability or running out of
// disk: the operator checks this before it moves a single replica, and keeps the current size
// (saying why, with the numbers) when it cannot.

import type { LogDirUsage, PartitionReplicas } from '../kafka/admin.js';
import { formatBytes } from './executor.js';

export interface ShrinkFacts {
  from: number;
  to: number;
  controllerVoters: number;
  partitions: readonly PartitionReplicas[];
  /** Every current broker's log dirs. */
  usage: readonly LogDirUsage[];
  /** Size of one broker volume (spec.storage.size). */
  volumeBytes: number;
}

/** Why shrinking `from` → `to` brokers is unsafe; empty when it is safe. */
export function shrinkBlockers(facts: ShrinkFacts): string[] {
  const reasons: string[] = [];
  const { to } = facts;
  const brokers = `${to} broker${to === 1 ? '' : 's'}`;
  if (to < facts.controllerVoters)
    reasons.push(`${brokers} would be fewer than the ${facts.controllerVoters} controller voters`);
  const widest = new Map<string, { replicas: number; minInsync: number }>();
  for (const p of facts.partitions) {
    const seen = widest.get(p.topic);
    widest.set(p.topic, {
      replicas: Math.max(seen?.replicas ?? 0, p.replicas.length),
      minInsync: p.minInsyncReplicas,
    });
  }
  for (const [topic, { replicas, minInsync }] of [...widest].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (replicas > to)
      reasons.push(`topic ${topic} has replication factor ${replicas}, more than ${brokers} can hold apart`);
    else if (minInsync > to)
      reasons.push(`topic ${topic} has min.insync.replicas ${minInsync}: ${brokers} could never acknowledge acks=all`);
  }
  const dataBytes = facts.usage.reduce((n, u) => n + [...u.replicaBytes.values()].reduce((m, b) => m + b, 0), 0);
  const remaining = facts.usage.filter((u) => u.broker < to);
  const capacityBytes = remaining.reduce(
    (n, u) => n + (u.totalBytes > 0 ? Math.min(u.totalBytes, facts.volumeBytes) : facts.volumeBytes),
    0,
  );
  if (remaining.length > 0 && dataBytes > capacityBytes)
    reasons.push(
      `the brokers hold ${formatBytes(dataBytes)} of replicas, more than the ${formatBytes(capacityBytes)} of ${remaining.length} remaining volume${remaining.length === 1 ? '' : 's'}`,
    );
  return reasons;
}
