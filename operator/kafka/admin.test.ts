import {
  ConfigResourceTypes,
  ConfigSources,
  ResponseError,
  type ConfigDescription,
  type ConfigSourceValue,
} from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import {
  answerDespitePartitionErrors,
  clusterPartitions,
  minInsyncReplicasByTopic,
  quorumLeader,
  replicasByBroker,
  type MetadataAnswer,
} from './admin.js';

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
        { partitionIndex: 1, replicaNodes: [1, 2, 0], isrNodes: [1, 2] },
        { partitionIndex: 0, replicaNodes: [0, 1, 2], isrNodes: [0, 1, 2] },
      ],
    },
    {
      errorCode: 0,
      name: '__consumer_offsets',
      isInternal: true,
      partitions: [{ partitionIndex: 0, replicaNodes: [2, 0, 1], isrNodes: [2, 0, 1] }],
    },
    {
      errorCode: 0,
      name: 'logs',
      isInternal: false,
      partitions: [{ partitionIndex: 0, replicaNodes: [2], isrNodes: [2] }],
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
      minInsyncReplicas: 2,
    });
    expect(partitions[0]).toMatchObject({ internal: true, minInsyncReplicas: 1 });
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
