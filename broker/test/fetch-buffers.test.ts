// Fetch responses are sent from pooled read buffers (broker/log/read-buffers.ts) that later
// fetches read into again: every fetched byte must still be the log's, whatever other
// connections fetch meanwhile, however slowly a consumer reads, and when one hangs up mid-response.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { CreateTopics, Fetch, Produce } from '../protocol/messages/index.js';
import { buildRecordBatch, rewriteBaseOffsetAndEpoch } from '../protocol/record-batch.js';
import { startBroker, type BrokerProcess } from './broker-process.js';
import {
  RawConnection,
  decodeResponse,
  encodeRequest,
  fetchRequest,
  waitFor,
  type RequestInputOf,
} from './raw-client.js';

const TOPIC = 'pooled';
const BATCHES = 64;
const RECORDS_PER_BATCH = 64;
const MAX_BYTES = 1024 * 1024;

let broker: BrokerProcess;
/** The partition's log as the broker must store it: the produced batches with their offsets. */
let log: Buffer;
const batchStarts: number[] = [];
const batchBaseOffsets: number[] = [];

function fetchFrom(fetchOffset: number, partitionMaxBytes: number): RequestInputOf<typeof Fetch> {
  return fetchRequest({
    topic: TOPIC,
    partitions: [{ partition: 0, fetchOffset, partitionMaxBytes }],
    maxBytes: 50 * MAX_BYTES,
  });
}

/** The fetched record set of a response frame, checked byte for byte against the log; the next offset. */
function checkFetched(frame: Buffer, fetchOffset: number): number {
  const res = decodeResponse(Fetch, 12, frame).body;
  const p = res.responses[0].partitions[0];
  expect(p.errorCode).toBe(ErrorCode.NONE);
  const records = p.records!;
  // The last batch starting at or below fetchOffset (findLastIndex is ES2023; the lib is ES2022).
  let first = batchBaseOffsets.length - 1;
  while (first >= 0 && batchBaseOffsets[first] > fetchOffset) first--;
  const start = batchStarts[first];
  expect(records.length).toBeGreaterThan(0);
  expect(records.equals(log.subarray(start, start + records.length))).toBe(true);
  const next = batchStarts.indexOf(start + records.length);
  return next < 0 ? BATCHES * RECORDS_PER_BATCH : batchBaseOffsets[next];
}

/** Reads the whole partition on one connection, checking every byte. */
async function readWhole(partitionMaxBytes: number): Promise<void> {
  const c = await RawConnection.open(broker.port);
  try {
    for (let offset = 0; offset < BATCHES * RECORDS_PER_BATCH;) {
      const correlationId = c.nextCorrelationId();
      c.write(encodeRequest(Fetch, 12, fetchFrom(offset, partitionMaxBytes), { correlationId }));
      offset = checkFetched(await c.nextFrame(), offset);
    }
  } finally {
    c.close();
  }
}

/** A connection that sends fetches but reads nothing until `responses()`. */
class PausedFetcher {
  private readonly chunks: Buffer[] = [];
  private readonly socket: net.Socket;

  constructor(readonly offsets: number[]) {
    this.socket = net.connect(broker.port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    this.socket.pause();
    this.socket.on('data', (d: Buffer) => this.chunks.push(d));
    offsets.forEach((offset, i) =>
      this.socket.write(encodeRequest(Fetch, 12, fetchFrom(offset, MAX_BYTES), { correlationId: i + 1 })),
    );
  }

  /** Starts reading; the response frames in order, once all have arrived. */
  async responses(): Promise<Buffer[]> {
    const frames: Buffer[] = [];
    this.socket.resume();
    await waitFor(() => {
      const all = Buffer.concat(this.chunks);
      frames.length = 0;
      for (
        let at = 0;
        at + 4 <= all.length && at + 4 + all.readInt32BE(at) <= all.length;
        at += 4 + all.readInt32BE(at)
      ) {
        frames.push(all.subarray(at + 4, at + 4 + all.readInt32BE(at)));
      }
      return frames.length === this.offsets.length;
    }, 'every response');
    return frames;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Sends fetches and resets the connection when the first response bytes arrive, with most of them unwritten. */
function fetchAndReset(offsets: number[]): Promise<void> {
  const socket = net.connect(broker.port, '127.0.0.1');
  socket.on('error', () => undefined);
  offsets.forEach((offset, i) =>
    socket.write(encodeRequest(Fetch, 12, fetchFrom(offset, MAX_BYTES), { correlationId: i + 1 })),
  );
  return new Promise((resolve) => socket.once('data', () => resolve(void socket.resetAndDestroy())));
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
    const stored: Buffer[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({
        key: `k${b}-${i}`,
        value: `b${b}-r${i}-`.padEnd(1000, String.fromCharCode(97 + ((b + i) % 26))),
      }));
      const batch = buildRecordBatch({ records });
      const res = await c.request(Produce, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: batch }] }],
      });
      const p = res.responses[0].partitionResponses[0];
      expect(p.errorCode).toBe(ErrorCode.NONE);
      rewriteBaseOffsetAndEpoch(batch, 0, p.baseOffset, 0);
      batchStarts.push(stored.reduce((n, s) => n + s.length, 0));
      batchBaseOffsets.push(p.baseOffset);
      stored.push(batch);
    }
    log = Buffer.concat(stored);
  } finally {
    c.close();
  }
});

afterAll(async () => {
  await broker?.stop();
});

describe('Fetch from pooled read buffers', () => {
  it('returns the log byte for byte on concurrent connections, beside a stalled reader and one reset mid-response', async () => {
    const spread = (n: number) =>
      Array.from({ length: n }, (_, i) => Math.floor((i * BATCHES * RECORDS_PER_BATCH) / n));
    // Its responses stay queued in the broker, holding their buffers, while the others fetch.
    const stalled = new PausedFetcher(spread(12));
    try {
      await fetchAndReset(spread(12).reverse());
      await Promise.all([
        readWhole(MAX_BYTES),
        readWhole(MAX_BYTES / 4),
        readWhole(100_000),
        readWhole(3_000),
        readWhole(MAX_BYTES),
      ]);
      const frames = await stalled.responses();
      frames.forEach((frame, i) => checkFetched(frame, stalled.offsets[i]));
      await readWhole(MAX_BYTES);
    } finally {
      stalled.close();
    }
  });
});
