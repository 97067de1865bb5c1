// What the request handlers are given: the broker's services, built by the composition root
// (broker/node.ts) before the handlers, and handed to them directly.

import type { Clock } from '../clock.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { ProducerIdManager } from '../controller/producer-ids.js';
import type { ControllerChannel } from '../cluster/controller-channel.js';
import type { TopicConfigs } from '../metadata/topic-configs.js';
import type { RaftNode } from '../raft/raft-node.js';
import type { EntryCodec, RaftWireContext } from '../raft/wire.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { LogManager } from '../log/log-manager.js';
import type { ReadBufferPool } from '../log/read-buffers.js';
import type { ReplicaManager } from '../replication/replica-manager.js';

export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** The cluster as this broker presents it to clients. */
export interface ClusterView {
  readonly clusterId: string;
  readonly nodeId: number;
  /** Live brokers as clients should reach them (advertised listener). */
  brokers(): BrokerEndpoint[];
  /** The broker the admin clients send controller requests to. */
  controllerId(): number;
}

export interface BrokerServices {
  readonly config: BrokerConfig;
  readonly clock: Clock;
  readonly cluster: ClusterView;
  /** The metadata image, and topic configs as read from it. */
  readonly topics: TopicConfigs;
  /** The active controller: this node's, or the one to forward to. */
  readonly controller: ControllerChannel;
  readonly raft: RaftNode;
  /** Resolves once this broker has acted on the metadata it applied so far (logs opened, groups loaded). */
  metadataSettled(): Promise<void>;
  /** How the quorum's messages map to the wire on this node (cluster id, controller listener, voters). */
  readonly quorumWire: RaftWireContext;
  /** Metadata log entries ↔ record batches, for Fetch of the metadata log. */
  readonly metadataEntries: EntryCodec;
  readonly partitions: ReplicaManager;
  /** The partition logs and the log dir each is in. */
  readonly logs: LogManager;
  readonly groups: GroupCoordinator;
  readonly producerIds: ProducerIdManager;
  /** What Fetch reads records into. */
  readonly readBuffers: ReadBufferPool;
}
