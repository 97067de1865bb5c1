import { api, array, int16, int32, int64, int8, struct, uuid } from '../schema.js';

/** A partition leader asks the controller to change its ISR. Controller listener only; Kafka 4 serves v2 and up (topic ids). */
export const AlterPartition = api({
  key: 56,
  name: 'AlterPartition',
  versions: [2, 3],
  flexibleFrom: 0,
  request: struct({
    brokerId: int32,
    brokerEpoch: int64.default(-1),
    topics: array(
      struct({
        topicId: uuid.v(2),
        partitions: array(
          struct({
            partitionIndex: int32,
            leaderEpoch: int32,
            newIsr: array(int32).v(0, 2),
            newIsrWithEpochs: array(
              struct({
                brokerId: int32,
                brokerEpoch: int64.default(-1),
              }),
            ).v(3),
            leaderRecoveryState: int8.v(1),
            partitionEpoch: int32,
          }),
        ),
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    topics: array(
      struct({
        topicId: uuid.v(2),
        partitions: array(
          struct({
            partitionIndex: int32,
            errorCode: int16,
            leaderId: int32,
            leaderEpoch: int32,
            isr: array(int32),
            leaderRecoveryState: int8.v(1),
            partitionEpoch: int32,
          }),
        ),
      }),
    ),
  }),
});
