import {
  api,
  array,
  bool,
  int16,
  int32,
  int8,
  nullableArray,
  nullableString,
  string,
  struct,
  uuid,
} from '../schema.js';

export const CreateTopics = api({
  key: 19,
  name: 'CreateTopics',
  versions: [2, 7],
  flexibleFrom: 5,
  request: struct({
    topics: array(
      struct({
        name: string,
        numPartitions: int32,
        replicationFactor: int16,
        assignments: array(
          struct({
            partitionIndex: int32,
            brokerIds: array(int32),
          }),
        ),
        configs: array(
          struct({
            name: string,
            value: nullableString,
          }),
        ),
      }),
    ),
    timeoutMs: int32.default(60000),
    validateOnly: bool,
  }),
  response: struct({
    throttleTimeMs: int32,
    topics: array(
      struct({
        name: string,
        topicId: uuid.v(7),
        errorCode: int16,
        errorMessage: nullableString,
        topicConfigErrorCode: int16.tagged(0),
        numPartitions: int32.default(-1).v(5),
        replicationFactor: int16.default(-1).v(5),
        configs: nullableArray(
          struct({
            name: string,
            value: nullableString,
            readOnly: bool,
            configSource: int8.default(-1),
            isSensitive: bool,
          }),
        ).v(5),
      }),
    ),
  }),
});
