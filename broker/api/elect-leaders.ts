// ElectLeaders (`kafka-leader-election.sh`): preferred or unclean leader elections, decided by the
// active controller; any node forwards the request there and relays the answer, as Kafka's
// brokers do.

import type { BrokerServices } from './services.js';
import { failedElections } from '../controller/leaders.js';
import { ElectLeaders } from '../protocol/messages/index.js';
import { controllerHandler } from './dispatch.js';

export const electLeadersHandler = (broker: BrokerServices) =>
  controllerHandler(
    ElectLeaders,
    broker.controller,
    async (controller, req) => {
      const r = await controller.electLeaders(req.electionType, req.topicPartitions);
      return { throttleTimeMs: 0, errorCode: r.errorCode, replicaElectionResults: r.results };
    },
    (req, errorCode, errorMessage) => ({
      throttleTimeMs: 0,
      errorCode,
      replicaElectionResults: failedElections(req.topicPartitions, errorCode, errorMessage),
    }),
  );
