import { api, array, int16, int32, int64, nullableString, string, struct } from '../schema.js';

export const OffsetCommit = api({
  key: 8,
  name: 'OffsetCommit',
  // Kafka 4.1 defines v10 (topic ids) but marks it unstable and does not advertise it.
  versions: [2, 9],
  flexibleFrom: 8,
  request: struct({
    groupId: string,
    generationIdOrMemberEpoch: int32.default(-1),
    memberId: string,
    groupInstanceId: nullableString.v(7),
    retentionTimeMs: int64.default(-1).v(2, 4),
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            committedOffset: int64,
            committedLeaderEpoch: int32.default(-1).v(6),
            committedMetadata: nullableString,
          }),
        ),
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32.v(3),
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            errorCode: int16,
          }),
        ),
      }),
    ),
  }),
});
