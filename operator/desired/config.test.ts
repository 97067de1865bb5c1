import { describe, expect, it } from 'vitest';
import { parseProperties } from '../../broker/config/broker-config.js';
import { OPTIONS, kafkaCluster } from '../test/fixtures.js';
import {
  CLUSTER_ID_KEY,
  clusterSizeProperties,
  configHash,
  configMap,
  nodeProperties,
  serverProperties,
} from './config.js';

const props = (text: string) => parseProperties(text);

describe('broker configuration', () => {
  it('lists the controller voters by their stable DNS names', () => {
    const p = props(serverProperties(kafkaCluster({ controllerVoters: 3 }), 'abc', OPTIONS));
    expect(p.get('controller.quorum.voters')).toBe(
      [0, 1, 2].map((i) => `${i}@events-broker-${i}.events-brokers.prod.svc.cluster.local:9093`).join(','),
    );
    expect(p.get('controller.listener.names')).toBe('CONTROLLER');
  });

  it('carries the cluster id and the data and health endpoints', () => {
    const p = props(serverProperties(kafkaCluster(), 'Xy3-cluster', OPTIONS));
    expect(p.get(CLUSTER_ID_KEY)).toBe('Xy3-cluster');
    expect(p.get('log.dirs')).toBe('/var/lib/runnel/data');
    expect(p.get('runnel.http.listener')).toBe(':9644');
  });

  it('passes spec.config through with Kafka key names, numbers as strings', () => {
    const p = props(
      serverProperties(kafkaCluster({ config: { 'num.partitions': 6, 'log.retention.ms': '3600000' } }), 'id', OPTIONS),
    );
    expect(p.get('num.partitions')).toBe('6');
    expect(p.get('log.retention.ms')).toBe('3600000');
  });

  it('never lets spec.config override a key the operator manages', () => {
    const text = serverProperties(kafkaCluster({ config: { 'log.dirs': '/elsewhere', 'node.id': 7 } }), 'id', OPTIONS);
    expect(props(text).get('log.dirs')).toBe('/var/lib/runnel/data');
    expect(text).not.toContain('/elsewhere');
    expect(text).not.toContain('node.id');
  });

  it('sizes the offsets topic to the cluster unless the user chose', () => {
    expect(
      props(clusterSizeProperties(kafkaCluster({ replicas: 1, controllerVoters: 1 }))).get(
        'offsets.topic.replication.factor',
      ),
    ).toBe('1');
    expect(props(clusterSizeProperties(kafkaCluster({ replicas: 5 }))).get('offsets.topic.replication.factor')).toBe(
      '3',
    );
    const chosen = kafkaCluster({ replicas: 5, config: { 'offsets.topic.replication.factor': 5 } });
    expect(clusterSizeProperties(chosen)).toBe('');
    expect(props(serverProperties(chosen, 'id', OPTIONS)).get('offsets.topic.replication.factor')).toBe('5');
  });

  it('makes the first brokers controller voters and the rest plain brokers', () => {
    const cluster = kafkaCluster({ replicas: 4, controllerVoters: 3 });
    expect(props(nodeProperties(cluster, 2))).toEqual(
      new Map([
        ['process.roles', 'broker,controller'],
        ['listeners', 'PLAINTEXT://:9092,CONTROLLER://:9093'],
      ]),
    );
    expect(props(nodeProperties(cluster, 3))).toEqual(
      new Map([
        ['process.roles', 'broker'],
        ['listeners', 'PLAINTEXT://:9092'],
      ]),
    );
  });

  it('holds one node file per broker', () => {
    const cm = configMap(kafkaCluster({ replicas: 4 }), 'id', OPTIONS);
    expect(Object.keys(cm.data!).sort()).toEqual([
      'cluster-size.properties',
      'node-0.properties',
      'node-1.properties',
      'node-2.properties',
      'node-3.properties',
      'server.properties',
    ]);
    expect(cm.metadata!.ownerReferences![0]).toMatchObject({
      kind: 'KafkaCluster',
      name: 'events',
      uid: 'uid-events',
      controller: true,
    });
  });

  it('hashes to a new value when shared config changes, but not when brokers are added', () => {
    const base = configHash(configMap(kafkaCluster({ replicas: 1, controllerVoters: 1 }), 'id', OPTIONS));
    expect(configHash(configMap(kafkaCluster({ replicas: 2, controllerVoters: 1 }), 'id', OPTIONS))).toBe(base);
    expect(configHash(configMap(kafkaCluster({ replicas: 5, controllerVoters: 1 }), 'id', OPTIONS))).toBe(base);
    expect(
      configHash(
        configMap(kafkaCluster({ replicas: 1, controllerVoters: 1, config: { 'num.partitions': 2 } }), 'id', OPTIONS),
      ),
    ).not.toBe(base);
  });
});
