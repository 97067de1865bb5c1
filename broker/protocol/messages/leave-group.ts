import { api, array, int16, int32, nullableString, string, struct } from '../schema.js';

export const LeaveGroup = api({
  key: 13,
  name: 'LeaveGroup',
  versions: [0, 5],
  flexibleFrom: 4,
  request: struct({
    groupId: string,
    memberId: string.v(0, 2),
    members: array(
      struct({
        memberId: string,
        groupInstanceId: nullableString,
        reason: nullableString.v(5),
      }),
    ).v(3),
  }),
  response: struct({
    throttleTimeMs: int32.v(1),
    errorCode: int16,
    members: array(
      struct({
        memberId: string,
        groupInstanceId: nullableString,
        errorCode: int16,
      }),
    ).v(3),
  }),
});
