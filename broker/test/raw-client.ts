// A tiny test-only Kafka client that frames requests with the broker's own codec (header.ts,
// schema.ts, messages/) and decodes the responses, one TCP connection at a time. It exists to
// say things real clients never say: unknown API keys and versions, truncated or garbage
// frames, oversized size prefixes, hundreds of pipelined requests in one write, corrupt
// record batches. Everything it decodes must consume the whole frame, so a codec that reads
// too little or too much fails the test instead of passing silently.

import net from 'node:net';
import {
  decodeResponseFrame,
  encodeRequestFrame,
  hasFlexibleResponseHeader,
  type AnyApi,
  type DecodedResponse,
  type RequestInputOf,
} from '../protocol/frames.js';
import {
  readRequestHeader,
  skipHeaderTaggedFields,
  writeRequestHeader,
  type RequestHeader,
} from '../protocol/header.js';
import { ALL_APIS, Fetch } from '../protocol/messages/index.js';
import { decodeRecords, scanBatches, type DecodedRecord } from '../protocol/record-batch.js';
import { compile, isFlexible, type DecodedResponseOf } from '../protocol/schema.js';
import { Reader, Writer } from '../protocol/wire.js';

export {
  decodeResponseFrame as decodeResponse,
  hasFlexibleResponseHeader,
  type AnyApi,
  type DecodedResponse,
  type RequestInputOf,
};

export const TEST_CLIENT_ID = 'runnel-raw-client';

// ---- framing -----------------------------------------------------------------------------

/** The whole request frame, 4-byte size prefix included, as a client would send it. */
export function encodeRequest<A extends AnyApi>(
  api: A,
  version: number,
  body: RequestInputOf<A>,
  header: { correlationId: number; clientId?: string | null },
): Buffer {
  return encodeRequestFrame(api, version, body, {
    correlationId: header.correlationId,
    clientId: header.clientId ?? TEST_CLIENT_ID,
  });
}

/** A request frame with only a header: for versions the schema does not know (v99). */
export function encodeHeaderOnly(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  flexible: boolean,
  body = Buffer.alloc(0),
): Buffer {
  const w = new Writer();
  const setSize = w.placeholderInt32();
  writeRequestHeader(w, { apiKey, apiVersion, correlationId, clientId: TEST_CLIENT_ID }, flexible);
  w.raw(body);
  setSize(w.length - 4);
  return w.toBuffer();
}

export interface DecodedRequest {
  header: RequestHeader;
  api: AnyApi;
  body: Record<string, unknown>;
}

/** Decodes a whole request frame (size prefix included); throws unless every byte is used. */
export function decodeRequest(frame: Buffer): DecodedRequest {
  const size = frame.readInt32BE(0);
  if (size !== frame.length - 4) throw new Error(`size prefix says ${size} bytes, the frame has ${frame.length - 4}`);
  const r = new Reader(frame, 4);
  const header = readRequestHeader(r);
  const api = (ALL_APIS as readonly AnyApi[]).find((a) => a.key === header.apiKey);
  if (!api) throw new Error(`unknown API key ${header.apiKey}`);
  const flexible = isFlexible(api, header.apiVersion);
  if (flexible) skipHeaderTaggedFields(r);
  const body = compile(api.request, header.apiVersion, flexible).read(r) as Record<string, unknown>;
  if (r.remaining !== 0) throw new Error(`${r.remaining} bytes left after ${api.name} v${header.apiVersion} request`);
  return { header, api, body };
}

/** Splits a fetched record set into batches (whole ones only) and decodes their records. */
export function batchesOf(
  records: Buffer | null,
): Array<{ baseOffset: number; lastOffset: number; size: number; records: DecodedRecord[] }> {
  if (records === null || records.length === 0) return [];
  const scan = scanBatches(records, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
  if (scan.stop !== 'end') throw new Error(`record set does not end on a batch boundary: ${JSON.stringify(scan)}`);
  return scan.batches.map((b) => ({
    baseOffset: b.baseOffset,
    lastOffset: b.lastOffset,
    size: b.size,
    records: decodeRecords(records.subarray(b.position, b.position + b.size)),
  }));
}

// ---- connection --------------------------------------------------------------------------

/** One topic's partitions to fetch; unset limits are generous and the wait is none. */
export interface FetchSpec {
  topic: string;
  partitions: Array<{ partition: number; fetchOffset: number; partitionMaxBytes?: number }>;
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
}

/** A Fetch request body (any version from 12 down to 4) for the partitions of one topic, by name. */
export function fetchRequest(spec: FetchSpec): RequestInputOf<typeof Fetch> {
  return {
    maxWaitMs: spec.maxWaitMs ?? 0,
    minBytes: spec.minBytes ?? 0,
    maxBytes: spec.maxBytes ?? 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: spec.topic,
        partitions: spec.partitions.map((p) => ({
          partition: p.partition,
          fetchOffset: p.fetchOffset,
          partitionMaxBytes: p.partitionMaxBytes ?? 1024 * 1024,
        })),
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

export class ConnectionClosedError extends Error {}

interface Expected {
  correlationId: number;
  decode: (frame: Buffer) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * One TCP connection to a broker. Responses are matched to requests in order (Kafka answers
 * in request order); a response with the wrong correlation id fails the request. Frames that
 * no request is waiting for (answers to raw bytes) are queued for nextFrame().
 */
export class RawConnection {
  private readonly expected: Expected[] = [];
  private readonly unclaimed: Buffer[] = [];
  private frameWaiters: Array<{ resolve: (f: Buffer) => void; reject: (e: Error) => void }> = [];
  private buffered: Buffer = Buffer.alloc(0);
  private correlationId = 0;
  private isClosed = false;
  private closeReason = 'connection closed';
  /** Resolves when the socket is closed, with how it ended. */
  readonly closed: Promise<{ byPeer: boolean; error: string | null }>;
  /** Whether the peer ended the stream with a FIN ('end'), as opposed to a reset. */
  endedByPeer = false;
  /** The last socket error (ECONNRESET, EPIPE), if any. */
  socketError: string | null = null;
  private closedByUs = false;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => {
      this.endedByPeer = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.socketError = err.code ?? err.message;
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.closeReason = this.socketError
          ? `connection closed (${this.socketError})`
          : 'connection closed by the broker';
        this.failPending();
        resolve({ byPeer: !this.closedByUs, error: this.socketError });
      });
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get open(): boolean {
    return !this.isClosed;
  }

  nextCorrelationId(): number {
    return ++this.correlationId;
  }

  /** Writes bytes as they are: any frame, a part of one, or garbage. */
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Registers the response expected for a request written (or about to be) with `write`. */
  expect<A extends AnyApi>(api: A, version: number, correlationId: number): Promise<DecodedResponse<A>> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.isClosed) {
        reject(new ConnectionClosedError(this.closeReason));
        return;
      }
      this.expected.push({ correlationId, decode: (f) => decodeResponseFrame(api, version, f), resolve, reject });
    }) as Promise<DecodedResponse<A>>;
  }

  /** Sends one request and resolves with its decoded response body. */
  request<A extends AnyApi>(api: A, version: number, body: RequestInputOf<A>): Promise<DecodedResponseOf<A>> {
    const correlationId = this.nextCorrelationId();
    const response = this.expect(api, version, correlationId);
    this.write(encodeRequest(api, version, body, { correlationId }));
    return response.then((r) => r.body);
  }

  /** The next response frame no request was waiting for (size prefix removed). */
  nextFrame(): Promise<Buffer> {
    const queued = this.unclaimed.shift();
    if (queued) return Promise.resolve(queued);
    if (this.isClosed) return Promise.reject(new ConnectionClosedError(this.closeReason));
    return new Promise((resolve, reject) => this.frameWaiters.push({ resolve, reject }));
  }

  /** Bytes received that do not (yet) form a whole frame. */
  get partialBytes(): number {
    return this.buffered.length;
  }

  close(): void {
    this.closedByUs = true;
    this.socket.destroy();
  }

  private onData(data: Buffer): void {
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) break;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Buffer): void {
    const next = this.expected.shift();
    if (!next) {
      const waiter = this.frameWaiters.shift();
      if (waiter) waiter.resolve(frame);
      else this.unclaimed.push(frame);
      return;
    }
    const correlationId = frame.readInt32BE(0);
    if (correlationId !== next.correlationId) {
      next.reject(new Error(`expected the response to correlation id ${next.correlationId}, got ${correlationId}`));
      return;
    }
    try {
      next.resolve(next.decode(frame));
    } catch (err) {
      next.reject(err as Error);
    }
  }

  private failPending(): void {
    for (const e of this.expected.splice(0)) e.reject(new ConnectionClosedError(this.closeReason));
    for (const w of this.frameWaiters.splice(0)) w.reject(new ConnectionClosedError(this.closeReason));
  }
}

/** Polls `check` until it holds (events the test cannot await directly, like log lines). */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
