import { api, array, int16, int32, int8, nullableString, string, struct } from '../schema.js';

export const FindCoordinator = api({
  key: 10,
  name: 'FindCoordinator',
  versions: [0, 6],
  flexibleFrom: 3,
  request: struct({
    key: string.v(0, 3),
    keyType: int8.v(1),
    coordinatorKeys: array(string).v(4),
  }),
  response: struct({
    throttleTimeMs: int32.v(1),
    errorCode: int16.v(0, 3),
    errorMessage: nullableString.v(1, 3),
    nodeId: int32.v(0, 3),
    host: string.v(0, 3),
    port: int32.v(0, 3),
    coordinators: array(
      struct({
        key: string,
        nodeId: int32,
        host: string,
        port: int32,
        errorCode: int16,
        errorMessage: nullableString,
      }),
    ).v(4),
  }),
});
