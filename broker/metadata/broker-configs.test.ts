import { describe, expect, it } from 'vitest';
import { describeBrokerConfigs } from '../api/configs.js';
import { loadBrokerConfig } from '../config/broker-config.js';
import { MetadataDelta, MetadataImage } from './image.js';
import type { MetadataRecord } from './records.js';
import { imageRecords } from './snapshot.js';
import { TopicConfigs } from './topic-configs.js';

const topicId = Buffer.alloc(16, 5).toString('base64url');

function brokerConfig(name: string, value: string | null, resourceName = '1'): MetadataRecord {
  return { type: 'ConfigRecord', resourceType: 4, resourceName, name, value };
}

function setUp(staticOverrides: string[] = []) {
  const { config } = loadBrokerConfig({
    argv: staticOverrides.flatMap((o) => ['--override', o]),
    env: {},
    cwd: '/',
  });
  const image = new MetadataImage();
  const apply = (...records: MetadataRecord[]) => {
    const delta = new MetadataDelta();
    for (const r of records) image.apply(r, delta);
    return delta;
  };
  apply({ type: 'TopicRecord', name: 'orders', topicId });
  return { config, image, apply, topics: new TopicConfigs(image, config) };
}

describe('dynamic broker configs in the image', () => {
  it('are kept per broker and for the cluster default, and a removed value is gone', () => {
    const { image, apply } = setUp();
    apply(brokerConfig('log.retention.ms', '1000'), brokerConfig('min.insync.replicas', '2', ''));
    expect(image.brokerConfigs('1')).toEqual(new Map([['log.retention.ms', '1000']]));
    expect(image.brokerConfigs('')).toEqual(new Map([['min.insync.replicas', '2']]));
    apply(brokerConfig('log.retention.ms', null));
    expect(image.brokerConfigs('1').size).toBe(0);
    expect(image.brokerConfigResources()).toEqual(['']);
  });

  it('a change counts as a config change of every topic, so logs take the new defaults', () => {
    const { apply } = setUp();
    expect([...apply(brokerConfig('compression.type', 'zstd', '')).changedConfigs]).toEqual(['orders']);
  });

  it('survive a snapshot', () => {
    const { image, apply } = setUp();
    apply(brokerConfig('log.retention.ms', '1000'), brokerConfig('compression.type', 'lz4', ''));
    const loaded = new MetadataImage();
    loaded.loadSnapshot(imageRecords(image), 10);
    expect(loaded.brokerConfigs('1')).toEqual(image.brokerConfigs('1'));
    expect(loaded.brokerConfigs('')).toEqual(image.brokerConfigs(''));
  });

  it("a topic's default is this broker's dynamic value, else the cluster default, else server.properties", () => {
    const { apply, topics, image } = setUp(['node.id=1', 'log.retention.ms=3000']);
    const orders = image.topic('orders')!;
    expect(topics.configValue(orders, 'retention.ms')).toBe('3000');
    expect(topics.configSource(orders, 'retention.ms')).toBe('broker-static');
    apply(brokerConfig('log.retention.ms', '2000', ''));
    expect(topics.configValue(orders, 'retention.ms')).toBe('2000');
    expect(topics.configSource(orders, 'retention.ms')).toBe('broker-dynamic-default');
    apply(brokerConfig('log.retention.ms', '1000', '1'), brokerConfig('log.retention.ms', '5', '2'));
    expect(topics.configValue(orders, 'retention.ms')).toBe('1000');
    expect(topics.logConfig(orders).retentionMs).toBe(1000);
    apply({ type: 'ConfigRecord', resourceType: 2, resourceName: 'orders', name: 'retention.ms', value: '7' });
    expect(topics.configValue(orders, 'retention.ms')).toBe('7');
    apply(brokerConfig('unclean.leader.election.enable', 'true', ''));
    expect(topics.configValue(orders, 'unclean.leader.election.enable')).toBe('true');
  });

  it('DescribeConfigs lists a broker key with its layers in Kafka order, and the cluster default only what it sets', () => {
    const { apply, topics, config } = setUp(['node.id=1', 'min.insync.replicas=2']);
    apply(brokerConfig('min.insync.replicas', '3', ''), brokerConfig('min.insync.replicas', '4', '1'));
    const [own] = describeBrokerConfigs({ topics, config }, true, ['min.insync.replicas']);
    expect(own).toMatchObject({ value: '4', configSource: 2, readOnly: false, isDefault: false });
    expect(own.synonyms.map((s) => [s.source, s.value])).toEqual([
      [2, '4'],
      [3, '3'],
      [4, '2'],
      [5, '1'],
    ]);
    const cluster = describeBrokerConfigs({ topics, config }, false, null);
    expect(cluster.map((c) => [c.name, c.value, c.configSource])).toEqual([['min.insync.replicas', '3', 3]]);
    expect(cluster[0].synonyms.map((s) => s.source)).toEqual([3, 4, 5]);
    const [dirs] = describeBrokerConfigs({ topics, config }, true, ['log.dirs']);
    expect(dirs.readOnly).toBe(true);
  });
});
