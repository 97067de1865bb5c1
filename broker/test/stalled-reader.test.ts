// A client that pipelines many large Fetches and never reads must cost the broker a bounded
// amount of memory (connection.ts: MAX_QUEUED_BYTES_PER_CONNECTION), not one response per
// request: 200 Fetches of a 60 MB partition once took the broker to 5.3 GB. Other clients
// are served meanwhile, and the broker is fine once the stalled client goes away.

import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { ApiVersions, CreateTopics, Fetch, Metadata, Produce } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../protocol/record-batch.js';
import { startBroker, type BrokerProcess } from './broker-process.js';
import { RawConnection, batchesOf, encodeRequest, type RequestInputOf } from './raw-client.js';

const TOPIC = 'large';
const BATCH_BYTES = 1_000_000;
const BATCHES = 60;
const PIPELINED_FETCHES = 200;
/** The broker idles at ~100 MB; one 60 MB response held for the stalled client is fine, a few of them are not. */
const MAX_RSS_BYTES = 600 * 1024 * 1024;
const PROMPT_MS = 1_000;

let broker: BrokerProcess;

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

function fetchFromStart(maxBytes: number): RequestInputOf<typeof Fetch> {
  return {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: maxBytes }] }],
    forgottenTopicsData: [],
    rackId: '',
  };
}

async function answersPromptly(): Promise<void> {
  const c = await RawConnection.open(broker.port);
  try {
    const started = performance.now();
    const versions = await c.request(ApiVersions, 3, { clientSoftwareName: 'runnel-raw', clientSoftwareVersion: '0' });
    const metadata = await c.request(Metadata, 12, { topics: [{ name: TOPIC }] });
    expect(performance.now() - started).toBeLessThan(PROMPT_MS);
    expect(versions.errorCode).toBe(ErrorCode.NONE);
    expect(metadata.topics[0].errorCode).toBe(ErrorCode.NONE);
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  const c = await RawConnection.open(broker.port);
  try {
    const created = await c.request(CreateTopics, 7, {
      topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE);
    // Ten records of ~100 KB per batch, just under message.max.bytes; all pipelined.
    const value = Buffer.alloc(BATCH_BYTES / 10 - 100, 0x61);
    const produced = Array.from({ length: BATCHES }, (_, b) =>
      c.request(Produce, 9, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 10_000,
        topicData: [
          {
            name: TOPIC,
            partitionData: [
              {
                index: 0,
                records: buildRecordBatch({
                  records: Array.from({ length: 10 }, (_, i) => ({ key: `${b}-${i}`, value })),
                }),
              },
            ],
          },
        ],
      }),
    );
    for (const res of await Promise.all(produced))
      expect(res.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NONE);
  } finally {
    c.close();
  }
}, 60_000);

afterAll(async () => {
  await broker?.stop();
});

describe('a client that pipelines large Fetches and never reads', () => {
  it('holds the broker to bounded memory while others are served, and leaves it fine when it hangs up', async () => {
    const stalled = net.connect(broker.port, '127.0.0.1');
    stalled.on('error', () => undefined);
    stalled.pause();
    const frames = Array.from({ length: PIPELINED_FETCHES }, (_, i) =>
      encodeRequest(Fetch, 12, fetchFromStart(100 * 1024 * 1024), { correlationId: i + 1 }),
    );
    stalled.write(Buffer.concat(frames));

    let maxRss = 0;
    const sampleUntil = Date.now() + 4_000;
    while (Date.now() < sampleUntil) {
      maxRss = Math.max(maxRss, await rssBytes(broker.pid));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(maxRss).toBeLessThan(MAX_RSS_BYTES);
    await answersPromptly();
    expect(Math.max(maxRss, await rssBytes(broker.pid))).toBeLessThan(MAX_RSS_BYTES);

    stalled.destroy();
    await answersPromptly();
    // The partition is still served, to a client that reads.
    const c = await RawConnection.open(broker.port);
    try {
      const res = await c.request(Fetch, 12, fetchFromStart(8 * BATCH_BYTES));
      const p = res.responses[0].partitions[0];
      expect(p.errorCode).toBe(ErrorCode.NONE);
      expect(p.highWatermark).toBe(BATCHES * 10);
      const batches = batchesOf(p.records);
      expect(batches.map((b) => b.baseOffset)).toEqual(Array.from({ length: 8 }, (_, b) => b * 10));
    } finally {
      c.close();
    }
    expect(broker.output()).not.toMatch(/"level":(50|60)/);
  }, 60_000);
});
