// The quorum's transport between nodes: the state machine's requests to other voters (and an
// observer's fetches) go out as Kafka's KRaft RPCs on their controller listeners, and the
// answers come back as plain messages. The same context answers peers' requests (api/quorum.ts).

import type { Clock } from '../clock.js';
import type { QuorumVoterAddress } from '../config/keys.js';
import { decodeRaftEntries, encodeRaftEntries } from '../metadata/records.js';
import { NodeClients } from '../net/node-client.js';
import { BeginQuorumEpoch, EndQuorumEpoch, Fetch, FetchSnapshot, Vote } from '../protocol/messages/index.js';
import type { RaftRequest, RaftResponse } from '../raft/messages.js';
import type { RaftTransport } from '../raft/raft-node.js';
import {
  beginQuorumEpochRequestToWire,
  beginQuorumEpochResponseFromWire,
  endQuorumEpochRequestToWire,
  endQuorumEpochResponseFromWire,
  fetchRequestToWire,
  fetchResponseFromWire,
  fetchSnapshotRequestToWire,
  fetchSnapshotResponseFromWire,
  requestVersion,
  voteRequestToWire,
  voteResponseFromWire,
  type EntryCodec,
  type RaftWireContext,
} from '../raft/wire.js';
import { NODE_CLIENT_ID_PREFIX } from './controller-channel.js';

/** Metadata log entries as record batches on the wire, stamped with the clock's time. */
export function metadataEntryCodec(clock: Clock): EntryCodec {
  return { encodeEntries: (entries) => encodeRaftEntries(entries, clock.nowMs()), decodeEntries: decodeRaftEntries };
}

/** The quorum's view of the wire: this cluster, the controller listener, the voters' addresses. */
export function raftWireContext(
  clusterId: string,
  listenerName: string,
  voters: ReadonlyMap<number, QuorumVoterAddress>,
): RaftWireContext {
  return {
    clusterId,
    listenerName,
    endpointsOf: (nodeId) => {
      const address = voters.get(nodeId);
      return address ? [{ name: listenerName, host: address.host, port: address.port }] : undefined;
    },
  };
}

export class RaftPeers implements RaftTransport {
  private readonly clients: NodeClients;

  constructor(
    voters: ReadonlyMap<number, QuorumVoterAddress>,
    private readonly context: RaftWireContext,
    nodeId: number,
    private readonly requestTimeoutMs: number,
    clock: Clock,
  ) {
    this.clients = new NodeClients(voters, { clock, clientId: `${NODE_CLIENT_ID_PREFIX}${nodeId}` });
  }

  async request(to: number, m: RaftRequest): Promise<RaftResponse> {
    const client = this.clients.get(to);
    const timeoutMs = this.requestTimeoutMs;
    switch (m.type) {
      case 'VoteRequest': {
        const res = await client.request(Vote, requestVersion(m), voteRequestToWire(m), { timeoutMs });
        return voteResponseFromWire(res, m).message;
      }
      case 'BeginQuorumEpochRequest': {
        const body = beginQuorumEpochRequestToWire(m, this.context);
        return beginQuorumEpochResponseFromWire(await client.request(BeginQuorumEpoch, 'latest', body, { timeoutMs }))
          .message;
      }
      case 'EndQuorumEpochRequest': {
        const body = endQuorumEpochRequestToWire(m, this.context);
        return endQuorumEpochResponseFromWire(await client.request(EndQuorumEpoch, 'latest', body, { timeoutMs }))
          .message;
      }
      case 'FetchRequest': {
        // A fetch may be held by the leader for its MaxWaitMs before it answers.
        const res = await client.request(Fetch, 'latest', fetchRequestToWire(m), {
          timeoutMs: timeoutMs + m.maxWaitMs,
        });
        return fetchResponseFromWire(res, decodeRaftEntries).message;
      }
      case 'FetchSnapshotRequest': {
        const res = await client.request(FetchSnapshot, 'latest', fetchSnapshotRequestToWire(m), { timeoutMs });
        return fetchSnapshotResponseFromWire(res, m).message;
      }
    }
  }

  close(): void {
    this.clients.close();
  }
}
