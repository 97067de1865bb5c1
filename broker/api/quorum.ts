// The KRaft APIs between nodes: the quorum's RPCs (Vote, BeginQuorumEpoch, EndQuorumEpoch,
// Fetch of `__cluster_metadata-0` and FetchSnapshot) answered by this node's quorum state machine; DescribeQuorum
// answered by the quorum leader; broker registration, heartbeats, producer-id blocks and
// partition leaders' ISR changes (AlterPartition) answered by the active controller (forwarded
// there from any other node).

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  AllocateProducerIds,
  AlterPartition,
  BeginQuorumEpoch,
  BrokerHeartbeat,
  BrokerRegistration,
  DescribeQuorum,
  EndQuorumEpoch,
  Fetch,
  FetchSnapshot,
  UnregisterBroker,
  Vote,
} from '../protocol/messages/index.js';
import type { RequestOf } from '../protocol/schema.js';
import type {
  BeginQuorumEpochResponse,
  EndQuorumEpochResponse,
  FetchResponse,
  FetchSnapshotResponse,
  RaftRequest,
  RaftResponse,
  VoteResponse,
} from '../raft/messages.js';
import {
  beginQuorumEpochRequestFromWire,
  beginQuorumEpochResponseToWire,
  describeQuorumResponse,
  endQuorumEpochRequestFromWire,
  endQuorumEpochResponseToWire,
  fetchRequestFromWire,
  fetchResponseToWire,
  fetchSnapshotRequestFromWire,
  fetchSnapshotResponseToWire,
  voteRequestFromWire,
  voteResponseToWire,
} from '../raft/wire.js';
import { alterPartitionFailed } from '../controller/alter-partition.js';
import { controllerHandler, handler } from './dispatch.js';

const NO_ANSWER = { errorCode: ErrorCode.REQUEST_TIMED_OUT, leaderId: -1, leaderEpoch: -1 };

/** The state machine's answer, or a timeout answer when it gave none in time (or is stopping). */
async function ask<R extends RaftResponse>(broker: BrokerServices, from: number, m: RaftRequest, fallback: R) {
  const timeoutMs = broker.config.quorum.requestTimeoutMs + (m.type === 'FetchRequest' ? m.maxWaitMs : 0);
  return ((await broker.raft.handle(from, m, timeoutMs)) as R | null) ?? fallback;
}

export const voteHandler = (broker: BrokerServices) =>
  handler(Vote, async (req) => {
    const decoded = voteRequestFromWire(req, broker.quorumWire);
    if (!decoded.ok) return decoded.response;
    const m = decoded.message;
    const fallback: VoteResponse = { type: 'VoteResponse', ...NO_ANSWER, voteGranted: false, preVote: m.preVote };
    return voteResponseToWire(await ask(broker, m.candidateId, m, fallback), broker.quorumWire);
  });

export const beginQuorumEpochHandler = (broker: BrokerServices) =>
  handler(BeginQuorumEpoch, async (req) => {
    const decoded = beginQuorumEpochRequestFromWire(req, broker.quorumWire);
    if (!decoded.ok) return decoded.response;
    const fallback: BeginQuorumEpochResponse = { type: 'BeginQuorumEpochResponse', ...NO_ANSWER };
    const answer = await ask(broker, decoded.message.leaderId, decoded.message, fallback);
    return beginQuorumEpochResponseToWire(answer, broker.quorumWire);
  });

export const endQuorumEpochHandler = (broker: BrokerServices) =>
  handler(EndQuorumEpoch, async (req) => {
    const decoded = endQuorumEpochRequestFromWire(req, broker.quorumWire);
    if (!decoded.ok) return decoded.response;
    const fallback: EndQuorumEpochResponse = { type: 'EndQuorumEpochResponse', ...NO_ANSWER };
    const answer = await ask(broker, decoded.message.leaderId, decoded.message, fallback);
    return endQuorumEpochResponseToWire(answer, broker.quorumWire);
  });

/** A Fetch of `__cluster_metadata-0` by a voter or an observer (the Fetch handler routes it here). */
export async function fetchMetadataLog(broker: BrokerServices, req: RequestOf<typeof Fetch>) {
  const decoded = fetchRequestFromWire(req, broker.quorumWire);
  if (!decoded.ok) return decoded.response;
  const m = decoded.message;
  const fallback: FetchResponse = {
    type: 'FetchResponse',
    errorCode: ErrorCode.REQUEST_TIMED_OUT,
    highWatermark: -1,
    divergingEpoch: null,
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: null,
    records: [],
  };
  const answer = await ask(broker, m.replicaId, m, fallback);
  return fetchResponseToWire(answer, broker.quorumWire, (entries) => broker.metadataEntries.encodeEntries(entries));
}

/** A chunk of the quorum leader's latest metadata snapshot, for a follower or observer far behind. */
export const fetchSnapshotHandler = (broker: BrokerServices) =>
  handler(FetchSnapshot, async (req) => {
    const decoded = fetchSnapshotRequestFromWire(req, broker.quorumWire);
    if (!decoded.ok) return decoded.response;
    const m = decoded.message;
    const fallback: FetchSnapshotResponse = {
      type: 'FetchSnapshotResponse',
      errorCode: ErrorCode.REQUEST_TIMED_OUT,
      snapshotId: m.snapshotId,
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
      size: -1,
      position: -1,
      bytes: Buffer.alloc(0),
    };
    return fetchSnapshotResponseToWire(await ask(broker, m.replicaId, m, fallback), broker.quorumWire);
  });

export const describeQuorumHandler = (broker: BrokerServices) =>
  controllerHandler(
    DescribeQuorum,
    broker.controller,
    (_controller, req) => {
      const listenerName = broker.quorumWire.listenerName;
      const voters = broker.raft.voters.map((nodeId) => ({
        nodeId,
        listeners: broker.quorumWire.endpointsOf(nodeId) ?? [{ name: listenerName, host: '', port: 0 }],
      }));
      return Promise.resolve(describeQuorumResponse(req, broker.raft.view(), voters, broker.clock.nowMs()));
    },
    (_req, errorCode, errorMessage) => ({ errorCode, errorMessage, topics: [], nodes: [] }),
  );

export const brokerRegistrationHandler = (broker: BrokerServices) =>
  controllerHandler(
    BrokerRegistration,
    broker.controller,
    async (controller, req) => {
      const r = await controller.registerBroker(req);
      return { throttleTimeMs: 0, errorCode: r.errorCode, brokerEpoch: r.brokerEpoch };
    },
    (_req, errorCode) => ({ throttleTimeMs: 0, errorCode, brokerEpoch: -1 }),
  );

export const brokerHeartbeatHandler = (broker: BrokerServices) =>
  controllerHandler(
    BrokerHeartbeat,
    broker.controller,
    async (controller, req) => ({
      throttleTimeMs: 0,
      ...(await controller.heartbeat(req)),
    }),
    (_req, errorCode) => ({ throttleTimeMs: 0, errorCode, isCaughtUp: false, isFenced: true, shouldShutDown: false }),
  );

export const unregisterBrokerHandler = (broker: BrokerServices) =>
  controllerHandler(
    UnregisterBroker,
    broker.controller,
    async (controller, req) => ({ throttleTimeMs: 0, ...(await controller.unregisterBroker(req.brokerId)) }),
    (_req, errorCode, errorMessage) => ({ throttleTimeMs: 0, errorCode, errorMessage }),
  );

export const allocateProducerIdsHandler = (broker: BrokerServices) =>
  controllerHandler(
    AllocateProducerIds,
    broker.controller,
    async (controller, req) => {
      const r = await controller.allocateProducerIds(req.brokerId, req.brokerEpoch);
      return { throttleTimeMs: 0, errorCode: r.errorCode, producerIdStart: r.start, producerIdLen: r.length };
    },
    (_req, errorCode) => ({ throttleTimeMs: 0, errorCode, producerIdStart: -1, producerIdLen: 0 }),
  );

export const alterPartitionHandler = (broker: BrokerServices) =>
  controllerHandler(
    AlterPartition,
    broker.controller,
    (controller, req, ctx) => controller.alterPartition(req, ctx.header.apiVersion),
    (_req, errorCode) => alterPartitionFailed(errorCode),
  );
