import { describe, expect, test } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import {
  BeginQuorumEpoch,
  DescribeQuorum,
  EndQuorumEpoch,
  Fetch,
  FetchSnapshot,
  Vote,
} from '../protocol/messages/index.js';
import { compile, isFlexible, ZERO_UUID, type Fields, type Struct } from '../protocol/schema.js';
import { Reader, Writer } from '../protocol/wire.js';
import type { LogEntry } from './log.js';
import type {
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  VoteRequest,
  VoteResponse,
} from './messages.js';
import type { QuorumView } from './types.js';
import {
  beginQuorumEpochRequestFromWire,
  beginQuorumEpochRequestToWire,
  beginQuorumEpochResponseFromWire,
  beginQuorumEpochResponseToWire,
  describeQuorumResponse,
  endQuorumEpochRequestFromWire,
  endQuorumEpochRequestToWire,
  endQuorumEpochResponseFromWire,
  endQuorumEpochResponseToWire,
  fetchRequestFromWire,
  fetchRequestHighWatermark,
  fetchRequestToWire,
  fetchResponseFromWire,
  fetchResponseToWire,
  fetchSnapshotRequestFromWire,
  fetchSnapshotRequestToWire,
  fetchSnapshotResponseFromWire,
  fetchSnapshotResponseToWire,
  KRAFT_RPC_VERSIONS,
  METADATA_TOPIC,
  METADATA_TOPIC_ID,
  requestVersion,
  voteRequestFromWire,
  voteRequestToWire,
  voteResponseFromWire,
  voteResponseToWire,
  type NodeEndpoints,
  type RaftWireContext,
} from './wire.js';

// The metadata log's codec (encodeRaftEntries/decodeRaftEntries) is not in the tree yet; the
// records field is opaque here, so a JSON stand-in shows the entries travel intact.
const encodeEntries = (entries: LogEntry[]) => Buffer.from(JSON.stringify(entries));
const decodeEntries = (buf: Buffer) => JSON.parse(buf.toString()) as LogEntry[];

const LISTENER = 'CONTROLLER';
const ENDPOINTS = new Map<number, NodeEndpoints>([
  [1, [{ name: LISTENER, host: 'c-1.example', port: 9093 }]],
  [
    2,
    [
      { name: LISTENER, host: 'c-2.example', port: 9093 },
      { name: 'REPLICATION', host: 'c-2.example', port: 9094 },
    ],
  ],
  [3, [{ name: LISTENER, host: 'c-3.example', port: 9093 }]],
]);
const ctx: RaftWireContext = {
  clusterId: 'cluster-A',
  listenerName: LISTENER,
  endpointsOf: (id) => ENDPOINTS.get(id),
};

/** Encodes a body with the schema at `version` and decodes it again, requiring every byte used. */
function viaWire<F extends Fields>(
  api: { flexibleFrom: number | undefined },
  struct: Struct<F>,
  version: number,
  body: unknown,
) {
  const flexible = isFlexible(api, version);
  const w = new Writer();
  compile(struct, version, flexible).write(w, body as never);
  const r = new Reader(w.toBuffer());
  const decoded = compile(struct, version, flexible).read(r);
  expect(r.remaining).toBe(0);
  return decoded;
}

function versions(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

const entries: LogEntry[] = [
  { offset: 5, epoch: 2, record: { type: 'leaderChange', leaderId: 1, voters: [1, 2, 3], grantingVoters: [1, 2] } },
  { offset: 6, epoch: 2, record: { type: 'data', value: { k: 'v' } } },
];

describe('requests round-trip through the wire, both ways', () => {
  const vote: VoteRequest = {
    type: 'VoteRequest',
    clusterId: 'cluster-A',
    voterId: 2,
    candidateEpoch: 7,
    candidateId: 1,
    lastOffsetEpoch: 5,
    lastOffset: 120,
    preVote: false,
    replicaEpoch: 6,
  };
  const preVote: VoteRequest = { ...vote, preVote: true, candidateEpoch: 7, replicaEpoch: 6 };

  test.each(versions(1, 2))('Vote v%i', (version) => {
    const body = viaWire(Vote, Vote.request, version, voteRequestToWire(vote));
    expect(voteRequestFromWire(body, ctx)).toEqual({ ok: true, message: vote, leaderEndpoints: [] });
  });

  test('a pre-vote goes at Vote v2, with ReplicaEpoch the epoch the prospective is in (KIP-996)', () => {
    expect(requestVersion(preVote)).toBe(2);
    expect(requestVersion(vote)).toBe('latest');
    const wire = voteRequestToWire(preVote);
    expect(wire.topics[0].partitions[0]).toMatchObject({ replicaEpoch: 6, replicaId: 1, preVote: true });
    expect(voteRequestToWire(vote).topics[0].partitions[0]).toMatchObject({ replicaEpoch: 7, preVote: false });
    const body = viaWire(Vote, Vote.request, 2, wire);
    expect(voteRequestFromWire(body, ctx)).toEqual({ ok: true, message: preVote, leaderEndpoints: [] });
  });

  test('Vote v0 has no VoterId: it decodes as -1', () => {
    const body = viaWire(Vote, Vote.request, 0, voteRequestToWire(vote));
    expect(voteRequestFromWire(body, ctx)).toEqual({
      ok: true,
      message: { ...vote, voterId: -1 },
      leaderEndpoints: [],
    });
  });

  const begin: BeginQuorumEpochRequest = {
    type: 'BeginQuorumEpochRequest',
    clusterId: 'cluster-A',
    voterId: 3,
    leaderId: 2,
    leaderEpoch: 9,
  };

  test('BeginQuorumEpoch v1 carries the leader endpoints and the voter id', () => {
    const wire = beginQuorumEpochRequestToWire(begin, ctx);
    expect(wire.leaderEndpoints).toEqual(ENDPOINTS.get(2));
    expect(wire.topics[0].partitions[0].voterDirectoryId).toBe(ZERO_UUID);
    const body = viaWire(BeginQuorumEpoch, BeginQuorumEpoch.request, 1, wire);
    expect(beginQuorumEpochRequestFromWire(body, ctx)).toEqual({
      ok: true,
      message: begin,
      leaderEndpoints: ENDPOINTS.get(2),
    });
  });

  test('BeginQuorumEpoch v0: no voter id, no endpoints', () => {
    const body = viaWire(BeginQuorumEpoch, BeginQuorumEpoch.request, 0, beginQuorumEpochRequestToWire(begin, ctx));
    expect(beginQuorumEpochRequestFromWire(body, ctx)).toEqual({
      ok: true,
      message: { ...begin, voterId: -1 },
      leaderEndpoints: [],
    });
  });

  const end: EndQuorumEpochRequest = {
    type: 'EndQuorumEpochRequest',
    clusterId: 'cluster-A',
    leaderId: 1,
    leaderEpoch: 4,
    preferredSuccessors: [3, 2],
  };

  test.each(versions(0, 1))('EndQuorumEpoch v%i keeps the successors in order', (version) => {
    const wire = endQuorumEpochRequestToWire(end, ctx);
    expect(wire.topics[0].partitions[0].preferredCandidates).toEqual([
      { candidateId: 3, candidateDirectoryId: ZERO_UUID },
      { candidateId: 2, candidateDirectoryId: ZERO_UUID },
    ]);
    const body = viaWire(EndQuorumEpoch, EndQuorumEpoch.request, version, wire);
    expect(endQuorumEpochRequestFromWire(body, ctx)).toEqual({
      ok: true,
      message: end,
      leaderEndpoints: version >= 1 ? ENDPOINTS.get(1) : [],
    });
  });

  const fetch: FetchRequest = {
    type: 'FetchRequest',
    clusterId: 'cluster-A',
    replicaId: 3,
    maxWaitMs: 500,
    currentLeaderEpoch: 4,
    fetchOffset: 77,
    lastFetchedEpoch: 3,
  };

  test.each(versions(12, 18))('Fetch v%i of __cluster_metadata-0', (version) => {
    const body = viaWire(Fetch, Fetch.request, version, fetchRequestToWire(fetch));
    if (version >= 15) {
      expect(body.replicaState.replicaId).toBe(3);
      expect(body.replicaId).toBe(-1); // not in these versions
    } else {
      expect(body.replicaId).toBe(3);
    }
    if (version >= 13) expect(body.topics[0].topicId).toBe(METADATA_TOPIC_ID);
    else expect(body.topics[0].topic).toBe(METADATA_TOPIC);
    expect(fetchRequestFromWire(body, ctx)).toEqual({ ok: true, message: fetch, leaderEndpoints: [] });
  });

  test("Fetch names Kafka's fixed metadata topic id, Uuid(0, 1)", () => {
    expect([...Buffer.from(METADATA_TOPIC_ID, 'base64url')]).toEqual([...Array<number>(15).fill(0), 1]);
  });

  test("Fetch v18 carries the fetcher's high watermark only when given", () => {
    const without = viaWire(Fetch, Fetch.request, 18, fetchRequestToWire(fetch));
    expect(fetchRequestHighWatermark(without)).toBeUndefined();
    const withHw = viaWire(Fetch, Fetch.request, 18, fetchRequestToWire(fetch, { highWatermark: 70 }));
    expect(fetchRequestHighWatermark(withHw)).toBe(70);
  });
});

describe('responses round-trip through the wire, both ways', () => {
  test.each(versions(0, 2))('Vote v%i; from v1 the response names the leader on the controller listener', (version) => {
    const res: VoteResponse = {
      type: 'VoteResponse',
      errorCode: ErrorCode.NONE,
      leaderId: 2,
      leaderEpoch: 7,
      voteGranted: true,
      preVote: true,
    };
    const body = viaWire(Vote, Vote.response, version, voteResponseToWire(res, ctx));
    expect(voteResponseFromWire(body, { preVote: true })).toEqual({
      message: res,
      leaderAddresses: version >= 1 ? [{ nodeId: 2, host: 'c-2.example', port: 9093 }] : [],
    });
  });

  test('a response with no leader names no endpoint', () => {
    const res: VoteResponse = {
      type: 'VoteResponse',
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
      leaderId: -1,
      leaderEpoch: 8,
      voteGranted: false,
      preVote: false,
    };
    const body = viaWire(Vote, Vote.response, 2, voteResponseToWire(res, ctx));
    expect(body.nodeEndpoints).toEqual([]);
    expect(voteResponseFromWire(body, { preVote: false }).message).toEqual(res);
  });

  test.each(versions(0, 1))('BeginQuorumEpoch v%i', (version) => {
    const res: BeginQuorumEpochResponse = {
      type: 'BeginQuorumEpochResponse',
      errorCode: ErrorCode.NONE,
      leaderId: 3,
      leaderEpoch: 9,
    };
    const body = viaWire(
      BeginQuorumEpoch,
      BeginQuorumEpoch.response,
      version,
      beginQuorumEpochResponseToWire(res, ctx),
    );
    expect(beginQuorumEpochResponseFromWire(body)).toEqual({
      message: res,
      leaderAddresses: version >= 1 ? [{ nodeId: 3, host: 'c-3.example', port: 9093 }] : [],
    });
  });

  test.each(versions(0, 1))('EndQuorumEpoch v%i', (version) => {
    const res: EndQuorumEpochResponse = {
      type: 'EndQuorumEpochResponse',
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      leaderId: 1,
      leaderEpoch: 4,
    };
    const body = viaWire(EndQuorumEpoch, EndQuorumEpoch.response, version, endQuorumEpochResponseToWire(res, ctx));
    expect(endQuorumEpochResponseFromWire(body).message).toEqual(res);
  });

  const fetchResponse: FetchResponse = {
    type: 'FetchResponse',
    errorCode: ErrorCode.NONE,
    highWatermark: 6,
    divergingEpoch: null,
    currentLeader: { leaderId: 1, leaderEpoch: 2 },
    snapshotId: null,
    records: entries,
  };

  test.each(versions(12, 18))('Fetch v%i with records', (version) => {
    const body = viaWire(Fetch, Fetch.response, version, fetchResponseToWire(fetchResponse, ctx, encodeEntries));
    expect(fetchResponseFromWire(body, decodeEntries)).toEqual({
      message: fetchResponse,
      leaderAddresses: version >= 16 ? [{ nodeId: 1, host: 'c-1.example', port: 9093 }] : [],
    });
  });

  test('an empty Fetch answer carries empty records, not the codec of an empty list', () => {
    const empty = { ...fetchResponse, records: [] };
    const wire = fetchResponseToWire(empty, ctx, () => {
      throw new Error('not called for no entries');
    });
    const body = viaWire(Fetch, Fetch.response, 17, wire);
    expect(body.responses[0].partitions[0].records).toEqual(Buffer.alloc(0));
    expect(fetchResponseFromWire(body, decodeEntries).message).toEqual(empty);
  });

  test.each([
    { epoch: 3, endOffset: 17 },
    { epoch: 0, endOffset: 0 },
  ])('Fetch with a diverging epoch ($epoch, $endOffset) reads back as diverging, with no records', (diverging) => {
    const res: FetchResponse = { ...fetchResponse, divergingEpoch: diverging, records: [] };
    const body = viaWire(Fetch, Fetch.response, 17, fetchResponseToWire(res, ctx, encodeEntries));
    expect(body.responses[0].partitions[0].divergingEpoch).toEqual(diverging);
    expect(fetchResponseFromWire(body, decodeEntries).message).toEqual(res);
  });

  test('a Fetch answer below the log start carries the snapshot id (SnapshotId) and the log start offset', () => {
    const res: FetchResponse = { ...fetchResponse, snapshotId: { offset: 100, epoch: 3 }, records: [] };
    const wire = fetchResponseToWire({ ...res, logStartOffset: 100 }, ctx, encodeEntries);
    expect(wire.responses[0].partitions[0]).toMatchObject({
      snapshotId: { endOffset: 100, epoch: 3 },
      logStartOffset: 100,
    });
    const body = viaWire(Fetch, Fetch.response, 17, wire);
    expect(fetchResponseFromWire(body, decodeEntries).message).toEqual(res);
  });

  const snapshotRequest: FetchSnapshotRequest = {
    type: 'FetchSnapshotRequest',
    clusterId: 'cluster-A',
    replicaId: 4,
    currentLeaderEpoch: 7,
    snapshotId: { offset: 1234, epoch: 6 },
    position: 4096,
    maxBytes: 1024,
  };

  test.each(versions(0, 1))('FetchSnapshot v%i request and response, both ways', (version) => {
    const req = viaWire(FetchSnapshot, FetchSnapshot.request, version, fetchSnapshotRequestToWire(snapshotRequest));
    const decoded = fetchSnapshotRequestFromWire(req, ctx);
    expect(decoded.ok && decoded.message).toEqual({ ...snapshotRequest, clusterId: ctx.clusterId });
    const res: FetchSnapshotResponse = {
      type: 'FetchSnapshotResponse',
      errorCode: ErrorCode.NONE,
      snapshotId: { offset: 1234, epoch: 6 },
      currentLeader: { leaderId: 1, leaderEpoch: 7 },
      size: 10_000,
      position: 4096,
      bytes: Buffer.from('a chunk of the snapshot'),
    };
    const body = viaWire(FetchSnapshot, FetchSnapshot.response, version, fetchSnapshotResponseToWire(res, ctx));
    expect(fetchSnapshotResponseFromWire(body, snapshotRequest)).toEqual({
      message: res,
      leaderAddresses: version >= 1 ? [{ nodeId: 1, host: 'c-1.example', port: 9093 }] : [],
    });
  });

  test('a FetchSnapshot for another cluster or partition is refused as Kafka refuses it', () => {
    const other = fetchSnapshotRequestFromWire(
      viaWire(
        FetchSnapshot,
        FetchSnapshot.request,
        1,
        fetchSnapshotRequestToWire({ ...snapshotRequest, clusterId: 'x' }),
      ),
      ctx,
    );
    expect(other.ok ? 0 : other.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    const wire = fetchSnapshotRequestToWire(snapshotRequest);
    wire.topics[0].partitions[0].partition = 1;
    const partition = fetchSnapshotRequestFromWire(viaWire(FetchSnapshot, FetchSnapshot.request, 1, wire), ctx);
    expect(partition.ok ? 0 : partition.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });

  test('a top-level error answer reads as that error with no leader', () => {
    const body = viaWire(Fetch, Fetch.response, 17, {
      throttleTimeMs: 0,
      errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID,
      sessionId: 0,
      responses: [],
    });
    expect(fetchResponseFromWire(body, decodeEntries).message).toEqual({
      type: 'FetchResponse',
      errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID,
      highWatermark: -1,
      divergingEpoch: null,
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
      snapshotId: null,
      records: [],
    });
    const vote = viaWire(Vote, Vote.response, 2, { errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, topics: [] });
    expect(voteResponseFromWire(vote, { preVote: false }).message).toMatchObject({
      errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID,
      voteGranted: false,
      leaderEpoch: -1,
    });
  });
});

describe('requests this quorum must refuse', () => {
  const other: RaftWireContext = { ...ctx, clusterId: 'cluster-B' };

  test('a request from another cluster id is answered INCONSISTENT_CLUSTER_ID, at the top level', () => {
    const vote = voteRequestFromWire(
      viaWire(
        Vote,
        Vote.request,
        2,
        voteRequestToWire({
          type: 'VoteRequest',
          clusterId: 'cluster-A',
          voterId: 2,
          candidateEpoch: 3,
          candidateId: 1,
          lastOffsetEpoch: 2,
          lastOffset: 10,
          preVote: false,
          replicaEpoch: 2,
        }),
      ),
      other,
    );
    const begin = beginQuorumEpochRequestFromWire(
      viaWire(
        BeginQuorumEpoch,
        BeginQuorumEpoch.request,
        1,
        beginQuorumEpochRequestToWire(
          { type: 'BeginQuorumEpochRequest', clusterId: 'cluster-A', voterId: 2, leaderId: 1, leaderEpoch: 3 },
          ctx,
        ),
      ),
      other,
    );
    const end = endQuorumEpochRequestFromWire(
      viaWire(
        EndQuorumEpoch,
        EndQuorumEpoch.request,
        1,
        endQuorumEpochRequestToWire(
          {
            type: 'EndQuorumEpochRequest',
            clusterId: 'cluster-A',
            leaderId: 1,
            leaderEpoch: 3,
            preferredSuccessors: [],
          },
          ctx,
        ),
      ),
      other,
    );
    const fetch = fetchRequestFromWire(
      viaWire(
        Fetch,
        Fetch.request,
        17,
        fetchRequestToWire({
          type: 'FetchRequest',
          clusterId: 'cluster-A',
          replicaId: 2,
          maxWaitMs: 0,
          currentLeaderEpoch: 3,
          fetchOffset: 0,
          lastFetchedEpoch: -1,
        }),
      ),
      other,
    );
    for (const decoded of [vote, begin, end, fetch]) {
      expect(decoded.ok).toBe(false);
      if (decoded.ok) continue;
      expect(decoded.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
      expect(decoded.response.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    }
    // The refusals encode (at Kafka 4.1's versions) as a bare top-level error.
    if (!vote.ok) {
      const body = viaWire(Vote, Vote.response, KRAFT_RPC_VERSIONS.vote, vote.response);
      expect(body).toMatchObject({ errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, topics: [] });
    }
    if (!fetch.ok) {
      const body = viaWire(Fetch, Fetch.response, KRAFT_RPC_VERSIONS.fetch, fetch.response);
      expect(body).toMatchObject({ errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, responses: [] });
    }
  });

  test('a request with no cluster id is accepted, as Kafka does', () => {
    const wire = viaWire(BeginQuorumEpoch, BeginQuorumEpoch.request, 1, {
      ...beginQuorumEpochRequestToWire(
        { type: 'BeginQuorumEpochRequest', clusterId: 'x', voterId: 2, leaderId: 1, leaderEpoch: 3 },
        ctx,
      ),
      clusterId: null,
    });
    const decoded = beginQuorumEpochRequestFromWire(wire, ctx);
    expect(decoded.ok && decoded.message.clusterId).toBe('cluster-A');
  });

  test('a request for another partition is answered INVALID_REQUEST', () => {
    const wire = voteRequestToWire({
      type: 'VoteRequest',
      clusterId: 'cluster-A',
      voterId: 2,
      candidateEpoch: 3,
      candidateId: 1,
      lastOffsetEpoch: 2,
      lastOffset: 10,
      preVote: false,
      replicaEpoch: 2,
    });
    wire.topics[0].partitions[0].partitionIndex = 1;
    const decoded = voteRequestFromWire(viaWire(Vote, Vote.request, 2, wire), ctx);
    expect(decoded).toMatchObject({ ok: false, errorCode: ErrorCode.INVALID_REQUEST });

    const fetch = fetchRequestToWire({
      type: 'FetchRequest',
      clusterId: 'cluster-A',
      replicaId: 2,
      maxWaitMs: 0,
      currentLeaderEpoch: 3,
      fetchOffset: 0,
      lastFetchedEpoch: -1,
    });
    fetch.topics[0].topicId = 'AAAAAAAAAAAAAAAAAAAAAg';
    expect(fetchRequestFromWire(viaWire(Fetch, Fetch.request, 17, fetch), ctx)).toMatchObject({
      ok: false,
      errorCode: ErrorCode.INVALID_REQUEST,
    });
  });
});

describe('DescribeQuorum', () => {
  const request = { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }] };
  const voters = [1, 2, 3].map((nodeId) => ({ nodeId, listeners: ENDPOINTS.get(nodeId)! }));
  const leaderView: QuorumView = {
    nodeId: 1,
    state: 'leader',
    epoch: 5,
    leaderId: 1,
    votedId: 1,
    highWatermark: 40,
    logEndOffset: 45,
    persistedEndOffset: 42,
    appliedOffset: 40,
    logStartOffset: 0,
    replicas: [
      { replicaId: 2, logEndOffset: 42, lastFetchTimestamp: 9_000, isVoter: true },
      { replicaId: 7, logEndOffset: 30, lastFetchTimestamp: 8_000, isVoter: false },
    ],
  };

  test('the leader answers every voter, the observers that fetched, and (v2) the voters listeners', () => {
    const res = describeQuorumResponse(request, leaderView, voters, 10_000);
    const body = viaWire(DescribeQuorum, DescribeQuorum.response, 2, res);
    expect(body.errorCode).toBe(0);
    const p = body.topics[0].partitions[0];
    expect(p).toMatchObject({ partitionIndex: 0, errorCode: 0, leaderId: 1, leaderEpoch: 5, highWatermark: 40 });
    expect(p.currentVoters).toEqual([
      {
        replicaId: 1,
        replicaDirectoryId: ZERO_UUID,
        logEndOffset: 42,
        lastFetchTimestamp: 10_000,
        lastCaughtUpTimestamp: 10_000,
      },
      {
        replicaId: 2,
        replicaDirectoryId: ZERO_UUID,
        logEndOffset: 42,
        lastFetchTimestamp: 9_000,
        lastCaughtUpTimestamp: 9_000,
      },
      {
        replicaId: 3,
        replicaDirectoryId: ZERO_UUID,
        logEndOffset: -1,
        lastFetchTimestamp: -1,
        lastCaughtUpTimestamp: -1,
      },
    ]);
    expect(p.observers).toEqual([
      {
        replicaId: 7,
        replicaDirectoryId: ZERO_UUID,
        logEndOffset: 30,
        lastFetchTimestamp: 8_000,
        lastCaughtUpTimestamp: -1,
      },
    ]);
    expect(body.nodes.map((n) => [n.nodeId, n.listeners.map((l) => `${l.name}://${l.host}:${l.port}`)])).toEqual([
      [1, ['CONTROLLER://c-1.example:9093']],
      [2, ['CONTROLLER://c-2.example:9093', 'REPLICATION://c-2.example:9094']],
      [3, ['CONTROLLER://c-3.example:9093']],
    ]);
  });

  test.each(versions(0, 1))('v%i encodes the same states without directory ids and nodes', (version) => {
    const body = viaWire(
      DescribeQuorum,
      DescribeQuorum.response,
      version,
      describeQuorumResponse(request, leaderView, voters, 10_000),
    );
    const p = body.topics[0].partitions[0];
    expect(p.currentVoters.map((v) => v.logEndOffset)).toEqual([42, 42, -1]);
    if (version === 0)
      expect(p.currentVoters[0].lastFetchTimestamp).toBe(-1); // not in v0: the default
    else expect(p.currentVoters[0].lastFetchTimestamp).toBe(10_000);
  });

  test('a node that is not the leader answers NOT_LEADER_OR_FOLLOWER', () => {
    const follower: QuorumView = { ...leaderView, nodeId: 2, state: 'follower', replicas: [] };
    const body = viaWire(
      DescribeQuorum,
      DescribeQuorum.response,
      2,
      describeQuorumResponse(request, follower, voters, 1),
    );
    expect(body.errorCode).toBe(0);
    expect(body.topics[0].partitions[0]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      leaderId: 1,
      leaderEpoch: 5,
    });
  });

  test('a request for another partition is answered UNKNOWN_TOPIC_OR_PARTITION for each partition asked', () => {
    const other = { topics: [{ topicName: 'orders', partitions: [{ partitionIndex: 0 }, { partitionIndex: 3 }] }] };
    const body = viaWire(
      DescribeQuorum,
      DescribeQuorum.response,
      2,
      describeQuorumResponse(other, leaderView, voters, 1),
    );
    expect(body.topics[0].partitions.map((p) => [p.partitionIndex, p.errorCode])).toEqual([
      [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
  });
});

test("KRAFT_RPC_VERSIONS are our definitions' latest (Kafka 4.1's)", () => {
  expect(KRAFT_RPC_VERSIONS).toEqual({
    vote: Vote.maxVersion,
    beginQuorumEpoch: BeginQuorumEpoch.maxVersion,
    endQuorumEpoch: EndQuorumEpoch.maxVersion,
    fetch: Fetch.maxVersion,
    fetchSnapshot: FetchSnapshot.maxVersion,
    describeQuorum: DescribeQuorum.maxVersion,
  });
});
