import { api, array, bool, int16, int32, nullableArray, nullableString, string, struct, uuid } from '../schema.js';

export const Metadata = api({
  key: 3,
  name: 'Metadata',
  versions: [0, 13],
  flexibleFrom: 9,
  request: struct({
    // null (v1+) asks for all topics; v0 sends an empty array for that.
    topics: nullableArray(
      struct({
        topicId: uuid.v(10),
        name: nullableString.nullableFrom(10),
      }),
    ).nullableFrom(1),
    allowAutoTopicCreation: bool.default(true).v(4),
    includeClusterAuthorizedOperations: bool.v(8, 10),
    includeTopicAuthorizedOperations: bool.v(8),
  }),
  response: struct({
    throttleTimeMs: int32.v(3),
    brokers: array(
      struct({
        nodeId: int32,
        host: string,
        port: int32,
        rack: nullableString.v(1),
      }),
    ),
    clusterId: nullableString.v(2),
    controllerId: int32.default(-1).v(1),
    topics: array(
      struct({
        errorCode: int16,
        name: nullableString.nullableFrom(12),
        topicId: uuid.v(10),
        isInternal: bool.v(1),
        partitions: array(
          struct({
            errorCode: int16,
            partitionIndex: int32,
            leaderId: int32,
            leaderEpoch: int32.default(-1).v(7),
            replicaNodes: array(int32),
            isrNodes: array(int32),
            offlineReplicas: array(int32).v(5),
          }),
        ),
        topicAuthorizedOperations: int32.default(-2147483648).v(8),
      }),
    ),
    clusterAuthorizedOperations: int32.default(-2147483648).v(8, 10),
    errorCode: int16.v(13),
  }),
});
