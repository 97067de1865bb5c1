// AlterPartitionReassignments and ListPartitionReassignments (kafka-reassign-partitions.sh
// --execute, --cancel, --verify; AdminClient.alterPartitionReassignments): decided and answered by
// the active controller, to which any node forwards them, as Kafka's brokers do.

import type { BrokerServices } from './services.js';
import { AlterPartitionReassignments, ListPartitionReassignments } from '../protocol/messages/index.js';
import { controllerHandler } from './dispatch.js';

export const alterPartitionReassignmentsHandler = (broker: BrokerServices) =>
  controllerHandler(
    AlterPartitionReassignments,
    broker.controller,
    async (controller, req) => ({
      throttleTimeMs: 0,
      allowReplicationFactorChange: req.allowReplicationFactorChange,
      ...(await controller.alterPartitionReassignments(req.topics, req.allowReplicationFactorChange)),
    }),
    (req, errorCode, errorMessage) => ({
      throttleTimeMs: 0,
      allowReplicationFactorChange: req.allowReplicationFactorChange,
      errorCode,
      errorMessage,
      responses: [],
    }),
  );

export const listPartitionReassignmentsHandler = (broker: BrokerServices) =>
  controllerHandler(
    ListPartitionReassignments,
    broker.controller,
    (controller, req) =>
      Promise.resolve({
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        topics: controller.listPartitionReassignments(req.topics),
      }),
    (_req, errorCode, errorMessage) => ({ throttleTimeMs: 0, errorCode, errorMessage, topics: [] }),
  );
