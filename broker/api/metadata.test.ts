import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import type { RequestContext } from './dispatch.js';
import { metadataHandler } from './metadata.js';
import type { BrokerServices } from './services.js';

/** A broker whose metadata image has no topic yet, and a controller that answers `createError`. */
function lagging(createError: number) {
  const image = { topics: () => [][Symbol.iterator](), topic: () => undefined, topicById: () => undefined };
  const broker = {
    config: { autoCreateTopics: true },
    topics: { image },
    controller: { createTopic: () => Promise.resolve({ errorCode: createError }) },
    cluster: { clusterId: 'c', nodeId: 1, brokers: () => [], controllerId: () => 0 },
  } as unknown as BrokerServices;
  const ctx = {
    header: { apiVersion: 12, clientId: 'test' },
    logger: pino({ level: 'silent' }),
  } as unknown as RequestContext;
  const ask = async () => {
    const h = metadataHandler(broker);
    const request: unknown = { topics: [{ name: 'orders', topicId: undefined }], allowAutoTopicCreation: true };
    const res = (await h.handle(request as never, ctx)) as { topics: { name: string; errorCode: number }[] };
    return res.topics.map((t) => [t.name, t.errorCode]);
  };
  return { ask };
}

describe('Metadata with auto-creation, on a broker that has not applied the topic yet', () => {
  it('answers LEADER_NOT_AVAILABLE (being created) for a topic it just created, as Kafka does', async () => {
    expect(await lagging(ErrorCode.NONE).ask()).toEqual([['orders', ErrorCode.LEADER_NOT_AVAILABLE]]);
  });

  it('answers LEADER_NOT_AVAILABLE, not UNKNOWN_TOPIC_OR_PARTITION, for a topic another broker created a moment ago', async () => {
    // A client that already saw the topic elsewhere would take UNKNOWN_TOPIC_OR_PARTITION as "gone".
    expect(await lagging(ErrorCode.TOPIC_ALREADY_EXISTS).ask()).toEqual([['orders', ErrorCode.LEADER_NOT_AVAILABLE]]);
  });

  it("answers the controller's refusal when it would not create the topic", async () => {
    expect(await lagging(ErrorCode.INVALID_REPLICATION_FACTOR).ask()).toEqual([
      ['orders', ErrorCode.INVALID_REPLICATION_FACTOR],
    ]);
  });
});

describe('Metadata of a partition whose leader is not serving', () => {
  it('answers LEADER_NOT_AVAILABLE with no leader id, and lists the replica offline, as Kafka does', async () => {
    const topic = {
      name: 'orders',
      id: 'AAAAAAAAAAAAAAAAAAAAAg',
      configs: new Map(),
      partitions: [
        { partition: 0, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1] },
        { partition: 1, leader: -1, leaderEpoch: 2, replicas: [2], isr: [2] },
      ],
    };
    const image = { topics: () => [topic][Symbol.iterator](), topic: () => topic, topicById: () => topic };
    const broker = {
      config: { autoCreateTopics: false },
      topics: { image },
      cluster: {
        clusterId: 'c',
        nodeId: 1,
        brokers: () => [{ nodeId: 1, host: 'h', port: 1, rack: null }],
        controllerId: () => 1,
      },
    } as unknown as BrokerServices;
    const ctx = {
      header: { apiVersion: 12, clientId: 'test' },
      logger: pino({ level: 'silent' }),
    } as unknown as RequestContext;
    const request: unknown = { topics: [{ name: 'orders', topicId: undefined }], allowAutoTopicCreation: false };
    const res = (await metadataHandler(broker).handle(request as never, ctx)) as {
      topics: { partitions: { errorCode: number; leaderId: number; offlineReplicas: number[] }[] }[];
    };
    expect(res.topics[0].partitions).toMatchObject([
      { errorCode: ErrorCode.NONE, leaderId: 1, offlineReplicas: [] },
      { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1, offlineReplicas: [2] },
    ]);
  });
});
