// Produced batches whose records are malformed or decompress without bound, sent to a real
// broker process over raw requests: each is refused with Kafka's error code, nothing is stored
// (the log end offset does not move), a good produce afterwards works, and a decompression
// bomb leaves the broker's peak RSS small.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DECOMPRESSED_BYTES } from '../protocol/compression.js';
import { ErrorCode } from '../protocol/errors.js';
import { CreateTopics, DescribeConfigs, ListOffsets, Produce } from '../protocol/messages/index.js';
import { RECORD_BATCH_OVERHEAD, buildCompressedBatch, buildRecordBatch } from '../protocol/record-batch.js';
import { buildBomb, rawBatch } from './bombs.js';
import { startBroker, type BrokerProcess } from './broker-process.js';
import { RawConnection } from './raw-client.js';

const HOUR_MS = 3_600_000;

let broker: BrokerProcess;
let c: RawConnection;

beforeAll(async () => {
  broker = await startBroker();
  c = await RawConnection.open(broker.port);
  for (const [name, configs] of [
    ['plain', {}],
    ['compacted', { 'cleanup.policy': 'compact' }],
    ['future-ok', { 'message.timestamp.after.max.ms': String(3 * HOUR_MS) }],
  ] as const) {
    const res = await c.request(CreateTopics, 7, {
      topics: [
        {
          name,
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          // Room for the gzip and lz4 bombs, about 1 MB each.
          configs: Object.entries({ ...configs, 'max.message.bytes': String(4 * 1024 * 1024) }).map(([k, v]) => ({
            name: k,
            value: v,
          })),
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(res.topics[0].errorCode).toBe(ErrorCode.NONE);
  }
}, 30_000);

afterAll(async () => {
  c?.close();
  await broker?.stop();
});

async function produce(topic: string, records: Buffer) {
  const res = await c.request(Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return res.responses[0].partitionResponses[0];
}

async function logEndOffset(topic: string): Promise<number> {
  const res = await c.request(ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1 }] }],
  });
  return res.topics[0].partitions[0].offset;
}

/** Peak and current resident memory of the broker process, in MiB (Linux /proc). */
function brokerMemoryMiB(): { peak: number; now: number } {
  const status = readFileSync(`/proc/${broker.pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

/** Produces `bad`, expects `errorCode`, that nothing was stored, and that a good batch is then taken. */
async function expectRefused(topic: string, bad: Buffer, errorCode: number, message: RegExp) {
  const before = await logEndOffset(topic);
  const refused = await produce(topic, bad);
  expect(refused).toMatchObject({ errorCode, baseOffset: -1 });
  expect(refused.errorMessage).toMatch(message);
  expect(await logEndOffset(topic)).toBe(before);
  const good = await buildCompressedBatch({ records: [{ key: 'k', value: 'good' }], compression: 'zstd' });
  expect(await produce(topic, good)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: before });
  expect(await logEndOffset(topic)).toBe(before + 1);
}

const oneRecord = () => buildRecordBatch({ records: [{ key: 'k', value: 'v' }] }).subarray(RECORD_BATCH_OVERHEAD);

describe.each(['plain', 'compacted'])('a produce to a %s topic', (topic) => {
  it.each([
    [
      'a batch that declares 2^31-1 records but holds one',
      () => rawBatch({ recordCount: 2 ** 31 - 1, payload: oneRecord() }),
      /declares 2147483647 records but holds 1/,
    ],
    [
      'garbage records',
      () => rawBatch({ recordCount: 3, payload: Buffer.from('these bytes are not records at all!') }),
      /record 0/,
    ],
    [
      'records with offset deltas that are not 0..n-1',
      () => rawBatch({ recordCount: 1, payload: Buffer.from([0x0c, 0, 0, 0x0a, 1, 1, 0]) }),
      /offset delta 5/,
    ],
    [
      'a junk gzip payload',
      () => rawBatch({ codec: 'gzip', recordCount: 1, payload: Buffer.from('junk that is not a gzip stream') }),
      /do not decompress/,
    ],
    [
      'a gzip payload of garbage records',
      () => rawBatch({ codec: 'gzip', recordCount: 1, payload: gzipSync(Buffer.from('garbage')) }),
      /invalid gzip-compressed record batch/,
    ],
  ])('refuses %s with INVALID_RECORD and stores nothing', async (_, make, message) => {
    await expectRefused(topic, make(), ErrorCode.INVALID_RECORD, message);
  });

  it.each(['zstd', 'gzip', 'lz4', 'snappy'] as const)(
    'refuses a %s decompression bomb with INVALID_RECORD, quickly and with bounded memory',
    async (codec) => {
      const bomb = buildBomb(codec);
      const started = Date.now();
      await expectRefused(
        topic,
        rawBatch({ codec, recordCount: 1, payload: bomb.payload }),
        ErrorCode.INVALID_RECORD,
        /decompress to more than/,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      // Before the fix one 33 KB zstd bomb added 1 GB of RSS; now at most the limit is held.
      const memory = brokerMemoryMiB();
      console.log(
        `${codec} bomb to ${topic}: refused in ${Date.now() - started} ms, broker RSS ${memory.now.toFixed(0)} MiB, peak ${memory.peak.toFixed(0)} MiB`,
      );
      expect(memory.peak).toBeLessThan(200 + (3 * MAX_DECOMPRESSED_BYTES) / 2 ** 20);
    },
  );
});

describe('many bombs in one request', () => {
  it('decompresses a few batches at a time, so a Produce of 40 partitions each carrying a zstd bomb stays within bounded memory', async () => {
    const partitions = 40;
    const created = await c.request(CreateTopics, 7, {
      topics: [{ name: 'bombed', numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE);
    const bomb = rawBatch({ codec: 'zstd', recordCount: 1, payload: buildBomb('zstd').payload });
    const res = await c.request(Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [
        { name: 'bombed', partitionData: Array.from({ length: partitions }, (_, index) => ({ index, records: bomb })) },
      ],
    });
    expect(res.responses[0].partitionResponses.map((p) => p.errorCode)).toEqual(
      Array.from({ length: partitions }, () => ErrorCode.INVALID_RECORD),
    );
    // Each bomb may hold MAX_DECOMPRESSED_BYTES while it is checked; all 40 at once would be 2.5 GiB.
    expect(brokerMemoryMiB().peak).toBeLessThan(200 + (3 * MAX_DECOMPRESSED_BYTES) / 2 ** 20);
  });
});

describe('record timestamps (message.timestamp.before.max.ms / message.timestamp.after.max.ms)', () => {
  const at = (timestampMs: number) => buildRecordBatch({ records: [{ key: 'k', value: 'v', timestampMs }] });

  it.each([
    ['uncompressed', (timestampMs: number) => Promise.resolve(at(timestampMs))],
    [
      'zstd',
      (timestampMs: number) =>
        buildCompressedBatch({ records: [{ key: 'k', value: 'v', timestampMs }], compression: 'zstd' }),
    ],
  ])(
    'refuses a %s record 2 hours in the future with INVALID_TIMESTAMP and stores nothing, and takes one at now',
    async (_, make) => {
      const before = await logEndOffset('plain');
      const future = Date.now() + 2 * HOUR_MS;
      const refused = await produce('plain', await make(future));
      expect(refused).toMatchObject({ errorCode: ErrorCode.INVALID_TIMESTAMP, baseOffset: -1 });
      expect(refused.errorMessage).toMatch(
        new RegExp(
          `^Timestamp ${future} of message with offset 0 is out of range. The timestamp should be within \\[-\\d+, \\d+\\]`,
        ),
      );
      expect(refused.recordErrors).toEqual([{ batchIndex: 0, batchIndexErrorMessage: refused.errorMessage }]);
      expect(await logEndOffset('plain')).toBe(before);
      expect(await produce('plain', await make(Date.now()))).toMatchObject({
        errorCode: ErrorCode.NONE,
        baseOffset: before,
      });
    },
  );

  it('takes the future record on a topic with message.timestamp.after.max.ms raised', async () => {
    const before = await logEndOffset('future-ok');
    expect(await produce('future-ok', at(Date.now() + 2 * HOUR_MS))).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: before,
    });
    expect(await produce('future-ok', at(Date.now() + 4 * HOUR_MS))).toMatchObject({
      errorCode: ErrorCode.INVALID_TIMESTAMP,
    });
  });

  it("lists the keys in DescribeConfigs with Kafka 4.1's defaults and the topic's override", async () => {
    const res = await c.request(DescribeConfigs, 4, {
      resources: [
        { resourceType: 2, resourceName: 'plain', configurationKeys: null },
        { resourceType: 2, resourceName: 'future-ok', configurationKeys: null },
        {
          resourceType: 4,
          resourceName: '1',
          configurationKeys: ['log.message.timestamp.before.max.ms', 'log.message.timestamp.after.max.ms'],
        },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const value = (i: number, name: string) => res.results[i].configs.find((e) => e.name === name)?.value;
    expect(value(0, 'message.timestamp.before.max.ms')).toBe('9223372036854775807');
    expect(value(0, 'message.timestamp.after.max.ms')).toBe('3600000');
    expect(value(1, 'message.timestamp.after.max.ms')).toBe(String(3 * HOUR_MS));
    expect(value(2, 'log.message.timestamp.before.max.ms')).toBe('9223372036854775807');
    expect(value(2, 'log.message.timestamp.after.max.ms')).toBe('3600000');
  });
});
