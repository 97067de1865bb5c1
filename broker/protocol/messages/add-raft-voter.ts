import { api, array, int16, int32, nullableString, struct, uuid } from '../schema.js';
import { listenerEndpoint } from '../quorum-endpoints.js';

/** KRaft dynamic quorum: adds a voter (kafka-metadata-quorum.sh add-controller). */
export const AddRaftVoter = api({
  key: 80,
  name: 'AddRaftVoter',
  versions: [0, 0],
  flexibleFrom: 0,
  request: struct({
    clusterId: nullableString,
    timeoutMs: int32,
    voterId: int32,
    voterDirectoryId: uuid,
    listeners: array(listenerEndpoint),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    errorMessage: nullableString,
  }),
});
