import { api, array, bool, int16, int32, int64, nullableString, string, struct, uint16, uuid } from '../schema.js';

/** A broker registers with the active controller (endpoints, rack, incarnation) and gets its broker epoch. */
export const BrokerRegistration = api({
  key: 62,
  name: 'BrokerRegistration',
  versions: [0, 4],
  flexibleFrom: 0,
  request: struct({
    brokerId: int32,
    clusterId: string,
    incarnationId: uuid,
    listeners: array(
      struct({
        name: string,
        host: string,
        port: uint16,
        securityProtocol: int16,
      }),
    ),
    features: array(
      struct({
        name: string,
        minSupportedVersion: int16,
        maxSupportedVersion: int16,
      }),
    ),
    rack: nullableString,
    isMigratingZkBroker: bool.v(1),
    logDirs: array(uuid).v(2),
    previousBrokerEpoch: int64.default(-1).v(3),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    brokerEpoch: int64.default(-1),
  }),
});
