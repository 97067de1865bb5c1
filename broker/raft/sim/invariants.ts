// Raft's safety properties, checked by the simulator after every step and on every action a node
// performs. Each check is incremental (it looks at what changed), so a long schedule stays cheap.
//
//   election safety      at most one leader per epoch, ever
//   vote safety          a node's vote never changes within an epoch (across restarts too), and
//                        a granted vote is durable before the answer leaves the node
//   log matching         entries with the same offset and epoch hold the same record and follow
//                        the same predecessor (so the whole prefixes match, by induction)
//   leader completeness  a new leader's log holds every entry committed so far
//   committed entries    entries below a node's high watermark agree with every other node's and
//                        are never truncated; the high watermark never moves back within a life
//   state machine safety every node (every life) applies a prefix of one and the same sequence,
//                        whether from a snapshot (loaded at start or installed from the leader)
//                        or entry by entry
//
// A node's log is read through `keyAt(offset)`: "epoch/record" of its entry there, or of its
// snapshot's below the log start (a snapshot is the sequence of keys it covers).

import type { LogEntry } from '../log.js';
import type { VoteResponse } from '../messages.js';
import type { ElectionState, QuorumView } from '../types.js';

export class SafetyViolation extends Error {
  override name = 'SafetyViolation';
}

function recordKey(e: LogEntry): string {
  return e.record.type === 'data' ? `d:${String(e.record.value)}` : `lc:${e.record.leaderId}`;
}

/** An entry as the checker and the simulator's snapshots name it: "epoch/record". */
export function entryKey(e: LogEntry): string {
  return `${e.epoch}/${recordKey(e)}`;
}

interface NodeLife {
  life: number;
  highWatermark: number;
  applied: number;
}

export class SafetyChecker {
  /** epoch → the node that led it. */
  private readonly leaders = new Map<number, number>();
  /** The committed prefix as observed on any node: offset → "epoch/record". */
  private readonly committed: string[] = [];
  /** The one sequence every node applies a prefix of: offset → "epoch/record". */
  private readonly appliedSequence: string[] = [];
  /** "offset:epoch" → "record|previous epoch": the log matching witness. */
  private readonly entriesSeen = new Map<string, string>();
  /** node → its last durable election state, across restarts. */
  private readonly durableElection = new Map<number, ElectionState>();
  /** "node:epoch" → the candidate it granted its vote to. */
  private readonly votesGranted = new Map<string, number>();
  private readonly lives = new Map<number, NodeLife>();
  private readonly leadersSeen = new Set<string>();

  get committedCount(): number {
    return this.committed.length;
  }

  get appliedCount(): number {
    return this.appliedSequence.length;
  }

  get leaderEpochCount(): number {
    return this.leaders.size;
  }

  leaderOf(epoch: number): number | undefined {
    return this.leaders.get(epoch);
  }

  /** A node starts, from its snapshot (the keys of offsets below its end) when it has one. */
  startLife(node: number, life: number, snapshotKeys: readonly string[] = []): void {
    this.checkSnapshot(node, snapshotKeys);
    this.lives.set(node, { life, highWatermark: snapshotKeys.length, applied: snapshotKeys.length });
  }

  /** A follower replaced its log and state with the leader's snapshot. */
  onInstallSnapshot(node: number, snapshotKeys: readonly string[]): void {
    const life = this.lives.get(node)!;
    if (snapshotKeys.length < life.highWatermark) {
      throw new SafetyViolation(
        `node ${node} installed a snapshot ending at ${snapshotKeys.length}, below its high watermark ${life.highWatermark}`,
      );
    }
    this.checkSnapshot(node, snapshotKeys);
    life.applied = snapshotKeys.length;
    life.highWatermark = snapshotKeys.length;
  }

  /** A node lost its whole disk (an observer): its durable election state goes with it. */
  forget(node: number): void {
    this.durableElection.delete(node);
  }

  /** A snapshot holds committed entries only, so a prefix of what every node applies. */
  private checkSnapshot(node: number, keys: readonly string[]): void {
    if (keys.length > this.appliedSequence.length) {
      throw new SafetyViolation(
        `node ${node} has a snapshot of ${keys.length} entries, but only ${this.appliedSequence.length} were ever applied`,
      );
    }
    keys.forEach((k, o) => {
      if (k !== this.appliedSequence[o] || k !== this.committed[o]) {
        throw new SafetyViolation(
          `state machine safety: node ${node}'s snapshot holds ${k} at ${o}, others applied ${this.appliedSequence[o]}`,
        );
      }
    });
  }

  onPersistElection(node: number, next: ElectionState): void {
    const prev = this.durableElection.get(node);
    if (prev) {
      if (next.epoch < prev.epoch)
        throw new SafetyViolation(`node ${node} persisted epoch ${next.epoch} after epoch ${prev.epoch}`);
      if (next.epoch === prev.epoch && prev.votedId !== -1 && next.votedId !== prev.votedId) {
        throw new SafetyViolation(
          `node ${node} changed its vote in epoch ${next.epoch} from ${prev.votedId} to ${next.votedId}`,
        );
      }
    }
    this.durableElection.set(node, { ...next });
  }

  /** Called as the node sends a VoteResponse, after the actions before it were performed. */
  onVoteResponseSent(node: number, to: number, res: VoteResponse): void {
    if (!res.voteGranted || res.preVote) return;
    const key = `${node}:${res.leaderEpoch}`;
    const prior = this.votesGranted.get(key);
    if (prior !== undefined && prior !== to)
      throw new SafetyViolation(`node ${node} granted votes to ${prior} and ${to} in epoch ${res.leaderEpoch}`);
    this.votesGranted.set(key, to);
    const durable = this.durableElection.get(node);
    if (!durable || durable.epoch !== res.leaderEpoch || durable.votedId !== to) {
      throw new SafetyViolation(
        `node ${node} granted its vote to ${to} in epoch ${res.leaderEpoch} before persisting it (durable: ${JSON.stringify(durable)})`,
      );
    }
  }

  /** Called for every entry a node appends, with the epoch of the entry before it in that node's log (or snapshot). */
  onAppend(node: number, entries: readonly LogEntry[], previousEpoch: number): void {
    let prevEpoch = previousEpoch;
    for (const e of entries) {
      const key = `${e.offset}:${e.epoch}`;
      const witness = `${recordKey(e)}|${prevEpoch}`;
      const seen = this.entriesSeen.get(key);
      if (seen === undefined) this.entriesSeen.set(key, witness);
      else if (seen !== witness)
        throw new SafetyViolation(`log matching: node ${node} appended ${key} as ${witness}, another log has ${seen}`);
      prevEpoch = e.epoch;
    }
  }

  onTruncate(node: number, offset: number): void {
    const life = this.lives.get(node);
    if (life && offset < life.highWatermark) {
      throw new SafetyViolation(`node ${node} truncated to ${offset}, below its high watermark ${life.highWatermark}`);
    }
  }

  onApply(node: number, entries: readonly LogEntry[]): void {
    const life = this.lives.get(node)!;
    for (const e of entries) {
      if (e.offset !== life.applied)
        throw new SafetyViolation(`node ${node} applied offset ${e.offset}, expected ${life.applied}`);
      const value = entryKey(e);
      if (e.offset < this.appliedSequence.length) {
        if (this.appliedSequence[e.offset] !== value) {
          throw new SafetyViolation(
            `state machine safety: node ${node} applied ${value} at ${e.offset}, others applied ${this.appliedSequence[e.offset]}`,
          );
        }
      } else {
        this.appliedSequence.push(value);
      }
      life.applied++;
    }
  }

  /** After every step, for every live node. `keyAt` reads the node's current log (and snapshot). */
  afterStep(view: QuorumView, keyAt: (offset: number) => string | undefined, logEnd: number): void {
    const node = view.nodeId;
    const life = this.lives.get(node)!;
    if (view.state === 'leader') {
      const prior = this.leaders.get(view.epoch);
      if (prior !== undefined && prior !== node)
        throw new SafetyViolation(`election safety: nodes ${prior} and ${node} both led epoch ${view.epoch}`);
      this.leaders.set(view.epoch, node);
      const seenKey = `${node}:${view.epoch}`;
      if (!this.leadersSeen.has(seenKey)) {
        this.leadersSeen.add(seenKey);
        for (let o = 0; o < this.committed.length; o++) {
          const k = keyAt(o);
          if (k !== this.committed[o]) {
            throw new SafetyViolation(
              `leader completeness: node ${node} leads epoch ${view.epoch} without committed entry ${o} (${this.committed[o]}); it has ${k ?? 'nothing'}`,
            );
          }
        }
      }
    }
    if (view.highWatermark < life.highWatermark) {
      throw new SafetyViolation(
        `node ${node}'s high watermark moved back from ${life.highWatermark} to ${view.highWatermark}`,
      );
    }
    if (view.highWatermark > logEnd)
      throw new SafetyViolation(`node ${node}'s high watermark ${view.highWatermark} is past its log end ${logEnd}`);
    for (let o = life.highWatermark; o < view.highWatermark; o++) this.checkCommitted(node, o, keyAt(o));
    life.highWatermark = view.highWatermark;
  }

  private checkCommitted(node: number, offset: number, value: string | undefined): void {
    if (value === undefined)
      throw new SafetyViolation(`node ${node} has no entry at ${offset}, below its high watermark`);
    if (offset < this.committed.length) {
      if (this.committed[offset] !== value) {
        throw new SafetyViolation(
          `committed entry ${offset} is ${this.committed[offset]} on one node and ${value} on node ${node}`,
        );
      }
    } else if (offset === this.committed.length) {
      this.committed.push(value);
    } else {
      throw new SafetyViolation(`node ${node} commits ${offset} with a gap after ${this.committed.length}`);
    }
  }
}
