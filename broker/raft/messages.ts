// The quorum's messages as plain objects whose fields mirror Kafka's KRaft RPCs (Vote,
// BeginQuorumEpoch, EndQuorumEpoch, Fetch of `__cluster_metadata`). Kafka nests them as
// topics[].partitions[]; the metadata quorum has one partition (`__cluster_metadata-0`), so the
// partition-level fields are flattened here, and an adapter maps them to the wire:
//   VoteRequest          ClusterId, VoterId, CandidateEpoch, CandidateId, LastOffsetEpoch,
//                        LastOffset, PreVote (v2, KIP-996), ReplicaEpoch (v2)
//   VoteResponse         ErrorCode, LeaderId, LeaderEpoch, VoteGranted
//   BeginQuorumEpoch*    LeaderId, LeaderEpoch, VoterId / ErrorCode, LeaderId, LeaderEpoch
//   EndQuorumEpoch*      LeaderId, LeaderEpoch, PreferredSuccessors / ErrorCode, LeaderId, LeaderEpoch
//   FetchRequest         ReplicaState.ReplicaId, MaxWaitMs, CurrentLeaderEpoch, FetchOffset,
//                        LastFetchedEpoch
//   FetchResponse        ErrorCode, HighWatermark, DivergingEpoch{Epoch, EndOffset},
//                        CurrentLeader{LeaderId, LeaderEpoch}, SnapshotId{EndOffset, Epoch}, Records
//   FetchSnapshot*       ReplicaId, CurrentLeaderEpoch, SnapshotId, Position, MaxBytes /
//                        ErrorCode, SnapshotId, CurrentLeader, Size, Position, UnalignedRecords
// The correlation id of Kafka's request header travels beside the message (see RaftEnvelope).

import type { LogEntry, OffsetAndEpoch } from './log.js';

export const NO_LEADER = -1;

export interface VoteRequest {
  type: 'VoteRequest';
  clusterId: string;
  voterId: number;
  candidateEpoch: number;
  candidateId: number;
  lastOffsetEpoch: number;
  /** The candidate's log end offset. */
  lastOffset: number;
  /** KIP-996: a pre-vote asks whether the voter would vote, without bumping any epoch. */
  preVote: boolean;
  /** KIP-996: the epoch the sender is in (the candidate epoch minus one for a pre-vote). */
  replicaEpoch: number;
}

export interface VoteResponse {
  type: 'VoteResponse';
  errorCode: number;
  leaderId: number;
  leaderEpoch: number;
  voteGranted: boolean;
  /** Echoed so a response to a pre-vote is never taken for a vote (Kafka knows from the request). */
  preVote: boolean;
}

export interface BeginQuorumEpochRequest {
  type: 'BeginQuorumEpochRequest';
  clusterId: string;
  voterId: number;
  leaderId: number;
  leaderEpoch: number;
}

export interface BeginQuorumEpochResponse {
  type: 'BeginQuorumEpochResponse';
  errorCode: number;
  leaderId: number;
  leaderEpoch: number;
}

export interface EndQuorumEpochRequest {
  type: 'EndQuorumEpochRequest';
  clusterId: string;
  leaderId: number;
  leaderEpoch: number;
  /** Voters in the order the resigning leader prefers as successors (most caught up first). */
  preferredSuccessors: number[];
}

export interface EndQuorumEpochResponse {
  type: 'EndQuorumEpochResponse';
  errorCode: number;
  leaderId: number;
  leaderEpoch: number;
}

export interface FetchRequest {
  type: 'FetchRequest';
  clusterId: string;
  /** ReplicaState.ReplicaId: the fetching voter or observer. */
  replicaId: number;
  maxWaitMs: number;
  currentLeaderEpoch: number;
  fetchOffset: number;
  lastFetchedEpoch: number;
}

export interface FetchResponse {
  type: 'FetchResponse';
  errorCode: number;
  /** The leader's high watermark, -1 while the new leader has not committed in its epoch. */
  highWatermark: number;
  /** Set when the fetcher's log diverged: truncate to the end of this epoch, then fetch again. */
  divergingEpoch: { epoch: number; endOffset: number } | null;
  currentLeader: { leaderId: number; leaderEpoch: number };
  /** Set when the fetch offset is below the leader's log start: fetch this snapshot first. */
  snapshotId: OffsetAndEpoch | null;
  /** The leader's log start offset (Kafka's LogStartOffset); informational. */
  logStartOffset?: number;
  records: LogEntry[];
}

export interface FetchSnapshotRequest {
  type: 'FetchSnapshotRequest';
  clusterId: string;
  replicaId: number;
  currentLeaderEpoch: number;
  snapshotId: OffsetAndEpoch;
  /** The byte position to read from. */
  position: number;
  maxBytes: number;
}

export interface FetchSnapshotResponse {
  type: 'FetchSnapshotResponse';
  errorCode: number;
  snapshotId: OffsetAndEpoch;
  currentLeader: { leaderId: number; leaderEpoch: number };
  /** The snapshot's whole size in bytes. */
  size: number;
  position: number;
  /** The snapshot's bytes from `position` (Kafka's UnalignedRecords). */
  bytes: Buffer;
}

export type RaftRequest =
  VoteRequest | BeginQuorumEpochRequest | EndQuorumEpochRequest | FetchRequest | FetchSnapshotRequest;
export type RaftResponse =
  VoteResponse | BeginQuorumEpochResponse | EndQuorumEpochResponse | FetchResponse | FetchSnapshotResponse;
export type RaftMessage = RaftRequest | RaftResponse;

export function isRequest(m: RaftMessage): m is RaftRequest {
  return m.type.endsWith('Request');
}
