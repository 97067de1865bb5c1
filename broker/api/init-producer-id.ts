// InitProducerId: ids and epochs for idempotent producers (see controller/producer-ids.ts).
// Transactions are not served yet, so a request with a transactional id is refused with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the error Produce also gives for one. Kafka's closest
// alternatives are retriable (COORDINATOR_NOT_AVAILABLE would make a transactional producer
// retry until its timeout); this one fails at once, with an error that names the feature.

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import { InitProducerId } from '../protocol/messages/index.js';
import { handler } from './dispatch.js';

export const initProducerIdHandler = (broker: BrokerServices) =>
  handler(InitProducerId, async (req, ctx) => {
    if (req.transactionalId !== null) {
      ctx.logger.warn(
        { transactionalId: req.transactionalId },
        'refused InitProducerId: transactions are not supported yet',
      );
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        producerId: -1,
        producerEpoch: -1,
      };
    }
    const result = await broker.producerIds.initProducer(req.producerId, req.producerEpoch);
    return { throttleTimeMs: 0, ...result };
  });
