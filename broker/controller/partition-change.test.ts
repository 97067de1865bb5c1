import { describe, expect, it } from 'vitest';
import type { PartitionState } from '../metadata/image.js';
import { TOPIC_ID } from '../test/controller-fixtures.js';
import { partitionChange, type ChangeSpec } from './partition-change.js';

function state(leader: number, isr: number[], extra: Partial<PartitionState> = {}): PartitionState {
  return {
    partition: 0,
    leader,
    leaderEpoch: 4,
    partitionEpoch: 7,
    replicas: [1, 2, 3],
    isr,
    addingReplicas: [],
    removingReplicas: [],
    leaderRecoveryState: 0,
    ...extra,
  };
}

const live =
  (...ids: number[]): ChangeSpec['canLead'] =>
  (id) =>
    ids.includes(id);

const change = (p: PartitionState, spec: ChangeSpec) => {
  const r = partitionChange(TOPIC_ID, p, spec);
  return r && { leader: r.leader, isr: r.isr, leaderRecoveryState: r.leaderRecoveryState };
};

describe('a partition change (Kafka’s PartitionChangeBuilder)', () => {
  it('shrinks the ISR and leaves a leader that is still in it where it is', () => {
    expect(change(state(1, [1, 2, 3]), { canLead: live(1, 2, 3), targetIsr: [1, 3] })).toEqual({
      leader: -2,
      isr: [1, 3],
      leaderRecoveryState: -1,
    });
  });

  it('elects the first replica, in replica order, that is in the new ISR and can lead', () => {
    expect(change(state(1, [1, 3, 2]), { canLead: live(2, 3), targetIsr: [3, 2] })).toEqual({
      leader: 2,
      isr: [3, 2],
      leaderRecoveryState: -1,
    });
  });

  it('keeps the last ISR member when it goes: the partition goes offline until it returns', () => {
    expect(change(state(1, [1]), { canLead: live(2, 3), targetIsr: [] })).toEqual({
      leader: -1,
      isr: null,
      leaderRecoveryState: -1,
    });
  });

  it('an unclean election takes any live replica, makes it the ISR alone and marks the partition RECOVERING', () => {
    expect(change(state(1, [1]), { canLead: live(3), targetIsr: [], election: 'unclean' })).toEqual({
      leader: 3,
      isr: [3],
      leaderRecoveryState: 1,
    });
    // It prefers a clean choice when there is one.
    expect(change(state(1, [1, 2]), { canLead: live(2, 3), targetIsr: [2], election: 'unclean' })).toEqual({
      leader: 2,
      isr: [2],
      leaderRecoveryState: -1,
    });
  });

  it('a preferred election moves leadership to the first replica only when it is in the ISR and can lead', () => {
    expect(change(state(2, [1, 2, 3]), { canLead: live(1, 2, 3), election: 'preferred' })).toEqual({
      leader: 1,
      isr: null,
      leaderRecoveryState: -1,
    });
    expect(change(state(2, [2, 3]), { canLead: live(1, 2, 3), election: 'preferred' })).toBeUndefined();
    expect(change(state(2, [1, 2, 3]), { canLead: live(2, 3), election: 'preferred' })).toBeUndefined();
    // An offline partition takes another in-sync replica when the preferred one cannot lead.
    expect(change(state(-1, [1, 3]), { canLead: live(3), election: 'preferred' })).toEqual({
      leader: 3,
      isr: null,
      leaderRecoveryState: -1,
    });
  });

  it('is nothing when nothing changes', () => {
    expect(change(state(1, [1, 2]), { canLead: live(1, 2), targetIsr: [1, 2] })).toBeUndefined();
    expect(change(state(-1, [1]), { canLead: live(2) })).toBeUndefined();
  });

  it('carries a change of the leader recovery state', () => {
    const p = state(3, [3], { leaderRecoveryState: 1 });
    expect(change(p, { canLead: live(3), targetIsr: [3], targetLeaderRecoveryState: 0 })).toEqual({
      leader: -2,
      isr: null,
      leaderRecoveryState: 0,
    });
  });
});
