import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envToKey, loadBrokerConfig, parseProperties } from './broker-config.js';

async function propertiesFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'runnel-config-'));
  const file = path.join(dir, 'server.properties');
  await writeFile(file, text);
  return file;
}

describe('broker configuration', () => {
  it('parses Java properties with comments, separators and continuations', () => {
    const props = parseProperties('# comment\n! also\nnode.id=3\nlog.dirs : /a,\\\n  /b\nnum.partitions 4\n');
    expect(Object.fromEntries(props)).toEqual({ 'node.id': '3', 'log.dirs': '/a,/b', 'num.partitions': '4' });
  });

  it('layers file, overrides and environment, in that order', async () => {
    const file = await propertiesFile('node.id=1\nnum.partitions=2\nlog.dirs=/tmp/a\n');
    const { config } = loadBrokerConfig({
      argv: ['--config', file, '--override', 'num.partitions=3', '--override', 'log.retention.hours=1'],
      env: { KAFKA_CFG_NODE_ID: '7', KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE: 'false' },
      cwd: '/',
    });
    expect(config.nodeId).toBe(7);
    expect(config.numPartitions).toBe(3);
    expect(config.autoCreateTopics).toBe(false);
    expect(config.logDirs).toEqual(['/tmp/a']);
    expect(config.topicDefaults.get('retention.ms')).toBe('3600000');
    expect(config.explicit.has('num.partitions')).toBe(true);
  });

  it('maps environment variable names to keys', () => {
    expect(envToKey('KAFKA_CFG_LOG_RETENTION_MS')).toBe('log.retention.ms');
    expect(envToKey('KAFKA_CFG_SOME__UNDERSCORE_KEY')).toBe('some_underscore.key');
  });

  it('refuses an unknown key, naming it and the closest known key', () => {
    expect(() => loadBrokerConfig({ argv: ['--override', 'log.retension.ms=5'], env: {}, cwd: '/' })).toThrow(
      /unknown config key "log.retension.ms" \(from --override\); did you mean "log.retention.ms"\?/,
    );
  });

  it('refuses a bad value, saying what is accepted', () => {
    const attempt = () =>
      loadBrokerConfig({
        argv: ['--override', 'num.partitions=zero', '--override', 'log.message.timestamp.type=Now'],
        env: {},
        cwd: '/',
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/num.partitions=zero .*expected an integer/);
    expect(attempt).toThrow(/log.message.timestamp.type=Now .*must be one of CreateTime, LogAppendTime/);
  });

  it('refuses listeners that are not NAME://host:port and security protocols other than PLAINTEXT', () => {
    expect(() => loadBrokerConfig({ argv: ['--override', 'listeners=localhost:9092'], env: {}, cwd: '/' })).toThrow(
      /not NAME:\/\/host:port/,
    );
    expect(() =>
      loadBrokerConfig({
        argv: ['--override', 'listeners=SSL://:9093', '--override', 'listener.security.protocol.map=SSL:SSL'],
        env: {},
        cwd: '/',
      }),
    ).toThrow(/PLAINTEXT only/);
  });

  it('advertises localhost for a wildcard listener when advertised.listeners is unset', () => {
    const { config } = loadBrokerConfig({ argv: [], env: {}, cwd: '/' });
    expect(config.listeners).toEqual([{ name: 'PLAINTEXT', host: '', port: 9092 }]);
    expect(config.advertisedListeners).toEqual([{ name: 'PLAINTEXT', host: 'localhost', port: 9092 }]);
  });

  it('refuses to rely on a metadata quorum of other nodes, which it cannot join yet', () => {
    const load =
      (...overrides: string[]) =>
      () =>
        loadBrokerConfig({ argv: overrides.flatMap((o) => ['--override', o]), env: {}, cwd: '/' });
    expect(load('node.id=1', 'process.roles=broker')).toThrow(
      /process.roles=broker: a node without the controller role .* run it as broker,controller on its own/,
    );
    expect(load('node.id=1', 'controller.quorum.voters=0@a:9093,1@b:9093,2@c:9093')).toThrow(
      /the only voter can be this node \(node.id=1\); remove the other voters/,
    );
    expect(load('node.id=0', 'controller.quorum.voters=0@events-broker-0.events-brokers:9093')).not.toThrow();
    expect(load('node.id=0')).not.toThrow();
  });
});
