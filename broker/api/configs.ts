// DescribeConfigs for topics and brokers; AlterConfigs (replace-all) and
// IncrementalAlterConfigs (set / delete / append / subtract) for topics and for the dynamic
// configs of a broker (resource name its node id) or of every broker (resource name ""), both
// decided by the active controller. A broker key's synonyms list its layers in Kafka's order:
// DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG.

import type { BrokerServices } from './services.js';
import type { AlterOp } from '../controller/topics.js';
import type { QuorumController } from '../controller/quorum-controller.js';
import { BROKER_KEYS, BROKER_KEYS_BY_NAME, TOPIC_KEYS, type ConfigType } from '../config/keys.js';
import {
  CLUSTER_DEFAULT_RESOURCE,
  brokerConfigSynonyms,
  type BrokerConfigSource,
  type BrokerConfigSynonym,
} from '../config/dynamic-broker-configs.js';
import type { TopicState } from '../metadata/image.js';
import { ErrorCode } from '../protocol/errors.js';
import { AlterConfigs, DescribeConfigs, IncrementalAlterConfigs } from '../protocol/messages/index.js';
import { controllerHandler, handler } from './dispatch.js';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;

const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_DEFAULT = 5;
/** Kafka's DescribeConfigsResponse.ConfigSource ids. */
const BROKER_SOURCE_CODES: Record<BrokerConfigSource, number> = {
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
};

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
  const layers = broker.topics.brokerLayers();
  const wanted = keys === null ? TOPIC_KEYS : TOPIC_KEYS.filter((k) => keys.includes(k.name));
  return wanted.map((k) => {
    const synonyms: Synonym[] = [];
    if (own.has(k.name)) synonyms.push({ name: k.name, value: own.get(k.name)!, source: SOURCE_DYNAMIC_TOPIC });
    if (k.brokerSynonym !== null) {
      // The broker's layers above its default; the default itself is the topic default (which
      // log.retention.hours and similar can shape), as before.
      for (const s of brokerConfigSynonyms(k.brokerSynonym, layers))
        if (s.source !== 'DEFAULT_CONFIG') synonyms.push(brokerSynonym(s));
    }
    synonyms.push({
      name: k.brokerSynonym ?? k.name,
      value: broker.config.topicDefaults.get(k.name)!,
      source: SOURCE_DEFAULT,
    });
    const effective = synonyms[0];
    return {
      name: k.name,
      value: effective.value,
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

function brokerSynonym(s: BrokerConfigSynonym): Synonym {
  return { name: s.name, value: s.value, source: BROKER_SOURCE_CODES[s.source] };
}

/**
 * A BROKER resource as Kafka's ConfigHelper describes it: this broker (`perBroker`) lists every
 * key with all its layers; the cluster default ("") lists only the keys it sets, without the
 * per-broker layer. A key is read-only unless it is dynamic.
 */
export function describeBrokerConfigs(
  broker: Pick<BrokerServices, 'topics' | 'config'>,
  perBroker: boolean,
  keys: readonly string[] | null,
): DescribedConfig[] {
  const layers = broker.topics.brokerLayers();
  const listed = perBroker ? BROKER_KEYS : BROKER_KEYS.filter((k) => layers.clusterDefault.has(k.name));
  const wanted = keys === null ? listed : listed.filter((k) => keys.includes(k.name));
  return wanted.map((k) => {
    const sensitive = k.type === 'password';
    const all = brokerConfigSynonyms(k.name, layers).filter((s) => perBroker || s.source !== 'DYNAMIC_BROKER_CONFIG');
    const synonyms = all.map((s) => ({ ...brokerSynonym(s), value: sensitive ? null : s.value }));
    const source = synonyms[0]?.source ?? SOURCE_DEFAULT;
    const value = sensitive ? null : (all[0]?.value ?? broker.config.get(k.name));
    return {
      name: k.name,
      value,
      readOnly: !BROKER_KEYS_BY_NAME.get(k.name)?.dynamic,
      isDefault: source === SOURCE_DEFAULT,
      configSource: source,
      isSensitive: sensitive,
      synonyms,
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
        const perBroker = r.resourceName !== CLUSTER_DEFAULT_RESOURCE;
        if (perBroker && r.resourceName !== String(broker.cluster.nodeId)) {
          return {
            ...base,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `Broker ${r.resourceName} is not this broker (${broker.cluster.nodeId}); send the request to it, or use an empty name for the cluster-wide default.`,
            configs: [],
          };
        }
        configs = describeBrokerConfigs(broker, perBroker, r.configurationKeys);
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

async function alterResource(
  controller: QuorumController,
  resourceType: number,
  resourceName: string,
  changes: Array<{ name: string; op: AlterOp; value: string | null }>,
  validateOnly: boolean,
  replaceAll: boolean,
) {
  const base = { resourceType, resourceName };
  if (resourceType === RESOURCE_BROKER) {
    const result = await controller.topics.alterBrokerConfigs(resourceName, changes, validateOnly, replaceAll);
    return { ...base, errorCode: result.errorCode, errorMessage: result.errorMessage };
  }
  if (resourceType !== RESOURCE_TOPIC) {
    return {
      ...base,
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: `Resource type ${resourceType} cannot be altered; use TOPIC (2) or BROKER (4).`,
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
        responses.push(
          await alterResource(controller, r.resourceType, r.resourceName, changes, req.validateOnly, true),
        );
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
        responses.push(
          await alterResource(controller, r.resourceType, r.resourceName, changes, req.validateOnly, false),
        );
      }
      return { throttleTimeMs: 0, responses };
    },
    unavailableConfigs,
  );
