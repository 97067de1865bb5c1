import { api, array, bool, bytes, int16, int32, nullableString, string, struct } from '../schema.js';

export const JoinGroup = api({
  key: 11,
  name: 'JoinGroup',
  versions: [0, 9],
  flexibleFrom: 6,
  request: struct({
    groupId: string,
    sessionTimeoutMs: int32,
    rebalanceTimeoutMs: int32.default(-1).v(1),
    memberId: string,
    groupInstanceId: nullableString.v(5),
    protocolType: string,
    protocols: array(
      struct({
        name: string,
        metadata: bytes,
      }),
    ),
    reason: nullableString.v(8),
  }),
  response: struct({
    throttleTimeMs: int32.v(2),
    errorCode: int16,
    generationId: int32.default(-1),
    protocolType: nullableString.v(7),
    // Kafka writes '' for a null before v7 (JoinGroupResponse), as nullableFrom does.
    protocolName: nullableString.nullableFrom(7),
    leader: string,
    skipAssignment: bool.v(9),
    memberId: string,
    members: array(
      struct({
        memberId: string,
        groupInstanceId: nullableString.v(5),
        metadata: bytes,
      }),
    ),
  }),
});
