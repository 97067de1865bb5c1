// When a connection releases a response's buffers: only after the socket has called back for
// every chunk of it, exactly once, also when the socket is backpressured or closed mid-write.

import net from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Fetch } from '../protocol/messages/index.js';
import { encodeRequest, waitFor } from '../test/raw-client.js';
import { Connection, type ConnectionOptions, type FrameHandler, type Response } from './connection.js';

const RESPONSE_BYTES = 2 * 1024 * 1024;
const silent = pino({ level: 'silent' });
const cleanups: Array<() => void> = [];

afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A response frame to request `id`: size prefix, id, then RESPONSE_BYTES of a pattern of the id, in three chunks. */
function responseTo(id: number): Buffer[] {
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + RESPONSE_BYTES, 0);
  head.writeInt32BE(id, 4);
  const body = Buffer.alloc(RESPONSE_BYTES, id + 1);
  return [head, body.subarray(0, 1000), body.subarray(1000)];
}

function requestFrame(id: number): Buffer {
  const frame = Buffer.alloc(8);
  frame.writeInt32BE(4, 0);
  frame.writeInt32BE(id, 4);
  return frame;
}

/** Records each release, and whether it came while the socket still held a chunk of it. */
class Releases {
  readonly count = new Map<number, number>();
  readonly early: number[] = [];
  readonly handedChunks = new Set<Buffer>();
  readonly writtenChunks = new Set<Buffer>();

  response(id: number): Response {
    const chunks = responseTo(id);
    return {
      chunks,
      release: () => {
        this.count.set(id, (this.count.get(id) ?? 0) + 1);
        if (chunks.some((c) => this.handedChunks.has(c) && !this.writtenChunks.has(c))) this.early.push(id);
      },
    };
  }

  get total(): number {
    let n = 0;
    for (const c of this.count.values()) n += c;
    return n;
  }
}

/** A connection on loopback; the client socket does not read until the test resumes it. */
async function connect(
  handle: FrameHandler,
  releases: Releases,
  options: Partial<ConnectionOptions> = {},
): Promise<{ client: net.Socket; server: net.Socket; connection: Connection }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  client.pause();
  client.on('error', () => undefined);
  const server = await accepted;
  const write = server.write.bind(server);
  // Marks a chunk written when the socket calls back for it, before the connection hears of it.
  server.write = ((chunk: Buffer, cb?: (err?: Error | null) => void) => {
    releases.handedChunks.add(chunk);
    return write(chunk, (err) => {
      releases.writtenChunks.add(chunk);
      cb?.(err);
    });
  }) as typeof server.write;
  const connection = new Connection(server, { id: 1, remoteAddress: 'test', logger: silent }, handle, {
    maxFrameBytes: 1024,
    ...options,
  });
  cleanups.push(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { client, server, connection };
}

/** Reads `frames` response frames (size prefixes removed). */
function readFrames(client: net.Socket, frames: number): Promise<Buffer[]> {
  const total = frames * (8 + RESPONSE_BYTES);
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve) => {
    client.on('data', (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      if (received < total) return;
      const all = Buffer.concat(chunks);
      expect(all.length).toBe(total);
      resolve(
        Array.from({ length: frames }, (_, i) =>
          all.subarray(i * (8 + RESPONSE_BYTES) + 4, (i + 1) * (8 + RESPONSE_BYTES)),
        ),
      );
    });
    client.resume();
  });
}

const idOf = (frame: Buffer) => frame.readInt32BE(0);

describe('Connection releases response buffers', () => {
  it('only after the socket took every chunk, while a slow reader backpressures it', async () => {
    const releases = new Releases();
    const requests = 12;
    const { client, server } = await connect((frame) => Promise.resolve(releases.response(idOf(frame))), releases);
    for (let id = 0; id < requests; id++) client.write(requestFrame(id));
    await waitFor(() => server.writableNeedDrain, 'the unread responses to fill the socket');
    expect(releases.total).toBeLessThan(requests);

    const received = await readFrames(client, requests);
    await waitFor(() => releases.total === requests, 'every response to be released');
    received.forEach((frame, id) => {
      expect(idOf(frame)).toBe(id);
      expect(frame.subarray(4).equals(Buffer.alloc(RESPONSE_BYTES, id + 1))).toBe(true);
    });
    expect([...releases.count.values()]).toEqual(Array(requests).fill(1));
    expect(releases.early).toEqual([]);
  });

  it('exactly once when the peer resets the connection mid-write, including responses not yet written', async () => {
    const releases = new Releases();
    let answerFirst!: () => void;
    let answerLast!: () => void;
    const handle: FrameHandler = (frame) => {
      const id = idOf(frame);
      // Request 0 is answered late, so 1..4 wait behind it; 5 is answered after the close.
      if (id === 0) return new Promise((resolve) => (answerFirst = () => resolve(releases.response(id))));
      if (id === 5) return new Promise((resolve) => (answerLast = () => resolve(releases.response(id))));
      return Promise.resolve(releases.response(id));
    };
    const { client, server } = await connect(handle, releases);
    for (let id = 0; id < 6; id++) client.write(requestFrame(id));
    await waitFor(() => answerFirst !== undefined && answerLast !== undefined, 'the requests');
    answerFirst();
    await waitFor(() => server.writableNeedDrain, 'the unread responses to fill the socket');
    expect(releases.total).toBeLessThan(5);

    client.resetAndDestroy();
    await waitFor(() => server.destroyed && releases.total === 5, 'the written responses to be released');
    answerLast();
    await waitFor(() => releases.total === 6, 'the late response to be released');
    expect([...releases.count.entries()].sort((a, b) => a[0] - b[0])).toEqual([0, 1, 2, 3, 4, 5].map((id) => [id, 1]));
    expect(releases.early).toEqual([]);
  });

  it('exactly once when the broker closes the connection mid-write', async () => {
    const releases = new Releases();
    let answerBlocked!: () => void;
    const handle: FrameHandler = (frame) => {
      const id = idOf(frame);
      if (id === 4) return new Promise((resolve) => (answerBlocked = () => resolve(releases.response(id))));
      return Promise.resolve(releases.response(id));
    };
    const { client, server, connection } = await connect(handle, releases);
    for (let id = 0; id < 6; id++) client.write(requestFrame(id));
    await waitFor(
      () => server.writableNeedDrain && answerBlocked !== undefined,
      'the unread responses to fill the socket',
    );

    connection.close('malformed_request', 'test');
    // Response 5 waited behind 4 and is dropped with the connection; 0..3 were handed to the socket.
    await waitFor(() => releases.total === 5, 'the responses to be released');
    expect(releases.count.get(4)).toBeUndefined();
    answerBlocked();
    await waitFor(() => releases.total === 6, 'the blocked response to be released');
    expect([...releases.count.values()]).toEqual(Array(6).fill(1));
    expect(releases.early).toEqual([]);
  });
});

describe('Connection bounds what it holds in bytes', () => {
  const PIPELINED = 80;

  it('charges a Fetch the bytes it asks for, so a client that never reads gets two answered, not all 80', async () => {
    const releases = new Releases();
    const started: number[] = [];
    const correlationIdOf = (frame: Buffer) => frame.readInt32BE(4);
    const handle: FrameHandler = (frame) => {
      started.push(correlationIdOf(frame));
      return Promise.resolve(releases.response(correlationIdOf(frame)));
    };
    const fetchFrame = (id: number) =>
      encodeRequest(
        Fetch,
        12,
        {
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 50 * 1024 * 1024,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: RESPONSE_BYTES }] }],
          forgottenTopicsData: [],
          rackId: '',
        },
        { correlationId: id },
      );
    // Each Fetch may return 2 MiB (its partitionMaxBytes); the budget holds two of them.
    const { client, server, connection } = await connect(handle, releases, {
      maxQueuedBytes: 5 * 1024 * 1024,
      maxFrameBytes: 1024,
    });
    client.write(Buffer.concat(Array.from({ length: PIPELINED }, (_, id) => fetchFrame(id))));
    await waitFor(() => server.writableNeedDrain, 'the unread responses to fill the socket');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(started).toEqual([0, 1]);
    expect(connection.queuedBytes).toBeLessThanOrEqual(2 * (RESPONSE_BYTES + 8));

    const received = await readFrames(client, PIPELINED);
    expect(received.map(idOf)).toEqual(Array.from({ length: PIPELINED }, (_, id) => id));
    expect(started).toEqual(Array.from({ length: PIPELINED }, (_, id) => id));
    await waitFor(() => releases.total === PIPELINED, 'every response to be released');
    expect(releases.early).toEqual([]);
  });

  it('starts at most 64 other requests at once, and none while the responses it holds exceed its budget', async () => {
    const releases = new Releases();
    const started: number[] = [];
    const handle: FrameHandler = (frame) => {
      started.push(idOf(frame));
      return Promise.resolve(releases.response(idOf(frame)));
    };
    const { client, server } = await connect(handle, releases, { maxQueuedBytes: 5 * 1024 * 1024 });
    client.write(Buffer.concat(Array.from({ length: PIPELINED }, (_, id) => requestFrame(id))));
    await waitFor(() => server.writableNeedDrain, 'the unread responses to fill the socket');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(started.length).toBe(64);

    const received = await readFrames(client, PIPELINED);
    expect(received.map(idOf)).toEqual(Array.from({ length: PIPELINED }, (_, id) => id));
    await waitFor(() => releases.total === PIPELINED, 'every response to be released');
    expect(releases.early).toEqual([]);
  });

  it('runs a request larger than the budget once the connection is otherwise idle', async () => {
    const releases = new Releases();
    const started: number[] = [];
    const handle: FrameHandler = (frame) => {
      started.push(idOf(frame));
      return Promise.resolve(releases.response(idOf(frame)));
    };
    const { client } = await connect(handle, releases, { maxQueuedBytes: 4 });
    client.write(Buffer.concat([requestFrame(0), requestFrame(1), requestFrame(2)]));
    const received = await readFrames(client, 3);
    expect(received.map(idOf)).toEqual([0, 1, 2]);
    expect(started).toEqual([0, 1, 2]);
  });
});
