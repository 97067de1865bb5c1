import type { BrokerServices } from './services.js';
import { INTERNAL_TOPICS } from '../controller/topics.js';
import type { TopicState } from '../metadata/image.js';
import { ErrorCode } from '../protocol/errors.js';
import { DescribeCluster, Metadata } from '../protocol/messages/index.js';
import { ZERO_UUID } from '../protocol/schema.js';
import { handler, type RequestContext } from './dispatch.js';

/** Kafka's "authorized operations were not requested" marker. */
const OPERATIONS_NOT_REQUESTED = -2147483648;
/** READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS: no ACLs yet, so all. */
const ALL_TOPIC_OPERATIONS = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
const ALL_CLUSTER_OPERATIONS = (1 << 4) | (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/**
 * Creates topics named in a Metadata request when the broker and the request allow it. Each topic
 * maps to the error its entry in the response gets while this broker's metadata does not show it
 * yet: LEADER_NOT_AVAILABLE (being created) when it was created, here or by another broker, as
 * Kafka answers; the controller's error when it was refused.
 */
async function autoCreate(broker: BrokerServices, names: string[], ctx: RequestContext): Promise<Map<string, number>> {
  const errors = new Map<string, number>();
  for (const name of names) {
    const result = await broker.controller.createTopic(
      { name, numPartitions: -1, replicationFactor: -1, configs: [] },
      false,
    );
    if (result.errorCode === ErrorCode.NONE) {
      ctx.logger.info({ topic: name, client: ctx.header.clientId }, 'auto-created topic');
    }
    // Committed on the controller but not yet applied here (or created by another broker a moment
    // ago): UNKNOWN_TOPIC_OR_PARTITION would tell a client that knew the topic that it is gone
    // (librdkafka then fails its queued records), where it is only on its way to this broker.
    const created = result.errorCode === ErrorCode.NONE || result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS;
    errors.set(name, created ? ErrorCode.LEADER_NOT_AVAILABLE : result.errorCode);
  }
  return errors;
}

/** `live`: the brokers serving now; replicas on any other (fenced, or gone) are offline. */
function describeTopic(live: ReadonlySet<number>, topic: TopicState, includeOperations: boolean) {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: INTERNAL_TOPICS.has(topic.name),
    // A partition whose leader is not a live broker (offline: leader -1) is LEADER_NOT_AVAILABLE
    // with no leader id, as Kafka answers: clients look the leader up among the brokers listed.
    partitions: topic.partitions.map((p) => ({
      errorCode: live.has(p.leader) ? ErrorCode.NONE : ErrorCode.LEADER_NOT_AVAILABLE,
      partitionIndex: p.partition,
      leaderId: live.has(p.leader) ? p.leader : -1,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
      offlineReplicas: p.replicas.filter((id) => !live.has(id)),
    })),
    topicAuthorizedOperations: includeOperations ? ALL_TOPIC_OPERATIONS : OPERATIONS_NOT_REQUESTED,
  };
}

export const metadataHandler = (broker: BrokerServices) =>
  handler(Metadata, async (req, ctx) => {
    const image = broker.topics.image;
    const version = ctx.header.apiVersion;
    // v0 asks for every topic with an empty list; later versions with null.
    const all = req.topics === null || (version === 0 && req.topics.length === 0);
    const includeOps = req.includeTopicAuthorizedOperations;
    const live = new Set(broker.cluster.brokers().map((b) => b.nodeId));

    let topics;
    if (all) {
      topics = [...image.topics()].map((t) => describeTopic(live, t, includeOps));
    } else {
      const requested = req.topics!.map((t) => t.name ?? image.topicById(t.topicId)?.name ?? null);
      const missing = requested.filter((n): n is string => n !== null && !image.topic(n));
      const allowAuto = broker.config.autoCreateTopics && (version < 4 || req.allowAutoTopicCreation);
      const createErrors = allowAuto ? await autoCreate(broker, [...new Set(missing)], ctx) : new Map<string, number>();
      topics = req.topics!.map((t, i) => {
        const name = requested[i];
        const topic = name === null ? undefined : image.topic(name);
        if (topic) return describeTopic(live, topic, includeOps);
        const unknownById = name === null;
        return {
          errorCode:
            createErrors.get(name ?? '') ??
            (unknownById ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
          name: name ?? null,
          topicId: t.topicId ?? ZERO_UUID,
          isInternal: false,
          partitions: [],
          topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
        };
      });
    }
    return {
      throttleTimeMs: 0,
      brokers: broker.cluster.brokers().map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
      clusterId: broker.cluster.clusterId,
      controllerId: broker.cluster.controllerId(),
      topics,
      clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
        ? ALL_CLUSTER_OPERATIONS
        : OPERATIONS_NOT_REQUESTED,
      errorCode: ErrorCode.NONE,
    };
  });

export const describeClusterHandler = (broker: BrokerServices) =>
  handler(DescribeCluster, (req) => {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType: req.endpointType,
      clusterId: broker.cluster.clusterId,
      controllerId: broker.cluster.controllerId(),
      brokers: broker.cluster
        .brokers()
        .map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: b.rack, isFenced: false })),
      clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
        ? ALL_CLUSTER_OPERATIONS
        : OPERATIONS_NOT_REQUESTED,
    };
  });
