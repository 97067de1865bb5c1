// NodeClient and raft/wire.ts against a stock Apache Kafka 4.1 controller (one combined-mode
// node, the benchmark's install): the versions it negotiates are the ones raft/wire.ts names, and
// Kafka's answers to our Vote, Fetch and DescribeQuorum bodies read back through the adapter.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KAFKA_START_TIMEOUT_MS, startKafkaController, type KafkaController } from '../test/kafka-controller.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  BeginQuorumEpoch,
  DescribeQuorum,
  EndQuorumEpoch,
  Fetch,
  FetchSnapshot,
  Vote,
} from '../protocol/messages/index.js';
import { scanBatches } from '../protocol/record-batch.js';
import type { LogEntry } from '../raft/log.js';
import {
  describeQuorumResponse,
  fetchRequestToWire,
  fetchResponseFromWire,
  KRAFT_RPC_VERSIONS,
  METADATA_TOPIC,
  requestVersion,
  voteRequestToWire,
  voteResponseFromWire,
} from '../raft/wire.js';
import { NodeClient } from './node-client.js';

const REQUEST = { timeoutMs: 10_000 };

let kafka: KafkaController | undefined;
let client: NodeClient;
let clusterId: string;

/** Record batches as entries with only offsets and epochs (enough to see what Kafka sent). */
function batchEntries(buf: Buffer): LogEntry[] {
  const scan = scanBatches(buf, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
  return scan.batches.flatMap((b) => {
    const epoch = buf.readInt32BE(b.position + 12); // partitionLeaderEpoch
    return Array.from({ length: b.lastOffset - b.baseOffset + 1 }, (_, i) => ({
      offset: b.baseOffset + i,
      epoch,
      record: { type: 'data' as const, value: null },
    }));
  });
}

beforeAll(async () => {
  kafka = await startKafkaController();
  ({ client, clusterId } = kafka);
}, KAFKA_START_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await kafka?.stop();
});

const describeRequest = { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }] };

describe('against a Kafka 4.1 controller', () => {
  test('its controller listener serves the KRaft RPCs at the versions raft/wire.ts sends', () => {
    const v = client.peerVersions!;
    expect({
      vote: v.get(Vote.key)?.maxVersion,
      beginQuorumEpoch: v.get(BeginQuorumEpoch.key)?.maxVersion,
      endQuorumEpoch: v.get(EndQuorumEpoch.key)?.maxVersion,
      fetch: v.get(Fetch.key)?.maxVersion,
      fetchSnapshot: v.get(FetchSnapshot.key)?.maxVersion,
      describeQuorum: v.get(DescribeQuorum.key)?.maxVersion,
    }).toEqual(KRAFT_RPC_VERSIONS);
  });

  test('its DescribeQuorum answer has the shape describeQuorumResponse builds', async () => {
    const theirs = await client.request(DescribeQuorum, 'latest', describeRequest, REQUEST);
    const p = theirs.topics[0].partitions[0];
    expect(p).toMatchObject({ errorCode: 0, leaderId: 1 });
    const ours = describeQuorumResponse(
      describeRequest,
      {
        nodeId: 1,
        state: 'leader',
        epoch: p.leaderEpoch,
        leaderId: 1,
        votedId: 1,
        highWatermark: p.highWatermark,
        logEndOffset: p.currentVoters[0].logEndOffset,
        persistedEndOffset: p.currentVoters[0].logEndOffset,
        appliedOffset: p.highWatermark,
        logStartOffset: 0,
        replicas: [],
      },
      theirs.nodes.map((n) => ({ nodeId: n.nodeId, listeners: n.listeners })),
      p.currentVoters[0].lastFetchTimestamp,
    );
    expect(ours.nodes).toEqual(theirs.nodes);
    expect(ours.topics[0].partitions[0].currentVoters).toEqual(
      p.currentVoters.map((v) => ({ ...v, lastCaughtUpTimestamp: v.lastFetchTimestamp })),
    );
  });

  test('an observer Fetch of __cluster_metadata-0 gets record batches, the leader and its high watermark', async () => {
    const quorum = (await client.request(DescribeQuorum, 'latest', describeRequest, REQUEST)).topics[0].partitions[0];
    const body = await client.request(
      Fetch,
      'latest',
      fetchRequestToWire({
        type: 'FetchRequest',
        clusterId,
        replicaId: 99,
        maxWaitMs: 0,
        currentLeaderEpoch: quorum.leaderEpoch,
        fetchOffset: 0,
        lastFetchedEpoch: 0,
      }),
      REQUEST,
    );
    const { message, leaderAddresses } = fetchResponseFromWire(body, batchEntries);
    expect(message.errorCode).toBe(ErrorCode.NONE);
    expect(message.currentLeader).toEqual({ leaderId: 1, leaderEpoch: quorum.leaderEpoch });
    expect(message.divergingEpoch).toBeNull();
    expect(message.highWatermark).toBeGreaterThan(0);
    expect(message.records.length).toBeGreaterThan(0);
    expect(message.records[0].offset).toBe(0);
    expect(leaderAddresses.map((a) => a.nodeId)).toEqual([1]);
  });

  test('a Fetch past the end of its last epoch is answered with a diverging epoch', async () => {
    const quorum = (await client.request(DescribeQuorum, 'latest', describeRequest, REQUEST)).topics[0].partitions[0];
    const leaderEnd = quorum.currentVoters[0].logEndOffset;
    const body = await client.request(
      Fetch,
      'latest',
      fetchRequestToWire({
        type: 'FetchRequest',
        clusterId,
        replicaId: 99,
        maxWaitMs: 0,
        currentLeaderEpoch: quorum.leaderEpoch,
        fetchOffset: leaderEnd + 1000,
        lastFetchedEpoch: quorum.leaderEpoch,
      }),
      REQUEST,
    );
    const { message } = fetchResponseFromWire(body, batchEntries);
    expect(message.errorCode).toBe(ErrorCode.NONE);
    expect(message.divergingEpoch).not.toBeNull();
    expect(message.divergingEpoch!.epoch).toBe(quorum.leaderEpoch);
    expect(message.divergingEpoch!.endOffset).toBeGreaterThanOrEqual(leaderEnd);
    expect(message.records).toEqual([]);
  });

  test('a Vote from another cluster id is answered INCONSISTENT_CLUSTER_ID', async () => {
    const vote = {
      type: 'VoteRequest' as const,
      clusterId: 'not-this-cluster',
      voterId: 1,
      candidateEpoch: 1000,
      candidateId: 2,
      lastOffsetEpoch: 1,
      lastOffset: 1,
      preVote: true,
      replicaEpoch: 999,
    };
    const body = await client.request(Vote, requestVersion(vote), voteRequestToWire(vote), REQUEST);
    expect(voteResponseFromWire(body, vote).message).toMatchObject({
      errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID,
      voteGranted: false,
    });
  });
});
