// The partition reassignment planner behind `kubectl scale`: given the brokers that are to hold
// replicas and every partition's current replicas, it says which partitions to move where so that
// replicas and preferred leaders end up balanced (within one of the average per broker, overall and
// per topic), no partition has two replicas in one rack when the racks allow it, and as little data
// as possible is copied. It is a pure function, so every decision is tested without a cluster.
//
// Two steps, each an exact min-cost flow (plan-flow.ts) whose costs put balance before kept data:
//   1. replicas: which brokers hold each partition. Deciding every partition in one flow is what
//      hands out the per-topic +1s so that the overall counts stay within ±1 too, with no more moves
//      than balance needs;
//   2. leaders:  which replica of each partition comes first, keeping the current first one.
// A balanced input is its own cheapest solution, so planning it (or a plan's output) changes nothing.

import { MinCostFlow, UNBOUNDED_CAPACITY } from './plan-flow.js';

export interface BrokerInfo {
  id: number;
  rack?: string;
}

/** One partition's replicas; replicas[0] is its preferred leader. */
export interface Assignment {
  topic: string;
  partition: number;
  replicas: readonly number[];
}

export interface PlanInput {
  /** The brokers that are to hold replicas afterwards (on scale-down, the leaving ones are absent). */
  brokers: readonly BrokerInfo[];
  /** Current assignment of every partition of every topic (internal topics included). Replicas may name brokers not in `brokers` (leaving or dead ones): all of those must move. */
  partitions: readonly Assignment[];
  /** A topic's wanted replication factor where it differs from its current one (adds or removes replicas, balanced). */
  replicationFactors?: ReadonlyMap<string, number>;
  /** When set, only these topics' partitions may change; all others count as fixed load. */
  movableTopics?: ReadonlySet<string>;
}

export interface PartitionChange {
  topic: string;
  partition: number;
  from: readonly number[];
  to: readonly number[];
}

export interface Plan {
  /** Partitions whose replica list changes (a new replica set, or only a new order = new preferred leader). Sorted by topic, partition. */
  changes: PartitionChange[];
  /** Replicas placed on a broker that did not hold that partition before (each is a data copy). */
  replicaMoves: number;
  /** The fewest replica moves any plan meeting the replica-count balance bound needs (computed independently of the plan, by replicaMoveLowerBound). */
  lowerBound: number;
  /** Human-readable reasons a goal could not be met. Empty when every goal holds. */
  unmet: string[];
}

/** A count that is balanced when it lies in [floor, ceil] of an average. */
export interface BalancedRange {
  floor: number;
  ceil: number;
}

export function balancedRange(total: number, brokerCount: number): BalancedRange {
  const floor = Math.floor(total / brokerCount);
  return { floor, ceil: total % brokerCount === 0 ? floor : floor + 1 };
}

interface Slot {
  topic: string;
  partition: number;
  from: readonly number[];
  movable: boolean;
  /** Replicas wanted afterwards; for a fixed partition, those it has on staying brokers. */
  replicationFactor: number;
  /** At most this many replicas of the partition may share a rack. */
  perRackLimit: number;
}

interface Cluster {
  brokerIds: number[];
  rackOf: Map<number, string>;
  /** Racks sorted, each with its brokers sorted by id. */
  racks: Map<string, number[]>;
}

export function planReassignment(input: PlanInput): Plan {
  const unmet: string[] = [];
  const cluster = describeCluster(input.brokers);
  if (cluster.brokerIds.length === 0) {
    return { changes: [], replicaMoves: 0, lowerBound: 0, unmet: ['there are no brokers to hold replicas'] };
  }
  const slots = toSlots(input, cluster, unmet);
  const topics = groupByTopic(slots.filter((s) => s.movable));
  const replicaSets = planReplicas(topics, slots, cluster);
  const leaders = planLeaders(topics, slots, replicaSets, cluster);

  const changes: PartitionChange[] = [];
  const after = new Map<Slot, readonly number[]>();
  let replicaMoves = 0;
  for (const slot of slots) {
    const replicas = replicaSets.get(slot);
    const to = replicas === undefined ? slot.from : orderReplicas(slot.from, replicas, leaders.get(slot)!);
    after.set(slot, to);
    replicaMoves += to.filter((b) => !slot.from.includes(b)).length;
    if (!sameList(to, slot.from)) changes.push({ topic: slot.topic, partition: slot.partition, from: slot.from, to });
  }
  unmet.push(...checkOutcome(slots, after, cluster));
  return { changes, replicaMoves, lowerBound: replicaMoveLowerBound(slots, cluster.brokerIds), unmet };
}

function describeCluster(brokers: readonly BrokerInfo[]): Cluster {
  const brokerIds = [...new Set(brokers.map((b) => b.id))].sort((a, b) => a - b);
  const rackOf = new Map<number, string>();
  // A broker without a rack is a rack of its own; the prefix keeps it apart from any named rack.
  for (const b of brokers) rackOf.set(b.id, b.rack ?? `\u0000broker ${b.id}`);
  const racks = new Map<string, number[]>();
  for (const id of brokerIds) {
    const rack = rackOf.get(id)!;
    append(racks, rack, id);
  }
  return { brokerIds, rackOf, racks: new Map([...racks].sort(([a], [b]) => compareStrings(a, b))) };
}

function rackLabel(rack: string): string {
  return rack.startsWith('\u0000') ? rack.slice(1) : rack;
}

function toSlots(input: PlanInput, cluster: Cluster, unmet: string[]): Slot[] {
  const brokerCount = cluster.brokerIds.length;
  const wanted = new Map<string, number>();
  const slots = [...input.partitions]
    .sort((a, b) => compareStrings(a.topic, b.topic) || a.partition - b.partition)
    .map((a): Slot => {
      const movable = input.movableTopics?.has(a.topic) ?? true;
      const staying = new Set(a.replicas.filter((b) => cluster.rackOf.has(b))).size;
      // A partition keeps at least one replica: a factor of 0 would delete it, which is not a reassignment.
      const requested = movable
        ? Math.max(1, input.replicationFactors?.get(a.topic) ?? new Set(a.replicas).size)
        : staying;
      if (movable && requested > brokerCount) wanted.set(a.topic, requested);
      const replicationFactor = Math.min(requested, brokerCount);
      return {
        topic: a.topic,
        partition: a.partition,
        from: a.replicas,
        movable,
        replicationFactor,
        perRackLimit: perRackLimit(replicationFactor, cluster),
      };
    });
  for (const [topic, rf] of wanted) {
    unmet.push(`topic ${topic} has replication factor ${rf} but only ${brokerCount} brokers`);
  }
  const crowded = new Map<string, Slot[]>();
  for (const s of slots) if (s.movable && s.perRackLimit > 1) append(crowded, s.topic, s);
  const rackNames = [...cluster.racks.keys()].map(rackLabel).join(',');
  for (const [topic, topicSlots] of crowded) {
    const first = topicSlots[0];
    const others = topicSlots.length > 1 ? ` (and ${topicSlots.length - 1} more partitions of ${topic})` : '';
    unmet.push(
      `racks ${rackNames} cannot hold ${first.replicationFactor} replicas of ${topic}-${first.partition}${others} apart`,
    );
  }
  for (const s of slots) {
    if (s.movable) continue;
    const stranded = s.from.filter((b) => !cluster.rackOf.has(b));
    if (stranded.length > 0) {
      unmet.push(
        `${s.topic}-${s.partition} keeps replicas on brokers ${stranded.join(',')}, which are leaving, because topic ${s.topic} may not move`,
      );
    }
  }
  return slots;
}

/** The fewest replicas per rack that still fit `replicationFactor` replicas, one per broker. */
function perRackLimit(replicationFactor: number, cluster: Cluster): number {
  const rackSizes = [...cluster.racks.values()].map((brokers) => brokers.length);
  let limit = 1;
  while (rackSizes.reduce((sum, size) => sum + Math.min(size, limit), 0) < replicationFactor) limit++;
  return limit;
}

function groupByTopic(slots: readonly Slot[]): Map<string, Slot[]> {
  const topics = new Map<string, Slot[]>();
  for (const s of slots) append(topics, s.topic, s);
  return topics;
}

/** Current replicas of a slot on brokers that stay, each once. */
function keptReplicas(slot: Slot, cluster: Cluster): number[] {
  return [...new Set(slot.from.filter((b) => cluster.rackOf.has(b)))];
}

/** Load of the partitions that may not change, per staying broker. */
function fixedLoad(slots: readonly Slot[], cluster: Cluster, leadersOnly: boolean): Map<number, number> {
  const load = new Map(cluster.brokerIds.map((b) => [b, 0]));
  for (const s of slots) {
    if (s.movable) continue;
    for (const b of leadersOnly ? s.from.slice(0, 1) : new Set(s.from)) if (load.has(b)) load.set(b, load.get(b)! + 1);
  }
  return load;
}

/**
 * Unit costs that make a min-cost flow balance first: each unit below the range earns `penalty`,
 * each unit above it pays `penalty`, so a count inside the range is always cheaper than one outside.
 */
function rangeCost(range: BalancedRange, penalty: number, count: number): number {
  if (count <= range.floor) return -penalty;
  return count <= range.ceil ? 0 : penalty;
}

/**
 * Step 1: the brokers of every movable partition. One flow decides them all at once, because the
 * per-topic +1s must land where they keep the overall counts within ±1 and where the partitions
 * can take them (apart from each other's racks) without extra copies. Costs rank overall balance,
 * then per-topic balance, then kept replicas, so no amount of kept data outweighs balance.
 */
function planReplicas(topics: Map<string, Slot[]>, slots: readonly Slot[], cluster: Cluster): Map<Slot, number[]> {
  const brokerCount = cluster.brokerIds.length;
  const total = slots.reduce((sum, s) => sum + s.replicationFactor, 0);
  const overall = balancedRange(total, brokerCount);
  // Moves cost 1 each (at most `total`), a topic's unbalanced unit more than all moves together,
  // and an overall unbalanced unit more than all topic imbalance together.
  const topicPenalty = total + 1;
  const overallPenalty = topicPenalty * (2 * total + 1);

  const flow = new MinCostFlow();
  const source = flow.addNode();
  const sink = flow.addNode();
  const brokerNode = balancedBrokerNodes(
    flow,
    sink,
    cluster,
    overall,
    overallPenalty,
    fixedLoad(slots, cluster, false),
  );
  const placements: { slot: Slot; broker: number; edge: number }[] = [];
  for (const topicSlots of topics.values()) {
    const replicas = topicSlots.reduce((sum, s) => sum + s.replicationFactor, 0);
    const topicBrokerNode = balancedTopicNodes(flow, brokerNode, topicSlots.length, replicas, topicPenalty);
    for (const slot of topicSlots) {
      const slotNode = flow.addNode();
      flow.addEdge(source, slotNode, slot.replicationFactor, 0);
      const current = keptReplicas(slot, cluster);
      for (const rackBrokers of cluster.racks.values()) {
        let rackNode = slotNode;
        if (rackBrokers.length > 1) {
          rackNode = flow.addNode();
          flow.addEdge(slotNode, rackNode, slot.perRackLimit, 0);
        }
        for (const b of rackBrokers) {
          const edge = flow.addEdge(rackNode, topicBrokerNode.get(b)!, 1, current.includes(b) ? 0 : 1);
          placements.push({ slot, broker: b, edge });
        }
      }
    }
  }
  flow.run(source, sink);
  const result = new Map<Slot, number[]>();
  for (const p of placements) {
    if (flow.flowOn(p.edge) > 0) append(result, p.slot, p.broker);
  }
  return result;
}

/** A node per broker draining to `sink`, priced so that loads (with `fixed` added) stay in `range`. */
function balancedBrokerNodes(
  flow: MinCostFlow,
  sink: number,
  cluster: Cluster,
  range: BalancedRange,
  penalty: number,
  fixed: Map<number, number>,
): Map<number, number> {
  const nodes = new Map<number, number>();
  for (const b of cluster.brokerIds) {
    const node = flow.addNode();
    const base = fixed.get(b)!;
    const breakpoints = [range.floor - base, range.ceil - base];
    flow.addConvexEdges(node, sink, UNBOUNDED_CAPACITY, breakpoints, (k) => rangeCost(range, penalty, base + k));
    nodes.set(b, node);
  }
  return nodes;
}

/**
 * A node per broker for one topic, draining into the broker's node, priced so that the topic's
 * `units` spread within floor..ceil per broker. A broker takes at most one unit per partition.
 */
function balancedTopicNodes(
  flow: MinCostFlow,
  brokerNode: Map<number, number>,
  partitions: number,
  units: number,
  penalty: number,
): Map<number, number> {
  const range = balancedRange(units, brokerNode.size);
  const nodes = new Map<number, number>();
  for (const [b, target] of brokerNode) {
    const node = flow.addNode();
    flow.addConvexEdges(node, target, partitions, [range.floor, range.ceil], (k) => rangeCost(range, penalty, k));
    nodes.set(b, node);
  }
  return nodes;
}

/**
 * Step 2: each movable partition's preferred leader among its new replicas, balanced overall and per
 * topic, keeping the current first replica wherever balance allows. Reordering copies no data, so
 * this may follow step 1 instead of joining it.
 */
function planLeaders(
  topics: Map<string, Slot[]>,
  slots: readonly Slot[],
  replicaSets: Map<Slot, number[]>,
  cluster: Cluster,
): Map<Slot, number> {
  const overall = balancedRange(slots.length, cluster.brokerIds.length);
  // As in step 1: a changed leader costs 1, topic imbalance outweighs all changes, overall all of that.
  const topicPenalty = slots.length + 1;
  const overallPenalty = topicPenalty * (2 * slots.length + 1);

  const flow = new MinCostFlow();
  const source = flow.addNode();
  const sink = flow.addNode();
  const brokerNode = balancedBrokerNodes(flow, sink, cluster, overall, overallPenalty, fixedLoad(slots, cluster, true));
  const choices: { slot: Slot; broker: number; edge: number }[] = [];
  for (const topicSlots of topics.values()) {
    const topicBrokerNode = balancedTopicNodes(flow, brokerNode, topicSlots.length, topicSlots.length, topicPenalty);
    for (const slot of topicSlots) {
      const slotNode = flow.addNode();
      flow.addEdge(source, slotNode, 1, 0);
      for (const b of replicaSets.get(slot)!) {
        const edge = flow.addEdge(slotNode, topicBrokerNode.get(b)!, 1, b === slot.from[0] ? 0 : 1);
        choices.push({ slot, broker: b, edge });
      }
    }
  }
  flow.run(source, sink);
  const leaders = new Map<Slot, number>();
  for (const c of choices) if (flow.flowOn(c.edge) > 0) leaders.set(c.slot, c.broker);
  return leaders;
}

/** Leader first, then kept replicas in their current order, then new ones by id: a stable order. */
function orderReplicas(from: readonly number[], replicas: readonly number[], leader: number): number[] {
  const kept = [...new Set(from)].filter((b) => b !== leader && replicas.includes(b));
  const added = replicas.filter((b) => b !== leader && !from.includes(b)).sort((a, b) => a - b);
  return [leader, ...kept, ...added];
}

/**
 * The larger of two bounds that hold for any plan keeping every broker within the balanced range.
 * By broker: R replicas over B brokers, R = q*B + r, leave r brokers with q+1 and the rest with q,
 * and a broker keeps at most min(current, cap) of its replicas; the most are kept when the q+1 caps
 * go to the brokers that hold the most now, and every replica not kept is a move. By partition: a
 * partition keeps at most the replicas it has on staying brokers, so each one more it needs is a move.
 */
export function replicaMoveLowerBound(
  slots: readonly { from: readonly number[]; replicationFactor: number }[],
  brokerIds: readonly number[],
): number {
  const brokerCount = brokerIds.length;
  const total = slots.reduce((sum, s) => sum + s.replicationFactor, 0);
  const current = new Map(brokerIds.map((b) => [b, 0]));
  let missing = 0;
  for (const s of slots) {
    const staying = [...new Set(s.from)].filter((b) => current.has(b));
    for (const b of staying) current.set(b, current.get(b)! + 1);
    missing += Math.max(0, s.replicationFactor - staying.length);
  }
  const q = Math.floor(total / brokerCount);
  const r = total % brokerCount;
  const byLoad = [...current].sort(([a, ca], [b, cb]) => cb - ca || a - b);
  const keepable = byLoad.reduce((sum, [, count], i) => sum + Math.min(count, i < r ? q + 1 : q), 0);
  return Math.max(total - keepable, missing);
}

/** Measures the goals on the result rather than trusting the steps, so `unmet` never overclaims. */
function checkOutcome(slots: readonly Slot[], after: Map<Slot, readonly number[]>, cluster: Cluster): string[] {
  const unmet: string[] = [];
  const brokerCount = cluster.brokerIds.length;
  const replicaCount = new Map(cluster.brokerIds.map((b) => [b, 0]));
  const leaderCount = new Map(cluster.brokerIds.map((b) => [b, 0]));
  for (const s of slots) {
    const replicas = after.get(s)!;
    for (const b of replicas) if (replicaCount.has(b)) replicaCount.set(b, replicaCount.get(b)! + 1);
    if (leaderCount.has(replicas[0])) leaderCount.set(replicas[0], leaderCount.get(replicas[0])! + 1);
    if (!s.movable) continue;
    const racks = replicas.map((b) => cluster.rackOf.get(b)!);
    const crowded = [...new Set(racks)].filter((r) => racks.filter((x) => x === r).length > s.perRackLimit);
    if (crowded.length > 0) {
      unmet.push(`${s.topic}-${s.partition} has more replicas in rack ${crowded.map(rackLabel).join(',')} than needed`);
    }
  }
  // Replicas that may not leave (fixed topics on leaving brokers) are reported above, not balanced here.
  unmet.push(...outOfRange('replicas', replicaCount, balancedRange(sum(replicaCount), brokerCount), ''));
  unmet.push(...outOfRange('preferred leaderships', leaderCount, balancedRange(sum(leaderCount), brokerCount), ''));
  for (const [topic, topicSlots] of groupByTopic(slots.filter((s) => s.movable))) {
    const topicReplicas = new Map(cluster.brokerIds.map((b) => [b, 0]));
    const topicLeaders = new Map(cluster.brokerIds.map((b) => [b, 0]));
    let topicTotal = 0;
    for (const s of topicSlots) {
      const replicas = after.get(s)!;
      topicTotal += replicas.length;
      for (const b of replicas) topicReplicas.set(b, topicReplicas.get(b)! + 1);
      topicLeaders.set(replicas[0], topicLeaders.get(replicas[0])! + 1);
    }
    unmet.push(...outOfRange('replicas', topicReplicas, balancedRange(topicTotal, brokerCount), ` of topic ${topic}`));
    unmet.push(
      ...outOfRange(
        'preferred leaderships',
        topicLeaders,
        balancedRange(topicSlots.length, brokerCount),
        ` of topic ${topic}`,
      ),
    );
  }
  return unmet;
}

function outOfRange(what: string, counts: Map<number, number>, range: BalancedRange, scope: string): string[] {
  const outside = [...counts].filter(([, n]) => n < range.floor || n > range.ceil);
  if (outside.length === 0) return [];
  const detail = outside.map(([b, n]) => `broker ${b} has ${n}`).join(', ');
  return [`${what}${scope} are not balanced (each broker should have ${range.floor}..${range.ceil}): ${detail}`];
}

function append<K, V>(lists: Map<K, V[]>, key: K, value: V): void {
  const list = lists.get(key);
  if (list === undefined) lists.set(key, [value]);
  else list.push(value);
}

function sum(counts: Map<number, number>): number {
  return [...counts.values()].reduce((a, b) => a + b, 0);
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
