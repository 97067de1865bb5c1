import { api, array, int16, int32, int64, string, struct } from '../schema.js';

export const OffsetForLeaderEpoch = api({
  key: 23,
  name: 'OffsetForLeaderEpoch',
  versions: [2, 4],
  flexibleFrom: 4,
  request: struct({
    // Consumers send -1 and followers their broker id; -2 stands for "not sent" (before v3).
    replicaId: int32.default(-2).v(3),
    topics: array(
      struct({
        topic: string,
        partitions: array(
          struct({
            partition: int32,
            currentLeaderEpoch: int32.default(-1),
            leaderEpoch: int32,
          }),
        ),
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32,
    topics: array(
      struct({
        topic: string,
        partitions: array(
          struct({
            errorCode: int16,
            partition: int32,
            leaderEpoch: int32.default(-1),
            endOffset: int64.default(-1),
          }),
        ),
      }),
    ),
  }),
});
