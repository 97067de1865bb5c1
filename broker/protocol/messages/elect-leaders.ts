import { api, array, int16, int32, int8, nullableArray, nullableString, string, struct } from '../schema.js';

/** Preferred (0) or unclean (1) leader election for the given partitions, or all of them if null. */
export const ElectLeaders = api({
  key: 43,
  name: 'ElectLeaders',
  versions: [0, 2],
  flexibleFrom: 2,
  request: struct({
    electionType: int8.v(1),
    topicPartitions: nullableArray(
      struct({
        topic: string,
        partitions: array(int32),
      }),
    ),
    timeoutMs: int32.default(60000),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16.v(1),
    replicaElectionResults: array(
      struct({
        topic: string,
        partitionResult: array(
          struct({
            partitionId: int32,
            errorCode: int16,
            errorMessage: nullableString,
          }),
        ),
      }),
    ),
  }),
});
