import { api, array, bool, int16, int32, nullableArray, nullableString, string, struct } from '../schema.js';

/** Starts or cancels (replicas null) partition reassignments (kafka-reassign-partitions.sh --execute). */
export const AlterPartitionReassignments = api({
  key: 45,
  name: 'AlterPartitionReassignments',
  versions: [0, 1],
  flexibleFrom: 0,
  request: struct({
    timeoutMs: int32.default(60000),
    allowReplicationFactorChange: bool.default(true).v(1),
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            replicas: nullableArray(int32),
          }),
        ),
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32,
    allowReplicationFactorChange: bool.default(true).v(1),
    errorCode: int16,
    errorMessage: nullableString,
    responses: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            errorCode: int16,
            errorMessage: nullableString,
          }),
        ),
      }),
    ),
  }),
});
