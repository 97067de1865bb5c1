// Kafka's `kafka-log-dirs.sh --describe` (org.apache.kafka.tools.LogDirsCommand from the Apache
// Kafka 4.1 jars cached under ~/.cache/runnel) against three Runnel nodes: every broker lists its
// log dir and, once an RF 3 topic's records are replicated, the partition with the same size on
// every replica — what the reassignment tools read to know what a move costs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaTool, prepareKafka, producerPerformance, type KafkaInstall } from '../bench/kafka.js';
import { startCluster, type TestCluster } from './cluster-processes.js';
import { until } from './cluster/cluster-clients.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;
const TEST_TIMEOUT_MS = 180_000;
const WAIT_TIMEOUT_MS = 60_000;
const TOOL_TIMEOUT_MS = 120_000;
const BROKERS = [1, 2, 3];
const TOPIC = 'log-dirs-rf3';
const RECORDS = 2_000;
const RECORD_BYTES = 100;
const TOPIC_TOOL = 'org.apache.kafka.tools.TopicCommand';
const LOG_DIRS_TOOL = 'org.apache.kafka.tools.LogDirsCommand';

let kafka: KafkaInstall;
let cluster: TestCluster;

/** The JSON line `kafka-log-dirs.sh --describe` prints. */
interface LogDirsJson {
  version: number;
  brokers: Array<{
    broker: number;
    logDirs: Array<{
      logDir: string;
      error: string | null;
      partitions: Array<{ partition: string; size: number; offsetLag: number; isFuture: boolean }>;
    }>;
  }>;
}

async function describeLogDirs(args: string[]): Promise<{ out: string; json: LogDirsJson }> {
  const out = await kafkaTool(
    kafka,
    LOG_DIRS_TOOL,
    ['--bootstrap-server', cluster.bootstrap, '--describe', ...args],
    TOOL_TIMEOUT_MS,
  );
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`kafka-log-dirs.sh printed no JSON:\n${out}`);
  return { out, json: JSON.parse(line) as LogDirsJson };
}

beforeAll(async () => {
  kafka = await prepareKafka(() => undefined);
  cluster = await startCluster({ nodes: BROKERS.length });
}, FIRST_RESOLVE_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('kafka-log-dirs.sh --describe against three Runnel nodes', () => {
  it(
    'every broker lists its log dir and the RF 3 partition in it, the same size on every replica once replicated',
    async () => {
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
      const produced = await producerPerformance(kafka, {
        bootstrap: cluster.bootstrap,
        topic: TOPIC,
        records: RECORDS,
        recordBytes: RECORD_BYTES,
        props: { acks: 'all' },
        timeoutMs: TOOL_TIMEOUT_MS,
      });
      expect(produced.failure).toBeNull();

      const { out, json } = await until(
        'every replica of the partition the same size',
        async () => {
          const seen = await describeLogDirs(['--broker-list', BROKERS.join(','), '--topic-list', TOPIC]);
          const sizes = seen.json.brokers.flatMap((b) => b.logDirs.flatMap((d) => d.partitions.map((p) => p.size)));
          return sizes.length === BROKERS.length && new Set(sizes).size === 1 ? seen : undefined;
        },
        WAIT_TIMEOUT_MS,
      );
      expect(out).toContain(`Received log directory information from brokers ${BROKERS.join(',')}`);
      expect(json.version).toBe(1);
      expect(json.brokers.map((b) => b.broker).sort()).toEqual(BROKERS);
      for (const b of json.brokers) {
        expect(b.logDirs).toHaveLength(1);
        const [dir] = b.logDirs;
        expect(dir.error).toBeNull();
        expect(dir.logDir).toBe(cluster.node(b.broker).dataDir);
        expect(dir.partitions).toHaveLength(1);
        expect(dir.partitions[0]).toMatchObject({ partition: `${TOPIC}-0`, offsetLag: 0, isFuture: false });
        // The records' values at least, in record batches.
        expect(dir.partitions[0].size).toBeGreaterThan(RECORDS * RECORD_BYTES);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a topic list naming an unknown topic yields no partitions, and no errors',
    async () => {
      const { json } = await describeLogDirs(['--topic-list', 'no-such-topic']);
      expect(json.brokers.map((b) => b.broker).sort()).toEqual(BROKERS);
      for (const b of json.brokers) for (const d of b.logDirs) expect(d).toMatchObject({ error: null, partitions: [] });
    },
    TEST_TIMEOUT_MS,
  );
});
