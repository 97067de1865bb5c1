import { api, array, bool, int16, int32, int64, nullableString, string, struct, uuid } from '../schema.js';
import { nodeEndpoint } from '../quorum-endpoints.js';

/** KRaft: a candidate (or, from v2, a pre-candidate) asks a voter for its vote. Controller listener only. */
export const Vote = api({
  key: 52,
  name: 'Vote',
  versions: [0, 2],
  flexibleFrom: 0,
  request: struct({
    clusterId: nullableString,
    voterId: int32.default(-1).v(1),
    topics: array(
      struct({
        topicName: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            replicaEpoch: int32,
            replicaId: int32,
            replicaDirectoryId: uuid.v(1),
            voterDirectoryId: uuid.v(1),
            lastOffsetEpoch: int32,
            lastOffset: int64,
            preVote: bool.v(2),
          }),
        ),
      }),
    ),
  }),
  response: struct({
    errorCode: int16,
    topics: array(
      struct({
        topicName: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            errorCode: int16,
            leaderId: int32,
            leaderEpoch: int32,
            voteGranted: bool,
          }),
        ),
      }),
    ),
    nodeEndpoints: array(nodeEndpoint).tagged(0, 1),
  }),
});
