import { api, array, bytes, int16, int32, nullableString, string, struct } from '../schema.js';

export const SyncGroup = api({
  key: 14,
  name: 'SyncGroup',
  versions: [0, 5],
  flexibleFrom: 4,
  request: struct({
    groupId: string,
    generationId: int32,
    memberId: string,
    groupInstanceId: nullableString.v(3),
    protocolType: nullableString.v(5),
    protocolName: nullableString.v(5),
    assignments: array(
      struct({
        memberId: string,
        assignment: bytes,
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32.v(1),
    errorCode: int16,
    protocolType: nullableString.v(5),
    protocolName: nullableString.v(5),
    assignment: bytes,
  }),
});
