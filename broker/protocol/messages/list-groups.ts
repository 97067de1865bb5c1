import { api, array, int16, int32, string, struct } from '../schema.js';

export const ListGroups = api({
  key: 16,
  name: 'ListGroups',
  versions: [0, 5],
  flexibleFrom: 3,
  request: struct({
    statesFilter: array(string).v(4),
    typesFilter: array(string).v(5),
  }),
  response: struct({
    throttleTimeMs: int32.v(1),
    errorCode: int16,
    groups: array(
      struct({
        groupId: string,
        protocolType: string,
        groupState: string.v(4),
        groupType: string.v(5),
      }),
    ),
  }),
});
