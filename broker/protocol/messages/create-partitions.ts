import { api, array, bool, int16, int32, nullableArray, nullableString, string, struct } from '../schema.js';

export const CreatePartitions = api({
  key: 37,
  name: 'CreatePartitions',
  versions: [0, 3],
  flexibleFrom: 2,
  request: struct({
    topics: array(
      struct({
        name: string,
        count: int32,
        assignments: nullableArray(
          struct({
            brokerIds: array(int32),
          }),
        ),
      }),
    ),
    timeoutMs: int32,
    validateOnly: bool,
  }),
  response: struct({
    throttleTimeMs: int32,
    results: array(
      struct({
        name: string,
        errorCode: int16,
        errorMessage: nullableString,
      }),
    ),
  }),
});
