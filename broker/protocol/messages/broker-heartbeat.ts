import { api, array, bool, int16, int32, int64, struct, uuid } from '../schema.js';

/** A registered broker's heartbeat to the active controller; also how it asks to be fenced or to shut down. */
export const BrokerHeartbeat = api({
  key: 63,
  name: 'BrokerHeartbeat',
  versions: [0, 1],
  flexibleFrom: 0,
  request: struct({
    brokerId: int32,
    brokerEpoch: int64.default(-1),
    currentMetadataOffset: int64,
    wantFence: bool,
    wantShutDown: bool,
    offlineLogDirs: array(uuid).tagged(0, 1),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    isCaughtUp: bool,
    isFenced: bool.default(true),
    shouldShutDown: bool,
  }),
});
