import { api, array, int16, int32, nullableString, string, struct, uuid } from '../schema.js';

export const DeleteTopics = api({
  key: 20,
  name: 'DeleteTopics',
  versions: [1, 6],
  flexibleFrom: 4,
  request: struct({
    topics: array(
      struct({
        name: nullableString,
        topicId: uuid,
      }),
    ).v(6),
    topicNames: array(string).v(0, 5),
    timeoutMs: int32,
  }),
  response: struct({
    throttleTimeMs: int32,
    responses: array(
      struct({
        name: nullableString.nullableFrom(6),
        topicId: uuid.v(6),
        errorCode: int16,
        errorMessage: nullableString.v(5),
      }),
    ),
  }),
});
