// One partition this broker holds a replica of (Kafka's Partition): whether it leads or follows,
// and, as leader, what each follower has fetched, the ISR it may change, and the high watermark
// — the smallest log end offset in the ISR, below which records are committed and visible.
// Produce at acks=-1 waits here until the high watermark passes its batch.

import type { PartitionLog } from '../log/partition-log.js';
import { NO_LEADER, type PartitionState, type TopicState } from '../metadata/image.js';
import { ErrorCode } from '../protocol/errors.js';

export type Role = 'leader' | 'follower';

/** What the leader knows of one follower, from its fetches (Kafka's Replica). */
interface FollowerState {
  /** Its log end offset: the offset it fetched from last. */
  logEndOffset: number;
  /** When it last fetched everything the leader had then (or, earlier, had at its previous fetch). */
  lastCaughtUpMs: number;
  /** The leader's log end and the time at its previous fetch, for the rule above. */
  previousFetchLeaderEnd: number;
  previousFetchMs: number;
}

interface HighWatermarkWaiter {
  offset: number;
  done: (errorCode: number) => void;
}

export class Partition {
  role: Role;
  /** The ISR this leader asked the controller for and has no answer to yet (Kafka's pending ISR). */
  pendingIsr: number[] | undefined;
  private readonly followers = new Map<number, FollowerState>();
  private waiters: HighWatermarkWaiter[] = [];

  constructor(
    public topic: TopicState,
    public state: PartitionState,
    readonly log: PartitionLog,
    /** `<topic>-<partition>`: what fetches wait on. */
    readonly key: string,
    private readonly nodeId: number,
    nowMs: number,
    /** The topic's min.insync.replicas, as configured now. */
    private readonly minInsyncReplicas: () => number,
  ) {
    this.role = state.leader === nodeId ? 'leader' : 'follower';
    this.resetFollowers(nowMs);
  }

  /**
   * Takes the partition's new state from the metadata. A new leader epoch restarts what the
   * leader knows of its followers (they are given a full lag time to show up); a leader that
   * stops leading fails its waiting produces with NOT_LEADER_OR_FOLLOWER.
   */
  update(topic: TopicState, state: PartitionState, nowMs: number): void {
    const newEpoch = state.leaderEpoch !== this.state.leaderEpoch;
    this.topic = topic;
    this.state = state;
    this.role = state.leader === this.nodeId ? 'leader' : 'follower';
    this.pendingIsr = undefined;
    if (newEpoch) this.resetFollowers(nowMs);
    else this.followReplicaSet();
    if (!this.commits) this.failWaiters(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }

  /**
   * Whether what this replica writes becomes committed: it leads, or it was the last ISR member
   * of a partition that went offline (a controlled shutdown of its only replica): appends still
   * being written then are in the only log that will lead again, as Kafka's would have been.
   */
  private get commits(): boolean {
    if (this.role === 'leader') return true;
    const { leader, isr } = this.state;
    return leader === NO_LEADER && isr.length === 1 && isr[0] === this.nodeId;
  }

  /** The ISR the high watermark must wait for: the committed one, plus any member being added. */
  get maximalIsr(): number[] {
    if (!this.pendingIsr) return this.state.isr;
    return [...new Set([...this.state.isr, ...this.pendingIsr])];
  }

  isReplica(brokerId: number): boolean {
    return this.state.replicas.includes(brokerId);
  }

  followerEnd(brokerId: number): number | undefined {
    return this.followers.get(brokerId)?.logEndOffset;
  }

  /**
   * A follower fetched from `fetchOffset` (so holds everything below it): updates its state
   * (Kafka's updateFollowerFetchState) and the high watermark. True when the follower is out of
   * the ISR but has now caught up enough to join it: at the high watermark, and past the start
   * of this leader's epoch (so it holds no record of an older leader that this one lacks).
   */
  recordFollowerFetch(brokerId: number, fetchOffset: number, nowMs: number): boolean {
    const f = this.followers.get(brokerId);
    if (!f) return false;
    const leaderEnd = this.log.writtenEnd;
    if (fetchOffset >= leaderEnd) f.lastCaughtUpMs = nowMs;
    else if (fetchOffset >= f.previousFetchLeaderEnd) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.previousFetchMs);
    f.logEndOffset = fetchOffset;
    f.previousFetchLeaderEnd = leaderEnd;
    f.previousFetchMs = nowMs;
    this.maybeAdvanceHighWatermark();
    const epochStart = this.log.epochStartOffset(this.state.leaderEpoch) ?? leaderEnd;
    return !this.maximalIsr.includes(brokerId) && fetchOffset >= this.log.highWatermark && fetchOffset >= epochStart;
  }

  /** ISR members (not this leader) that have not caught up for `lagMs`: Kafka's getOutOfSyncReplicas. */
  outOfSyncReplicas(nowMs: number, lagMs: number): number[] {
    return this.state.isr.filter((id) => {
      if (id === this.nodeId) return false;
      const f = this.followers.get(id);
      return !f || (f.logEndOffset < this.log.writtenEnd && nowMs - f.lastCaughtUpMs > lagMs);
    });
  }

  /**
   * Leader only: moves the high watermark to the smallest log end offset in the ISR (this
   * leader's counted as what it has written) and completes the produces it passes. True when
   * it moved.
   */
  maybeAdvanceHighWatermark(): boolean {
    if (!this.commits) return false;
    let hw = this.log.writtenEnd;
    for (const id of this.maximalIsr) {
      if (id === this.nodeId) continue;
      hw = Math.min(hw, this.followers.get(id)?.logEndOffset ?? 0);
    }
    if (!this.log.advanceHighWatermark(hw)) return false;
    const committed = this.log.highWatermark;
    const ready = this.waiters.filter((w) => w.offset <= committed);
    if (ready.length > 0) {
      this.waiters = this.waiters.filter((w) => w.offset > committed);
      const code = this.state.isr.length < this.minInsyncReplicas() ? ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND : 0;
      for (const w of ready) w.done(code);
    }
    return true;
  }

  /**
   * Resolves with NONE once the high watermark reaches `offset` (NOT_ENOUGH_REPLICAS_AFTER_APPEND
   * when the ISR had shrunk below min.insync.replicas by then), NOT_LEADER_OR_FOLLOWER when this
   * broker stops leading first, REQUEST_TIMED_OUT after `timeoutMs` (via `after`).
   */
  waitForHighWatermark(offset: number, timeout: (onTimeout: () => void) => () => void): Promise<number> {
    if (!this.commits) return Promise.resolve(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (this.log.highWatermark >= offset)
      return Promise.resolve(
        this.state.isr.length < this.minInsyncReplicas() ? ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND : 0,
      );
    return new Promise((resolve) => {
      const waiter: HighWatermarkWaiter = {
        offset,
        done: (code) => {
          cancel();
          resolve(code);
        },
      };
      const cancel = timeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(ErrorCode.REQUEST_TIMED_OUT);
      });
      this.waiters.push(waiter);
    });
  }

  /** The partition left this broker or the broker stops. */
  close(): void {
    this.failWaiters(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }

  private failWaiters(code: number): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.done(code);
  }

  private resetFollowers(nowMs: number): void {
    this.followers.clear();
    for (const id of this.state.replicas) {
      if (id === this.nodeId) continue;
      // ISR members get a full lag time to fetch from the new leader before they count as out of sync.
      this.followers.set(id, newFollower(this.state.isr.includes(id) ? nowMs : 0));
    }
  }

  /** A reassignment changed the replica set under the same leader: new replicas are followed, gone ones forgotten. */
  private followReplicaSet(): void {
    for (const id of this.followers.keys()) if (!this.state.replicas.includes(id)) this.followers.delete(id);
    for (const id of this.state.replicas)
      if (id !== this.nodeId && !this.followers.has(id)) this.followers.set(id, newFollower(0));
  }
}

function newFollower(lastCaughtUpMs: number): FollowerState {
  return { logEndOffset: -1, lastCaughtUpMs, previousFetchLeaderEnd: -1, previousFetchMs: 0 };
}
