import { api, array, bool, int16, int32, int64, nullableArray, nullableString, string, struct } from '../schema.js';

export const OffsetFetch = api({
  key: 9,
  name: 'OffsetFetch',
  // Kafka 4.1 defines v10 (topic ids) but marks it unstable and does not advertise it.
  versions: [1, 9],
  flexibleFrom: 6,
  request: struct({
    groupId: string.v(0, 7),
    // null (v2+) asks for every partition the group has committed.
    topics: nullableArray(
      struct({
        name: string,
        partitionIndexes: array(int32),
      }),
    )
      .nullableFrom(2)
      .v(0, 7),
    groups: array(
      struct({
        groupId: string,
        memberId: nullableString.v(9),
        memberEpoch: int32.default(-1).v(9),
        topics: nullableArray(
          struct({
            name: string,
            partitionIndexes: array(int32),
          }),
        ),
      }),
    ).v(8),
    requireStable: bool.v(7),
  }),
  response: struct({
    throttleTimeMs: int32.v(3),
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            committedOffset: int64,
            committedLeaderEpoch: int32.default(-1).v(5),
            metadata: nullableString,
            errorCode: int16,
          }),
        ),
      }),
    ).v(0, 7),
    errorCode: int16.v(2, 7),
    groups: array(
      struct({
        groupId: string,
        topics: array(
          struct({
            name: string,
            partitions: array(
              struct({
                partitionIndex: int32,
                committedOffset: int64,
                committedLeaderEpoch: int32.default(-1),
                metadata: nullableString,
                errorCode: int16,
              }),
            ),
          }),
        ),
        errorCode: int16,
      }),
    ).v(8),
  }),
});
