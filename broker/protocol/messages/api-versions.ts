import { api, array, bool, int16, int32, int64, string, struct } from '../schema.js';

export const ApiVersions = api({
  key: 18,
  name: 'ApiVersions',
  versions: [0, 4],
  flexibleFrom: 3,
  request: struct({
    clientSoftwareName: string.v(3),
    clientSoftwareVersion: string.v(3),
  }),
  response: struct({
    errorCode: int16,
    apiKeys: array(
      struct({
        apiKey: int16,
        minVersion: int16,
        maxVersion: int16,
      }),
    ),
    throttleTimeMs: int32.v(1),
    supportedFeatures: array(
      struct({
        name: string,
        minVersion: int16,
        maxVersion: int16,
      }),
    ).tagged(0),
    finalizedFeaturesEpoch: int64.default(-1).tagged(1),
    finalizedFeatures: array(
      struct({
        name: string,
        maxVersionLevel: int16,
        minVersionLevel: int16,
      }),
    ).tagged(2),
    zkMigrationReady: bool.tagged(3),
  }),
});
