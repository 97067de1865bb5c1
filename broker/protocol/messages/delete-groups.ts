import { api, array, int16, int32, string, struct } from '../schema.js';

export const DeleteGroups = api({
  key: 42,
  name: 'DeleteGroups',
  versions: [0, 2],
  flexibleFrom: 2,
  request: struct({
    groupsNames: array(string),
  }),
  response: struct({
    throttleTimeMs: int32,
    results: array(
      struct({
        groupId: string,
        errorCode: int16,
      }),
    ),
  }),
});
