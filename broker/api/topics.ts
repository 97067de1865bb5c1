// CreateTopics, DeleteTopics and CreatePartitions. Topics are processed one by one; each gets
// its own error code and message, so one bad topic does not fail the rest.

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import { CreatePartitions, CreateTopics, DeleteTopics } from '../protocol/messages/index.js';
import { ZERO_UUID } from '../protocol/schema.js';
import { describeTopicConfigs } from './configs.js';
import { handler } from './dispatch.js';

export const createTopicsHandler = (broker: BrokerServices) =>
  handler(CreateTopics, async (req) => {
    const seen = new Map<string, number>();
    for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
    const topics = [];
    for (const t of req.topics) {
      const none = { name: t.name, topicId: ZERO_UUID, numPartitions: -1, replicationFactor: -1, configs: null };
      if (seen.get(t.name)! > 1) {
        topics.push({
          ...none,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Create topics request from client contains topic ${t.name} more than once.`,
        });
        continue;
      }
      let numPartitions = t.numPartitions;
      let replicationFactor = t.replicationFactor;
      if (t.assignments.length > 0) {
        if (numPartitions !== -1 || replicationFactor !== -1) {
          topics.push({
            ...none,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage:
              'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.',
          });
          continue;
        }
        const unknown = t.assignments
          .flatMap((a) => a.brokerIds)
          .find((id) => !broker.cluster.brokers().some((b) => b.nodeId === id));
        if (unknown !== undefined) {
          topics.push({
            ...none,
            errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            errorMessage: `Replica assignment names broker ${unknown}, which is not in the cluster.`,
          });
          continue;
        }
        numPartitions = t.assignments.length;
        replicationFactor = t.assignments[0].brokerIds.length;
      }
      const result = await broker.topics.create(
        {
          name: t.name,
          numPartitions,
          replicationFactor,
          configs: t.configs.map((c) => ({ name: c.name, value: c.value })),
        },
        req.validateOnly,
      );
      if (result.errorCode !== ErrorCode.NONE) {
        topics.push({ ...none, errorCode: result.errorCode, errorMessage: result.errorMessage });
        continue;
      }
      topics.push({
        name: t.name,
        topicId: result.topic?.id ?? ZERO_UUID,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: result.numPartitions,
        replicationFactor: result.replicationFactor,
        configs: describeTopicConfigs(broker, result.topic, result.configs, null).map((c) => ({
          name: c.name,
          value: c.value,
          readOnly: c.readOnly,
          configSource: c.configSource,
          isSensitive: c.isSensitive,
        })),
      });
    }
    return { throttleTimeMs: 0, topics };
  });

export const deleteTopicsHandler = (broker: BrokerServices) =>
  handler(DeleteTopics, async (req) => {
    // Up to v5 topics come as names; from v6 as {name, topicId}, either of which may be set.
    const wanted = req.topicNames
      .map((name): { name: string | null; topicId: string } => ({ name, topicId: ZERO_UUID }))
      .concat(req.topics);
    const responses = [];
    for (const w of wanted) {
      const name = w.name ?? broker.topics.image.topicById(w.topicId)?.name;
      if (name === undefined) {
        responses.push({
          name: null,
          topicId: w.topicId,
          errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
          errorMessage: `Topic id ${w.topicId} does not exist.`,
        });
        continue;
      }
      const result = await broker.topics.delete(name);
      responses.push({
        name,
        topicId: result.topicId ?? w.topicId,
        errorCode: result.errorCode,
        errorMessage: result.errorMessage,
      });
    }
    return { throttleTimeMs: 0, responses };
  });

export const createPartitionsHandler = (broker: BrokerServices) =>
  handler(CreatePartitions, async (req) => {
    const results = [];
    for (const t of req.topics) {
      const result = await broker.topics.createPartitions(t.name, t.count, req.validateOnly);
      results.push({ name: t.name, errorCode: result.errorCode, errorMessage: result.errorMessage });
    }
    return { throttleTimeMs: 0, results };
  });
