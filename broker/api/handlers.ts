// Every API this broker serves. ApiVersions advertises exactly this list.

import type { BrokerServices } from './services.js';
import { supportedApis, type Handler } from './dispatch.js';
import { ApiVersions } from '../protocol/messages/index.js';
import { apiVersionsHandler } from './api-versions.js';
import { describeClusterHandler, metadataHandler } from './metadata.js';
import { produceHandler } from './produce.js';
import { initProducerIdHandler } from './init-producer-id.js';
import { deleteRecordsHandler } from './delete-records.js';
import { fetchHandler } from './fetch.js';
import { listOffsetsHandler } from './list-offsets.js';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.js';
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
  alterPartitionHandler,
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
import { electLeadersHandler } from './elect-leaders.js';
import { alterPartitionReassignmentsHandler, listPartitionReassignmentsHandler } from './reassignments.js';
import { describeLogDirsHandler } from './describe-log-dirs.js';

/**
 * What a client (broker) listener serves: the client and admin APIs, DescribeQuorum,
 * UnregisterBroker and ElectLeaders (forwarded to the controller), but none of the requests only
 * nodes send each other — a client must not be able to vote, register as a broker or read the
 * metadata log.
 */
export function createHandlers(broker: BrokerServices): Handler[] {
  return withApiVersions([
    metadataHandler(broker),
    describeClusterHandler(broker),
    produceHandler(broker),
    initProducerIdHandler(broker),
    fetchHandler(broker, { metadataLog: false }),
    listOffsetsHandler(broker),
    offsetForLeaderEpochHandler(broker),
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
    describeQuorumHandler(broker),
    unregisterBrokerHandler(broker),
    electLeadersHandler(broker),
    alterPartitionReassignmentsHandler(broker),
    listPartitionReassignmentsHandler(broker),
    describeLogDirsHandler(broker),
  ]);
}

/**
 * What a controller listener serves, as Kafka's controllers do: the quorum's RPCs (Fetch only of
 * the metadata log), the requests brokers send the active controller, and the admin requests
 * forwarded to it — not produce, consume or groups.
 */
export function createControllerHandlers(broker: BrokerServices): Handler[] {
  return withApiVersions([
    voteHandler(broker),
    beginQuorumEpochHandler(broker),
    endQuorumEpochHandler(broker),
    describeQuorumHandler(broker),
    fetchHandler(broker, { metadataLog: true }),
    fetchSnapshotHandler(broker),
    brokerRegistrationHandler(broker),
    brokerHeartbeatHandler(broker),
    unregisterBrokerHandler(broker),
    allocateProducerIdsHandler(broker),
    alterPartitionHandler(broker),
    createTopicsHandler(broker),
    deleteTopicsHandler(broker),
    createPartitionsHandler(broker),
    alterConfigsHandler(broker),
    incrementalAlterConfigsHandler(broker),
    electLeadersHandler(broker),
    alterPartitionReassignmentsHandler(broker),
    listPartitionReassignmentsHandler(broker),
    describeClusterHandler(broker),
  ]);
}

function withApiVersions(handlers: Handler[]): Handler[] {
  const served = handlers.filter((h) => h.api.key !== ApiVersions.key);
  return [apiVersionsHandler(supportedApis([ApiVersions, ...served.map((h) => h.api)])), ...served];
}
