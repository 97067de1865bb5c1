import { api, array, int16, int32, nullableString, string, struct, uint16, uuid } from '../schema.js';

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
    listeners: array(
      struct({
        name: string,
        host: string,
        port: uint16,
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    errorMessage: nullableString,
  }),
});
