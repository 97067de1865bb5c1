import { describe, expect, it } from 'vitest';
import { type Assignment, type BrokerInfo, type Plan, type PlanInput, planReassignment } from './plan.js';

/** Partitions 0..count-1 of a topic, replicas round-robin over `brokers` (balanced by construction). */
function roundRobin(topic: string, count: number, rf: number, brokers: readonly number[], offset = 0): Assignment[] {
  return Array.from({ length: count }, (_, p) => ({
    topic,
    partition: p,
    replicas: Array.from({ length: rf }, (_, i) => brokers[(p + offset + i) % brokers.length]),
  }));
}

function ids(...brokerIds: number[]): BrokerInfo[] {
  return brokerIds.map((id) => ({ id }));
}

/** The assignment after a plan is applied. */
function apply(input: PlanInput, plan: Plan): Assignment[] {
  const to = new Map(plan.changes.map((c) => [`${c.topic}-${c.partition}`, c.to]));
  return input.partitions.map((a) => ({ ...a, replicas: to.get(`${a.topic}-${a.partition}`) ?? a.replicas }));
}

function count(partitions: readonly Assignment[], leadersOnly = false, topic?: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const a of partitions) {
    if (topic !== undefined && a.topic !== topic) continue;
    for (const b of leadersOnly ? a.replicas.slice(0, 1) : a.replicas) counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return counts;
}

function spread(counts: Map<number, number>, brokerIds: readonly number[]): number {
  const values = brokerIds.map((b) => counts.get(b) ?? 0);
  return Math.max(...values) - Math.min(...values);
}

describe('planReassignment', () => {
  it('3 → 4 brokers with 120 partitions at RF 3 moves exactly 90 replicas, leaving 90 on each broker', () => {
    const input: PlanInput = { brokers: ids(0, 1, 2, 3), partitions: roundRobin('t', 120, 3, [0, 1, 2]) };
    const plan = planReassignment(input);
    expect(plan.replicaMoves).toBe(90);
    expect(plan.lowerBound).toBe(90);
    expect(plan.unmet).toEqual([]);
    const after = apply(input, plan);
    expect([...count(after)].sort(([a], [b]) => a - b)).toEqual([
      [0, 90],
      [1, 90],
      [2, 90],
      [3, 90],
    ]);
    expect([...count(after, true).values()]).toEqual([30, 30, 30, 30]);
  });

  it('many small topics going 3 → 4 stay balanced per topic and overall at the lower bound', () => {
    const partitions = Array.from({ length: 40 }, (_, t) =>
      roundRobin(`t${String(t).padStart(2, '0')}`, 3, 3, [0, 1, 2], t),
    ).flat();
    const input: PlanInput = { brokers: ids(0, 1, 2, 3), partitions };
    const plan = planReassignment(input);
    expect(plan.unmet).toEqual([]);
    expect(plan.replicaMoves).toBe(plan.lowerBound);
    expect(plan.lowerBound).toBe(90);
    const after = apply(input, plan);
    expect(spread(count(after), [0, 1, 2, 3])).toBe(0);
    expect(spread(count(after, true), [0, 1, 2, 3])).toBeLessThanOrEqual(1);
    for (let t = 0; t < 40; t++) {
      expect(spread(count(after, false, `t${String(t).padStart(2, '0')}`), [0, 1, 2, 3])).toBeLessThanOrEqual(1);
    }
  });

  it('plans nothing for a balanced cluster, and nothing again for its own output', () => {
    const input: PlanInput = { brokers: ids(1, 2, 3, 4, 5), partitions: roundRobin('t', 20, 3, [1, 2, 3, 4, 5]) };
    expect(planReassignment(input).changes).toEqual([]);
    const scaledUp: PlanInput = { ...input, brokers: ids(1, 2, 3, 4, 5, 6, 7) };
    const plan = planReassignment(scaledUp);
    expect(plan.changes.length).toBeGreaterThan(0);
    expect(planReassignment({ ...scaledUp, partitions: apply(scaledUp, plan) }).changes).toEqual([]);
  });

  it('scale-down moves every replica off the leaving brokers and no more than the lower bound', () => {
    const input: PlanInput = { brokers: ids(0, 1, 2), partitions: roundRobin('t', 30, 2, [0, 1, 2, 3, 4]) };
    const plan = planReassignment(input);
    const after = apply(input, plan);
    expect(after.every((a) => a.replicas.every((b) => b <= 2))).toBe(true);
    expect(plan.replicaMoves).toBe(plan.lowerBound);
    expect(plan.lowerBound).toBe(24);
    expect(spread(count(after), [0, 1, 2])).toBe(0);
    expect(plan.unmet).toEqual([]);
  });

  it('reports the change as from the input replicas and leaves partitions that need nothing out', () => {
    const input: PlanInput = {
      brokers: ids(1, 2),
      partitions: [
        { topic: 'a', partition: 0, replicas: [1] },
        { topic: 'a', partition: 1, replicas: [3] },
      ],
    };
    const plan = planReassignment(input);
    expect(plan.changes).toEqual([{ topic: 'a', partition: 1, from: [3], to: [2] }]);
    expect(plan.replicaMoves).toBe(1);
  });

  it('moves replicas apart when two of a partition share a rack that another rack could relieve', () => {
    const brokers: BrokerInfo[] = [
      { id: 1, rack: 'a' },
      { id: 2, rack: 'a' },
      { id: 3, rack: 'b' },
      { id: 4, rack: 'b' },
    ];
    const input: PlanInput = {
      brokers,
      partitions: [
        { topic: 't', partition: 0, replicas: [1, 2] },
        { topic: 't', partition: 1, replicas: [3, 4] },
      ],
    };
    const plan = planReassignment(input);
    const after = apply(input, plan);
    for (const a of after) expect(new Set(a.replicas.map((b) => (b <= 2 ? 'a' : 'b'))).size).toBe(2);
    expect(plan.replicaMoves).toBe(2);
    expect(plan.unmet).toEqual([]);
  });

  it('says which racks cannot keep a partition’s replicas apart', () => {
    const input: PlanInput = {
      brokers: [
        { id: 1, rack: 'a' },
        { id: 2, rack: 'a' },
        { id: 3, rack: 'b' },
      ],
      partitions: [{ topic: 't', partition: 0, replicas: [1, 2, 3] }],
    };
    expect(planReassignment(input).unmet).toContain('racks a,b cannot hold 3 replicas of t-0 apart');
  });

  it('spreads replicas over racks as evenly as they allow when there are fewer racks than replicas', () => {
    const brokers: BrokerInfo[] = [
      ...[1, 2, 3, 4].map((id) => ({ id, rack: `solo${id}` })),
      ...[5, 6, 7, 8].map((id) => ({ id, rack: 'big' })),
    ];
    const input: PlanInput = {
      brokers,
      partitions: roundRobin('t', 8, 1, [1]),
      replicationFactors: new Map([['t', 7]]),
    };
    const plan = planReassignment(input);
    for (const a of apply(input, plan)) {
      expect(a.replicas).toHaveLength(7);
      expect(a.replicas.filter((b) => b >= 5)).toHaveLength(3);
    }
    expect(plan.unmet[0]).toBe(
      'racks big,solo1,solo2,solo3,solo4 cannot hold 7 replicas of t-0 (and 7 more partitions of t) apart',
    );
  });

  it('meets the lower bound when scaling up and down with equal racks', () => {
    const rack = (id: number) => ({ id, rack: `zone${id % 3}` });
    const up: PlanInput = { brokers: [0, 1, 2, 3, 4, 5].map(rack), partitions: roundRobin('t', 60, 3, [0, 1, 2]) };
    const upPlan = planReassignment(up);
    expect(upPlan.replicaMoves).toBe(upPlan.lowerBound);
    expect(upPlan.replicaMoves).toBe(90);
    expect(upPlan.unmet).toEqual([]);
    const down: PlanInput = { brokers: [0, 1, 2].map(rack), partitions: apply(up, upPlan) };
    const downPlan = planReassignment(down);
    expect(downPlan.replicaMoves).toBe(downPlan.lowerBound);
    expect(downPlan.replicaMoves).toBe(90);
    expect(downPlan.unmet).toEqual([]);
  });

  it('caps a replication factor at the broker count and says so', () => {
    const input: PlanInput = {
      brokers: ids(1, 2),
      partitions: [{ topic: 't', partition: 0, replicas: [1] }],
      replicationFactors: new Map([['t', 3]]),
    };
    const plan = planReassignment(input);
    expect(plan.changes).toEqual([{ topic: 't', partition: 0, from: [1], to: [1, 2] }]);
    expect(plan.unmet).toContain('topic t has replication factor 3 but only 2 brokers');
    expect(plan.lowerBound).toBe(1);
  });

  it('raises and lowers replication factors with balanced counts; removing a replica is not a move', () => {
    const partitions = [...roundRobin('up', 6, 1, [1, 2, 3]), ...roundRobin('down', 6, 3, [1, 2, 3])];
    const input: PlanInput = {
      brokers: ids(1, 2, 3),
      partitions,
      replicationFactors: new Map([
        ['up', 2],
        ['down', 2],
      ]),
    };
    const plan = planReassignment(input);
    expect(plan.replicaMoves).toBe(6);
    expect(plan.replicaMoves).toBe(plan.lowerBound);
    const after = apply(input, plan);
    expect(after.every((a) => a.replicas.length === 2)).toBe(true);
    expect(spread(count(after, false, 'up'), [1, 2, 3])).toBe(0);
    expect(spread(count(after, false, 'down'), [1, 2, 3])).toBe(0);
    expect(plan.unmet).toEqual([]);
  });

  it('changes only movable topics and balances around the fixed ones', () => {
    const input: PlanInput = {
      brokers: ids(1, 2, 3),
      partitions: [...roundRobin('fixed', 4, 1, [1]), ...roundRobin('free', 8, 1, [1, 2])],
      movableTopics: new Set(['free']),
    };
    const plan = planReassignment(input);
    expect(plan.changes.every((c) => c.topic === 'free')).toBe(true);
    const after = apply(input, plan);
    expect([1, 2, 3].map((b) => count(after).get(b) ?? 0)).toEqual([4, 4, 4]);
  });

  it('moves a preferred leader by reordering, not by copying data', () => {
    const input: PlanInput = {
      brokers: ids(1, 2),
      partitions: [
        { topic: 't', partition: 0, replicas: [1, 2] },
        { topic: 't', partition: 1, replicas: [1, 2] },
      ],
    };
    const plan = planReassignment(input);
    expect(plan.changes).toEqual([{ topic: 't', partition: 1, from: [1, 2], to: [2, 1] }]);
    expect(plan.replicaMoves).toBe(0);
  });

  it('is deterministic', () => {
    const input: PlanInput = { brokers: ids(0, 1, 2, 3, 4), partitions: roundRobin('t', 50, 3, [0, 1, 2]) };
    expect(planReassignment(input)).toEqual(planReassignment(input));
  });

  it('plans 3 → 5 brokers with 2,000 partitions at RF 3 in well under a second', () => {
    const input: PlanInput = { brokers: ids(0, 1, 2, 3, 4), partitions: roundRobin('t', 2000, 3, [0, 1, 2]) };
    const started = performance.now();
    const plan = planReassignment(input);
    const elapsed_ms = performance.now() - started;
    console.log(`3 → 5 brokers, 2,000 partitions at RF 3: planned in ${elapsed_ms.toFixed(0)} ms`);
    expect(plan.replicaMoves).toBe(plan.lowerBound);
    expect(plan.replicaMoves).toBe(2400);
    // Generous against a loaded CI machine; the goal is < 1 s, printed above.
    expect(elapsed_ms).toBeLessThan(5000);
  });
});
