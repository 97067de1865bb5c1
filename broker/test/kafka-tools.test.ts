// Kafka's own command-line tools (Apache Kafka 4.1 jars from Maven Central, cached under
// ~/.cache/runnel) against the real broker process: what an operator types must work the same
// against Runnel as against Kafka.

import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareKafka, type KafkaInstall } from '../bench/kafka.js';
import { ErrorCode } from '../protocol/errors.js';
import { CreateTopics, Fetch, ListOffsets, Produce } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../protocol/record-batch.js';
import { run } from './compat/clients.js';
import { startBroker, type BrokerProcess } from './broker-process.js';
import { RawConnection, fetchRequest } from './raw-client.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;
const TOOL_TIMEOUT_MS = 60_000;

let kafka: KafkaInstall;
let broker: BrokerProcess;

function tool(mainClass: string, args: string[]): Promise<string> {
  return run(
    'java',
    [
      '-Xmx256M',
      `-Dlog4j2.configurationFile=${kafka.toolsLog4j}`,
      '-cp',
      kafka.classpath,
      mainClass,
      '--bootstrap-server',
      broker.bootstrap,
      ...args,
    ],
    {
      timeoutMs: TOOL_TIMEOUT_MS,
    },
  );
}

async function earliestOffset(c: RawConnection, topic: string): Promise<number> {
  const res = await c.request(ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2 }] }],
  });
  return res.topics[0].partitions[0].offset;
}

async function fetchFrom(c: RawConnection, topic: string, fetchOffset: number) {
  const res = await c.request(Fetch, 11, fetchRequest({ topic, partitions: [{ partition: 0, fetchOffset }] }));
  return res.responses[0].partitions[0];
}

beforeAll(async () => {
  kafka = await prepareKafka(() => undefined);
  broker = await startBroker();
}, FIRST_RESOLVE_TIMEOUT_MS);

afterAll(async () => {
  await broker?.stop();
});

describe('kafka-delete-records.sh', () => {
  it('moves the log start offset: earlier offsets are gone from fetch and ListOffsets, whole segments below it are deleted, and it survives a restart', async () => {
    const c = await RawConnection.open(broker.port);
    const created = await c.request(CreateTopics, 5, {
      topics: [
        {
          name: 'trimmed',
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: 'segment.bytes', value: '1024' }],
        },
      ],
      timeoutMs: 5_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE);
    for (let b = 0; b < 10; b++) {
      const records = Array.from({ length: 10 }, (_, i) => ({
        key: `k${b * 10 + i}`,
        value: 'v'.repeat(20),
        timestampMs: Date.now(),
      }));
      const res = await c.request(Produce, 7, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5_000,
        topicData: [{ name: 'trimmed', partitionData: [{ index: 0, records: buildRecordBatch({ records }) }] }],
      });
      expect(res.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NONE);
    }

    const offsets = path.join(broker.dataDir, 'delete-records.json');
    await writeFile(
      offsets,
      JSON.stringify({ version: 1, partitions: [{ topic: 'trimmed', partition: 0, offset: 35 }] }),
    );
    const out = await tool('org.apache.kafka.tools.DeleteRecordsCommand', ['--offset-json-file', offsets]);
    expect(out).toMatch(/partition: trimmed-0\s+low_watermark: 35/);

    expect(await earliestOffset(c, 'trimmed')).toBe(35);
    expect((await fetchFrom(c, 'trimmed', 20)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const read = await fetchFrom(c, 'trimmed', 35);
    expect(read.errorCode).toBe(ErrorCode.NONE);
    expect(read.logStartOffset).toBe(35);
    // Each segment holds a few 10-record batches; those ending at or below offset 35 are gone.
    const segments = (await readdir(path.join(broker.dataDir, 'trimmed-0')))
      .filter((f) => f.endsWith('.log'))
      .map((f) => Number(f.slice(0, 20)));
    expect(Math.min(...segments)).toBeGreaterThan(0);
    expect(Math.min(...segments)).toBeLessThanOrEqual(35);

    // Offset -1 means the high watermark: everything goes.
    await writeFile(
      offsets,
      JSON.stringify({ version: 1, partitions: [{ topic: 'trimmed', partition: 0, offset: -1 }] }),
    );
    expect(await tool('org.apache.kafka.tools.DeleteRecordsCommand', ['--offset-json-file', offsets])).toMatch(
      /partition: trimmed-0\s+low_watermark: 100/,
    );
    c.close();

    expect(await broker.stop()).toBe(0);
    broker = await startBroker({ dataDir: broker.dataDir });
    const again = await RawConnection.open(broker.port);
    expect(await earliestOffset(again, 'trimmed')).toBe(100);
    again.close();
  });

  it('refuses an offset beyond the high watermark and a compacted topic, as Kafka does', async () => {
    const c = await RawConnection.open(broker.port);
    const created = await c.request(CreateTopics, 5, {
      topics: [
        { name: 'short', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
        {
          name: 'compacted',
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      timeoutMs: 5_000,
      validateOnly: false,
    });
    expect(created.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    c.close();
    const offsets = path.join(broker.dataDir, 'delete-records-bad.json');
    await writeFile(
      offsets,
      JSON.stringify({
        version: 1,
        partitions: [
          { topic: 'short', partition: 0, offset: 5 },
          { topic: 'compacted', partition: 0, offset: 0 },
        ],
      }),
    );
    const out = await tool('org.apache.kafka.tools.DeleteRecordsCommand', ['--offset-json-file', offsets]);
    expect(out).toMatch(/partition: short-0\s+error: org\.apache\.kafka\.common\.errors\.OffsetOutOfRangeException/);
    expect(out).toMatch(/partition: compacted-0\s+error: org\.apache\.kafka\.common\.errors\.PolicyViolationException/);
  });
});

describe('kafka-features.sh', () => {
  it('describes metadata.version: supported 3.3-IV3 to 4.1-IV1, finalized at 4.1-IV1', async () => {
    const out = await tool('org.apache.kafka.tools.FeatureCommand', ['describe']);
    expect(out).toMatch(
      /Feature: metadata\.version\s+SupportedMinVersion: 3\.3-IV3\s+SupportedMaxVersion: 4\.1-IV1\s+FinalizedVersionLevel: 4\.1-IV1/,
    );
  });
});
