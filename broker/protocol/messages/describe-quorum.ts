import { api, array, int16, int32, int64, nullableString, string, struct, uuid } from '../schema.js';
import { listenerEndpoint } from '../quorum-endpoints.js';

/** Kafka's common struct ReplicaState: one voter's or observer's progress as the leader sees it. */
const replicaState = struct({
  replicaId: int32,
  replicaDirectoryId: uuid.v(2),
  logEndOffset: int64,
  lastFetchTimestamp: int64.default(-1).v(1),
  lastCaughtUpTimestamp: int64.default(-1).v(1),
});

/** The metadata quorum's state (kafka-metadata-quorum.sh describe). Served on broker and controller listeners. */
export const DescribeQuorum = api({
  key: 55,
  name: 'DescribeQuorum',
  versions: [0, 2],
  flexibleFrom: 0,
  request: struct({
    topics: array(
      struct({
        topicName: string,
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
    errorMessage: nullableString.v(2),
    topics: array(
      struct({
        topicName: string,
        partitions: array(
          struct({
            partitionIndex: int32,
            errorCode: int16,
            errorMessage: nullableString.v(2),
            leaderId: int32,
            leaderEpoch: int32,
            highWatermark: int64,
            currentVoters: array(replicaState),
            observers: array(replicaState),
          }),
        ),
      }),
    ),
    nodes: array(
      struct({
        nodeId: int32,
        listeners: array(listenerEndpoint),
      }),
    ).v(2),
  }),
});
