import { api, array, int16, int32, int64, int8, string, struct } from '../schema.js';

export const ListOffsets = api({
  key: 2,
  name: 'ListOffsets',
  versions: [1, 10],
  flexibleFrom: 6,
  request: struct({
    replicaId: int32,
    isolationLevel: int8.v(2),
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            currentLeaderEpoch: int32.default(-1).v(4),
            timestamp: int64,
          }),
        ),
      }),
    ),
    timeoutMs: int32.v(10),
  }),
  response: struct({
    throttleTimeMs: int32.v(2),
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            errorCode: int16,
            timestamp: int64.default(-1),
            offset: int64.default(-1),
            leaderEpoch: int32.default(-1).v(4),
          }),
        ),
      }),
    ),
  }),
});
