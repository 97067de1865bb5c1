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
  return [apiVersionsHandler(supportedApis([ApiVersions, ...handlers.map((h) => h.api)])), ...handlers];
}
