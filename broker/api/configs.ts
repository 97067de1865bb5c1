// DescribeConfigs for topics and brokers; AlterConfigs (replace-all) and
// IncrementalAlterConfigs (set / delete / append / subtract) for topics. Broker configs are
// static for now: altering them is refused with a message saying so.

import type { BrokerServices } from './services.js';
import type { AlterOp } from '../controller/topics.js';
import type { QuorumController } from '../controller/quorum-controller.js';
import { BROKER_KEYS, TOPIC_KEYS, type ConfigType } from '../config/keys.js';
import type { TopicState } from '../metadata/image.js';
import { ErrorCode } from '../protocol/errors.js';
import { AlterConfigs, DescribeConfigs, IncrementalAlterConfigs } from '../protocol/messages/index.js';
import { controllerHandler, handler } from './dispatch.js';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;

const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

const CONFIG_TYPE_CODES: Record<ConfigType, number> = {
  boolean: 1,
  string: 2,
  int: 3,
  long: 5,
  double: 6,
  list: 7,
  password: 9,
};
const OPS: AlterOp[] = ['set', 'delete', 'append', 'subtract'];

interface Synonym {
  name: string;
  value: string | null;
  source: number;
}

export interface DescribedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  synonyms: Synonym[];
  configType: number;
  documentation: string | null;
}

/**
 * Topic configs with their sources. `overrides` replaces the topic's own overrides (used
 * for a validate-only CreateTopics, where the topic does not exist yet).
 */
export function describeTopicConfigs(
  broker: BrokerServices,
  topic: TopicState | undefined,
  overrides: ReadonlyMap<string, string> | undefined,
  keys: readonly string[] | null,
): DescribedConfig[] {
  const own = overrides ?? topic?.configs ?? new Map<string, string>();
  const wanted = keys === null ? TOPIC_KEYS : TOPIC_KEYS.filter((k) => keys.includes(k.name));
  return wanted.map((k) => {
    const synonyms: Synonym[] = [];
    if (own.has(k.name)) synonyms.push({ name: k.name, value: own.get(k.name)!, source: SOURCE_DYNAMIC_TOPIC });
    const brokerValue = broker.config.explicit.get(k.brokerSynonym);
    if (brokerValue !== undefined)
      synonyms.push({ name: k.brokerSynonym, value: brokerValue, source: SOURCE_STATIC_BROKER });
    synonyms.push({ name: k.brokerSynonym, value: broker.config.topicDefaults.get(k.name)!, source: SOURCE_DEFAULT });
    const effective = synonyms[0];
    return {
      name: k.name,
      value: own.get(k.name) ?? broker.config.topicDefaults.get(k.name)!,
      readOnly: false,
      isDefault: effective.source === SOURCE_DEFAULT,
      configSource: effective.source,
      isSensitive: false,
      synonyms,
      configType: CONFIG_TYPE_CODES[k.type],
      documentation: null,
    };
  });
}

function describeBrokerConfigs(broker: BrokerServices, keys: readonly string[] | null): DescribedConfig[] {
  const wanted = keys === null ? BROKER_KEYS : BROKER_KEYS.filter((k) => keys.includes(k.name));
  return wanted.map((k) => {
    const explicit = broker.config.explicit.get(k.name);
    const sensitive = k.type === 'password';
    const source = explicit !== undefined ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT;
    const value = sensitive ? null : broker.config.get(k.name);
    return {
      name: k.name,
      value,
      readOnly: true,
      isDefault: source === SOURCE_DEFAULT,
      configSource: source,
      isSensitive: sensitive,
      synonyms: [{ name: k.name, value, source }],
      configType: CONFIG_TYPE_CODES[k.type],
      documentation: null,
    };
  });
}

export const describeConfigsHandler = (broker: BrokerServices) =>
  handler(DescribeConfigs, (req) => {
    const results = req.resources.map((r) => {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName, errorMessage: null };
      let configs: DescribedConfig[];
      if (r.resourceType === RESOURCE_TOPIC) {
        const topic = broker.topics.image.topic(r.resourceName);
        if (!topic)
          return {
            ...base,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: `Topic ${r.resourceName} does not exist.`,
            configs: [],
          };
        configs = describeTopicConfigs(broker, topic, undefined, r.configurationKeys);
      } else if (r.resourceType === RESOURCE_BROKER) {
        if (r.resourceName !== '' && r.resourceName !== String(broker.cluster.nodeId)) {
          return {
            ...base,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `Broker ${r.resourceName} is not this broker (${broker.cluster.nodeId}); send the request to it.`,
            configs: [],
          };
        }
        configs = describeBrokerConfigs(broker, r.configurationKeys);
      } else {
        return {
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Resource type ${r.resourceType} is not supported; use TOPIC (2) or BROKER (4).`,
          configs: [],
        };
      }
      if (!req.includeSynonyms) configs = configs.map((c) => ({ ...c, synonyms: [] }));
      return { ...base, errorCode: ErrorCode.NONE, configs };
    });
    return { throttleTimeMs: 0, results };
  });

async function alterTopic(
  controller: QuorumController,
  resourceType: number,
  resourceName: string,
  changes: Array<{ name: string; op: AlterOp; value: string | null }>,
  validateOnly: boolean,
  replaceAll: boolean,
) {
  const base = { resourceType, resourceName };
  if (resourceType === RESOURCE_BROKER) {
    return {
      ...base,
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage:
        'Broker configs are static in Runnel for now: set them in server.properties and restart the broker.',
    };
  }
  if (resourceType !== RESOURCE_TOPIC) {
    return {
      ...base,
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: `Resource type ${resourceType} cannot be altered; use TOPIC (2).`,
    };
  }
  const result = await controller.topics.alterConfigs(resourceName, changes, validateOnly, replaceAll);
  return { ...base, errorCode: result.errorCode, errorMessage: result.errorMessage };
}

/** AlterConfigs / IncrementalAlterConfigs when no controller answers: every resource gets the error. */
function unavailableConfigs(
  req: { resources: Array<{ resourceType: number; resourceName: string }> },
  errorCode: number,
  errorMessage: string,
) {
  const responses = req.resources.map((r) => ({ ...r, errorCode, errorMessage }));
  return { throttleTimeMs: 0, responses };
}

export const alterConfigsHandler = (broker: BrokerServices) =>
  controllerHandler(
    AlterConfigs,
    broker.controller,
    async (controller, req) => {
      const responses = [];
      for (const r of req.resources) {
        const changes = r.configs.map((c): { name: string; op: AlterOp; value: string | null } => ({
          name: c.name,
          op: c.value === null ? 'delete' : 'set',
          value: c.value,
        }));
        responses.push(await alterTopic(controller, r.resourceType, r.resourceName, changes, req.validateOnly, true));
      }
      return { throttleTimeMs: 0, responses };
    },
    unavailableConfigs,
  );

export const incrementalAlterConfigsHandler = (broker: BrokerServices) =>
  controllerHandler(
    IncrementalAlterConfigs,
    broker.controller,
    async (controller, req) => {
      const responses = [];
      for (const r of req.resources) {
        const badOp = r.configs.find((c) => OPS[c.configOperation] === undefined);
        if (badOp) {
          responses.push({
            resourceType: r.resourceType,
            resourceName: r.resourceName,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `Unknown config operation ${badOp.configOperation} for ${badOp.name}; use 0 (SET), 1 (DELETE), 2 (APPEND) or 3 (SUBTRACT).`,
          });
          continue;
        }
        const changes = r.configs.map((c) => ({ name: c.name, op: OPS[c.configOperation], value: c.value }));
        responses.push(await alterTopic(controller, r.resourceType, r.resourceName, changes, req.validateOnly, false));
      }
      return { throttleTimeMs: 0, responses };
    },
    unavailableConfigs,
  );
