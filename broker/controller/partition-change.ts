// One partition's next leader and ISR, as Kafka's PartitionChangeBuilder decides them (without
// reassignment or eligible leader replicas, which Runnel does not have): a pure function from
// the partition's state and the wanted change to the PartitionChangeRecord that makes it, or
// nothing when nothing would change.
//
// Invariants kept:
// - a clean election picks a leader from the (target) ISR among brokers that can lead, the
//   current leader first if it still qualifies, then in replica order;
// - only an unclean election picks a leader outside the ISR; the ISR then becomes that leader
//   alone and the partition RECOVERING, because records the old ISR had may be lost;
// - the ISR is never left empty: removing its last member keeps it (with ELR off, Kafka keeps
//   the last member so the partition comes back, cleanly, when that broker returns).

import { LEADER_UNCHANGED, LeaderRecoveryState, NO_LEADER, type PartitionState } from '../metadata/image.js';
import type { MetadataRecord } from '../metadata/records.js';

export type PartitionChangeRecord = Extract<MetadataRecord, { type: 'PartitionChangeRecord' }>;

/**
 * Kafka's PartitionChangeBuilder.Election: `online` keeps a leader that qualifies, else elects
 * from the ISR; `preferred` elects the first replica when it qualifies; `unclean` is `online`
 * that falls back to any replica that can lead.
 */
export type Election = 'online' | 'preferred' | 'unclean';

export interface ChangeSpec {
  /** Whether a broker may lead now (registered, unfenced, not shutting down). */
  canLead: (brokerId: number) => boolean;
  /** The ISR wanted; the partition's own when not given. */
  targetIsr?: readonly number[];
  election?: Election;
  /** The leader recovery state wanted (AlterPartition's); the partition's own when not given. */
  targetLeaderRecoveryState?: number;
}

export function partitionChange(
  topicId: string,
  p: PartitionState,
  spec: ChangeSpec,
): PartitionChangeRecord | undefined {
  const targetIsr = spec.targetIsr ?? p.isr;
  const election = spec.election ?? 'online';
  const valid = (id: number) => targetIsr.includes(id) && spec.canLead(id);
  const record = unchanged(topicId, p.partition);

  const elected = elect(p, election, valid, spec.canLead);
  if (elected.leader !== p.leader) {
    record.leader = elected.leader;
    if (elected.unclean) {
      record.isr = [elected.leader];
      if (p.leaderRecoveryState !== LeaderRecoveryState.RECOVERING)
        record.leaderRecoveryState = LeaderRecoveryState.RECOVERING;
    }
  }
  if (record.isr === null && targetIsr.length > 0 && !sameList(targetIsr, p.isr)) record.isr = [...targetIsr];
  const recovery = spec.targetLeaderRecoveryState ?? p.leaderRecoveryState;
  if (recovery !== p.leaderRecoveryState) record.leaderRecoveryState = recovery;

  const noChange = record.leader === LEADER_UNCHANGED && record.isr === null && record.leaderRecoveryState === -1;
  return noChange ? undefined : record;
}

/** A PartitionChangeRecord that changes nothing yet: every field left as it is. */
export function unchanged(topicId: string, partitionId: number): PartitionChangeRecord {
  return {
    type: 'PartitionChangeRecord',
    partitionId,
    topicId,
    isr: null,
    leader: LEADER_UNCHANGED,
    replicas: null,
    removingReplicas: null,
    addingReplicas: null,
    leaderRecoveryState: -1,
    directories: null,
  };
}

function elect(
  p: PartitionState,
  election: Election,
  valid: (id: number) => boolean,
  canLead: (id: number) => boolean,
): { leader: number; unclean: boolean } {
  const clean = (leader: number) => ({ leader, unclean: false });
  if (election === 'preferred') {
    const preferred = p.replicas[0];
    if (preferred !== undefined && valid(preferred)) return clean(preferred);
  }
  // The current leader stays while it qualifies: no election for its own sake.
  if (p.leader !== NO_LEADER && valid(p.leader)) return clean(p.leader);
  const inSync = (election === 'preferred' ? p.replicas.slice(1) : p.replicas).find(valid);
  if (inSync !== undefined) return clean(inSync);
  if (election === 'unclean') {
    const any = p.replicas.find(canLead);
    if (any !== undefined) return { leader: any, unclean: true };
  }
  return clean(NO_LEADER);
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
