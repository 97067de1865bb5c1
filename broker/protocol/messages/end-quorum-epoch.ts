import { api, array, int16, int32, nullableString, string, struct, uuid } from '../schema.js';
import { listenerEndpoint, nodeEndpoint } from '../quorum-endpoints.js';

/** KRaft: a leader stepping down (e.g. at shutdown) asks the voters to elect another. Controller listener only. */
export const EndQuorumEpoch = api({
  key: 54,
  name: 'EndQuorumEpoch',
  versions: [0, 1],
  flexibleFrom: 1,
  request: struct({
    clusterId: nullableString,
    topics: array(
      struct({
        topicName: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            leaderId: int32,
            leaderEpoch: int32,
            preferredSuccessors: array(int32).v(0, 0),
            preferredCandidates: array(
              struct({
                candidateId: int32,
                candidateDirectoryId: uuid,
              }),
            ).v(1),
          }),
        ),
      }),
    ),
    leaderEndpoints: array(listenerEndpoint).v(1),
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
          }),
        ),
      }),
    ),
    nodeEndpoints: array(nodeEndpoint).tagged(0, 1),
  }),
});
