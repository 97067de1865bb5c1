// CreateTopics, DeleteTopics and CreatePartitions. Topics are processed one by one; each gets
// its own error code and message, so one bad topic does not fail the rest.

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import { CreatePartitions, CreateTopics, DeleteTopics } from '../protocol/messages/index.js';
import { ZERO_UUID } from '../protocol/schema.js';
import { describeTopicConfigs } from './configs.js';
import { NODE_CLIENT_ID_PREFIX } from '../cluster/controller-channel.js';
import { controllerHandler } from './dispatch.js';

export const createTopicsHandler = (broker: BrokerServices) =>
  controllerHandler(
    CreateTopics,
    broker.controller,
    async (controller, req, ctx) => {
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
        const numPartitions = t.numPartitions;
        const replicationFactor = t.replicationFactor;
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
        }
        const assignments =
          t.assignments.length > 0
            ? [...t.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex).map((a) => a.brokerIds)
            : undefined;
        const result = await controller.topics.create(
          {
            name: t.name,
            numPartitions,
            replicationFactor,
            configs: t.configs.map((c) => ({ name: c.name, value: c.value })),
            assignments,
          },
          req.validateOnly,
          // Brokers create the internal topics they need (__consumer_offsets) through this request too.
          { internal: ctx.header.clientId?.startsWith(NODE_CLIENT_ID_PREFIX) ?? false },
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
    },
    (req, errorCode, errorMessage) => ({
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        topicId: ZERO_UUID,
        errorCode,
        errorMessage,
        numPartitions: -1,
        replicationFactor: -1,
        configs: null,
      })),
    }),
  );

export const deleteTopicsHandler = (broker: BrokerServices) =>
  controllerHandler(
    DeleteTopics,
    broker.controller,
    async (controller, req) => {
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
        const result = await controller.topics.delete(name);
        responses.push({
          name,
          topicId: result.topicId ?? w.topicId,
          errorCode: result.errorCode,
          errorMessage: result.errorMessage,
        });
      }
      return { throttleTimeMs: 0, responses };
    },
    (req, errorCode, errorMessage) => ({
      throttleTimeMs: 0,
      responses: [
        ...req.topicNames.map((name) => ({ name, topicId: ZERO_UUID, errorCode, errorMessage })),
        ...req.topics.map((t) => ({ name: t.name, topicId: t.topicId, errorCode, errorMessage })),
      ],
    }),
  );

export const createPartitionsHandler = (broker: BrokerServices) =>
  controllerHandler(
    CreatePartitions,
    broker.controller,
    async (controller, req) => {
      const results = [];
      for (const t of req.topics) {
        const result = await controller.topics.createPartitions(
          t.name,
          t.count,
          req.validateOnly,
          t.assignments?.map((a) => a.brokerIds) ?? null,
        );
        results.push({ name: t.name, errorCode: result.errorCode, errorMessage: result.errorMessage });
      }
      return { throttleTimeMs: 0, results };
    },
    (req, errorCode, errorMessage) => ({
      throttleTimeMs: 0,
      results: req.topics.map((t) => ({ name: t.name, errorCode, errorMessage })),
    }),
  );
