// Inputs and outputs of the quorum state machine (quorum.ts). Every event carries the current
// time; every effect is an action the host performs, in order, before it delivers the next event.

import type { LogEntry, OffsetAndEpoch } from './log.js';
import type { RaftMessage } from './messages.js';

export interface RaftConfig {
  nodeId: number;
  /** The fixed voter set (1, 3 or 5 node ids). A node not in it is an observer. */
  voters: readonly number[];
  clusterId: string;
  /** quorum.election.timeout.ms: the base; each timeout is drawn from [base, 2·base). */
  electionTimeoutMs: number;
  /** quorum.fetch.timeout.ms: a follower that hears nothing from its leader this long starts an
   *  election; a leader without fetches from a majority for 1.5× this resigns (check-quorum). */
  fetchTimeoutMs: number;
  /** quorum.election.backoff.max.ms: the cap of the randomized backoff after a lost election. */
  electionBackoffMaxMs: number;
  /** quorum.request.timeout.ms: an unanswered request is sent again after this. */
  requestTimeoutMs: number;
  /** quorum.retry.backoff.ms: the wait after an error answer, and the unit of election backoff. */
  retryBackoffMs: number;
  /** How long the leader holds a fetch that has nothing new (Kafka's fetch MaxWaitMs). */
  fetchMaxWaitMs: number;
  /** The most entries one fetch response carries. */
  maxFetchEntries: number;
  /** The most snapshot bytes one FetchSnapshot asks for. */
  maxSnapshotChunkBytes: number;
  /** KIP-996 pre-vote: ask before bumping the epoch, so a partitioned node cannot disrupt. */
  preVote: boolean;
}

/** Kafka's defaults for the quorum.* keys. */
export const KAFKA_QUORUM_DEFAULTS = {
  electionTimeoutMs: 1000,
  fetchTimeoutMs: 2000,
  electionBackoffMaxMs: 1000,
  requestTimeoutMs: 2000,
  retryBackoffMs: 20,
  fetchMaxWaitMs: 500,
  maxFetchEntries: 1000,
  maxSnapshotChunkBytes: 1024 * 1024,
  preVote: true,
} as const satisfies Partial<RaftConfig>;

/** What must survive a restart besides the log (Kafka's quorum-state file). */
export interface ElectionState {
  epoch: number;
  /** The leader of `epoch` when known, -1 otherwise. */
  leaderId: number;
  /** The candidate this node voted for in `epoch`, -1 if none. Never changes within an epoch. */
  votedId: number;
}

export type StateName = 'unattached' | 'voted' | 'prospective' | 'candidate' | 'leader' | 'follower' | 'resigned';

export type RaftEvent =
  /** Time passed; timers are checked on every event, a tick only brings the time. */
  | { kind: 'tick'; nowMs: number }
  | { kind: 'receive'; nowMs: number; from: number; correlationId: number; message: RaftMessage }
  /** A client (the active controller) asks the leader to append records. */
  | { kind: 'propose'; nowMs: number; records: unknown[] }
  /** The log is durable (fsynced) below `endOffset`. */
  | { kind: 'persisted'; nowMs: number; endOffset: number }
  /** Graceful resignation (shutdown): the leader hands over with EndQuorumEpoch. */
  | { kind: 'resign'; nowMs: number }
  /**
   * The host wrote a snapshot of its state machine at `snapshotId` durably (of entries applied,
   * so committed): the log may now start there (a deleteLogBefore action follows).
   */
  | { kind: 'snapshotWritten'; nowMs: number; snapshotId: OffsetAndEpoch };

export type RaftAction =
  /** Send a request (a fresh correlation id) or a response (the request's correlation id). */
  | { kind: 'send'; to: number; correlationId: number; message: RaftMessage }
  /** Write the election state durably before performing the next action. */
  | { kind: 'persistElectionState'; state: ElectionState }
  /** Append to the log (not yet durable: report a later fsync with a 'persisted' event). */
  | { kind: 'append'; entries: LogEntry[] }
  /** Remove every entry at or after `offset`, durably, before the next action. */
  | { kind: 'truncate'; offset: number }
  /**
   * The snapshot reported by 'snapshotWritten' becomes the latest (FetchSnapshot serves it), and
   * the entries below its end offset go; the log starts there.
   */
  | { kind: 'deleteLogBefore'; snapshotId: OffsetAndEpoch }
  /**
   * A snapshot fetched from the leader: store it durably, replace the whole log with an empty one
   * starting at its end offset, and reset the state machine from it, before the next action.
   * Entries applied from then on continue at `snapshotId.offset`.
   */
  | { kind: 'installSnapshot'; snapshotId: OffsetAndEpoch; data: Buffer }
  /** Entries below the high watermark, in order, each exactly once per process lifetime. */
  | { kind: 'apply'; entries: LogEntry[]; highWatermark: number }
  | { kind: 'stateChanged'; state: StateName; epoch: number; leaderId: number }
  | { kind: 'proposed'; baseOffset: number; lastOffset: number; epoch: number }
  | { kind: 'proposalRejected'; errorCode: number; leaderId: number; epoch: number };

/** A read-only view for the host, DescribeQuorum and the simulator's checks. */
export interface QuorumView {
  nodeId: number;
  state: StateName;
  epoch: number;
  leaderId: number;
  votedId: number;
  highWatermark: number;
  logEndOffset: number;
  persistedEndOffset: number;
  appliedOffset: number;
  /** The log start offset: the latest snapshot's end offset, 0 without one. */
  logStartOffset: number;
  /** Leader only: what each replica last fetched (DescribeQuorum's ReplicaState). */
  replicas: { replicaId: number; logEndOffset: number; lastFetchTimestamp: number; isVoter: boolean }[];
}
