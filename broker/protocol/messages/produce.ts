import { api, array, int16, int32, int64, nullableString, records, string, struct, uuid } from '../schema.js';

export const Produce = api({
  key: 0,
  name: 'Produce',
  versions: [3, 13],
  // As Kafka 4 does: older librdkafka disables compression unless Produce v0 is listed.
  // Requests below v3 are still refused.
  advertisedMinVersion: 0,
  flexibleFrom: 9,
  request: struct({
    transactionalId: nullableString,
    acks: int16,
    timeoutMs: int32,
    topicData: array(
      struct({
        name: string.v(0, 12),
        topicId: uuid.v(13),
        partitionData: array(
          struct({
            index: int32,
            records,
          }),
        ),
      }),
    ),
  }),
  response: struct({
    responses: array(
      struct({
        name: string.v(0, 12),
        topicId: uuid.v(13),
        partitionResponses: array(
          struct({
            index: int32,
            errorCode: int16,
            baseOffset: int64,
            logAppendTimeMs: int64.default(-1),
            logStartOffset: int64.default(-1).v(5),
            recordErrors: array(
              struct({
                batchIndex: int32,
                batchIndexErrorMessage: nullableString,
              }),
            ).v(8),
            errorMessage: nullableString.v(8),
            currentLeader: struct({
              leaderId: int32.default(-1),
              leaderEpoch: int32.default(-1),
            }).tagged(0, 10),
          }),
        ),
      }),
    ),
    throttleTimeMs: int32,
    nodeEndpoints: array(
      struct({
        nodeId: int32,
        host: string,
        port: int32,
        rack: nullableString,
      }),
    ).tagged(0, 10),
  }),
});
