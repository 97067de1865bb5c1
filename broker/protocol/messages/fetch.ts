import {
  api,
  array,
  int16,
  int32,
  int64,
  int8,
  nullableArray,
  nullableString,
  records,
  string,
  struct,
  uuid,
} from '../schema.js';

export const Fetch = api({
  key: 1,
  name: 'Fetch',
  versions: [4, 18],
  flexibleFrom: 12,
  request: struct({
    clusterId: nullableString.tagged(0),
    replicaId: int32.default(-1).v(0, 14),
    replicaState: struct({
      replicaId: int32.default(-1),
      replicaEpoch: int64.default(-1),
    }).tagged(1, 15),
    maxWaitMs: int32,
    minBytes: int32,
    maxBytes: int32.default(0x7fffffff),
    isolationLevel: int8,
    sessionId: int32.v(7),
    sessionEpoch: int32.default(-1).v(7),
    topics: array(
      struct({
        topic: string.v(0, 12),
        topicId: uuid.v(13),
        partitions: array(
          struct({
            partition: int32,
            currentLeaderEpoch: int32.default(-1).v(9),
            fetchOffset: int64,
            lastFetchedEpoch: int32.default(-1).v(12),
            logStartOffset: int64.default(-1).v(5),
            partitionMaxBytes: int32,
            replicaDirectoryId: uuid.tagged(0, 17),
            // Kafka's default is Long.MAX_VALUE, which reads back as 2^63 in a JS number.
            highWatermark: int64.default(2 ** 63).tagged(1, 18),
          }),
        ),
      }),
    ),
    forgottenTopicsData: array(
      struct({
        topic: string.v(7, 12),
        topicId: uuid.v(13),
        partitions: array(int32),
      }),
    ).v(7),
    rackId: string.v(11),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16.v(7),
    sessionId: int32.v(7),
    responses: array(
      struct({
        topic: string.v(0, 12),
        topicId: uuid.v(13),
        partitions: array(
          struct({
            partitionIndex: int32,
            errorCode: int16,
            highWatermark: int64,
            lastStableOffset: int64.default(-1),
            logStartOffset: int64.default(-1).v(5),
            divergingEpoch: struct({
              epoch: int32.default(-1),
              endOffset: int64.default(-1),
            }).tagged(0),
            currentLeader: struct({
              leaderId: int32.default(-1),
              leaderEpoch: int32.default(-1),
            }).tagged(1),
            snapshotId: struct({
              endOffset: int64.default(-1),
              epoch: int32.default(-1),
            }).tagged(2),
            abortedTransactions: nullableArray(
              struct({
                producerId: int64,
                firstOffset: int64,
              }),
            ),
            preferredReadReplica: int32.default(-1).v(11),
            records,
          }),
        ),
      }),
    ),
    nodeEndpoints: array(
      struct({
        nodeId: int32,
        host: string,
        port: int32,
        rack: nullableString,
      }),
    ).tagged(0, 16),
  }),
});
