import { api, array, bool, int16, int32, int8, nullableArray, nullableString, string, struct } from '../schema.js';

export const DescribeConfigs = api({
  key: 32,
  name: 'DescribeConfigs',
  versions: [1, 4],
  flexibleFrom: 4,
  request: struct({
    resources: array(
      struct({
        resourceType: int8,
        resourceName: string,
        configurationKeys: nullableArray(string),
      }),
    ),
    includeSynonyms: bool,
    includeDocumentation: bool.v(3),
  }),
  response: struct({
    throttleTimeMs: int32,
    results: array(
      struct({
        errorCode: int16,
        errorMessage: nullableString,
        resourceType: int8,
        resourceName: string,
        configs: array(
          struct({
            name: string,
            value: nullableString,
            readOnly: bool,
            configSource: int8.default(-1),
            isSensitive: bool,
            synonyms: array(
              struct({
                name: string,
                value: nullableString,
                source: int8,
              }),
            ),
            configType: int8.v(3),
            documentation: nullableString.v(3),
          }),
        ),
      }),
    ),
  }),
});
