import { METADATA_VERSION_LEVEL, METADATA_VERSION_MIN_LEVEL } from '../metadata/records.js';
import { ErrorCode } from '../protocol/errors.js';
import { ApiVersions } from '../protocol/messages/index.js';
import { handler, type SupportedApi } from './dispatch.js';

/**
 * Feature levels of `metadata.version`: 7 is 3.3-IV3, the oldest Kafka 4 accepts; 27 is 4.1-IV1,
 * the Kafka 4.1 release whose APIs and versions this broker serves (the level is finalized, as
 * in a fresh Kafka 4.1 cluster). Clients and `kafka-features.sh describe` read them here.
 */
const METADATA_VERSION = {
  name: 'metadata.version',
  minVersion: METADATA_VERSION_MIN_LEVEL,
  maxVersion: METADATA_VERSION_LEVEL,
};
const FINALIZED_FEATURES_EPOCH = 0;

/** Answers with `apiKeys`: the handler table's APIs and versions (see handlers.ts). */
export const apiVersionsHandler = (apiKeys: readonly SupportedApi[]) =>
  handler(ApiVersions, () => ({
    errorCode: ErrorCode.NONE,
    apiKeys: [...apiKeys],
    throttleTimeMs: 0,
    supportedFeatures: [METADATA_VERSION],
    finalizedFeaturesEpoch: FINALIZED_FEATURES_EPOCH,
    finalizedFeatures: [
      {
        name: METADATA_VERSION.name,
        minVersionLevel: METADATA_VERSION.maxVersion,
        maxVersionLevel: METADATA_VERSION.maxVersion,
      },
    ],
  }));
