import { api, array, bool, int16, int32, int8, nullableString, string, struct } from '../schema.js';

export const AlterConfigs = api({
  key: 33,
  name: 'AlterConfigs',
  versions: [0, 2],
  flexibleFrom: 2,
  request: struct({
    resources: array(
      struct({
        resourceType: int8,
        resourceName: string,
        configs: array(
          struct({
            name: string,
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
