import { api, array, bool, int16, int32, int8, nullableString, string, struct } from '../schema.js';

export const IncrementalAlterConfigs = api({
  key: 44,
  name: 'IncrementalAlterConfigs',
  versions: [0, 1],
  flexibleFrom: 1,
  request: struct({
    resources: array(
      struct({
        resourceType: int8,
        resourceName: string,
        configs: array(
          struct({
            name: string,
            configOperation: int8,
            value: nullableString,
          }),
        ),
      }),
    ),
    validateOnly: bool,
  }),
  response: struct({
    throttleTimeMs: int32,
    responses: array(
      struct({
        errorCode: int16,
        errorMessage: nullableString,
        resourceType: int8,
        resourceName: string,
      }),
    ),
  }),
});
