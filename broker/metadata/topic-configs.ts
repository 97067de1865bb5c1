// Topic configs as every broker reads them from the image: a topic's override, else the broker's
// default for the key — its dynamic value (this broker's own, else the cluster-wide default, both
// from the image), else server.properties, else Kafka's default — and where that value comes from,
// for DescribeConfigs. Nothing is cached: a committed broker config applies at the next read.

import { toLogConfig, type BrokerConfig } from '../config/broker-config.js';
import {
  CLUSTER_DEFAULT_RESOURCE,
  dynamicBrokerValue,
  type BrokerConfigLayers,
} from '../config/dynamic-broker-configs.js';
import { TOPIC_KEYS_BY_NAME } from '../config/keys.js';
import type { LogConfig } from '../log/partition-log.js';
import type { MetadataImage, TopicState } from './image.js';

export type ConfigSource = 'topic' | 'broker-dynamic' | 'broker-dynamic-default' | 'broker-static' | 'default';

export class TopicConfigs {
  constructor(
    readonly image: MetadataImage,
    private readonly config: BrokerConfig,
  ) {}

  /** This broker's config layers, as of the image now. */
  brokerLayers(): BrokerConfigLayers {
    return {
      perBroker: this.image.brokerConfigs(String(this.config.nodeId)),
      clusterDefault: this.image.brokerConfigs(CLUSTER_DEFAULT_RESOURCE),
      static: this.config.explicit,
    };
  }

  /** The broker-wide default of a topic key: dynamic (own, else cluster), else static or Kafka's default. */
  brokerDefault(name: string): string {
    const synonym = TOPIC_KEYS_BY_NAME.get(name)?.brokerSynonym;
    const dynamic = synonym ? dynamicBrokerValue(synonym, this.brokerLayers()) : undefined;
    return dynamic?.value ?? this.config.topicDefaults.get(name)!;
  }

  /** Effective value of a broker key: dynamic (own, else cluster default), else static or Kafka's default. */
  brokerValue(name: string): string | null {
    return dynamicBrokerValue(name, this.brokerLayers())?.value ?? this.config.get(name);
  }

  /** Effective value of a topic key: the topic's override, else the broker's default. */
  configValue(topic: TopicState | undefined, name: string): string {
    return topic?.configs.get(name) ?? this.brokerDefault(name);
  }

  configSource(topic: TopicState, name: string): ConfigSource {
    if (topic.configs.has(name)) return 'topic';
    const synonym = TOPIC_KEYS_BY_NAME.get(name)!.brokerSynonym;
    if (synonym === null) return 'default';
    const dynamic = dynamicBrokerValue(synonym, this.brokerLayers());
    if (dynamic) return dynamic.source === 'DYNAMIC_BROKER_CONFIG' ? 'broker-dynamic' : 'broker-dynamic-default';
    return this.config.explicit.has(synonym) ? 'broker-static' : 'default';
  }

  logConfig(topic: TopicState | undefined, overrides?: ReadonlyMap<string, string>): LogConfig {
    return toLogConfig((name) => overrides?.get(name) ?? this.configValue(topic, name));
  }
}
