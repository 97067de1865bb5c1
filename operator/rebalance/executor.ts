// Carries a balanced assignment out through the Kafka admin protocol, one bounded batch at a time.
// It keeps no state of its own: every call reads the cluster (assignment, reassignments in flight,
// log dir sizes), plans what is left from there and submits the next moves. So a restarted
// operator, or one whose target changed mid-way, continues from what the cluster actually holds and
// never submits a second plan over one in flight. Only the admin protocol is used, so the same
// code balances Runnel and stock Apache Kafka brokers.

import type { KafkaAdmin, PartitionReplicas, ReassignmentInFlight, ReplicationThrottle } from '../kafka/admin.js';
import { planReassignment, type Assignment, type BrokerInfo, type PartitionChange, type Plan } from './plan.js';

export interface RebalanceTarget {
  /** The brokers that are to hold every replica afterwards. */
  brokers: readonly number[];
  /** Bytes per second each broker may spend on moving replicas; unthrottled when undefined. */
  throttleBytesPerSecond?: number;
  /** Partitions moving at once, cluster-wide. */
  maxPartitionMovements: number;
  /** Limit the moves to these topics' partitions (a replication factor change); all when undefined. */
  topics?: ReadonlySet<string>;
  /** Wanted replication factors that differ from the current ones. */
  replicationFactors?: ReadonlyMap<string, number>;
}

/** The plan as first computed, kept by the caller so that progress can be counted against it. */
export interface PlanSummary {
  partitions: number;
  replicaMoves: number;
  lowerBound: number;
  bytes: number;
}

export interface RebalanceProgress {
  pending: number;
  moving: number;
  done: number;
  bytesMoved: number;
}

export type RebalanceStep =
  /** Some target broker is not registered (not started, or still catching up on metadata). */
  | { kind: 'waitingForBrokers'; missing: number[]; message: string }
  | { kind: 'moving'; plan: PlanSummary; progress: RebalanceProgress; submitted: number; message: string }
  | { kind: 'electing'; plan: PlanSummary; progress: RebalanceProgress; message: string }
  | { kind: 'balanced'; plan: PlanSummary; progress: RebalanceProgress; message: string };

const partitionKey = (topic: string, partition: number) => `${topic}-${partition}`;

/** The replicas a partition will have once its reassignment in flight completes. */
export function reassignmentTarget(r: ReassignmentInFlight): number[] {
  return r.replicas.filter((id) => !r.removing.includes(id));
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** Replicas a change places on brokers that did not hold the partition. */
function added(change: { from: readonly number[]; to: readonly number[] }): number[] {
  return change.to.filter((id) => !change.from.includes(id));
}

/**
 * One step towards the target: cancels reassignments that would put replicas on brokers outside it
 * (a target changed mid-way), submits further moves while fewer than `maxPartitionMovements` are in
 * flight, and once nothing is left to move removes the throttles and elects the preferred leaders.
 * `firstPlan` is the summary an earlier call returned for this same target (undefined on the first).
 */
export async function advanceRebalance(
  admin: KafkaAdmin,
  target: RebalanceTarget,
  firstPlan: PlanSummary | undefined,
): Promise<RebalanceStep> {
  const live = await admin.brokers();
  const missing = target.brokers.filter((id) => !live.some((b) => b.id === id));
  if (missing.length > 0)
    return {
      kind: 'waitingForBrokers',
      missing,
      message: `waiting for broker${missing.length > 1 ? 's' : ''} ${missing.join(', ')} to register with the cluster`,
    };
  const brokers: BrokerInfo[] = target.brokers.map((id) => ({ id, rack: live.find((b) => b.id === id)?.rack }));

  // Reassignments first: one that completes between the two answers then still counts as in flight,
  // instead of leaving its partition listed with target and leaving replicas and no move.
  let inFlight = await admin.listReassignments();
  const { partitions } = await admin.health();
  const conflicting = inFlight.filter((r) => reassignmentTarget(r).some((id) => !target.brokers.includes(id)));
  if (conflicting.length > 0) {
    await admin.alterReassignments(
      conflicting.map((r) => ({ topic: r.topic, partition: r.partition, replicas: null })),
    );
    inFlight = await admin.listReassignments();
  }
  const moving = new Map(inFlight.map((r) => [partitionKey(r.topic, r.partition), r]));

  // Partitions in flight are planned as if their moves were done: the plan adds to them, never undoes them.
  const assignment: Assignment[] = partitions.map((p) => {
    const r = moving.get(partitionKey(p.topic, p.partition));
    return { topic: p.topic, partition: p.partition, replicas: r ? reassignmentTarget(r) : p.replicas };
  });
  const plan = planReassignment({
    brokers,
    partitions: assignment,
    replicationFactors: replicationFactors(assignment, target.replicationFactors),
    movableTopics: target.topics,
  });
  const waiting = plan.changes.filter((c) => !moving.has(partitionKey(c.topic, c.partition)));
  const copies = waiting.filter((c) => added(c).length > 0);

  const sizes = await replicaSizes(admin, partitions);
  const summary = firstPlan ?? summarize(plan, sizes, inFlight);
  const progress = progressOf(summary, copies, inFlight, sizes);

  if (copies.length > 0 || inFlight.length > 0) {
    const room = Math.max(0, target.maxPartitionMovements - inFlight.length);
    const batch = copies.slice(0, room);
    // A new order of the same replicas copies nothing and completes at once: never held back.
    const reorders = waiting.filter((c) => added(c).length === 0 && sameSet(c.from, c.to));
    if (target.throttleBytesPerSecond !== undefined && batch.length > 0)
      await admin.setReplicationThrottle(
        throttleFor(target.throttleBytesPerSecond, [...inFlight.map(inFlightChange), ...batch]),
      );
    const submitted = [...batch, ...reorders];
    if (submitted.length > 0) await submit(admin, submitted);
    const after = { ...progress, pending: progress.pending - batch.length, moving: progress.moving + batch.length };
    return {
      kind: 'moving',
      plan: summary,
      progress: after,
      submitted: batch.length,
      message: `moving replicas: ${after.moving} partition${after.moving === 1 ? '' : 's'} moving, ${after.pending} pending, ${after.done} done (${formatBytes(after.bytesMoved)} of ${formatBytes(summary.bytes)})`,
    };
  }

  // Nothing left to copy: reorders (new preferred leaders) are all that may remain.
  if (waiting.length > 0) await submit(admin, waiting);
  if (target.throttleBytesPerSecond !== undefined)
    await admin.clearReplicationThrottle(
      live.map((b) => b.id),
      [...new Set(partitions.map((p) => p.topic))].filter((t) => !target.topics || target.topics.has(t)),
    );
  const unled = partitions.filter(
    (p) =>
      (!target.topics || target.topics.has(p.topic)) &&
      preferredOf(p, plan.changes) !== p.leader &&
      p.isr.includes(preferredOf(p, plan.changes)),
  );
  if (unled.length > 0) {
    const outcomes = await admin.electPreferredLeaders(unled.map((p) => ({ topic: p.topic, partition: p.partition })));
    const failed = outcomes.filter((o) => o.error);
    if (failed.length > 0)
      return {
        kind: 'electing',
        plan: summary,
        progress,
        message: `electing preferred leaders: ${failed
          .slice(0, 3)
          .map((o) => `${o.topic}-${o.partition} ${o.error}`)
          .join(', ')}${failed.length > 3 ? ` and ${failed.length - 3} more` : ''}`,
      };
  }
  return {
    kind: 'balanced',
    plan: summary,
    progress: { pending: 0, moving: 0, done: summary.partitions, bytesMoved: summary.bytes },
    message: `balanced over brokers ${target.brokers.join(', ')}: ${summary.replicaMoves} replica move${summary.replicaMoves === 1 ? '' : 's'} (lower bound ${summary.lowerBound}), ${formatBytes(summary.bytes)} copied${plan.unmet.length > 0 ? `; as close as possible: ${plan.unmet.join('; ')}` : ''}`,
  };
}

/**
 * Each topic's replication factor: the one asked for, else its partitions' fewest replicas. A
 * partition seen with more (metadata that has not caught up with a completed move still lists the
 * leaving replicas) must not make the plan keep them.
 */
function replicationFactors(
  assignment: readonly Assignment[],
  wanted: ReadonlyMap<string, number> | undefined,
): Map<string, number> {
  const factors = new Map<string, number>();
  for (const p of assignment) factors.set(p.topic, Math.min(factors.get(p.topic) ?? Infinity, p.replicas.length));
  for (const [topic, factor] of wanted ?? []) factors.set(topic, factor);
  return factors;
}

/** The preferred leader a partition has once the plan is applied. */
function preferredOf(p: PartitionReplicas, changes: readonly PartitionChange[]): number {
  const change = changes.find((c) => c.topic === p.topic && c.partition === p.partition);
  return (change?.to ?? p.replicas)[0];
}

function inFlightChange(r: ReassignmentInFlight): { topic: string; partition: number; from: number[]; to: number[] } {
  return {
    topic: r.topic,
    partition: r.partition,
    from: r.replicas.filter((id) => !r.adding.includes(id)),
    to: reassignmentTarget(r),
  };
}

async function submit(admin: KafkaAdmin, changes: readonly PartitionChange[]): Promise<void> {
  const outcomes = await admin.alterReassignments(
    changes.map((c) => ({ topic: c.topic, partition: c.partition, replicas: [...c.to] })),
  );
  const failed = outcomes.filter((o) => o.error);
  if (failed.length > 0)
    throw new Error(
      `the brokers refused to move ${failed
        .map((o) => `${o.topic}-${o.partition} (${o.error}${o.message ? `: ${o.message}` : ''})`)
        .join(', ')}`,
    );
}

/**
 * As kafka-reassign-partitions.sh sets them: the rate on every broker taking part; on the leader
 * side every replica that already holds the partition, on the follower side the ones being added.
 */
export function throttleFor(
  rateBytesPerSecond: number,
  changes: readonly { topic: string; partition: number; from: readonly number[]; to: readonly number[] }[],
): ReplicationThrottle {
  const leaderReplicas = new Map<string, string[]>();
  const followerReplicas = new Map<string, string[]>();
  const brokers = new Set<number>();
  const add = (map: Map<string, string[]>, topic: string, entries: string[]) =>
    map.set(topic, [...(map.get(topic) ?? []), ...entries]);
  for (const c of changes) {
    const adding = added(c);
    add(
      leaderReplicas,
      c.topic,
      c.from.map((id) => `${c.partition}:${id}`),
    );
    add(
      followerReplicas,
      c.topic,
      adding.map((id) => `${c.partition}:${id}`),
    );
    for (const id of [...c.from, ...c.to]) brokers.add(id);
  }
  return { rateBytesPerSecond, brokers: [...brokers].sort((a, b) => a - b), leaderReplicas, followerReplicas };
}

/** Bytes of each partition on its leader (the copy a new replica fetches), by `topic-partition`. */
async function replicaSizes(admin: KafkaAdmin, partitions: readonly PartitionReplicas[]) {
  const holders = [...new Set(partitions.flatMap((p) => p.replicas))].sort((a, b) => a - b);
  const usage = await admin.logDirUsage(holders);
  const onBroker = new Map(usage.map((u) => [u.broker, u.replicaBytes]));
  const leaderBytes = new Map<string, number>();
  for (const p of partitions) {
    const key = partitionKey(p.topic, p.partition);
    const source = onBroker.get(p.leader) ?? onBroker.get(p.replicas[0]);
    leaderBytes.set(key, source?.get(key) ?? 0);
  }
  return { leaderBytes, onBroker };
}

type Sizes = Awaited<ReturnType<typeof replicaSizes>>;

function summarize(plan: Plan, sizes: Sizes, inFlight: readonly ReassignmentInFlight[]): PlanSummary {
  const moves = [...plan.changes.filter((c) => added(c).length > 0), ...inFlight.map(inFlightChange)];
  return {
    partitions: moves.length,
    replicaMoves: plan.replicaMoves + inFlight.reduce((n, r) => n + r.adding.length, 0),
    lowerBound: plan.lowerBound + inFlight.reduce((n, r) => n + r.adding.length, 0),
    bytes: moves.reduce(
      (n, c) => n + added(c).length * (sizes.leaderBytes.get(partitionKey(c.topic, c.partition)) ?? 0),
      0,
    ),
  };
}

/** Pending and moving partitions now, and the bytes still to copy, counted against the first plan. */
function progressOf(
  plan: PlanSummary,
  pending: readonly PartitionChange[],
  inFlight: readonly ReassignmentInFlight[],
  sizes: Sizes,
): RebalanceProgress {
  let bytesLeft = 0;
  for (const c of pending)
    bytesLeft += added(c).length * (sizes.leaderBytes.get(partitionKey(c.topic, c.partition)) ?? 0);
  for (const r of inFlight) {
    const key = partitionKey(r.topic, r.partition);
    const full = sizes.leaderBytes.get(key) ?? 0;
    for (const id of r.adding) bytesLeft += Math.max(0, full - (sizes.onBroker.get(id)?.get(key) ?? 0));
  }
  return {
    pending: pending.length,
    moving: inFlight.length,
    done: Math.max(0, plan.partitions - pending.length - inFlight.length),
    bytesMoved: Math.max(0, plan.bytes - bytesLeft),
  };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
