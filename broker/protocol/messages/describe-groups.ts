import { api, array, bool, bytes, int16, int32, nullableString, string, struct } from '../schema.js';

export const DescribeGroups = api({
  key: 15,
  name: 'DescribeGroups',
  versions: [0, 6],
  flexibleFrom: 5,
  request: struct({
    groups: array(string),
    includeAuthorizedOperations: bool.v(3),
  }),
  response: struct({
    throttleTimeMs: int32.v(1),
    groups: array(
      struct({
        errorCode: int16,
        errorMessage: nullableString.v(6),
        groupId: string,
        groupState: string,
        protocolType: string,
        protocolData: string,
        members: array(
          struct({
            memberId: string,
            groupInstanceId: nullableString.v(4),
            clientId: string,
            clientHost: string,
            memberMetadata: bytes,
            memberAssignment: bytes,
          }),
        ),
        authorizedOperations: int32.default(-2147483648).v(3),
      }),
    ),
  }),
});
