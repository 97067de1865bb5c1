// One consumer group under the classic protocol: its members, generation and state.
//
//   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
//     ▲                    ▲    │                                      │ leader's SyncGroup
//     └── last member ─────┘    └──────────── member change ◀── Stable ◀┘
//          leaves                                               (any join/leave/expiry)

import type { Timer } from '../clock.js';
import type { CommittedOffset, GroupSnapshot, MemberIdentity } from './offsets-topic.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface Member extends MemberIdentity {
  protocols: Protocol[];
  assignment: Buffer;
  /** Set while the member waits for the join phase to complete. */
  awaitingJoin?: (result: JoinResult) => void;
  /** Set while the member waits for the leader's assignment. */
  awaitingSync?: (result: SyncResult) => void;
  sessionTimer?: Timer;
}

export class Group {
  state: GroupState = 'Empty';
  generation = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → member id, for static members. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined. */
  readonly pendingMembers = new Set<string>();
  readonly offsets = new Map<string, CommittedOffset & { topic: string; partition: number }>();
  rebalanceTimer: Timer | undefined;
  /** While set, a new group waits group.initial.rebalance.delay.ms for more members. */
  inInitialDelay = false;
  /** The group metadata last stored in `__consumer_offsets` (what a restart resumes from). */
  stored: GroupSnapshot | null = null;

  constructor(
    readonly id: string,
    /** When the group last became Empty (offset retention counts from here). */
    public emptySinceMs: number,
  ) {}

  static offsetKey(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return true;
  }

  maxRebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** Whether a joining member's protocols fit the group: same type, and a protocol all share. */
  supportsProtocols(protocolType: string, protocols: Protocol[]): boolean {
    if (this.members.size === 0) return protocols.length > 0;
    if (protocolType !== this.protocolType) return false;
    return protocols.some((p) => [...this.members.values()].every((m) => m.protocols.some((mp) => mp.name === p.name)));
  }

  /** Kafka's vote: each member picks its most preferred protocol that every member supports. */
  selectProtocol(): string {
    const members = [...this.members.values()];
    const candidates = members[0].protocols
      .map((p) => p.name)
      .filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const m of members) {
      const choice = m.protocols.find((p) => candidates.includes(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    return [...votes.entries()].sort(
      (a, b) => b[1] - a[1] || candidates.indexOf(a[0]) - candidates.indexOf(b[0]),
    )[0][0];
  }

  metadataFor(member: Member, protocolName: string): Buffer {
    return member.protocols.find((p) => p.name === protocolName)?.metadata ?? Buffer.alloc(0);
  }

  /** Topics in the members' consumer-protocol subscriptions (for OffsetDelete). */
  subscribedTopics(): Set<string> | undefined {
    if (this.protocolType !== 'consumer' || this.protocolName === null || this.members.size === 0) return undefined;
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      for (const t of decodeSubscriptionTopics(this.metadataFor(m, this.protocolName))) topics.add(t);
    }
    return topics;
  }
}

/** Reads the topic list at the start of a ConsumerProtocolSubscription (every version). */
function decodeSubscriptionTopics(metadata: Buffer): string[] {
  try {
    let at = 2;
    const count = metadata.readInt32BE(at);
    at += 4;
    const topics: string[] = [];
    for (let i = 0; i < count; i++) {
      const len = metadata.readInt16BE(at);
      at += 2;
      topics.push(metadata.toString('utf8', at, at + len));
      at += len;
    }
    return topics;
  } catch {
    return [];
  }
}
