// How a node reaches the active controller: directly when it is this node, else with a Kafka
// request to the quorum leader's controller listener (the voters' addresses are configured). A
// request waits a while for a leader to be known, as Kafka's forwarding does, then fails.

import type { Clock } from '../clock.js';
import type { QuorumVoterAddress } from '../config/keys.js';
import type { QuorumController } from '../controller/quorum-controller.js';
import { NodeClient, NodeClientError } from '../net/node-client.js';
import { ErrorCode } from '../protocol/errors.js';
import { CreateTopics } from '../protocol/messages/index.js';
import { ZERO_UUID, type ApiDefinition, type Decoded, type Fields, type Input } from '../protocol/schema.js';
import type { RaftNode } from '../raft/raft-node.js';

const LEADER_POLL_MS = 50;
/** The client id nodes use with each other, so a controller knows a request comes from a broker. */
export const NODE_CLIENT_ID_PREFIX = 'runnel-node-';

export class ControllerUnavailableError extends Error {}

export class ControllerChannel {
  private readonly clients = new Map<number, NodeClient>();
  private closed = false;

  constructor(
    private readonly raft: RaftNode,
    private readonly controller: QuorumController | undefined,
    private readonly voters: ReadonlyMap<number, QuorumVoterAddress>,
    private readonly clock: Clock,
    private readonly requestTimeoutMs: number,
    /** How long a request waits for an active controller to answer (an election, say). */
    private readonly waitForControllerMs: number,
    /** Resolves once this node has acted on the metadata it applied (logs opened or removed). */
    private readonly settled: () => Promise<void>,
  ) {}

  /** The active controller, when it runs in this process. */
  local(): QuorumController | undefined {
    return this.controller?.isActive ? this.controller : undefined;
  }

  /**
   * Runs `local` on this node's controller if it is the active one, else sends the request to
   * the node that is. While the quorum has no leader, or the one it names cannot be reached (it
   * just crashed: an election follows), it keeps trying for `waitForControllerMs`.
   */
  async call<Req extends Fields, Res extends Fields>(
    api: ApiDefinition<Req, Res>,
    version: number | 'latest',
    body: Input<Req>,
    local: (controller: QuorumController) => Promise<Decoded<Res>>,
  ): Promise<Decoded<Res>> {
    const deadline = this.clock.nowMs() + this.waitForControllerMs;
    let lastError: Error | undefined;
    for (;;) {
      const mine = this.local();
      // Answered once this node also acts on the change, so a client that goes on to use a
      // new topic through the same node finds it ready (other brokers follow within moments).
      if (mine) return local(mine).then(async (answer) => (await this.settled(), answer));
      const view = this.raft.view();
      // A resigned leader is on its way out: waiting here would hold the request while the others elect.
      if (view.state === 'resigned')
        throw new ControllerUnavailableError(`node ${this.raft.nodeId} resigned as quorum leader and is shutting down`);
      const leader = view.leaderId;
      if (leader >= 0 && leader !== this.raft.nodeId) {
        const client = this.client(leader);
        if (client) {
          try {
            return await client.request(api, version, body, { timeoutMs: this.requestTimeoutMs });
          } catch (err) {
            if (!(err instanceof NodeClientError) || (err.kind !== 'connection' && err.kind !== 'timeout')) throw err;
            lastError = err;
          }
        }
      }
      if (this.closed || this.clock.nowMs() >= deadline)
        throw new ControllerUnavailableError(
          `no active controller answered within ${this.waitForControllerMs} ms (quorum leader: ${leader >= 0 ? leader : 'none'}${lastError ? `; last error: ${lastError.message}` : ''})`,
        );
      await new Promise<void>((resolve) => this.clock.after(LEADER_POLL_MS, resolve));
    }
  }

  /** Creates a topic on the active controller (auto-creation, internal topics); never throws. */
  async createTopic(
    spec: {
      name: string;
      numPartitions: number;
      replicationFactor: number;
      configs: { name: string; value: string | null }[];
    },
    internal: boolean,
  ): Promise<{ errorCode: number; errorMessage: string | null }> {
    const body = {
      topics: [{ ...spec, assignments: [], configs: spec.configs }],
      timeoutMs: this.requestTimeoutMs,
      validateOnly: false,
    };
    try {
      const res = await this.call(CreateTopics, 'latest', body, async (c) => {
        const r = await c.topics.create(spec, false, { internal });
        return {
          throttleTimeMs: 0,
          topics: [
            {
              name: spec.name,
              topicId: r.topic?.id ?? ZERO_UUID,
              errorCode: r.errorCode,
              errorMessage: r.errorMessage,
              topicConfigErrorCode: 0,
              numPartitions: -1,
              replicationFactor: -1,
              configs: null,
            },
          ],
        };
      });
      const t = res.topics[0];
      return { errorCode: t.errorCode, errorMessage: t.errorMessage };
    } catch (err) {
      return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: (err as Error).message };
    }
  }

  private client(nodeId: number): NodeClient | undefined {
    const address = this.voters.get(nodeId);
    if (!address) return undefined;
    let client = this.clients.get(nodeId);
    if (!client) {
      client = new NodeClient({
        host: address.host,
        port: address.port,
        clock: this.clock,
        clientId: `${NODE_CLIENT_ID_PREFIX}${this.raft.nodeId}`,
      });
      this.clients.set(nodeId, client);
    }
    return client;
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
  }
}
