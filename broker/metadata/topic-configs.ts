// Topic configs as every broker reads them from the image: a topic's override, else the broker's
// default for the key (and where that value comes from, for DescribeConfigs).

import { toLogConfig, type BrokerConfig } from '../config/broker-config.js';
import { TOPIC_KEYS_BY_NAME } from '../config/keys.js';
import type { LogConfig } from '../log/partition-log.js';
import type { MetadataImage, TopicState } from './image.js';

export type ConfigSource = 'topic' | 'broker-static' | 'default';

export class TopicConfigs {
  constructor(
    readonly image: MetadataImage,
    private readonly config: BrokerConfig,
  ) {}

  /** Effective value of a topic key: the topic's override, else the broker's default. */
  configValue(topic: TopicState | undefined, name: string): string {
    return topic?.configs.get(name) ?? this.config.topicDefaults.get(name)!;
  }

  configSource(topic: TopicState, name: string): ConfigSource {
    if (topic.configs.has(name)) return 'topic';
    const synonym = TOPIC_KEYS_BY_NAME.get(name)!.brokerSynonym;
    return this.config.explicit.has(synonym) ? 'broker-static' : 'default';
  }

  logConfig(topic: TopicState | undefined, overrides?: ReadonlyMap<string, string>): LogConfig {
    return toLogConfig((name) => overrides?.get(name) ?? this.configValue(topic, name));
  }
}
