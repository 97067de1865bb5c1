import { api, array, bool, int16, int32, int8, nullableString, string, struct } from '../schema.js';

export const DescribeCluster = api({
  key: 60,
  name: 'DescribeCluster',
  versions: [0, 2],
  flexibleFrom: 0,
  request: struct({
    includeClusterAuthorizedOperations: bool,
    endpointType: int8.default(1).v(1),
    includeFencedBrokers: bool.v(2),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    errorMessage: nullableString,
    endpointType: int8.default(1).v(1),
    clusterId: string,
    controllerId: int32.default(-1),
    brokers: array(
      struct({
        brokerId: int32,
        host: string,
        port: int32,
        rack: nullableString,
        isFenced: bool.v(2),
      }),
    ),
    clusterAuthorizedOperations: int32.default(-2147483648),
  }),
});
