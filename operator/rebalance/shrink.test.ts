import { describe, expect, it } from 'vitest';
import type { LogDirUsage } from '../kafka/admin.js';
import { partitionState } from '../test/fakes.js';
import { shrinkBlockers, type ShrinkFacts } from './shrink.js';

const GiB = 2 ** 30;

function usage(broker: number, bytes: number, totalBytes = -1): LogDirUsage {
  return { broker, replicaBytes: new Map([[`orders-${broker}`, bytes]]), totalBytes, usableBytes: -1 };
}

function facts(overrides: Partial<ShrinkFacts> = {}): ShrinkFacts {
  return {
    from: 5,
    to: 3,
    controllerVoters: 3,
    partitions: [partitionState('orders-0', [0, 1, 2], [0, 1, 2], 2)],
    usage: [0, 1, 2, 3, 4].map((b) => usage(b, GiB)),
    volumeBytes: 10 * GiB,
    ...overrides,
  };
}

describe('shrinking a cluster', () => {
  it('is safe when every topic fits and the data fits the remaining volumes', () => {
    expect(shrinkBlockers(facts())).toEqual([]);
  });

  it('is refused below a topic’s replication factor or min.insync.replicas, or below the voters', () => {
    const partitions = [
      partitionState('orders-0', [0, 1, 2], [0, 1, 2], 2),
      partitionState('audit-0', [0, 1], [0, 1], 2),
    ];
    expect(shrinkBlockers(facts({ to: 2, controllerVoters: 1, partitions }))).toEqual([
      'topic orders has replication factor 3, more than 2 brokers can hold apart',
    ]);
    expect(
      shrinkBlockers(facts({ to: 1, controllerVoters: 1, partitions: [partitionState('audit-0', [0], [0], 2)] })),
    ).toEqual(['topic audit has min.insync.replicas 2: 1 broker could never acknowledge acks=all']);
    expect(shrinkBlockers(facts({ to: 2, controllerVoters: 3, partitions: [] }))).toEqual([
      '2 brokers would be fewer than the 3 controller voters',
    ]);
  });

  it('is refused when the remaining volumes cannot hold the data, with the numbers', () => {
    const full = [0, 1, 2, 3, 4].map((b) => usage(b, 7 * GiB));
    expect(shrinkBlockers(facts({ usage: full }))).toEqual([
      'the brokers hold 35.0 GiB of replicas, more than the 30.0 GiB of 3 remaining volumes',
    ]);
    // A disk smaller than the claim (as statfs reports it) is what counts.
    const smallDisks = [0, 1, 2, 3, 4].map((b) => usage(b, GiB, 1.5 * GiB));
    expect(shrinkBlockers(facts({ usage: smallDisks }))).toEqual([
      'the brokers hold 5.0 GiB of replicas, more than the 4.5 GiB of 3 remaining volumes',
    ]);
  });
});
