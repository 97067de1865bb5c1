// Random clusters through the planner, checked against the goals it promises (see plan.ts). The
// arbitrary carries a seed for the current assignment, so a failing case prints in full and replays.
//
// Slack (replicaMoves - lowerBound) has no constant bound in general, because lowerBound counts only
// what overall balance needs: per-topic balance, fixing rack violations in a random start, replication
// factor changes and scaling down onto partitions' existing replicas all need more. So the bound is
// asserted exactly only where it is tight (a balanced start scaled up, even or no racks, no factor
// change), and the rest is measured and printed. Over 10,000 runs: slack 0 in 67% of the outcomes
// balanced overall, at most 43; against max(lowerBound, the same bound summed topic by topic), in
// outcomes balanced per topic too, 0 in 89%, at most 23 (random starts, whose rack violations cost
// moves no bound counts). With even or no racks every topic's replicas ended within floor..ceil;
// some topic's leaders did not in under 0.5% of runs (overall leaders always did when achievable,
// which the test checks with an independent matching).

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Assignment,
  type BrokerInfo,
  type Plan,
  type PlanInput,
  balancedRange,
  planReassignment,
  replicaMoveLowerBound,
} from './plan.js';

const RUNS = 600;

interface Scenario {
  brokerCount: number;
  zones: number | undefined;
  racksEqual: boolean;
  topics: { partitions: number; rf: number; newRf: number | undefined }[];
  scaleBy: number;
  startBalanced: boolean;
  seed: number;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  brokerCount: fc.integer({ min: 1, max: 8 }),
  zones: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  racksEqual: fc.boolean(),
  topics: fc.array(
    fc.record({
      partitions: fc.integer({ min: 1, max: 30 }),
      rf: fc.integer({ min: 1, max: 3 }),
      newRf: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 4 }),
    }),
    { minLength: 1, maxLength: 6 },
  ),
  scaleBy: fc.integer({ min: -3, max: 3 }),
  startBalanced: fc.boolean(),
  seed: fc.integer(),
});

/** mulberry32: a tiny seeded generator, so one scenario always builds the same assignment. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Built {
  input: PlanInput;
  /** Racks of the target brokers all have the same number of brokers (or there are no racks). */
  racksEqual: boolean;
  /** The current assignment meets every goal on the current brokers (a balanced start). */
  startedBalanced: boolean;
  /** Some topic's wanted replication factor differs from its current one. */
  changesReplicationFactor: boolean;
}

function build(s: Scenario): Built {
  const next = random(s.seed);
  const rackOf = (id: number) =>
    s.zones === undefined ? undefined : `z${s.racksEqual ? id % s.zones : Math.floor(next() * s.zones)}`;
  const currentIds = Array.from({ length: s.brokerCount }, (_, i) => i);
  const current: BrokerInfo[] = currentIds.map((id) => ({ id, rack: rackOf(id) }));
  const topics = s.topics.map((t, i) => ({ ...t, name: `t${i}`, rf: Math.min(t.rf, s.brokerCount) }));
  let partitions: Assignment[] = topics.flatMap((t) =>
    Array.from({ length: t.partitions }, (_, p) => {
      const pool = [...currentIds];
      const replicas = Array.from({ length: t.rf }, () => pool.splice(Math.floor(next() * pool.length), 1)[0]);
      return { topic: t.name, partition: p, replicas };
    }),
  );
  let startedBalanced = false;
  if (s.startBalanced) {
    const start: PlanInput = { brokers: current, partitions };
    const plan = planReassignment(start);
    partitions = apply(start, plan);
    // Racks of unequal size can keep the start from balancing; such a start is not a balanced one.
    startedBalanced = plan.unmet.length === 0;
  }
  let target = current;
  if (s.scaleBy > 0) {
    target = [
      ...current,
      ...Array.from({ length: s.scaleBy }, (_, i) => ({ id: s.brokerCount + i, rack: rackOf(s.brokerCount + i) })),
    ];
  } else {
    const maxRf = Math.max(...topics.map((t) => t.rf));
    target = current.slice(0, Math.max(maxRf, s.brokerCount + s.scaleBy));
  }
  const replicationFactors = new Map(topics.filter((t) => t.newRf !== undefined).map((t) => [t.name, t.newRf!]));
  const rackSizes = new Map<string, number>();
  for (const b of target) if (b.rack !== undefined) rackSizes.set(b.rack, (rackSizes.get(b.rack) ?? 0) + 1);
  return {
    input: { brokers: target, partitions, replicationFactors },
    racksEqual: new Set(rackSizes.values()).size <= 1,
    startedBalanced,
    changesReplicationFactor: topics.some((t) => t.newRf !== undefined && t.newRf !== t.rf),
  };
}

function apply(input: PlanInput, plan: Plan): Assignment[] {
  const to = new Map(plan.changes.map((c) => [`${c.topic}-${c.partition}`, c.to]));
  return input.partitions.map((a) => ({ ...a, replicas: to.get(`${a.topic}-${a.partition}`) ?? a.replicas }));
}

/** The same bound taken topic by topic: what a plan that balances every topic must move at least. */
function topicBound(input: PlanInput): number {
  const targetIds = input.brokers.map((b) => b.id);
  const byTopic = new Map<string, { from: readonly number[]; replicationFactor: number }[]>();
  for (const a of input.partitions) {
    const rf = Math.min(input.replicationFactors?.get(a.topic) ?? a.replicas.length, targetIds.length);
    byTopic.set(a.topic, [...(byTopic.get(a.topic) ?? []), { from: a.replicas, replicationFactor: rf }]);
  }
  return [...byTopic.values()].reduce((sum, slots) => sum + replicaMoveLowerBound(slots, targetIds), 0);
}

function everyTopicWithinRange(partitions: readonly Assignment[], brokerIds: readonly number[], leadersOnly: boolean) {
  const topics = [...new Set(partitions.map((a) => a.topic))];
  return topics.every((t) => {
    const ofTopic = partitions.filter((a) => a.topic === t);
    return withinRange(counts(ofTopic, brokerIds, leadersOnly));
  });
}

function counts(partitions: readonly Assignment[], brokerIds: readonly number[], leadersOnly: boolean): number[] {
  const byBroker = new Map(brokerIds.map((b) => [b, 0]));
  for (const a of partitions) {
    for (const b of leadersOnly ? a.replicas.slice(0, 1) : a.replicas) byBroker.set(b, (byBroker.get(b) ?? 0) + 1);
  }
  return brokerIds.map((b) => byBroker.get(b)!);
}

function withinRange(values: readonly number[]): boolean {
  const range = balancedRange(
    values.reduce((a, b) => a + b, 0),
    values.length,
  );
  return values.every((v) => v >= range.floor && v <= range.ceil);
}

/**
 * Whether some choice of one leader per partition among its replicas gives every broker floor..ceil
 * leaderships: fill every broker's floor slots with a maximum bipartite matching, then add the ceil
 * slots and match the rest. Augmenting paths never unmatch a slot, so the first fill survives.
 */
function leadersCanBalance(replicaSets: readonly (readonly number[])[], brokerIds: readonly number[]): boolean {
  const range = balancedRange(replicaSets.length, brokerIds.length);
  const slotBroker: number[] = [];
  const slotPartition: number[] = [];
  const slotsOf = new Map<number, number[]>(brokerIds.map((b) => [b, []]));
  const addSlots = (perBroker: (b: number) => number) => {
    for (const b of brokerIds) {
      for (let i = 0; i < perBroker(b); i++) {
        slotsOf.get(b)!.push(slotBroker.length);
        slotBroker.push(b);
        slotPartition.push(-1);
      }
    }
  };
  const matched = new Array<boolean>(replicaSets.length).fill(false);
  const augment = (p: number, seen: Set<number>): boolean => {
    for (const b of replicaSets[p]) {
      for (const slot of slotsOf.get(b) ?? []) {
        if (seen.has(slot)) continue;
        seen.add(slot);
        if (slotPartition[slot] < 0 || augment(slotPartition[slot], seen)) {
          slotPartition[slot] = p;
          return true;
        }
      }
    }
    return false;
  };
  const matchAll = () => {
    for (let p = 0; p < replicaSets.length; p++) if (!matched[p]) matched[p] = augment(p, new Set());
  };
  addSlots(() => range.floor);
  matchAll();
  if (slotPartition.some((p) => p < 0)) return false;
  addSlots(() => range.ceil - range.floor);
  matchAll();
  return matched.every(Boolean);
}

const measured = {
  runs: 0,
  balancedRuns: 0,
  slack: new Map<number, number>(),
  slackOverTopicBound: new Map<number, number>(),
  evenRackRuns: 0,
  topicReplicaImbalance: 0,
  topicLeaderImbalance: 0,
};

function tally(histogram: Map<number, number>, value: number): void {
  histogram.set(value, (histogram.get(value) ?? 0) + 1);
}

function show(histogram: Map<number, number>): string {
  return [...histogram]
    .sort(([a], [b]) => a - b)
    .map(([value, runs]) => `${value}:${runs}`)
    .join(' ');
}

describe('planReassignment on random clusters', () => {
  afterAll(() => {
    console.log(
      [
        `runs ${measured.runs}, of which ${measured.balancedRuns} ended overall-balanced.`,
        `replicaMoves - lowerBound (slack:runs): ${show(measured.slack)}`,
        `replicaMoves - max(lowerBound, sum of per-topic lower bounds) (slack:runs): ${show(measured.slackOverTopicBound)}`,
        `of ${measured.evenRackRuns} runs with even or no racks, ${measured.topicReplicaImbalance} left some topic's replicas ` +
          `and ${measured.topicLeaderImbalance} some topic's leaders outside floor..ceil`,
      ].join('\n'),
    );
  });

  it('meets placement, balance, rack, bound, leader and idempotence goals', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const { input, racksEqual, startedBalanced, changesReplicationFactor } = build(scenario);
        const plan = planReassignment(input);
        const after = apply(input, plan);
        const targetIds = input.brokers.map((b) => b.id);
        const rackOf = new Map(input.brokers.map((b) => [b.id, b.rack ?? `broker ${b.id}`]));
        const rackCount = new Set(rackOf.values()).size;
        measured.runs++;

        // (g) changes are reported against the input and each one changes something.
        const byKey = new Map(input.partitions.map((a) => [`${a.topic}-${a.partition}`, a.replicas]));
        for (const c of plan.changes) {
          expect(c.from).toEqual(byKey.get(`${c.topic}-${c.partition}`));
          expect(c.to).not.toEqual(c.from);
        }
        // (a) only target brokers, no broker twice, the wanted replication factor.
        for (const a of after) {
          const wanted = input.replicationFactors?.get(a.topic) ?? byKey.get(`${a.topic}-${a.partition}`)!.length;
          expect(a.replicas.every((b) => rackOf.has(b))).toBe(true);
          expect(new Set(a.replicas).size).toBe(a.replicas.length);
          expect(a.replicas.length).toBe(Math.min(wanted, targetIds.length));
          // (c) replicas in distinct racks whenever there are enough racks.
          if (rackCount >= a.replicas.length)
            expect(new Set(a.replicas.map((b) => rackOf.get(b))).size).toBe(a.replicas.length);
        }
        // (b) overall replica balance when racks allow it; otherwise the plan must say it is unbalanced.
        const replicasBalanced = withinRange(counts(after, targetIds, false));
        if (racksEqual) expect(replicasBalanced).toBe(true);
        if (!replicasBalanced) expect(plan.unmet.some((u) => u.startsWith('replicas are not balanced'))).toBe(true);
        // (d) the bound holds for balanced plans, and is met exactly from a balanced start with even racks.
        const topicsBalanced = everyTopicWithinRange(after, targetIds, false);
        if (replicasBalanced) {
          expect(plan.replicaMoves).toBeGreaterThanOrEqual(plan.lowerBound);
          const slack = plan.replicaMoves - plan.lowerBound;
          measured.balancedRuns++;
          tally(measured.slack, slack);
          if (topicsBalanced) {
            tally(measured.slackOverTopicBound, plan.replicaMoves - Math.max(plan.lowerBound, topicBound(input)));
          }
          // Only scaling up is held to the bound exactly: a leaving broker's partitions can only go where
          // they have no replica yet, which a balanced start need not allow (found here: 4 → 3 brokers,
          // 12 partitions at RF 2, where one staying broker shared too many partitions with the leaving one).
          if (startedBalanced && racksEqual && !changesReplicationFactor && scenario.scaleBy >= 0)
            expect(slack).toBe(0);
        }
        // (f) preferred leaders within floor..ceil overall whenever some choice of leaders achieves it.
        const replicaSets = after.map((a) => a.replicas);
        if (leadersCanBalance(replicaSets, targetIds)) expect(withinRange(counts(after, targetIds, true))).toBe(true);
        if (racksEqual) {
          measured.evenRackRuns++;
          if (!topicsBalanced) measured.topicReplicaImbalance++;
          if (!everyTopicWithinRange(after, targetIds, true)) measured.topicLeaderImbalance++;
        }
        // (e) the output is a fixed point.
        expect(planReassignment({ ...input, partitions: after }).changes).toEqual([]);
      }),
      {
        numRuns: RUNS,
        // Found by this test when replica counts were chosen before placing partitions: scaling down
        // onto one-broker racks then needed a move beyond the lower bound.
        examples: [
          [
            {
              brokerCount: 6,
              zones: 4,
              racksEqual: true,
              topics: [{ partitions: 7, rf: 3, newRf: undefined }],
              scaleBy: -2,
              startBalanced: true,
              seed: -1721415546,
            },
          ],
        ],
      },
    );
  });

  it('changes only movable topics and keeps the others as fixed load', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), (scenario, mask) => {
        const { input } = build(scenario);
        const topics = [...new Set(input.partitions.map((a) => a.topic))];
        const movableTopics = new Set(topics.filter((_, i) => (mask >> i) & 1));
        const restricted: PlanInput = { ...input, movableTopics };
        const plan = planReassignment(restricted);
        expect(plan.changes.every((c) => movableTopics.has(c.topic))).toBe(true);
        const after = apply(restricted, plan);
        expect(planReassignment({ ...restricted, partitions: after }).changes).toEqual([]);
      }),
      { numRuns: RUNS / 2 },
    );
  });
});
