import { api, array, int16, int32, string, struct } from '../schema.js';

export const OffsetDelete = api({
  key: 47,
  name: 'OffsetDelete',
  versions: [0, 0],
  request: struct({
    groupId: string,
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
          }),
        ),
      }),
    ),
  }),
  response: struct({
    errorCode: int16,
    throttleTimeMs: int32,
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            errorCode: int16,
          }),
        ),
      }),
    ),
  }),
});
