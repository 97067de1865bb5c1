import { api, array, int16, int32, nullableArray, nullableString, string, struct } from '../schema.js';

/** Reassignments in progress (kafka-reassign-partitions.sh --verify); topics null lists all. */
export const ListPartitionReassignments = api({
  key: 46,
  name: 'ListPartitionReassignments',
  versions: [0, 0],
  flexibleFrom: 0,
  request: struct({
    timeoutMs: int32.default(60000),
    topics: nullableArray(
      struct({
        name: string,
        partitionIndexes: array(int32),
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    errorMessage: nullableString,
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            replicas: array(int32),
            addingReplicas: array(int32),
            removingReplicas: array(int32),
          }),
        ),
      }),
    ),
  }),
});
