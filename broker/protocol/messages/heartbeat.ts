import { api, int16, int32, nullableString, string, struct } from '../schema.js';

export const Heartbeat = api({
  key: 12,
  name: 'Heartbeat',
  versions: [0, 4],
  flexibleFrom: 4,
  request: struct({
    groupId: string,
    generationId: int32,
    memberId: string,
    groupInstanceId: nullableString.v(3),
  }),
  response: struct({
    throttleTimeMs: int32.v(1),
    errorCode: int16,
  }),
});
