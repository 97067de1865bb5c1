import { api, int16, int32, nullableString, struct } from '../schema.js';

/** Removes a broker's registration from the cluster metadata (kafka-cluster.sh unregister). */
export const UnregisterBroker = api({
  key: 64,
  name: 'UnregisterBroker',
  versions: [0, 0],
  flexibleFrom: 0,
  request: struct({
    brokerId: int32,
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    errorMessage: nullableString,
  }),
});
