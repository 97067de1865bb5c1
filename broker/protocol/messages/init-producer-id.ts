import { api, int16, int32, int64, nullableString, struct } from '../schema.js';

export const InitProducerId = api({
  key: 22,
  name: 'InitProducerId',
  // Kafka 4.1 defines v6 (two-phase commit) but marks it unstable and does not advertise it.
  versions: [0, 5],
  flexibleFrom: 2,
  request: struct({
    transactionalId: nullableString,
    transactionTimeoutMs: int32,
    producerId: int64.default(-1).v(3),
    producerEpoch: int16.default(-1).v(3),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    producerId: int64.default(-1),
    producerEpoch: int16,
  }),
});
