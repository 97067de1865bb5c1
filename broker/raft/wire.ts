// The quorum's plain messages (messages.ts) ↔ the bodies of Kafka's KRaft RPCs, in both
// directions: we send requests and answer them. Pure functions, no I/O.
//
// What the wire adds to the flattened messages, as Kafka 4.1's KafkaRaftClient/RaftUtil do it:
// - topics[].partitions[] around the one partition `__cluster_metadata-0`; Fetch names it by
//   Kafka's fixed topic id (Uuid.METADATA_TOPIC_ID = Uuid(0, 1)) from v13 and by name before.
// - ClusterId: a request naming another cluster is answered INCONSISTENT_CLUSTER_ID (top-level),
//   one naming no cluster (null) is accepted, as Kafka does; a request for another partition is
//   answered INVALID_REQUEST. Requests decode to `{ ok: false, response }` in those cases.
// - Directory ids are ZERO_UUID: with a static voter set (controller.quorum.voters, kraft.version
//   0) Kafka's voters have none either, and a zero id matches any voter of that id.
// - Endpoints: BeginQuorumEpoch v1 and EndQuorumEpoch v1 carry the leader's listeners (without
//   them a Kafka voter falls back to its voter set's); responses name the leader's host:port on
//   the controller listener (NodeEndpoints, Vote/BeginQuorumEpoch/EndQuorumEpoch v1+, Fetch v16+).
// - Vote v2 (KIP-996): ReplicaEpoch is the sender's epoch, i.e. the candidate epoch for a vote and
//   one less for a pre-vote. A pre-vote exists only from v2, so it must be sent at v2 or not at
//   all (`requestVersion`); before v2 the field would silently drop and it would read as a vote.
// - Fetch: ReplicaId before v15, ReplicaState.ReplicaId from v15; DivergingEpoch, CurrentLeader
//   and SnapshotId as tagged fields; the records are opaque Kafka record batches (`EntryCodec`).
// - FetchSnapshot: the snapshot's bytes travel as UnalignedRecords, chunk by chunk (Position).
// Every body is filled for every version; the schema writes only the fields a version has.

import { ErrorCode } from '../protocol/errors.js';
import type { RequestInputOf } from '../protocol/frames.js';
import type {
  BeginQuorumEpoch,
  DescribeQuorum,
  EndQuorumEpoch,
  Fetch,
  FetchSnapshot,
  Vote,
} from '../protocol/messages/index.js';
import { ZERO_UUID, type DecodedResponseOf, type RequestOf, type ResponseOf } from '../protocol/schema.js';
import type { LogEntry } from './log.js';
import {
  NO_LEADER,
  type BeginQuorumEpochRequest,
  type BeginQuorumEpochResponse,
  type EndQuorumEpochRequest,
  type EndQuorumEpochResponse,
  type FetchRequest,
  type FetchResponse,
  type FetchSnapshotRequest,
  type FetchSnapshotResponse,
  type RaftRequest,
  type VoteRequest,
  type VoteResponse,
} from './messages.js';
import type { QuorumView } from './types.js';

export const METADATA_TOPIC = '__cluster_metadata';
export const METADATA_PARTITION = 0;
/** Kafka's Uuid.METADATA_TOPIC_ID, Uuid(0, 1), in the base64url form Kafka prints. */
export const METADATA_TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';

/**
 * The versions Kafka 4.1 controllers send (their latest, negotiated by ApiVersions), and so the
 * latest we define: a NodeClient asked for 'latest' settles on these against Kafka 4.1 or Runnel.
 */
export const KRAFT_RPC_VERSIONS = {
  vote: 2,
  beginQuorumEpoch: 1,
  endQuorumEpoch: 1,
  fetch: 18,
  fetchSnapshot: 1,
  describeQuorum: 2,
};
/** The first Vote version with PreVote (KIP-996). */
export const PRE_VOTE_MIN_VERSION = 2;
/** Kafka's KafkaRaftClient.MAX_FETCH_SIZE_BYTES: the Fetch MaxBytes a voter sends. */
export const RAFT_FETCH_MAX_BYTES = 8 * 1024 * 1024;
/** Fetch v18's HighWatermark when the fetcher does not report one: Long.MAX_VALUE, "not supported". */
const HIGH_WATERMARK_NOT_SUPPORTED = 2 ** 63;

/** One named listener of a node. */
export interface ListenerEndpoint {
  name: string;
  host: string;
  port: number;
}

/** A node's listeners (Kafka's Endpoints): the leader's in BeginQuorumEpoch/EndQuorumEpoch, a voter's in DescribeQuorum. */
export type NodeEndpoints = readonly ListenerEndpoint[];

/** What the adapter needs to know about this node and the quorum. */
export interface RaftWireContext {
  clusterId: string;
  /** The controller listener's name: responses name the leader's host:port on it. */
  listenerName: string;
  /** A node's listeners (from controller.quorum.voters, or learned), undefined if unknown. */
  endpointsOf(nodeId: number): NodeEndpoints | undefined;
}

/** Log entries ↔ Kafka record batches (the metadata log's format). */
export interface EntryCodec {
  encodeEntries(entries: LogEntry[]): Buffer;
  decodeEntries(buf: Buffer): LogEntry[];
}

/** A leader's address as responses carry it (Kafka's NodeEndpoint struct). */
export interface LeaderAddress {
  nodeId: number;
  host: string;
  port: number;
}

/** A decoded request: the message, or the error answer Kafka would give instead. */
export type RequestFromWire<M, Res> =
  | {
      ok: true;
      message: M;
      /** BeginQuorumEpoch/EndQuorumEpoch v1: the leader's listeners (empty otherwise). */
      leaderEndpoints: ListenerEndpoint[];
    }
  | { ok: false; errorCode: number; response: Res };

/** A decoded response, and the leader addresses it named. */
export interface ResponseFromWire<M> {
  message: M;
  leaderAddresses: LeaderAddress[];
}

type VoteRequestBody = RequestInputOf<typeof Vote>;
type VoteResponseBody = ResponseOf<typeof Vote>;
type BeginQuorumEpochRequestBody = RequestInputOf<typeof BeginQuorumEpoch>;
type BeginQuorumEpochResponseBody = ResponseOf<typeof BeginQuorumEpoch>;
type EndQuorumEpochRequestBody = RequestInputOf<typeof EndQuorumEpoch>;
type EndQuorumEpochResponseBody = ResponseOf<typeof EndQuorumEpoch>;
type FetchRequestBody = RequestInputOf<typeof Fetch>;
type FetchResponseBody = ResponseOf<typeof Fetch>;
type FetchSnapshotRequestBody = RequestInputOf<typeof FetchSnapshot>;
type FetchSnapshotResponseBody = ResponseOf<typeof FetchSnapshot>;
type DescribeQuorumResponseBody = ResponseOf<typeof DescribeQuorum>;
type DescribeQuorumPartition = DescribeQuorumResponseBody['topics'][number]['partitions'][number];

/** The version to send a request at: a pre-vote needs Vote v2; everything else takes the latest both sides know. */
export function requestVersion(m: RaftRequest): number | 'latest' {
  return m.type === 'VoteRequest' && m.preVote ? PRE_VOTE_MIN_VERSION : 'latest';
}

// ---- shared checks -------------------------------------------------------------------------

/** Kafka accepts a request without a cluster id; one with another id is refused. */
function clusterIdMatches(requestClusterId: string | null, ctx: RaftWireContext): boolean {
  return requestClusterId === null || requestClusterId === ctx.clusterId;
}

/** The one partition of a request for `__cluster_metadata-0`, or undefined (Kafka's hasValidTopicPartition). */
function metadataPartition<P extends { partitionIndex: number }>(
  topics: ReadonlyArray<{ topicName: string; partitions: readonly P[] }>,
): P | undefined {
  if (topics.length !== 1 || topics[0].topicName !== METADATA_TOPIC) return undefined;
  const partitions = topics[0].partitions;
  if (partitions.length !== 1 || partitions[0].partitionIndex !== METADATA_PARTITION) return undefined;
  return partitions[0];
}

/** The leader's host:port on the controller listener, as responses name it. */
function leaderAddresses(leaderId: number, ctx: RaftWireContext): LeaderAddress[] {
  if (leaderId < 0) return [];
  const endpoint = ctx.endpointsOf(leaderId)?.find((e) => e.name === ctx.listenerName);
  return endpoint ? [{ nodeId: leaderId, host: endpoint.host, port: endpoint.port }] : [];
}

function leaderEndpoints(leaderId: number, ctx: RaftWireContext): ListenerEndpoint[] {
  return (ctx.endpointsOf(leaderId) ?? []).map((e) => ({ name: e.name, host: e.host, port: e.port }));
}

function addressesOf(nodeEndpoints: ReadonlyArray<{ nodeId: number; host: string; port: number }>): LeaderAddress[] {
  return nodeEndpoints.map((e) => ({ nodeId: e.nodeId, host: e.host, port: e.port }));
}

function refuse<Res>(errorCode: number, response: Res): { ok: false; errorCode: number; response: Res } {
  return { ok: false, errorCode, response };
}

/** A response's partition-level fields, or the top-level error when it has one (or names no such partition). */
function partitionOrError<P extends { partitionIndex: number; errorCode: number }>(body: {
  errorCode: number;
  topics: Array<{ topicName: string; partitions: P[] }>;
}): P | { errorCode: number; leaderId: number; leaderEpoch: number } {
  const p = metadataPartition(body.topics);
  if (body.errorCode !== ErrorCode.NONE || !p) {
    return {
      errorCode: body.errorCode !== ErrorCode.NONE ? body.errorCode : ErrorCode.INVALID_REQUEST,
      leaderId: NO_LEADER,
      leaderEpoch: -1,
    };
  }
  return p;
}

// ---- Vote (52) -----------------------------------------------------------------------------

export function voteRequestToWire(m: VoteRequest): VoteRequestBody {
  return {
    clusterId: m.clusterId,
    voterId: m.voterId,
    topics: [
      {
        topicName: METADATA_TOPIC,
        partitions: [
          {
            partitionIndex: METADATA_PARTITION,
            replicaEpoch: m.preVote ? m.candidateEpoch - 1 : m.candidateEpoch,
            replicaId: m.candidateId,
            replicaDirectoryId: ZERO_UUID,
            voterDirectoryId: ZERO_UUID,
            lastOffsetEpoch: m.lastOffsetEpoch,
            lastOffset: m.lastOffset,
            preVote: m.preVote,
          },
        ],
      },
    ],
  };
}

export function voteRequestFromWire(
  body: RequestOf<typeof Vote>,
  ctx: RaftWireContext,
): RequestFromWire<VoteRequest, VoteResponseBody> {
  const reject = (errorCode: number) => refuse(errorCode, { errorCode, topics: [] });
  if (!clusterIdMatches(body.clusterId, ctx)) return reject(ErrorCode.INCONSISTENT_CLUSTER_ID);
  const p = metadataPartition(body.topics);
  if (!p) return reject(ErrorCode.INVALID_REQUEST);
  const candidateEpoch = p.preVote ? p.replicaEpoch + 1 : p.replicaEpoch;
  return {
    ok: true,
    message: {
      type: 'VoteRequest',
      clusterId: ctx.clusterId,
      voterId: body.voterId,
      candidateEpoch,
      candidateId: p.replicaId,
      lastOffsetEpoch: p.lastOffsetEpoch,
      lastOffset: p.lastOffset,
      preVote: p.preVote,
      replicaEpoch: candidateEpoch - 1,
    },
    leaderEndpoints: [],
  };
}

export function voteResponseToWire(m: VoteResponse, ctx: RaftWireContext): VoteResponseBody {
  return {
    errorCode: ErrorCode.NONE,
    topics: [
      {
        topicName: METADATA_TOPIC,
        partitions: [
          {
            partitionIndex: METADATA_PARTITION,
            errorCode: m.errorCode,
            leaderId: m.leaderId,
            leaderEpoch: m.leaderEpoch,
            voteGranted: m.voteGranted,
          },
        ],
      },
    ],
    nodeEndpoints: leaderAddresses(m.leaderId, ctx),
  };
}

/** `request` is the Vote it answers: whether it was a pre-vote is not on the wire. */
export function voteResponseFromWire(
  body: DecodedResponseOf<typeof Vote>,
  request: Pick<VoteRequest, 'preVote'>,
): ResponseFromWire<VoteResponse> {
  const p = partitionOrError(body);
  return {
    message: {
      type: 'VoteResponse',
      errorCode: p.errorCode,
      leaderId: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      voteGranted: 'voteGranted' in p && p.voteGranted,
      preVote: request.preVote,
    },
    leaderAddresses: addressesOf(body.nodeEndpoints),
  };
}

// ---- BeginQuorumEpoch (53) -----------------------------------------------------------------

export function beginQuorumEpochRequestToWire(
  m: BeginQuorumEpochRequest,
  ctx: RaftWireContext,
): BeginQuorumEpochRequestBody {
  return {
    clusterId: m.clusterId,
    voterId: m.voterId,
    topics: [
      {
        topicName: METADATA_TOPIC,
        partitions: [
          {
            partitionIndex: METADATA_PARTITION,
            voterDirectoryId: ZERO_UUID,
            leaderId: m.leaderId,
            leaderEpoch: m.leaderEpoch,
          },
        ],
      },
    ],
    leaderEndpoints: leaderEndpoints(m.leaderId, ctx),
  };
}

export function beginQuorumEpochRequestFromWire(
  body: RequestOf<typeof BeginQuorumEpoch>,
  ctx: RaftWireContext,
): RequestFromWire<BeginQuorumEpochRequest, BeginQuorumEpochResponseBody> {
  const reject = (errorCode: number) => refuse(errorCode, { errorCode, topics: [] });
  if (!clusterIdMatches(body.clusterId, ctx)) return reject(ErrorCode.INCONSISTENT_CLUSTER_ID);
  const p = metadataPartition(body.topics);
  if (!p) return reject(ErrorCode.INVALID_REQUEST);
  return {
    ok: true,
    message: {
      type: 'BeginQuorumEpochRequest',
      clusterId: ctx.clusterId,
      voterId: body.voterId,
      leaderId: p.leaderId,
      leaderEpoch: p.leaderEpoch,
    },
    leaderEndpoints: body.leaderEndpoints,
  };
}

export function beginQuorumEpochResponseToWire(
  m: BeginQuorumEpochResponse,
  ctx: RaftWireContext,
): BeginQuorumEpochResponseBody {
  return epochResponseToWire(m, ctx);
}

export function beginQuorumEpochResponseFromWire(
  body: DecodedResponseOf<typeof BeginQuorumEpoch>,
): ResponseFromWire<BeginQuorumEpochResponse> {
  return epochResponseFromWire('BeginQuorumEpochResponse', body);
}

// ---- EndQuorumEpoch (54) -------------------------------------------------------------------

export function endQuorumEpochRequestToWire(m: EndQuorumEpochRequest, ctx: RaftWireContext): EndQuorumEpochRequestBody {
  return {
    clusterId: m.clusterId,
    topics: [
      {
        topicName: METADATA_TOPIC,
        partitions: [
          {
            partitionIndex: METADATA_PARTITION,
            leaderId: m.leaderId,
            leaderEpoch: m.leaderEpoch,
            preferredSuccessors: [...m.preferredSuccessors],
            preferredCandidates: m.preferredSuccessors.map((id) => ({
              candidateId: id,
              candidateDirectoryId: ZERO_UUID,
            })),
          },
        ],
      },
    ],
    leaderEndpoints: leaderEndpoints(m.leaderId, ctx),
  };
}

export function endQuorumEpochRequestFromWire(
  body: RequestOf<typeof EndQuorumEpoch>,
  ctx: RaftWireContext,
): RequestFromWire<EndQuorumEpochRequest, EndQuorumEpochResponseBody> {
  const reject = (errorCode: number) => refuse(errorCode, { errorCode, topics: [] });
  if (!clusterIdMatches(body.clusterId, ctx)) return reject(ErrorCode.INCONSISTENT_CLUSTER_ID);
  const p = metadataPartition(body.topics);
  if (!p) return reject(ErrorCode.INVALID_REQUEST);
  // v0 lists ids (PreferredSuccessors), v1 replica keys (PreferredCandidates); the absent one decodes empty.
  const successors =
    p.preferredCandidates.length > 0 ? p.preferredCandidates.map((c) => c.candidateId) : p.preferredSuccessors;
  return {
    ok: true,
    message: {
      type: 'EndQuorumEpochRequest',
      clusterId: ctx.clusterId,
      leaderId: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      preferredSuccessors: successors,
    },
    leaderEndpoints: body.leaderEndpoints,
  };
}

export function endQuorumEpochResponseToWire(
  m: EndQuorumEpochResponse,
  ctx: RaftWireContext,
): EndQuorumEpochResponseBody {
  return epochResponseToWire(m, ctx);
}

export function endQuorumEpochResponseFromWire(
  body: DecodedResponseOf<typeof EndQuorumEpoch>,
): ResponseFromWire<EndQuorumEpochResponse> {
  return epochResponseFromWire('EndQuorumEpochResponse', body);
}

/** BeginQuorumEpoch and EndQuorumEpoch answer alike: the partition's error, leader and epoch. */
function epochResponseToWire(
  m: { errorCode: number; leaderId: number; leaderEpoch: number },
  ctx: RaftWireContext,
): BeginQuorumEpochResponseBody & EndQuorumEpochResponseBody {
  return {
    errorCode: ErrorCode.NONE,
    topics: [
      {
        topicName: METADATA_TOPIC,
        partitions: [
          {
            partitionIndex: METADATA_PARTITION,
            errorCode: m.errorCode,
            leaderId: m.leaderId,
            leaderEpoch: m.leaderEpoch,
          },
        ],
      },
    ],
    nodeEndpoints: leaderAddresses(m.leaderId, ctx),
  };
}

function epochResponseFromWire<T extends 'BeginQuorumEpochResponse' | 'EndQuorumEpochResponse'>(
  type: T,
  body: DecodedResponseOf<typeof BeginQuorumEpoch> | DecodedResponseOf<typeof EndQuorumEpoch>,
): ResponseFromWire<{ type: T; errorCode: number; leaderId: number; leaderEpoch: number }> {
  const p = partitionOrError(body);
  return {
    message: { type, errorCode: p.errorCode, leaderId: p.leaderId, leaderEpoch: p.leaderEpoch },
    leaderAddresses: addressesOf(body.nodeEndpoints),
  };
}

// ---- Fetch (1) of __cluster_metadata-0 ------------------------------------------------------

/**
 * `highWatermark` is the fetcher's own (Fetch v18, KIP-1166: a leader answers at once when it
 * knows a higher one); left out, the request says "not supported" and the leader holds the fetch
 * until there are records or MaxWaitMs passes, as before v18.
 */
export function fetchRequestToWire(m: FetchRequest, options: { highWatermark?: number } = {}): FetchRequestBody {
  return {
    clusterId: m.clusterId,
    replicaId: m.replicaId,
    replicaState: { replicaId: m.replicaId, replicaEpoch: -1 },
    maxWaitMs: m.maxWaitMs,
    minBytes: 0,
    maxBytes: RAFT_FETCH_MAX_BYTES,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: METADATA_TOPIC,
        topicId: METADATA_TOPIC_ID,
        partitions: [
          {
            partition: METADATA_PARTITION,
            currentLeaderEpoch: m.currentLeaderEpoch,
            fetchOffset: m.fetchOffset,
            lastFetchedEpoch: m.lastFetchedEpoch,
            logStartOffset: -1,
            partitionMaxBytes: RAFT_FETCH_MAX_BYTES,
            replicaDirectoryId: ZERO_UUID,
            highWatermark: options.highWatermark ?? HIGH_WATERMARK_NOT_SUPPORTED,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

/** The fetcher's high watermark from a v18 request (undefined when it reports none). */
export function fetchRequestHighWatermark(body: RequestOf<typeof Fetch>): number | undefined {
  const hw = body.topics[0]?.partitions[0]?.highWatermark;
  return hw === undefined || hw >= HIGH_WATERMARK_NOT_SUPPORTED ? undefined : hw;
}

export function fetchRequestFromWire(
  body: RequestOf<typeof Fetch>,
  ctx: RaftWireContext,
): RequestFromWire<FetchRequest, FetchResponseBody> {
  const reject = (errorCode: number) =>
    refuse(errorCode, { throttleTimeMs: 0, errorCode, sessionId: 0, responses: [] });
  if (!clusterIdMatches(body.clusterId, ctx)) return reject(ErrorCode.INCONSISTENT_CLUSTER_ID);
  const topic = body.topics.length === 1 ? body.topics[0] : undefined;
  // By topic id from v13, by name before (the field a version lacks decodes as its default).
  const isMetadataTopic = topic && (topic.topicId === METADATA_TOPIC_ID || topic.topic === METADATA_TOPIC);
  const p = isMetadataTopic && topic.partitions.length === 1 ? topic.partitions[0] : undefined;
  if (!p || p.partition !== METADATA_PARTITION) return reject(ErrorCode.INVALID_REQUEST);
  return {
    ok: true,
    message: {
      type: 'FetchRequest',
      clusterId: ctx.clusterId,
      // ReplicaState.ReplicaId from v15, ReplicaId before.
      replicaId: body.replicaState.replicaId >= 0 ? body.replicaState.replicaId : body.replicaId,
      maxWaitMs: body.maxWaitMs,
      currentLeaderEpoch: p.currentLeaderEpoch,
      fetchOffset: p.fetchOffset,
      lastFetchedEpoch: p.lastFetchedEpoch,
    },
    leaderEndpoints: [],
  };
}

export function fetchResponseToWire(
  m: FetchResponse,
  ctx: RaftWireContext,
  encodeEntries: EntryCodec['encodeEntries'],
): FetchResponseBody {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: [
      {
        topic: METADATA_TOPIC,
        topicId: METADATA_TOPIC_ID,
        partitions: [
          {
            partitionIndex: METADATA_PARTITION,
            errorCode: m.errorCode,
            highWatermark: m.highWatermark,
            lastStableOffset: -1,
            logStartOffset: m.logStartOffset ?? -1,
            divergingEpoch: m.divergingEpoch
              ? { epoch: m.divergingEpoch.epoch, endOffset: m.divergingEpoch.endOffset }
              : { epoch: -1, endOffset: -1 },
            currentLeader: { leaderId: m.currentLeader.leaderId, leaderEpoch: m.currentLeader.leaderEpoch },
            snapshotId: m.snapshotId
              ? { endOffset: m.snapshotId.offset, epoch: m.snapshotId.epoch }
              : { endOffset: -1, epoch: -1 },
            abortedTransactions: [],
            preferredReadReplica: -1,
            records: m.records.length > 0 ? encodeEntries(m.records) : Buffer.alloc(0),
          },
        ],
      },
    ],
    nodeEndpoints: leaderAddresses(m.currentLeader.leaderId, ctx).map((a) => ({ ...a, rack: null })),
  };
}

export function fetchResponseFromWire(
  body: DecodedResponseOf<typeof Fetch>,
  decodeEntries: EntryCodec['decodeEntries'],
): ResponseFromWire<FetchResponse> {
  const leaderAddresses = addressesOf(body.nodeEndpoints);
  const topic = body.responses.length === 1 ? body.responses[0] : undefined;
  const isMetadataTopic = topic && (topic.topicId === METADATA_TOPIC_ID || topic.topic === METADATA_TOPIC);
  const p = isMetadataTopic && topic.partitions.length === 1 ? topic.partitions[0] : undefined;
  if (body.errorCode !== ErrorCode.NONE || !p || p.partitionIndex !== METADATA_PARTITION) {
    return {
      message: {
        type: 'FetchResponse',
        errorCode: body.errorCode !== ErrorCode.NONE ? body.errorCode : ErrorCode.INVALID_REQUEST,
        highWatermark: -1,
        divergingEpoch: null,
        currentLeader: { leaderId: NO_LEADER, leaderEpoch: -1 },
        snapshotId: null,
        records: [],
      },
      leaderAddresses,
    };
  }
  // Kafka's leader answers a fetch below its log start with its latest snapshot's id (both ≥ 0).
  const needsSnapshot = p.snapshotId.endOffset >= 0 && p.snapshotId.epoch >= 0;
  return {
    message: {
      type: 'FetchResponse',
      errorCode: p.errorCode,
      highWatermark: p.highWatermark,
      // Kafka's FetchResponse.isDivergingEpoch: an epoch ≥ 0.
      divergingEpoch: p.divergingEpoch.epoch >= 0 ? { ...p.divergingEpoch } : null,
      currentLeader: { leaderId: p.currentLeader.leaderId, leaderEpoch: p.currentLeader.leaderEpoch },
      snapshotId: needsSnapshot ? { offset: p.snapshotId.endOffset, epoch: p.snapshotId.epoch } : null,
      records: p.records && p.records.length > 0 ? decodeEntries(p.records) : [],
    },
    leaderAddresses,
  };
}

// ---- FetchSnapshot (59) of __cluster_metadata-0 ---------------------------------------------

export function fetchSnapshotRequestToWire(m: FetchSnapshotRequest): FetchSnapshotRequestBody {
  return {
    clusterId: m.clusterId,
    replicaId: m.replicaId,
    maxBytes: m.maxBytes,
    topics: [
      {
        name: METADATA_TOPIC,
        partitions: [
          {
            partition: METADATA_PARTITION,
            currentLeaderEpoch: m.currentLeaderEpoch,
            snapshotId: { endOffset: m.snapshotId.offset, epoch: m.snapshotId.epoch },
            position: m.position,
            replicaDirectoryId: ZERO_UUID,
          },
        ],
      },
    ],
  };
}

export function fetchSnapshotRequestFromWire(
  body: RequestOf<typeof FetchSnapshot>,
  ctx: RaftWireContext,
): RequestFromWire<FetchSnapshotRequest, FetchSnapshotResponseBody> {
  const reject = (errorCode: number) =>
    refuse(errorCode, { throttleTimeMs: 0, errorCode, topics: [], nodeEndpoints: [] });
  if (!clusterIdMatches(body.clusterId, ctx)) return reject(ErrorCode.INCONSISTENT_CLUSTER_ID);
  const topic = body.topics.length === 1 && body.topics[0].name === METADATA_TOPIC ? body.topics[0] : undefined;
  const p = topic && topic.partitions.length === 1 ? topic.partitions[0] : undefined;
  if (!p || p.partition !== METADATA_PARTITION) return reject(ErrorCode.INVALID_REQUEST);
  return {
    ok: true,
    message: {
      type: 'FetchSnapshotRequest',
      clusterId: ctx.clusterId,
      replicaId: body.replicaId,
      currentLeaderEpoch: p.currentLeaderEpoch,
      snapshotId: { offset: p.snapshotId.endOffset, epoch: p.snapshotId.epoch },
      position: p.position,
      maxBytes: body.maxBytes,
    },
    leaderEndpoints: [],
  };
}

export function fetchSnapshotResponseToWire(m: FetchSnapshotResponse, ctx: RaftWireContext): FetchSnapshotResponseBody {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    topics: [
      {
        name: METADATA_TOPIC,
        partitions: [
          {
            index: METADATA_PARTITION,
            errorCode: m.errorCode,
            snapshotId: { endOffset: m.snapshotId.offset, epoch: m.snapshotId.epoch },
            currentLeader: { leaderId: m.currentLeader.leaderId, leaderEpoch: m.currentLeader.leaderEpoch },
            size: m.size,
            position: m.position,
            unalignedRecords: m.bytes,
          },
        ],
      },
    ],
    nodeEndpoints: leaderAddresses(m.currentLeader.leaderId, ctx),
  };
}

export function fetchSnapshotResponseFromWire(
  body: DecodedResponseOf<typeof FetchSnapshot>,
  request: Pick<FetchSnapshotRequest, 'snapshotId'>,
): ResponseFromWire<FetchSnapshotResponse> {
  const leaderAddresses = addressesOf(body.nodeEndpoints);
  const topic = body.topics.length === 1 && body.topics[0].name === METADATA_TOPIC ? body.topics[0] : undefined;
  const p = topic && topic.partitions.length === 1 ? topic.partitions[0] : undefined;
  if (body.errorCode !== ErrorCode.NONE || !p || p.index !== METADATA_PARTITION) {
    return {
      message: {
        type: 'FetchSnapshotResponse',
        errorCode: body.errorCode !== ErrorCode.NONE ? body.errorCode : ErrorCode.INVALID_REQUEST,
        snapshotId: { ...request.snapshotId },
        currentLeader: { leaderId: NO_LEADER, leaderEpoch: -1 },
        size: -1,
        position: -1,
        bytes: Buffer.alloc(0),
      },
      leaderAddresses,
    };
  }
  return {
    message: {
      type: 'FetchSnapshotResponse',
      errorCode: p.errorCode,
      snapshotId: { offset: p.snapshotId.endOffset, epoch: p.snapshotId.epoch },
      currentLeader: { leaderId: p.currentLeader.leaderId, leaderEpoch: p.currentLeader.leaderEpoch },
      size: p.size,
      position: p.position,
      bytes: p.unalignedRecords ?? Buffer.alloc(0),
    },
    leaderAddresses,
  };
}

// ---- DescribeQuorum (55) --------------------------------------------------------------------

/** Kafka's Errors messages for the two errors DescribeQuorum answers with. */
const NOT_LEADER_OR_FOLLOWER_MESSAGE =
  'For requests intended only for the leader, this error indicates that the broker is not the current leader. ' +
  'For requests intended for any replica, this error indicates that the broker is not a replica of the topic partition.';
const UNKNOWN_TOPIC_OR_PARTITION_MESSAGE = 'This server does not host this topic-partition.';

/**
 * DescribeQuorum as Kafka's leader answers it (KafkaRaftClient.handleDescribeQuorumRequest):
 * every voter (the leader reporting its own durable end offset and `nowMs` as both timestamps;
 * a voter that has not fetched this epoch -1s), observers that fetched, the high watermark, and
 * from v2 the voters' listeners. A request for another partition gets UNKNOWN_TOPIC_OR_PARTITION
 * per partition, a node that is not the leader NOT_LEADER_OR_FOLLOWER.
 *
 * LastCaughtUpTimestamp: the state machine keeps only the last fetch, so a replica whose end
 * offset has reached the leader's reports its last fetch time, one behind -1 (unknown); Kafka
 * remembers the last time it was caught up.
 */
export function describeQuorumResponse(
  request: RequestOf<typeof DescribeQuorum>,
  view: QuorumView,
  voters: ReadonlyArray<{ nodeId: number; listeners: NodeEndpoints }>,
  nowMs: number,
): DescribeQuorumResponseBody {
  const p = metadataPartition(request.topics);
  if (!p) {
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      topics: request.topics.map((t) => ({
        topicName: t.topicName,
        partitions: t.partitions.map((q) => ({
          partitionIndex: q.partitionIndex,
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          errorMessage: UNKNOWN_TOPIC_OR_PARTITION_MESSAGE,
          leaderId: NO_LEADER,
          leaderEpoch: -1,
          highWatermark: -1,
          currentVoters: [],
          observers: [],
        })),
      })),
      nodes: [],
    };
  }
  const answer = (partition: DescribeQuorumPartition, nodes: DescribeQuorumResponseBody['nodes']) => ({
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    topics: [{ topicName: METADATA_TOPIC, partitions: [partition] }],
    nodes,
  });
  if (view.state !== 'leader') {
    return answer(
      {
        partitionIndex: METADATA_PARTITION,
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        errorMessage: NOT_LEADER_OR_FOLLOWER_MESSAGE,
        leaderId: view.leaderId,
        leaderEpoch: view.epoch,
        highWatermark: -1,
        currentVoters: [],
        observers: [],
      },
      [],
    );
  }
  const leaderEnd = view.persistedEndOffset;
  const fetched = new Map(view.replicas.map((r) => [r.replicaId, r]));
  const replicaState = (replicaId: number) => {
    if (replicaId === view.nodeId) {
      return {
        replicaId,
        replicaDirectoryId: ZERO_UUID,
        logEndOffset: leaderEnd,
        lastFetchTimestamp: nowMs,
        lastCaughtUpTimestamp: nowMs,
      };
    }
    const r = fetched.get(replicaId);
    return {
      replicaId,
      replicaDirectoryId: ZERO_UUID,
      logEndOffset: r ? r.logEndOffset : -1,
      lastFetchTimestamp: r ? r.lastFetchTimestamp : -1,
      lastCaughtUpTimestamp: r && r.logEndOffset >= leaderEnd ? r.lastFetchTimestamp : -1,
    };
  };
  return answer(
    {
      partitionIndex: METADATA_PARTITION,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      leaderId: view.nodeId,
      leaderEpoch: view.epoch,
      highWatermark: view.highWatermark,
      currentVoters: voters.map((v) => replicaState(v.nodeId)),
      observers: view.replicas.filter((r) => !r.isVoter).map((r) => replicaState(r.replicaId)),
    },
    voters.map((v) => ({
      nodeId: v.nodeId,
      listeners: v.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })),
    })),
  );
}
