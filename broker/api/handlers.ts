// Every API this broker serves. ApiVersions advertises exactly this list.

import type { BrokerServices } from './services.js';
import { supportedApis, type Handler } from './dispatch.js';
import {
  AllocateProducerIds,
  AlterConfigs,
  ApiVersions,
  BeginQuorumEpoch,
  BrokerHeartbeat,
  BrokerRegistration,
  CreatePartitions,
  CreateTopics,
  DeleteTopics,
  DescribeCluster,
  DescribeQuorum,
  EndQuorumEpoch,
  Fetch,
  FetchSnapshot,
  IncrementalAlterConfigs,
  UnregisterBroker,
  Vote,
} from '../protocol/messages/index.js';
import { apiVersionsHandler } from './api-versions.js';
import { describeClusterHandler, metadataHandler } from './metadata.js';
import { produceHandler } from './produce.js';
import { initProducerIdHandler } from './init-producer-id.js';
import { deleteRecordsHandler } from './delete-records.js';
import { fetchHandler } from './fetch.js';
import { listOffsetsHandler } from './list-offsets.js';
import { createPartitionsHandler, createTopicsHandler, deleteTopicsHandler } from './topics.js';
import {
  deleteGroupsHandler,
  describeGroupsHandler,
  findCoordinatorHandler,
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  listGroupsHandler,
  offsetCommitHandler,
  offsetDeleteHandler,
  offsetFetchHandler,
  syncGroupHandler,
} from './groups.js';
import {
  allocateProducerIdsHandler,
  beginQuorumEpochHandler,
  brokerHeartbeatHandler,
  brokerRegistrationHandler,
  describeQuorumHandler,
  endQuorumEpochHandler,
  unregisterBrokerHandler,
  fetchSnapshotHandler,
  voteHandler,
} from './quorum.js';
import { alterConfigsHandler, describeConfigsHandler, incrementalAlterConfigsHandler } from './configs.js';

/** The handler table: one handler per API, ApiVersions answering with the others' versions. */
export function createHandlers(broker: BrokerServices): Handler[] {
  const handlers = [
    metadataHandler(broker),
    describeClusterHandler(broker),
    produceHandler(broker),
    initProducerIdHandler(broker),
    fetchHandler(broker),
    listOffsetsHandler(broker),
    deleteRecordsHandler(broker),
    createTopicsHandler(broker),
    deleteTopicsHandler(broker),
    createPartitionsHandler(broker),
    describeConfigsHandler(broker),
    alterConfigsHandler(broker),
    incrementalAlterConfigsHandler(broker),
    findCoordinatorHandler(broker),
    joinGroupHandler(broker),
    syncGroupHandler(broker),
    heartbeatHandler(broker),
    leaveGroupHandler(broker),
    offsetCommitHandler(broker),
    offsetFetchHandler(broker),
    offsetDeleteHandler(broker),
    listGroupsHandler(broker),
    describeGroupsHandler(broker),
    deleteGroupsHandler(broker),
    voteHandler(broker),
    beginQuorumEpochHandler(broker),
    endQuorumEpochHandler(broker),
    describeQuorumHandler(broker),
    fetchSnapshotHandler(broker),
    brokerRegistrationHandler(broker),
    brokerHeartbeatHandler(broker),
    unregisterBrokerHandler(broker),
    allocateProducerIdsHandler(broker),
  ];
  return withApiVersions(handlers);
}

/**
 * What a controller listener serves, as Kafka's controllers do: the quorum's RPCs, the requests
 * brokers send the active controller, and the admin requests forwarded to it — not produce,
 * consume or groups.
 */
const CONTROLLER_APIS: ReadonlySet<number> = new Set(
  [
    Vote,
    BeginQuorumEpoch,
    EndQuorumEpoch,
    DescribeQuorum,
    Fetch,
    FetchSnapshot,
    BrokerRegistration,
    BrokerHeartbeat,
    UnregisterBroker,
    AllocateProducerIds,
    CreateTopics,
    DeleteTopics,
    CreatePartitions,
    AlterConfigs,
    IncrementalAlterConfigs,
    DescribeCluster,
  ].map((api) => api.key),
);

export function createControllerHandlers(broker: BrokerServices): Handler[] {
  return withApiVersions(createHandlers(broker).filter((h) => CONTROLLER_APIS.has(h.api.key)));
}

function withApiVersions(handlers: Handler[]): Handler[] {
  const served = handlers.filter((h) => h.api.key !== ApiVersions.key);
  return [apiVersionsHandler(supportedApis([ApiVersions, ...served.map((h) => h.api)])), ...served];
}
