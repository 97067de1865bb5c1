import { api, int16, int32, int64, struct } from '../schema.js';

/** A broker asks the active controller for a block of producer ids for its idempotent producers. */
export const AllocateProducerIds = api({
  key: 67,
  name: 'AllocateProducerIds',
  versions: [0, 0],
  flexibleFrom: 0,
  request: struct({
    brokerId: int32,
    brokerEpoch: int64.default(-1),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    producerIdStart: int64,
    producerIdLen: int32,
  }),
});
