// The broker's side of the wire protocol, driven by a raw client that frames requests with our
// own codec (raw-client.ts) against the real broker process: version negotiation, pipelining,
// what closes a connection and what does not, record batch validation on Produce, and Fetch
// offsets, long polling and byte limits.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../api/dispatch.js';
import { createHandlers } from '../api/handlers.js';
import type { BrokerServices } from '../api/services.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  ALL_APIS,
  ApiVersions,
  CreateTopics,
  Fetch,
  ListOffsets,
  Metadata,
  Produce,
} from '../protocol/messages/index.js';
import type { DecodedResponseOf } from '../protocol/schema.js';
import { BatchField, buildRecordBatch, type RecordInput } from '../protocol/record-batch.js';
import { startBroker, type BrokerProcess } from './broker-process.js';
import {
  ConnectionClosedError,
  RawConnection,
  batchesOf,
  decodeResponse,
  encodeHeaderOnly,
  encodeRequest,
  fetchRequest,
  waitFor,
  type AnyApi,
  type FetchSpec,
  type DecodedResponse,
} from './raw-client.js';

const MAX_REQUEST_BYTES = 1 << 20;

/** The APIs and versions the broker's source says it serves. */
const SERVED_APIS = new Dispatcher(
  // Only the table is read: no handler runs, so no service is needed.
  createHandlers({} as BrokerServices),
).supportedApis();

let broker: BrokerProcess;
const connections: RawConnection[] = [];

async function connect(): Promise<RawConnection> {
  const c = await RawConnection.open(broker.port);
  connections.push(c);
  return c;
}

// ---- request helpers ---------------------------------------------------------------------

async function createTopic(c: RawConnection, name: string, numPartitions: number): Promise<void> {
  const res = await c.request(CreateTopics, 7, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  expect(res.topics.map((t) => [t.name, t.errorCode, t.errorMessage])).toEqual([[name, ErrorCode.NONE, null]]);
}

async function produce(c: RawConnection, version: number, topic: string, partition: number, records: Buffer) {
  const res = await c.request(Produce, version, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  expect(res.responses).toHaveLength(1);
  expect(res.responses[0].name).toBe(topic);
  expect(res.responses[0].partitionResponses).toHaveLength(1);
  return res.responses[0].partitionResponses[0];
}

async function latestOffset(c: RawConnection, topic: string, partition: number): Promise<number> {
  const res = await c.request(ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: -1 }] }],
  });
  const p = res.topics[0].partitions[0];
  expect(p.errorCode).toBe(ErrorCode.NONE);
  return p.offset;
}

/** Fetch v12 (flexible, topics by name); the partitions of the one topic asked for. */
async function fetch(c: RawConnection, spec: FetchSpec) {
  const res = await c.request(Fetch, 12, fetchRequest(spec));
  expect(res.errorCode).toBe(ErrorCode.NONE);
  expect(res.responses.map((t) => t.topic)).toEqual([spec.topic]);
  return res.responses[0].partitions;
}

function records(tag: string, count: number, valueBytes = 20): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `${tag}-k${i}`,
    value: `${tag}-v${i}-`.padEnd(valueBytes, '.'),
    headers: [{ key: 'h', value: `${tag}-${i}` }],
    timestampMs: 1_700_000_000_000 + i,
  }));
}

function keysOf(batches: ReturnType<typeof batchesOf>): string[] {
  return batches.flatMap((b) => b.records.map((r) => r.key!.toString()));
}

/** Resolves with the connection's end, failing if the broker answered anything first. */
async function expectClosedWithoutResponse(c: RawConnection): Promise<void> {
  await expect(c.nextFrame()).rejects.toBeInstanceOf(ConnectionClosedError);
  const how = await c.closed;
  expect(how.byPeer).toBe(true);
}

async function expectLogged(pattern: RegExp): Promise<void> {
  await waitFor(() => pattern.test(broker.output()), `a broker log line matching ${pattern}`);
}

async function expectServes(c: RawConnection): Promise<void> {
  const res = await c.request(ApiVersions, 3, { clientSoftwareName: 'runnel-raw', clientSoftwareVersion: '0' });
  expect(res.errorCode).toBe(ErrorCode.NONE);
}

// ---- tests ---------------------------------------------------------------------------------

beforeAll(async () => {
  broker = await startBroker({
    overrides: { 'socket.request.max.bytes': String(MAX_REQUEST_BYTES), 'auto.create.topics.enable': 'false' },
  });
  const admin = await RawConnection.open(broker.port);
  try {
    await createTopic(admin, 'corrupt', 2);
    await createTopic(admin, 'magic', 1);
    await createTopic(admin, 'long-poll', 2);
    await createTopic(admin, 'pipeline', 1);
    await createTopic(admin, 'limits', 2);
    await createTopic(admin, 'big', 1);
  } finally {
    admin.close();
  }
});

afterEach(() => {
  for (const c of connections.splice(0)) c.close();
});

afterAll(async () => {
  await broker?.stop();
});

describe('ApiVersions', () => {
  it('answers an unsupported version with UNSUPPORTED_VERSION, header v0 and the full list, and the connection stays usable', async () => {
    const c = await connect();
    // A client at v99 would send a flexible (v2) request header: the broker must still answer.
    c.write(encodeHeaderOnly(ApiVersions.key, 99, 4242, true));
    const frame = await c.nextFrame();
    // Response header v0: the error code follows the correlation id directly, with no tagged
    // fields byte between them; and the v0 body decodes with nothing left over.
    expect(frame.readInt32BE(0)).toBe(4242);
    expect(frame.readInt16BE(4)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const unsupported = decodeResponse(ApiVersions, 0, frame);
    expect(unsupported.body.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(unsupported.body.apiKeys).toEqual(SERVED_APIS);

    const v3 = await c.request(ApiVersions, 3, { clientSoftwareName: 'runnel-raw', clientSoftwareVersion: '0' });
    expect(v3.errorCode).toBe(ErrorCode.NONE);
    expect(v3.apiKeys).toEqual(unsupported.body.apiKeys);
  });

  it('v3 lists every API the broker serves once, with min <= max, and Produce from v0', async () => {
    const c = await connect();
    const res = await c.request(ApiVersions, 3, { clientSoftwareName: 'runnel-raw', clientSoftwareVersion: '0' });
    expect(res.errorCode).toBe(ErrorCode.NONE);
    expect(res.apiKeys).toEqual(SERVED_APIS);
    const keys = res.apiKeys.map((a) => a.apiKey);
    expect(new Set(keys).size).toBe(keys.length);
    for (const a of res.apiKeys) expect(a.minVersion, `api ${a.apiKey}`).toBeLessThanOrEqual(a.maxVersion);
    expect(res.apiKeys.find((a) => a.apiKey === Produce.key)).toMatchObject({ minVersion: 0 });
    for (const k of [ApiVersions, Metadata, Produce, Fetch, ListOffsets, CreateTopics]) expect(keys).toContain(k.key);
  });

  it('every advertised API answers a minimal request at its lowest and highest served version', async () => {
    const c = await connect();
    const { apiKeys } = await c.request(ApiVersions, 3, {
      clientSoftwareName: 'runnel-raw',
      clientSoftwareVersion: '0',
    });
    for (const advertised of apiKeys) {
      const api = (ALL_APIS as readonly AnyApi[]).find((a) => a.key === advertised.apiKey);
      expect(api, `a message definition for api key ${advertised.apiKey}`).toBeDefined();
      // Produce is advertised from v0 for old librdkafka but served from v3, as in Kafka 4.
      for (const version of new Set([Math.max(advertised.minVersion, api!.minVersion), advertised.maxVersion])) {
        // Every field at its default, except Produce's acks: acks=0 asks for no response.
        const body = api!.key === Produce.key ? { acks: 1 } : {};
        const response = await c.request(api!, version, body as never).catch((err: Error) => {
          throw new Error(`${api!.name} v${version} with an empty body was not answered: ${err.message}`);
        });
        expect(response, `${api!.name} v${version}`).toBeTypeOf('object');
      }
    }
  });
});

describe('framing and pipelining', () => {
  it('answers 100 requests written in one socket write in request order, even when an earlier one completes later', async () => {
    const c = await connect();
    const frames: Buffer[] = [];
    const responses: Array<Promise<DecodedResponse<AnyApi>>> = [];
    for (let i = 0; i < 100; i++) {
      const correlationId = 1000 + i;
      let api: AnyApi;
      let version: number;
      let body: unknown;
      if (i % 25 === 0) {
        // A long poll with nothing to read: it completes after everything behind it.
        api = Fetch;
        version = 12;
        body = fetchRequest({
          topic: 'pipeline',
          partitions: [{ partition: 0, fetchOffset: 0 }],
          maxWaitMs: 200,
          minBytes: 1,
        });
      } else if (i % 2 === 0) {
        api = ApiVersions;
        version = 3;
        body = { clientSoftwareName: 'runnel-raw', clientSoftwareVersion: String(i) };
      } else {
        api = Metadata;
        version = i % 4 === 1 ? 12 : 1;
        body = { topics: [{ name: 'pipeline' }], allowAutoTopicCreation: false };
      }
      frames.push(encodeRequest(api, version, body as never, { correlationId }));
      responses.push(c.expect(api, version, correlationId));
    }
    c.write(Buffer.concat(frames));
    // expect() fails a response whose correlation id is not the next one sent, and one that
    // does not decode to the last byte.
    const all = await Promise.all(responses);
    expect(all.map((r) => r.correlationId)).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
    for (const [i, r] of all.entries()) {
      const body = r.body as Record<string, unknown>;
      if (i % 25 === 0) {
        const [p] = (body as DecodedResponseOf<typeof Fetch>).responses[0].partitions;
        expect(p.errorCode).toBe(ErrorCode.NONE);
        expect(batchesOf(p.records)).toEqual([]);
      } else if (i % 2 === 0) expect(body.errorCode).toBe(ErrorCode.NONE);
      else expect(body.topics).toMatchObject([{ name: 'pipeline', errorCode: 0 }]);
    }
    expect(c.partialBytes).toBe(0);
    await expectServes(c);
  });

  it('reassembles a request written one byte at a time', async () => {
    const c = await connect();
    const correlationId = c.nextCorrelationId();
    const response = c.expect(Metadata, 12, correlationId);
    const frame = encodeRequest(Metadata, 12, { topics: [{ name: 'pipeline' }] }, { correlationId });
    for (const byte of frame) {
      c.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { body } = await response;
    expect(body.topics).toMatchObject([{ name: 'pipeline', errorCode: ErrorCode.NONE }]);
  });

  it('serves a request of exactly socket.request.max.bytes', async () => {
    const c = await connect();
    const request = (valueBytes: number) => {
      const batch = buildRecordBatch({ records: [{ key: 'big', value: Buffer.alloc(valueBytes, 0x61) }] });
      return encodeRequest(
        Produce,
        9,
        {
          transactionalId: null,
          acks: 1,
          timeoutMs: 10_000,
          topicData: [{ name: 'big', partitionData: [{ index: 0, records: batch }] }],
        },
        { correlationId: 77 },
      );
    };
    let valueBytes = MAX_REQUEST_BYTES - 200;
    let frame = request(valueBytes);
    for (let tries = 0; frame.length - 4 !== MAX_REQUEST_BYTES; tries++) {
      if (tries === 5) throw new Error('cannot size a Produce request to exactly socket.request.max.bytes');
      valueBytes += MAX_REQUEST_BYTES - (frame.length - 4);
      frame = request(valueBytes);
    }
    const response = c.expect(Produce, 9, 77);
    c.write(frame);
    const { body } = await response;
    expect(body.responses[0].partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 });
  });

  it('closes the connection on an unknown API key and logs why; a new connection is served', async () => {
    const c = await connect();
    c.write(encodeHeaderOnly(999, 0, 1, false));
    await expectClosedWithoutResponse(c);
    await expectLogged(/"reason":"unknown API key 999"/);
    await expectServes(await connect());
  });

  it('closes the connection on a known API at an unsupported version and logs why; a new connection is served', async () => {
    const c = await connect();
    c.write(encodeHeaderOnly(Metadata.key, 99, 1, true));
    await expectClosedWithoutResponse(c);
    await expectLogged(/"reason":"Metadata v99 is not supported[^"]*"/);

    // Produce is advertised from v0, but v0-v2 are refused when used, as in Kafka 4.
    const old = await connect();
    old.write(encodeHeaderOnly(Produce.key, 2, 1, false));
    await expectClosedWithoutResponse(old);
    await expectLogged(/"reason":"Produce v2 is not supported[^"]*"/);
    await expectServes(await connect());
  });

  describe('a malformed frame closes only its own connection, with a logged reason', () => {
    const cases: Array<{ name: string; bytes: () => Buffer; reason: RegExp }> = [
      {
        name: 'a Metadata request whose body is cut short',
        bytes: () => {
          const whole = encodeRequest(
            Metadata,
            12,
            { topics: [{ name: 'pipeline' }, { name: 'corrupt' }] },
            { correlationId: 1 },
          );
          const cut = Buffer.from(whole.subarray(0, whole.length - 6));
          cut.writeInt32BE(cut.length - 4, 0);
          return cut;
        },
        reason: /"reason":"malformed Metadata v12 request: [^"]+"/,
      },
      {
        name: 'garbage too short to be a request header',
        bytes: () => Buffer.from([0, 0, 0, 6, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed]),
        reason: /"reason":"malformed request header: [^"]+"/,
      },
      {
        name: 'a Produce request whose topic array claims a billion entries',
        bytes: () => {
          const whole = encodeRequest(
            Produce,
            7,
            { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [] },
            { correlationId: 1 },
          );
          whole.writeInt32BE(1_000_000_000, whole.length - 4);
          return whole;
        },
        reason: /"reason":"malformed Produce v7 request: array of 1000000000 items exceeds the frame"/,
      },
      {
        name: 'a negative size prefix',
        bytes: () => Buffer.from([0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0]),
        reason: /"reason":"frame of -2 bytes is outside[^"]*"/,
      },
      {
        name: 'an HTTP request sent to the Kafka port',
        bytes: () => Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'),
        reason: new RegExp(
          `"reason":"frame of ${Buffer.from('GET ').readInt32BE(0)} bytes is outside[^"]*socket.request.max.bytes`,
        ),
      },
    ];
    for (const tc of cases) {
      it(tc.name, async () => {
        const bystander = await connect();
        await expectServes(bystander);
        const c = await connect();
        c.write(tc.bytes());
        await expectClosedWithoutResponse(c);
        await expectLogged(tc.reason);
        expect(bystander.open).toBe(true);
        await expectServes(bystander);
        const md = await bystander.request(Metadata, 12, { topics: [{ name: 'pipeline' }] });
        expect(md.topics[0].errorCode).toBe(ErrorCode.NONE);
      });
    }
  });

  it('closes a connection whose size prefix exceeds socket.request.max.bytes without waiting for the body', async () => {
    const c = await connect();
    const header = Buffer.alloc(4);
    header.writeInt32BE(2 * MAX_REQUEST_BYTES, 0);
    // Only the 4-byte size is sent: the broker can only close the connection if it decides
    // from the prefix alone.
    c.write(header);
    await expectClosedWithoutResponse(c);
    await expectLogged(
      new RegExp(
        `"reason":"frame of ${2 * MAX_REQUEST_BYTES} bytes is outside 0..${MAX_REQUEST_BYTES} \\(socket.request.max.bytes\\)"`,
      ),
    );
    await expectServes(await connect());
    // A broker waiting for the body would never close: fail in seconds rather than at the suite timeout.
  }, 10_000);
});

describe('Produce validation', () => {
  for (const [version, partition] of [
    [9, 0],
    [7, 1],
  ] as const) {
    it(`refuses a batch whose record bytes no longer match its CRC with CORRUPT_MESSAGE (Produce v${version}), and stores nothing`, async () => {
      const c = await connect();
      const good = buildRecordBatch({ records: records(`crc-v${version}`, 3) });
      const bad = Buffer.from(good);
      // The last byte of the last record (its header value), flipped after the CRC was computed.
      bad[bad.length - 1] ^= 0x01;

      const rejected = await produce(c, version, 'corrupt', partition, bad);
      expect(rejected.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
      expect(rejected.baseOffset).toBe(-1);
      if (version >= 8) expect(rejected.errorMessage).toMatch(/CRC/);
      expect(await latestOffset(c, 'corrupt', partition)).toBe(0);

      const accepted = await produce(c, version, 'corrupt', partition, good);
      expect(accepted.errorCode).toBe(ErrorCode.NONE);
      expect(accepted.baseOffset).toBe(0);
      expect(await latestOffset(c, 'corrupt', partition)).toBe(3);
      const [p] = await fetch(c, { topic: 'corrupt', partitions: [{ partition, fetchOffset: 0 }] });
      expect(keysOf(batchesOf(p.records))).toEqual([`crc-v${version}-k0`, `crc-v${version}-k1`, `crc-v${version}-k2`]);
    });
  }

  it('refuses a magic 1 (message format v1) batch with UNSUPPORTED_VERSION and stores nothing', async () => {
    const c = await connect();
    for (const version of [9, 7]) {
      const batch = buildRecordBatch({ records: records('magic', 2) });
      // The magic byte lies outside the CRC, so only the format version is wrong.
      batch.writeInt8(1, BatchField.magic);
      const res = await produce(c, version, 'magic', 0, batch);
      expect(res.errorCode, `Produce v${version}`).toBe(ErrorCode.UNSUPPORTED_VERSION);
      expect(res.baseOffset).toBe(-1);
    }
    expect(await latestOffset(c, 'magic', 0)).toBe(0);
  });

  it('refuses to produce to an unknown topic when auto-creation is off, and Metadata does not create it', async () => {
    const c = await connect();
    for (const version of [9, 7]) {
      const res = await produce(c, version, 'no-such-topic', 0, buildRecordBatch({ records: records('x', 1) }));
      expect(res.errorCode, `Produce v${version}`).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
    const md = await c.request(Metadata, 12, { topics: [{ name: 'no-such-topic' }], allowAutoTopicCreation: true });
    expect(md.topics).toMatchObject([
      { name: 'no-such-topic', errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] },
    ]);
    const all = await c.request(Metadata, 12, { topics: null, allowAutoTopicCreation: false });
    const names = all.topics.map((t) => t.name);
    expect(names).toContain('corrupt');
    expect(names).not.toContain('no-such-topic');
  });
});

describe('Fetch', () => {
  it('answers OFFSET_OUT_OF_RANGE for an offset past the log end, and an empty set at the end', async () => {
    const c = await connect();
    const produced = await produce(c, 9, 'long-poll', 1, buildRecordBatch({ records: records('range', 2) }));
    expect(produced).toMatchObject({ errorCode: 0, baseOffset: 0 });
    const [past] = await fetch(c, { topic: 'long-poll', partitions: [{ partition: 1, fetchOffset: 3 }] });
    expect(past.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const [atEnd] = await fetch(c, { topic: 'long-poll', partitions: [{ partition: 1, fetchOffset: 2 }] });
    expect(atEnd).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 2 });
    expect(batchesOf(atEnd.records)).toEqual([]);
  });

  it('a long poll on an empty partition returns the batch produced on another connection', async () => {
    const fetcher = await connect();
    const producer = await connect();
    let answered = false;
    const pending = fetcher
      .request(
        Fetch,
        12,
        fetchRequest({
          topic: 'long-poll',
          partitions: [{ partition: 0, fetchOffset: 0 }],
          maxWaitMs: 10_000,
          minBytes: 1,
        }),
      )
      .finally(() => (answered = true));
    // A round trip on the producer's connection; the fetch, sent before it, is waiting by now.
    await expectServes(producer);
    expect(answered).toBe(false);
    const res = await produce(producer, 9, 'long-poll', 0, buildRecordBatch({ records: records('wake', 2) }));
    expect(res).toMatchObject({ errorCode: 0, baseOffset: 0 });
    const fetched = await pending;
    const [p] = fetched.responses[0].partitions;
    expect(p).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 2 });
    expect(keysOf(batchesOf(p.records))).toEqual(['wake-k0', 'wake-k1']);
  });

  it('a long poll that finds no data by maxWaitMs returns an empty record set', async () => {
    const c = await connect();
    const [p] = await fetch(c, {
      topic: 'pipeline',
      partitions: [{ partition: 0, fetchOffset: 0 }],
      maxWaitMs: 200,
      minBytes: 1,
    });
    expect(p).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 0 });
    expect(batchesOf(p.records)).toEqual([]);
  });

  describe('byte limits', () => {
    const sizes: number[][] = [[], []];
    const BATCHES = 4;

    beforeAll(async () => {
      const c = await RawConnection.open(broker.port);
      try {
        for (let partition = 0; partition < 2; partition++) {
          for (let b = 0; b < BATCHES; b++) {
            const batch = buildRecordBatch({ records: records(`p${partition}b${b}`, 3, 100 + 50 * b) });
            const res = await produce(c, 9, 'limits', partition, batch);
            expect(res).toMatchObject({ errorCode: 0, baseOffset: 3 * b });
            sizes[partition].push(batch.length);
          }
        }
      } finally {
        c.close();
      }
    });

    const keys = (partition: number, batch: number) => [0, 1, 2].map((i) => `p${partition}b${batch}-k${i}`);

    it('returns the first batch whole when partitionMaxBytes is smaller than it (KIP-74)', async () => {
      const c = await connect();
      const [p] = await fetch(c, {
        topic: 'limits',
        partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 10 }],
      });
      const batches = batchesOf(p.records);
      expect(batches.map((b) => b.size)).toEqual([sizes[0][0]]);
      expect(keysOf(batches)).toEqual(keys(0, 0));
    });

    it('returns the batch holding the fetch offset from its start', async () => {
      const c = await connect();
      const [p] = await fetch(c, {
        topic: 'limits',
        partitions: [{ partition: 0, fetchOffset: 4, partitionMaxBytes: 10 }],
      });
      const batches = batchesOf(p.records);
      expect(batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual([[3, 5]]);
    });

    it('returns only whole batches within partitionMaxBytes', async () => {
      const c = await connect();
      const [s0, s1] = sizes[0];
      const [exact] = await fetch(c, {
        topic: 'limits',
        partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: s0 + s1 }],
      });
      expect(batchesOf(exact.records).map((b) => b.baseOffset)).toEqual([0, 3]);
      const [short] = await fetch(c, {
        topic: 'limits',
        partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: s0 + s1 - 1 }],
      });
      expect(batchesOf(short.records).map((b) => b.baseOffset)).toEqual([0]);
      expect(short.records!.length).toBe(s0);
    });

    it('limits the whole response to maxBytes across partitions, but always returns one batch', async () => {
      const c = await connect();
      const both = (maxBytes: number) =>
        fetch(c, {
          topic: 'limits',
          maxBytes,
          partitions: [
            { partition: 0, fetchOffset: 0 },
            { partition: 1, fetchOffset: 0 },
          ],
        });
      const [s0, s1, s2, s3] = sizes[0];
      const [a0, a1] = await both(s0 + s1 + 10);
      expect(batchesOf(a0.records).map((b) => b.baseOffset)).toEqual([0, 3]);
      expect(batchesOf(a1.records)).toEqual([]);

      const [b0, b1] = await both(1);
      expect(keysOf(batchesOf(b0.records))).toEqual(keys(0, 0));
      expect(batchesOf(b1.records)).toEqual([]);

      // All of partition 0 and the first batch of partition 1.
      const [c0, c1] = await both(s0 + s1 + s2 + s3 + sizes[1][0]);
      expect(batchesOf(c0.records)).toHaveLength(BATCHES);
      expect(keysOf(batchesOf(c1.records))).toEqual(keys(1, 0));

      const [d0, d1] = await both(50 * 1024 * 1024);
      expect(batchesOf(d0.records)).toHaveLength(BATCHES);
      expect(batchesOf(d1.records)).toHaveLength(BATCHES);
      for (const p of [d0, d1]) expect(p.highWatermark).toBe(3 * BATCHES);
    });
  });
});
