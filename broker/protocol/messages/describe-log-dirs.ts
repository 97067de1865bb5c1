import { api, array, bool, int16, int32, int64, nullableArray, string, struct } from '../schema.js';

/** A broker's log dirs and the size and lag of each partition in them; topics null asks for all. */
export const DescribeLogDirs = api({
  key: 35,
  name: 'DescribeLogDirs',
  versions: [1, 4],
  flexibleFrom: 2,
  request: struct({
    topics: nullableArray(
      struct({
        topic: string,
        partitions: array(int32),
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16.v(3),
    results: array(
      struct({
        errorCode: int16,
        logDir: string,
        topics: array(
          struct({
            name: string,
            partitions: array(
              struct({
                partitionIndex: int32,
                partitionSize: int64,
                offsetLag: int64,
                isFutureKey: bool,
              }),
            ),
          }),
        ),
        totalBytes: int64.default(-1).v(4),
        usableBytes: int64.default(-1).v(4),
      }),
    ),
  }),
});
