import { describe, expect, it } from 'vitest';
import { isInSync, planTopic, type DesiredTopic, type ObservedTopic } from './plan.js';

const desired = (over: Partial<DesiredTopic> = {}): DesiredTopic => ({
  name: 'orders',
  partitions: 3,
  replicationFactor: 1,
  config: new Map(),
  ...over,
});
const observed = (over: Partial<ObservedTopic> = {}): ObservedTopic => ({
  name: 'orders',
  id: 'id-1',
  partitions: 3,
  replicationFactor: 1,
  config: new Map(),
  ...over,
});

describe('topic plan', () => {
  it('creates a missing topic with its partitions, replication factor and config', () => {
    const want = desired({ config: new Map([['retention.ms', '1000']]) });
    expect(planTopic(want, undefined)).toEqual({ action: 'create', topic: want });
  });

  it('changes nothing on a topic that matches', () => {
    const plan = planTopic(
      desired({ config: new Map([['cleanup.policy', 'compact']]) }),
      observed({ config: new Map([['cleanup.policy', 'compact']]) }),
    );
    expect(isInSync(plan)).toBe(true);
  });

  it('adds partitions when the count grows', () => {
    expect(planTopic(desired({ partitions: 6 }), observed())).toEqual({
      action: 'update',
      partitions: 6,
      configChanges: [],
    });
  });

  it('sets changed keys and removes keys set outside the resource', () => {
    const plan = planTopic(
      desired({
        config: new Map([
          ['retention.ms', '2000'],
          ['segment.bytes', '1048576'],
        ]),
      }),
      observed({
        config: new Map([
          ['retention.ms', '1000'],
          ['segment.bytes', '1048576'],
          ['cleanup.policy', 'compact'],
        ]),
      }),
    );
    expect(plan).toEqual({
      action: 'update',
      partitions: undefined,
      configChanges: [
        { name: 'retention.ms', op: 'set', value: '2000' },
        { name: 'cleanup.policy', op: 'delete' },
      ],
    });
  });

  it('refuses to remove partitions and changes nothing else', () => {
    const plan = planTopic(
      desired({ partitions: 2, config: new Map([['retention.ms', '5']]) }),
      observed({ partitions: 3 }),
    );
    expect(plan.action).toBe('notSupported');
    expect(plan.action === 'notSupported' && plan.message).toMatch(
      /spec.partitions 2 is below the topic's 3 partitions/,
    );
  });

  it('plans a replication factor change (carried out by reassignment) next to the other changes', () => {
    const plan = planTopic(desired({ replicationFactor: 3, partitions: 6 }), observed({ replicationFactor: 1 }));
    expect(plan).toEqual({ action: 'update', partitions: 6, replicationFactor: 3, configChanges: [] });
    expect(isInSync(plan)).toBe(false);
  });
});
