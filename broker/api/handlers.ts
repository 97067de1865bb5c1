// Every API this broker serves. ApiVersions advertises exactly this list.

import type { BrokerContext } from '../node.js';
import type { Handler } from './dispatch.js';
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
import { alterConfigsHandler, describeConfigsHandler, incrementalAlterConfigsHandler } from './configs.js';

/** `broker` is resolved per request: the handlers are built before the broker is complete. */
export function createHandlers(broker: () => BrokerContext): Handler[] {
  return [
    apiVersionsHandler(broker),
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
  ];
}
