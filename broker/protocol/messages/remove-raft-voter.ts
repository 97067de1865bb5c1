import { api, int16, int32, nullableString, struct, uuid } from '../schema.js';

/** KRaft dynamic quorum: removes a voter (kafka-metadata-quorum.sh remove-controller). */
export const RemoveRaftVoter = api({
  key: 81,
  name: 'RemoveRaftVoter',
  versions: [0, 0],
  flexibleFrom: 0,
  request: struct({
    clusterId: nullableString,
    voterId: int32,
    voterDirectoryId: uuid,
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    errorMessage: nullableString,
  }),
});
