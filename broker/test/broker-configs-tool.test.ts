// Kafka's `kafka-configs.sh` (kafka.admin.ConfigCommand from the Apache Kafka 4.1 jars cached under
// ~/.cache/runnel) against three Runnel nodes: dynamic configs of one broker (--entity-name 1) and
// of every broker (--entity-default) are set with IncrementalAlterConfigs, described with Kafka's
// sources and synonyms, become the topics' defaults without a restart, and survive one; a key the
// broker reads only at start-up is refused with its name.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaTool, prepareKafka, type KafkaInstall } from '../bench/kafka.js';
import { startCluster, type TestCluster } from './cluster-processes.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;
const TEST_TIMEOUT_MS = 180_000;
const TOOL_TIMEOUT_MS = 120_000;
const BROKERS = [1, 2, 3];
const TOPIC = 'dynamic-defaults';
const CONFIG_TOOL = 'kafka.admin.ConfigCommand';
const TOPIC_TOOL = 'org.apache.kafka.tools.TopicCommand';

let kafka: KafkaInstall;
let cluster: TestCluster;

const configs = (args: string[]) =>
  kafkaTool(kafka, CONFIG_TOOL, ['--bootstrap-server', cluster.bootstrap, ...args], TOOL_TIMEOUT_MS);

/** The line `kafka-configs.sh --describe` prints for one key: `  name=value sensitive=… synonyms={…}`. */
function describedLine(out: string, name: string): string | undefined {
  return out
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith(`${name}=`));
}

/** Runs the tool expecting it to fail; resolves with what it printed. */
async function refused(args: string[]): Promise<string> {
  try {
    const out = await configs(args);
    throw new Error(`kafka-configs.sh ${args.join(' ')} succeeded:\n${out}`);
  } catch (err) {
    return (err as Error).message;
  }
}

beforeAll(async () => {
  kafka = await prepareKafka(() => undefined);
  cluster = await startCluster({ nodes: BROKERS.length });
}, FIRST_RESOLVE_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('kafka-configs.sh --entity-type brokers against three Runnel nodes', () => {
  it(
    'sets per-broker and cluster-wide dynamic configs, describes them with their sources, and applies them to topics',
    async () => {
      const perBroker = await configs([
        '--entity-type',
        'brokers',
        '--entity-name',
        '1',
        '--alter',
        '--add-config',
        'log.retention.ms=3600000,follower.replication.throttled.rate=10485760',
      ]);
      expect(perBroker).toContain('Completed updating config for broker 1.');
      const clusterWide = await configs([
        '--entity-type',
        'brokers',
        '--entity-default',
        '--alter',
        '--add-config',
        'min.insync.replicas=2,leader.replication.throttled.rate=20971520',
      ]);
      expect(clusterWide).toContain('Completed updating default config for brokers in the cluster.');

      const own = await configs(['--entity-type', 'brokers', '--entity-name', '1', '--describe']);
      expect(own).toContain('Dynamic configs for broker 1 are:');
      expect(describedLine(own, 'log.retention.ms')).toBe(
        'log.retention.ms=3600000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=3600000}',
      );
      expect(describedLine(own, 'follower.replication.throttled.rate')).toBe(
        'follower.replication.throttled.rate=10485760 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:follower.replication.throttled.rate=10485760, DEFAULT_CONFIG:follower.replication.throttled.rate=9223372036854775807}',
      );
      // Set for every broker, not for this one: listed only with --all.
      expect(describedLine(own, 'min.insync.replicas')).toBeUndefined();
      const all = await configs(['--entity-type', 'brokers', '--entity-name', '1', '--describe', '--all']);
      expect(describedLine(all, 'min.insync.replicas')).toBe(
        'min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=2, DEFAULT_CONFIG:min.insync.replicas=1}',
      );
      expect(describedLine(all, 'log.dirs')).toMatch(/^log\.dirs=\S+ sensitive=false synonyms=\{STATIC_BROKER_CONFIG:/);

      const defaults = await configs(['--entity-type', 'brokers', '--entity-default', '--describe']);
      expect(defaults).toContain('Default configs for brokers in the cluster are:');
      expect(describedLine(defaults, 'min.insync.replicas')).toBe(
        'min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=2, DEFAULT_CONFIG:min.insync.replicas=1}',
      );
      expect(describedLine(defaults, 'log.retention.ms')).toBeUndefined();

      // A topic created now takes the cluster-wide default, from any broker, without a restart.
      const created = await kafkaTool(kafka, TOPIC_TOOL, [
        '--bootstrap-server',
        cluster.bootstrap,
        '--create',
        '--topic',
        TOPIC,
        '--partitions',
        '1',
        '--replication-factor',
        '3',
      ]);
      expect(created).toContain(`Created topic ${TOPIC}.`);
      const topic = await configs(['--entity-type', 'topics', '--entity-name', TOPIC, '--describe', '--all']);
      expect(describedLine(topic, 'min.insync.replicas')).toBe(
        'min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=2, DEFAULT_CONFIG:min.insync.replicas=1}',
      );

      const deleted = await configs([
        '--entity-type',
        'brokers',
        '--entity-default',
        '--alter',
        '--delete-config',
        'leader.replication.throttled.rate',
      ]);
      expect(deleted).toContain('Completed updating default config for brokers in the cluster.');
      const after = await configs(['--entity-type', 'brokers', '--entity-default', '--describe']);
      expect(describedLine(after, 'leader.replication.throttled.rate')).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'refuses a key read only at start-up, and an unknown key, naming them',
    async () => {
      const staticKey = await refused([
        '--entity-type',
        'brokers',
        '--entity-name',
        '2',
        '--alter',
        '--add-config',
        'log.dirs=/tmp/elsewhere',
      ]);
      expect(staticKey).toContain('InvalidConfigurationException');
      expect(staticKey).toContain('Cannot update these configs dynamically: log.dirs');
      expect(staticKey).toContain('server.properties');
      const unknown = await refused([
        '--entity-type',
        'brokers',
        '--entity-default',
        '--alter',
        '--add-config',
        'log.retention.mss=1',
      ]);
      expect(unknown).toContain('Unknown broker config name: log.retention.mss');
      const bad = await refused([
        '--entity-type',
        'brokers',
        '--entity-name',
        '2',
        '--alter',
        '--add-config',
        'min.insync.replicas=0',
      ]);
      expect(bad).toContain('Invalid value 0 for configuration min.insync.replicas');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a per-broker value survives a restart of that broker',
    async () => {
      await cluster.stop(1);
      await cluster.restart(1);
      const own = await configs(['--entity-type', 'brokers', '--entity-name', '1', '--describe']);
      expect(describedLine(own, 'log.retention.ms')).toBe(
        'log.retention.ms=3600000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=3600000}',
      );
    },
    TEST_TIMEOUT_MS,
  );
});
