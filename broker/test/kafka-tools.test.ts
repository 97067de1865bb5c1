// Kafka's own command-line tools (Apache Kafka 4.1 jars from Maven Central, cached under
// ~/.cache/runnel) against the real broker process: what an operator types must work the same
// against Runnel as against Kafka.

import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaTool, prepareKafka, type KafkaInstall } from '../bench/kafka.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  CreateTopics,
  Fetch,
  FindCoordinator,
  JoinGroup,
  ListOffsets,
  OffsetCommit,
  Produce,
  SyncGroup,
} from '../protocol/messages/index.js';
import { buildRecordBatch } from '../protocol/record-batch.js';
import { startBroker, type BrokerProcess } from './broker-process.js';
import { RawConnection, fetchRequest } from './raw-client.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;

let kafka: KafkaInstall;
let broker: BrokerProcess;

function tool(mainClass: string, args: string[]): Promise<string> {
  return offlineTool(mainClass, ['--bootstrap-server', broker.bootstrap, ...args]);
}

/** A tool that reads files rather than talking to a broker. */
function offlineTool(mainClass: string, args: string[]): Promise<string> {
  return kafkaTool(kafka, mainClass, args);
}

/** ConsumerProtocolSubscription v0: the topics, no user data. */
function subscriptionV0(topics: string[]): Buffer {
  const parts = [Buffer.from([0, 0]), int32(topics.length), ...topics.map(str), int32(-1)];
  return Buffer.concat(parts);
}

/** ConsumerProtocolAssignment v0: partitions by topic, no user data. */
function assignmentV0(topic: string, partitions: number[]): Buffer {
  return Buffer.concat([
    Buffer.from([0, 0]),
    int32(1),
    str(topic),
    int32(partitions.length),
    ...partitions.map(int32),
    int32(-1),
  ]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function str(s: string): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(Buffer.byteLength(s));
  return Buffer.concat([b, Buffer.from(s)]);
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

describe('kafka-dump-log.sh --offsets-decoder', () => {
  it("decodes the group metadata and committed offsets Runnel stores in __consumer_offsets with Kafka's schemas", async () => {
    const own = await startBroker({ overrides: { 'offsets.topic.num.partitions': '1' } });
    let memberId = '';
    try {
      const c = await RawConnection.open(own.port);
      const created = await c.request(CreateTopics, 5, {
        topics: [{ name: 'dumped', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 5_000,
        validateOnly: false,
      });
      expect(created.topics[0].errorCode).toBe(ErrorCode.NONE);
      expect((await c.request(FindCoordinator, 3, { key: 'dump-group', keyType: 0 })).errorCode).toBe(ErrorCode.NONE);
      const join = (memberId: string) =>
        c.request(JoinGroup, 5, {
          groupId: 'dump-group',
          sessionTimeoutMs: 10_000,
          rebalanceTimeoutMs: 20_000,
          memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: subscriptionV0(['dumped']) }],
        });
      const first = await join('');
      expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
      const joined = await join(first.memberId);
      expect(joined.errorCode).toBe(ErrorCode.NONE);
      memberId = joined.memberId;
      const synced = await c.request(SyncGroup, 3, {
        groupId: 'dump-group',
        generationId: joined.generationId,
        memberId,
        groupInstanceId: null,
        assignments: [{ memberId, assignment: assignmentV0('dumped', [0, 1]) }],
      });
      expect(synced.errorCode).toBe(ErrorCode.NONE);
      const committed = await c.request(OffsetCommit, 7, {
        groupId: 'dump-group',
        generationIdOrMemberEpoch: joined.generationId,
        memberId,
        groupInstanceId: null,
        topics: [
          {
            name: 'dumped',
            partitions: [
              { partitionIndex: 1, committedOffset: 4242, committedLeaderEpoch: 3, committedMetadata: 'dump-meta' },
            ],
          },
        ],
      });
      expect(committed.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
      c.close();
    } finally {
      expect(await own.stop()).toBe(0);
    }

    const segment = path.join(own.dataDir, '__consumer_offsets-0', '00000000000000000000.log');
    const out = await offlineTool('kafka.tools.DumpLogSegments', ['--offsets-decoder', '--files', segment]);
    expect(out).not.toMatch(/Exception|error/i);
    const lines = out.split('\n');
    const offsetLine = lines.find((l) => l.includes('key: {"type":"1"'));
    expect(offsetLine, out).toBeDefined();
    expect(offsetLine).toContain('"group":"dump-group"');
    expect(offsetLine).toContain('"topic":"dumped"');
    expect(offsetLine).toContain('"partition":1');
    expect(offsetLine).toContain('"offset":4242');
    expect(offsetLine).toContain('"leaderEpoch":3');
    expect(offsetLine).toContain('"metadata":"dump-meta"');
    const groupLine = lines.find((l) => l.includes('key: {"type":"2"'));
    expect(groupLine, out).toBeDefined();
    expect(groupLine).toContain('"group":"dump-group"');
    expect(groupLine).toContain('"protocolType":"consumer"');
    expect(groupLine).toContain('"generation":1');
    expect(groupLine).toContain(`"memberId":"${memberId}"`);
    // Kafka even decodes the consumer protocol inside: the subscription and the assignment.
    expect(groupLine).toContain('"subscription":{"topics":["dumped"]');
    expect(groupLine).toContain('"assignedPartitions":[{"topic":"dumped","partitions":[0,1]}]');
  });
});
