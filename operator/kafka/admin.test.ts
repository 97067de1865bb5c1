import {
  ConfigResourceTypes,
  ConfigSources,
  IncrementalAlterConfigOperationTypes,
  Reader,
  ResponseError,
  Writer,
  type ConfigDescription,
  type ConfigSourceValue,
} from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import {
  answerDespitePartErrors,
  answerDespitePartitionErrors,
  clearThrottleResources,
  clusterPartitions,
  electionOutcomes,
  errorName,
  logDirUsageOf,
  reassignmentOutcomes,
  reassignmentsInFlight,
  throttleResources,
  minInsyncReplicasByTopic,
  quorumLeader,
  replicasByBroker,
  type MetadataAnswer,
} from './admin.js';
import * as electLeaders from './elect-leaders.js';

const answer = (
  partitions: { partitionIndex: number; errorCode: number; leaderId: number }[],
  topicName = '__cluster_metadata',
) => ({
  topics: [{ topicName, partitions }],
});

describe('the active controller from a DescribeQuorum answer', () => {
  it('is the leader of __cluster_metadata-0', () => {
    expect(quorumLeader(answer([{ partitionIndex: 0, errorCode: 0, leaderId: 2 }]))).toBe(2);
  });

  it('is unknown (-1) while the quorum has no leader, or when the partition answers an error', () => {
    expect(quorumLeader(answer([{ partitionIndex: 0, errorCode: 0, leaderId: -1 }]))).toBe(-1);
    expect(quorumLeader(answer([{ partitionIndex: 0, errorCode: 6, leaderId: 1 }]))).toBe(-1);
  });

  it('is unknown when the answer is about anything but the metadata log', () => {
    expect(quorumLeader(answer([{ partitionIndex: 1, errorCode: 0, leaderId: 1 }]))).toBe(-1);
    expect(quorumLeader(answer([{ partitionIndex: 0, errorCode: 0, leaderId: 1 }], 'other'))).toBe(-1);
    expect(quorumLeader({ topics: [] })).toBe(-1);
  });
});

const METADATA_KEY = 3;
const LEADER_NOT_AVAILABLE = 5;
const UNKNOWN_TOPIC_OR_PARTITION = 3;

const metadataAnswer: MetadataAnswer = {
  topics: [
    {
      errorCode: 0,
      name: 'orders',
      isInternal: false,
      partitions: [
        { partitionIndex: 1, leaderId: 1, replicaNodes: [1, 2, 0], isrNodes: [1, 2] },
        { partitionIndex: 0, leaderId: 0, replicaNodes: [0, 1, 2], isrNodes: [0, 1, 2] },
      ],
    },
    {
      errorCode: 0,
      name: '__consumer_offsets',
      isInternal: true,
      partitions: [{ partitionIndex: 0, leaderId: 0, replicaNodes: [2, 0, 1], isrNodes: [2, 0, 1] }],
    },
    {
      errorCode: 0,
      name: 'logs',
      isInternal: false,
      partitions: [{ partitionIndex: 0, leaderId: -1, replicaNodes: [2], isrNodes: [] }],
    },
    { errorCode: UNKNOWN_TOPIC_OR_PARTITION, name: 'deleted', isInternal: false, partitions: [] },
  ],
};

const minInsync = (
  value: string | null,
  configSource: ConfigSourceValue,
  resourceName = 'orders',
): ConfigDescription => ({
  resourceType: ConfigResourceTypes.TOPIC,
  resourceName,
  configs: [
    {
      name: 'min.insync.replicas',
      value,
      readOnly: false,
      configSource,
      isSensitive: false,
      synonyms: [],
      configType: 3,
      documentation: null,
    },
  ],
});

describe('the partitions of a Metadata answer', () => {
  it('are every partition of every topic, internal ones included, in topic and partition order', () => {
    const partitions = clusterPartitions(metadataAnswer, new Map([['orders', 2]]));
    expect(partitions.map((p) => `${p.topic}-${p.partition}`)).toEqual([
      '__consumer_offsets-0',
      'logs-0',
      'orders-0',
      'orders-1',
    ]);
    expect(partitions[3]).toEqual({
      topic: 'orders',
      partition: 1,
      internal: false,
      replicas: [1, 2, 0],
      isr: [1, 2],
      leader: 1,
      minInsyncReplicas: 2,
    });
    expect(partitions[0]).toMatchObject({ internal: true, minInsyncReplicas: 1, leader: 0 });
    expect(partitions[1]).toMatchObject({ topic: 'logs', leader: -1 });
  });

  it('count the replicas each broker holds, internal topics left out', () => {
    expect(replicasByBroker(clusterPartitions(metadataAnswer, new Map()))).toEqual(
      new Map([
        [0, 2],
        [1, 2],
        [2, 3],
      ]),
    );
  });

  it('are read from an answer whose only errors are partitions without a leader', () => {
    const err = new ResponseError(
      METADATA_KEY,
      12,
      { '/topics/0/partitions/1': [LEADER_NOT_AVAILABLE, null] },
      metadataAnswer,
    );
    expect(answerDespitePartitionErrors(err)).toBe(metadataAnswer);
  });

  it('are not read from an answer with a topic error, or from any other failure', () => {
    const err = new ResponseError(
      METADATA_KEY,
      12,
      { '/topics/3': [UNKNOWN_TOPIC_OR_PARTITION, null] },
      metadataAnswer,
    );
    expect(answerDespitePartitionErrors(err)).toBeUndefined();
    expect(answerDespitePartitionErrors(new Error('connection refused'))).toBeUndefined();
  });
});

describe("a topic's effective min.insync.replicas from DescribeConfigs", () => {
  it('is its own value, or the brokers default that the same answer reports', () => {
    const byTopic = minInsyncReplicasByTopic([
      minInsync('2', ConfigSources.TOPIC_CONFIG, 'orders'),
      minInsync('3', ConfigSources.STATIC_BROKER_CONFIG, 'payments'),
      minInsync('1', ConfigSources.DEFAULT_CONFIG, 'logs'),
    ]);
    expect(byTopic).toEqual(
      new Map([
        ['orders', 2],
        ['payments', 3],
        ['logs', 1],
      ]),
    );
  });

  it('is unknown (Kafka default 1 in the partitions) when the answer lacks a usable value', () => {
    const byTopic = minInsyncReplicasByTopic([
      minInsync(null, ConfigSources.DEFAULT_CONFIG, 'a'),
      minInsync('two', ConfigSources.TOPIC_CONFIG, 'b'),
      { resourceType: ConfigResourceTypes.TOPIC, resourceName: 'c', configs: [] },
    ]);
    expect(byTopic.size).toBe(0);
    expect(clusterPartitions(metadataAnswer, byTopic).find((p) => p.topic === 'orders')?.minInsyncReplicas).toBe(1);
  });
});

const INVALID_REPLICA_ASSIGNMENT = 39;
const NO_REASSIGNMENT_IN_PROGRESS = 85;
const ELECTION_NOT_NEEDED = 84;
const PREFERRED_LEADER_NOT_AVAILABLE = 80;

describe('reassignments', () => {
  it('have one outcome per partition, an error named only where the partition was refused', () => {
    expect(
      reassignmentOutcomes({
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        responses: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, errorCode: 0, errorMessage: null },
              { partitionIndex: 1, errorCode: INVALID_REPLICA_ASSIGNMENT, errorMessage: 'broker 9 is not registered' },
            ],
          },
          {
            name: 'logs',
            partitions: [{ partitionIndex: 0, errorCode: NO_REASSIGNMENT_IN_PROGRESS, errorMessage: null }],
          },
        ],
      }),
    ).toEqual([
      { topic: 'orders', partition: 0 },
      {
        topic: 'orders',
        partition: 1,
        error: 'INVALID_REPLICA_ASSIGNMENT',
        message: 'broker 9 is not registered',
      },
      { topic: 'logs', partition: 0, error: 'NO_REASSIGNMENT_IN_PROGRESS' },
    ]);
  });

  it('in flight are listed with the replicas being added and removed, in topic and partition order', () => {
    expect(
      reassignmentsInFlight({
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 2, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] },
              { partitionIndex: 0, replicas: [1, 2], addingReplicas: [2], removingReplicas: [] },
            ],
          },
          {
            name: 'logs',
            partitions: [{ partitionIndex: 0, replicas: [3], addingReplicas: [], removingReplicas: [] }],
          },
        ],
      }),
    ).toEqual([
      { topic: 'logs', partition: 0, replicas: [3], adding: [], removing: [] },
      { topic: 'orders', partition: 0, replicas: [1, 2], adding: [2], removing: [] },
      { topic: 'orders', partition: 2, replicas: [2, 3, 4, 1], adding: [4], removing: [1] },
    ]);
  });

  it('are read from the answer a client error carries when only partitions were refused', () => {
    const response = { throttleTimeMs: 0, errorCode: 0, errorMessage: null, responses: [] };
    const partial = new ResponseError(
      45,
      0,
      { 'responses/0/partitions/0': [INVALID_REPLICA_ASSIGNMENT, null] },
      response,
    );
    expect(answerDespitePartErrors(partial)).toBe(response);
    const whole = new ResponseError(45, 0, { '': [41, 'not controller'] }, { ...response, errorCode: 41 });
    expect(answerDespitePartErrors(whole)).toBeUndefined();
    expect(answerDespitePartErrors(new Error('connection refused'))).toBeUndefined();
  });

  it('name error codes as Kafka does', () => {
    expect(errorName(INVALID_REPLICA_ASSIGNMENT)).toBe('INVALID_REPLICA_ASSIGNMENT');
    expect(errorName(30_000)).toBe('error code 30000');
  });
});

describe('preferred leader elections', () => {
  it('succeed for a partition its preferred replica already leads (ELECTION_NOT_NEEDED)', () => {
    expect(
      electionOutcomes({
        throttleTimeMs: 0,
        errorCode: 0,
        replicaElectionResults: [
          {
            topic: 'orders',
            partitionResult: [
              { partitionId: 0, errorCode: 0, errorMessage: null },
              { partitionId: 1, errorCode: ELECTION_NOT_NEEDED, errorMessage: 'Leader election not needed' },
              { partitionId: 2, errorCode: PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: 'not in sync' },
            ],
          },
        ],
      }),
    ).toEqual([
      { topic: 'orders', partition: 0 },
      { topic: 'orders', partition: 1 },
      { topic: 'orders', partition: 2, error: 'PREFERRED_LEADER_NOT_AVAILABLE', message: 'not in sync' },
    ]);
  });

  it('are encoded as ElectLeaders v2 (flexible): type, compact topics, timeout, tagged fields', () => {
    const bytes = electLeaders.createRequest(0, [{ topic: 'ab', partitions: [1, 2] }], 1000).buffer;
    expect([...bytes]).toEqual([
      0, // PREFERRED
      2, // one topic (compact length + 1)
      3,
      0x61,
      0x62, // "ab"
      3,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      2, // [1, 2]
      0, // topic tagged fields
      0,
      0,
      0x03,
      0xe8, // 1000 ms
      0, // request tagged fields
    ]);
  });

  it('are decoded from an ElectLeaders v2 answer, partition errors kept as results', () => {
    const writer = Writer.create()
      .appendInt32(0)
      .appendInt16(0)
      .appendArray([{ topic: 'ab' }], (w, t) => {
        w.appendString(t.topic).appendArray([ELECTION_NOT_NEEDED], (w, code) => {
          w.appendInt32(3).appendInt16(code).appendString(null);
        });
      })
      .appendTaggedFields();
    expect(electLeaders.parseResponse(1, 43, 2, Reader.from(writer))).toEqual({
      throttleTimeMs: 0,
      errorCode: 0,
      replicaElectionResults: [
        { topic: 'ab', partitionResult: [{ partitionId: 3, errorCode: ELECTION_NOT_NEEDED, errorMessage: null }] },
      ],
    });
  });

  it('throw on a top-level error', () => {
    const writer = Writer.create()
      .appendInt32(0)
      .appendInt16(29) // CLUSTER_AUTHORIZATION_FAILED
      .appendArray([], () => {})
      .appendTaggedFields();
    expect(() => electLeaders.parseResponse(1, 43, 2, Reader.from(writer))).toThrow(ResponseError);
  });
});

describe("a broker's log dir usage", () => {
  it('sums each replica and the volumes over its log dirs, leaving out dirs that answer an error', () => {
    const usage = logDirUsageOf(2, {
      results: [
        {
          errorCode: 0,
          topics: [
            {
              name: 'orders',
              partitions: [
                { partitionIndex: 0, partitionSize: 100n, isFutureKey: false },
                { partitionIndex: 1, partitionSize: 5n, isFutureKey: false },
              ],
            },
          ],
          totalBytes: 1000n,
          usableBytes: 400n,
        },
        {
          errorCode: 0,
          topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, partitionSize: 20n, isFutureKey: true }] }],
          totalBytes: 2000n,
          usableBytes: 1500n,
        },
        { errorCode: 57, topics: [], totalBytes: -1n, usableBytes: -1n }, // KAFKA_STORAGE_ERROR
      ],
    });
    expect(usage).toEqual({
      broker: 2,
      replicaBytes: new Map([
        ['orders-0', 120],
        ['orders-1', 5],
      ]),
      totalBytes: 3000,
      usableBytes: 1900,
    });
  });

  it('has no volume sizes (-1) when the answer has none (DescribeLogDirs before v4)', () => {
    const usage = logDirUsageOf(1, { results: [{ errorCode: 0, topics: [] }] });
    expect(usage).toMatchObject({ totalBytes: -1, usableBytes: -1 });
  });
});

describe('a replication throttle', () => {
  const SET = IncrementalAlterConfigOperationTypes.SET;
  const DELETE = IncrementalAlterConfigOperationTypes.DELETE;

  it('sets both rates on each broker and the throttled replicas of each topic', () => {
    expect(
      throttleResources({
        rateBytesPerSecond: 10_000_000,
        brokers: [1, 4],
        leaderReplicas: new Map([['orders', ['0:1', '0:2', '0:3']]]),
        followerReplicas: new Map([
          ['orders', ['0:4']],
          ['logs', []],
        ]),
      }),
    ).toEqual([
      {
        resourceType: ConfigResourceTypes.BROKER,
        resourceName: '1',
        configs: [
          { name: 'leader.replication.throttled.rate', configOperation: SET, value: '10000000' },
          { name: 'follower.replication.throttled.rate', configOperation: SET, value: '10000000' },
        ],
      },
      {
        resourceType: ConfigResourceTypes.BROKER,
        resourceName: '4',
        configs: [
          { name: 'leader.replication.throttled.rate', configOperation: SET, value: '10000000' },
          { name: 'follower.replication.throttled.rate', configOperation: SET, value: '10000000' },
        ],
      },
      {
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: 'orders',
        configs: [
          { name: 'leader.replication.throttled.replicas', configOperation: SET, value: '0:1,0:2,0:3' },
          { name: 'follower.replication.throttled.replicas', configOperation: SET, value: '0:4' },
        ],
      },
    ]);
  });

  it('is cleared by deleting the same four keys', () => {
    expect(clearThrottleResources([2], ['orders'])).toEqual([
      {
        resourceType: ConfigResourceTypes.BROKER,
        resourceName: '2',
        configs: [
          { name: 'leader.replication.throttled.rate', configOperation: DELETE },
          { name: 'follower.replication.throttled.rate', configOperation: DELETE },
        ],
      },
      {
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: 'orders',
        configs: [
          { name: 'leader.replication.throttled.replicas', configOperation: DELETE },
          { name: 'follower.replication.throttled.replicas', configOperation: DELETE },
        ],
      },
    ]);
  });
});
