import { describe, expect, it } from 'vitest';
import { partitionState as p } from '../test/fakes.js';
import { describeBlockers, rollBlockers } from './availability.js';

const blocking = (broker: number, partitions: Parameters<typeof rollBlockers>[1]) =>
  rollBlockers(broker, partitions).map((b) => `${b.partition.topic}-${b.partition.partition} ${b.kind}`);

describe('whether a broker can roll', () => {
  it('can when every partition it is in sync for keeps min.insync.replicas without it', () => {
    expect(blocking(1, [p('events-0', [0, 1, 2], [0, 1, 2], 2), p('events-1', [1, 2, 0], [1, 2], 1)])).toEqual([]);
  });

  it('cannot when its restart would take a partition below min.insync.replicas', () => {
    expect(blocking(1, [p('events-0', [0, 1, 2], [0, 1, 2], 2), p('events-1', [1, 2, 0], [1, 2], 2)])).toEqual([
      'events-1 atMinimum',
    ]);
  });

  it('cannot restart the only in-sync replica of a replicated partition, even at min.insync.replicas 1', () => {
    expect(blocking(2, [p('events-0', [2, 0, 1], [2], 1)])).toEqual(['events-0 atMinimum']);
  });

  it('is not held back by a partition at its minimum whose ISR it is not in', () => {
    expect(blocking(0, [p('events-1', [1, 2, 0], [1, 2], 2)])).toEqual([]);
  });

  it('is held back by a partition already below its minimum that it holds a replica of, in its ISR or not', () => {
    const below = p('events-3', [0, 1, 2], [2], 2);
    expect(blocking(2, [below])).toEqual(['events-3 belowMinimum']);
    // Strimzi: a replica outside the ISR may be the first to catch up, so it stays.
    expect(blocking(0, [below])).toEqual(['events-3 belowMinimum']);
  });

  it('is not held back by partitions it holds no replica of', () => {
    expect(blocking(3, [p('events-0', [0, 1, 2], [0], 2), p('events-1', [0, 1, 2], [0, 1], 2)])).toEqual([]);
  });

  it('ignores partitions with no more replicas than min.insync.replicas, which could never roll', () => {
    expect(
      blocking(0, [p('single-0', [0], [0], 1), p('pair-0', [0, 1], [0, 1], 2), p('pair-1', [0, 1], [1], 2)]),
    ).toEqual([]);
  });

  it('counts internal topics such as __consumer_offsets', () => {
    expect(blocking(0, [p('__consumer_offsets-7', [0, 1, 2], [0, 1], 2, true)])).toEqual([
      '__consumer_offsets-7 atMinimum',
    ]);
  });

  it('lists every blocking partition, in the order given', () => {
    expect(
      blocking(1, [
        p('audit-0', [1, 2, 0], [1, 2], 2),
        p('events-0', [0, 1, 2], [0, 1, 2], 2),
        p('events-2', [2, 0, 1], [0], 2),
      ]),
    ).toEqual(['audit-0 atMinimum', 'events-2 belowMinimum']);
  });
});

describe('why a broker waits', () => {
  it('names the broker and the partition, its ISR and min.insync.replicas', () => {
    const blockers = rollBlockers(1, [p('events-1', [1, 2, 0], [1, 2], 2)]);
    expect(describeBlockers(1, blockers)).toBe(
      'waiting to restart broker 1: events-1 has 2 in-sync replicas [1,2] of 3, min.insync.replicas 2: restarting broker 1 would leave 1',
    );
  });

  it('says when a partition is already below its minimum', () => {
    expect(describeBlockers(0, rollBlockers(0, [p('events-3', [0, 1, 2], [2], 2)]))).toBe(
      'waiting to restart broker 0: events-3 has 1 in-sync replica [2] of 3, min.insync.replicas 2: already below; broker 0 holds a replica that may be the first to catch up',
    );
    expect(describeBlockers(2, rollBlockers(2, [p('events-3', [0, 1, 2], [2], 2)]))).toBe(
      'waiting to restart broker 2: events-3 has 1 in-sync replica [2] of 3, min.insync.replicas 2: already below, and restarting broker 2 would leave 0',
    );
  });

  it('names the first three partitions and counts the rest', () => {
    const partitions = Array.from({ length: 5 }, (_, i) => p(`events-${i}`, [0, 1, 2], [0, 1], 2));
    const message = describeBlockers(0, rollBlockers(0, partitions));
    expect(message).toContain('events-0 has 2');
    expect(message).toContain('events-2 has 2');
    expect(message).not.toContain('events-3');
    expect(message).toMatch(/; and 2 more partitions$/);
  });
});
