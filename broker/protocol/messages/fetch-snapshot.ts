import { api, array, int16, int32, int64, nullableString, records, string, struct, uuid } from '../schema.js';
import { nodeEndpoint } from '../quorum-endpoints.js';

/** A version beyond any FetchSnapshot version: the field is never nullable. */
const NEVER_NULL = 0x7fff;

/** KRaft: a follower or observer reads a metadata snapshot in chunks (`position`). Controller listener only. */
export const FetchSnapshot = api({
  key: 59,
  name: 'FetchSnapshot',
  versions: [0, 1],
  flexibleFrom: 0,
  request: struct({
    clusterId: nullableString.tagged(0),
    replicaId: int32.default(-1),
    maxBytes: int32.default(0x7fffffff),
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            partition: int32,
            currentLeaderEpoch: int32,
            snapshotId: struct({
              endOffset: int64,
              epoch: int32,
            }),
            position: int64,
            replicaDirectoryId: uuid.tagged(0, 1),
          }),
        ),
      }),
    ),
  }),
  response: struct({
    throttleTimeMs: int32,
    errorCode: int16,
    topics: array(
      struct({
        name: string,
        partitions: array(
          struct({
            index: int32,
            errorCode: int16,
            snapshotId: struct({
              endOffset: int64,
              epoch: int32,
            }),
            currentLeader: struct({
              leaderId: int32,
              leaderEpoch: int32,
            }).tagged(0),
            size: int64,
            position: int64,
            // Kafka's UnalignedRecords may not be null, at any version; our records type is nullable.
            unalignedRecords: records.nullableFrom(NEVER_NULL),
          }),
        ),
      }),
    ),
    nodeEndpoints: array(nodeEndpoint).tagged(0, 1),
  }),
});
