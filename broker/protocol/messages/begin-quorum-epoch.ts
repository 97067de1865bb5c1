import { api, array, int16, int32, nullableString, string, struct, uuid } from '../schema.js';
import { listenerEndpoint, nodeEndpoint } from '../quorum-endpoints.js';

/** KRaft: a newly elected leader announces its epoch to the voters. Controller listener only. */
export const BeginQuorumEpoch = api({
  key: 53,
  name: 'BeginQuorumEpoch',
  versions: [0, 1],
  flexibleFrom: 1,
  request: struct({
    clusterId: nullableString,
    voterId: int32.default(-1).v(1),
    topics: array(
      struct({
        topicName: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            voterDirectoryId: uuid.v(1),
            leaderId: int32,
            leaderEpoch: int32,
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
