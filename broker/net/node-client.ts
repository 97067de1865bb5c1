// The broker's own Kafka client to another node (Raft RPCs, broker registration and heartbeats,
// forwarding to the active controller), over one TCP connection and the broker's own codec.
//
// Invariants:
// - One connection per NodeClient, opened lazily by the first request; after any failure the
//   connection is gone and the next request opens a new one.
// - Every connection starts with ApiVersions; 'latest' then means min(our max, the peer's max),
//   so we talk to a stock Kafka node too. A request for an API the peer lacks rejects at once.
// - Requests are pipelined, matched to responses by correlation id; at most
//   `maxInFlightRequests` are outstanding, and a request over the bound rejects (back-pressure
//   for the caller, never an unbounded queue).
// - A request that times out closes the connection and fails every other in-flight request: a
//   late response could otherwise be taken for the answer to a request still waiting.
// - No response frame larger than `maxResponseBytes` is buffered; a larger size prefix closes the
//   connection.
// - Timers come only from the injected Clock; every error names the peer (host:port).

import net from 'node:net';
import type { Logger } from 'pino';
import type { Clock, Timer } from '../clock.js';
import {
  decodeApiVersionsResponse,
  decodeResponseFrame,
  encodeRequestFrame,
  responseCorrelationId,
} from '../protocol/frames.js';
import { ApiVersions } from '../protocol/messages/index.js';
import type { ApiDefinition, Decoded, Fields, Input } from '../protocol/schema.js';

/** Requests outstanding on one connection before more are refused (timeouts are per request, given by the caller). */
export const DEFAULT_MAX_IN_FLIGHT_REQUESTS = 64;
/** Fetch responses of the metadata log are ≤ 8 MiB (Kafka's MAX_FETCH_SIZE_BYTES), plus headers. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CLIENT_ID = 'runnel-node-client';
const SIZE_PREFIX_BYTES = 4;
const CORRELATION_ID_BYTES = 4;
const MAX_CORRELATION_ID = 0x7fffffff;

export type NodeClientErrorKind =
  /** The request got no answer within its timeout (the connection was closed). */
  | 'timeout'
  /** Connecting failed, or the connection broke or was closed while the request was out. */
  | 'connection'
  /** The peer does not serve the API, or no version both sides know. */
  | 'unsupported'
  /** `maxInFlightRequests` requests are already outstanding. */
  | 'backpressure'
  /** The peer sent something we cannot read (oversized frame, unknown correlation id, bad body). */
  | 'protocol'
  /** close() was called. */
  | 'closed';

export class NodeClientError extends Error {
  constructor(
    readonly kind: NodeClientErrorKind,
    /** host:port of the peer. */
    readonly peer: string,
    message: string,
  ) {
    super(`${peer}: ${message}`);
    this.name = 'NodeClientError';
  }
}

export interface NodeClientOptions {
  host: string;
  port: number;
  clock: Clock;
  clientId?: string;
  maxInFlightRequests?: number;
  maxResponseBytes?: number;
  logger?: Logger;
}

/** The versions the peer serves, by API key, as its ApiVersions answer lists them. */
export type PeerVersions = ReadonlyMap<number, { minVersion: number; maxVersion: number }>;

interface Pending {
  correlationId: number;
  apiName: string;
  /** Decodes a response frame of this request; throws on a malformed one. */
  decode(frame: Buffer): unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: Timer | null;
}

/** One open (or opening) connection and what belongs to it. */
class Connection {
  readonly pending = new Map<number, Pending>();
  /** Set once ApiVersions has answered. */
  versions: PeerVersions | null = null;
  readonly ready: Promise<PeerVersions>;
  closed = false;
  private header = Buffer.alloc(SIZE_PREFIX_BYTES);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;

  constructor(
    readonly socket: net.Socket,
    ready: (conn: Connection) => Promise<PeerVersions>,
  ) {
    this.ready = ready(this);
  }

  /**
   * Splits incoming bytes into frames without quadratic copying: whole frames inside one chunk
   * are sliced, a frame spread over chunks is copied once into a buffer of its announced size.
   */
  *frames(chunk: Buffer, maxFrameBytes: number): Generator<Buffer> {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.body === null) {
        if (this.headerFill === 0 && chunk.length - pos >= SIZE_PREFIX_BYTES) {
          const size = chunk.readInt32BE(pos);
          checkFrameSize(size, maxFrameBytes);
          if (chunk.length - pos - SIZE_PREFIX_BYTES >= size) {
            yield chunk.subarray(pos + SIZE_PREFIX_BYTES, pos + SIZE_PREFIX_BYTES + size);
            pos += SIZE_PREFIX_BYTES + size;
            continue;
          }
          this.body = Buffer.allocUnsafe(size);
          this.bodyFill = 0;
          pos += SIZE_PREFIX_BYTES;
          continue;
        }
        const n = Math.min(SIZE_PREFIX_BYTES - this.headerFill, chunk.length - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < SIZE_PREFIX_BYTES) return;
        this.headerFill = 0;
        const size = this.header.readInt32BE(0);
        checkFrameSize(size, maxFrameBytes);
        this.body = Buffer.allocUnsafe(size);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, chunk.length - pos);
      chunk.copy(this.body, this.bodyFill, pos, pos + n);
      this.bodyFill += n;
      pos += n;
      if (this.bodyFill === this.body.length) {
        const frame = this.body;
        this.body = null;
        yield frame;
      }
    }
  }

  /** Bytes of a partly received frame. */
  get partialBytes(): number {
    return this.headerFill + this.bodyFill;
  }
}

class FrameSizeError extends Error {}

function checkFrameSize(size: number, maxFrameBytes: number): void {
  if (size < CORRELATION_ID_BYTES) throw new FrameSizeError(`response frame of ${size} bytes is too short`);
  if (size > maxFrameBytes) {
    throw new FrameSizeError(`response frame of ${size} bytes exceeds the limit of ${maxFrameBytes} bytes`);
  }
}

export class NodeClient {
  readonly peer: string;
  private readonly clientId: string;
  private readonly maxInFlight: number;
  private readonly maxResponseBytes: number;
  private conn: Connection | null = null;
  private nextCorrelationId = 0;
  private isClosed = false;

  constructor(private readonly options: NodeClientOptions) {
    this.peer = `${options.host}:${options.port}`;
    this.clientId = options.clientId ?? DEFAULT_CLIENT_ID;
    this.maxInFlight = options.maxInFlightRequests ?? DEFAULT_MAX_IN_FLIGHT_REQUESTS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** Requests sent or waiting for the connection, not yet answered. */
  get inFlight(): number {
    return this.conn?.pending.size ?? 0;
  }

  /** The peer's API versions, once a connection has exchanged ApiVersions (null before, and after a failure). */
  get peerVersions(): PeerVersions | null {
    return this.conn?.versions ?? null;
  }

  /**
   * Sends one request and resolves with the decoded response body. `version` 'latest' picks
   * min(our max, the peer's max). Rejects with a NodeClientError.
   */
  async request<Req extends Fields, Res extends Fields>(
    api: ApiDefinition<Req, Res>,
    version: number | 'latest',
    body: Input<Req>,
    options: { timeoutMs: number },
  ): Promise<Decoded<Res>> {
    if (this.isClosed) throw this.error('closed', `client closed; ${api.name} not sent`);
    if (typeof version === 'number' && (version < api.minVersion || version > api.maxVersion)) {
      throw this.error(
        'unsupported',
        `${api.name} v${version} is outside the versions we know (${api.minVersion}-${api.maxVersion})`,
      );
    }
    const conn = this.connection();
    if (conn.pending.size >= this.maxInFlight) {
      throw this.error('backpressure', `${this.maxInFlight} requests already in flight; ${api.name} not sent`);
    }
    const correlationId = this.correlationId();
    let chosen = -1;
    const response = new Promise<unknown>((resolve, reject) => {
      const pending: Pending = {
        correlationId,
        apiName: api.name,
        decode: (frame) => decodeResponseFrame(api, chosen, frame).body,
        resolve,
        reject,
        timer: null,
      };
      pending.timer = this.options.clock.after(options.timeoutMs, () => {
        this.fail(conn, (p) =>
          p === pending
            ? this.error('timeout', `${api.name} got no response within ${options.timeoutMs} ms`)
            : this.error('connection', `connection closed after ${api.name} timed out; ${p.apiName} was in flight`),
        );
      });
      conn.pending.set(correlationId, pending);
    });
    // Rejections are observed through `await response` below; this only keeps one that happens
    // while we still wait for the handshake from counting as unhandled.
    response.catch(() => {});
    try {
      const versions = await conn.ready;
      if (!conn.pending.has(correlationId)) return (await response) as Decoded<Res>; // failed meanwhile
      chosen = this.pickVersion(api, version, versions);
      conn.socket.write(encodeRequestFrame(api, chosen, body, { correlationId, clientId: this.clientId }));
    } catch (err) {
      const pending = conn.pending.get(correlationId);
      if (pending) this.settle(conn, pending, this.asClientError(err, `${api.name} not sent`));
    }
    return (await response) as Decoded<Res>;
  }

  /** Closes the connection; in-flight requests and later ones reject with kind 'closed'. */
  close(): void {
    this.isClosed = true;
    if (this.conn) this.fail(this.conn, (p) => this.error('closed', `client closed while ${p.apiName} was in flight`));
  }

  private pickVersion(
    api: { key: number; name: string; minVersion: number; maxVersion: number },
    version: number | 'latest',
    peer: PeerVersions,
  ): number {
    const theirs = peer.get(api.key);
    if (!theirs) throw this.error('unsupported', `the peer does not serve ${api.name} (API key ${api.key})`);
    if (version !== 'latest') {
      if (version < theirs.minVersion || version > theirs.maxVersion) {
        throw this.error(
          'unsupported',
          `the peer serves ${api.name} v${theirs.minVersion}-${theirs.maxVersion}, not v${version}`,
        );
      }
      return version;
    }
    const chosen = Math.min(api.maxVersion, theirs.maxVersion);
    if (chosen < Math.max(api.minVersion, theirs.minVersion)) {
      throw this.error(
        'unsupported',
        `no ${api.name} version in common: we know v${api.minVersion}-${api.maxVersion}, the peer v${theirs.minVersion}-${theirs.maxVersion}`,
      );
    }
    return chosen;
  }

  private correlationId(): number {
    this.nextCorrelationId = this.nextCorrelationId >= MAX_CORRELATION_ID ? 1 : this.nextCorrelationId + 1;
    return this.nextCorrelationId;
  }

  /** The current connection, opening one if there is none. */
  private connection(): Connection {
    if (this.conn && !this.conn.closed) return this.conn;
    const socket = net.connect({ host: this.options.host, port: this.options.port });
    socket.setNoDelay(true);
    const conn = new Connection(socket, (c) => this.handshake(c));
    // A failed handshake ends the connection and fails every request waiting on it.
    conn.ready.catch((err: unknown) => {
      const e = this.asClientError(err, 'handshake failed');
      this.fail(conn, () => e);
    });
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', (err) => this.fail(conn, () => this.error('connection', err.message)));
    socket.on('close', () =>
      this.fail(conn, (p) =>
        this.error('connection', `connection closed by the peer while ${p.apiName} was in flight`),
      ),
    );
    this.conn = conn;
    return conn;
  }

  /** Connects and exchanges ApiVersions (at our max; at v0 again if the peer does not know it). */
  private async handshake(conn: Connection): Promise<PeerVersions> {
    await new Promise<void>((resolve, reject) => {
      conn.socket.once('connect', resolve);
      conn.socket.once('close', () => reject(this.error('connection', 'connection closed before it was established')));
    });
    let version = ApiVersions.maxVersion;
    for (;;) {
      const body = await this.exchangeApiVersions(conn, version);
      if (body.errorCode === 0) {
        const versions = new Map(
          body.apiKeys.map((k) => [k.apiKey, { minVersion: k.minVersion, maxVersion: k.maxVersion }]),
        );
        conn.versions = versions;
        this.options.logger?.debug({ peer: this.peer, apis: versions.size }, 'node connection ready');
        return versions;
      }
      const theirs = body.apiKeys.find((k) => k.apiKey === ApiVersions.key);
      if (body.errorCode !== UNSUPPORTED_VERSION || !theirs || theirs.maxVersion >= version) {
        throw this.error('protocol', `ApiVersions v${version} answered with error code ${body.errorCode}`);
      }
      version = theirs.maxVersion;
    }
  }

  /** One ApiVersions round trip on a fresh connection, as an internal pending request (no timer of its own). */
  private exchangeApiVersions(
    conn: Connection,
    version: number,
  ): Promise<Decoded<(typeof ApiVersions.response)['fields']>> {
    const correlationId = this.correlationId();
    return new Promise((resolve, reject) => {
      conn.pending.set(correlationId, {
        correlationId,
        apiName: 'ApiVersions',
        decode: (frame) => decodeApiVersionsResponse(version, frame).body,
        resolve,
        reject,
        timer: null,
      });
      conn.socket.write(
        encodeRequestFrame(
          ApiVersions,
          version,
          { clientSoftwareName: 'runnel', clientSoftwareVersion: '0.1.0' },
          { correlationId, clientId: this.clientId },
        ),
      );
    });
  }

  private onData(conn: Connection, chunk: Buffer): void {
    try {
      for (const frame of conn.frames(chunk, this.maxResponseBytes)) {
        const correlationId = responseCorrelationId(frame);
        const pending = conn.pending.get(correlationId);
        if (!pending) {
          throw this.error(
            'protocol',
            `response with correlation id ${correlationId}, which no request is waiting for`,
          );
        }
        let value: unknown;
        try {
          value = pending.decode(frame);
        } catch (err) {
          throw this.error('protocol', `${pending.apiName} response does not decode: ${(err as Error).message}`);
        }
        conn.pending.delete(correlationId);
        pending.timer?.cancel();
        pending.resolve(value);
      }
    } catch (err) {
      const e = this.asClientError(err, 'bad response');
      this.fail(conn, () => e);
    }
  }

  /** Ends the connection (if still open) and rejects every request on it with the error `why` gives. */
  private fail(conn: Connection, why: (p: Pending) => NodeClientError): void {
    if (!conn.closed) {
      conn.closed = true;
      conn.socket.destroy();
      if (this.conn === conn) this.conn = null;
      if (conn.partialBytes > 0) this.options.logger?.debug({ peer: this.peer }, 'connection closed mid-response');
    }
    for (const p of [...conn.pending.values()]) this.settle(conn, p, why(p));
  }

  private settle(conn: Connection, p: Pending, err: Error): void {
    conn.pending.delete(p.correlationId);
    p.timer?.cancel();
    p.reject(err);
  }

  private asClientError(err: unknown, context: string): NodeClientError {
    if (err instanceof NodeClientError) return err;
    return this.error('protocol', `${context}: ${err instanceof Error ? err.message : String(err)}`);
  }

  private error(kind: NodeClientErrorKind, message: string): NodeClientError {
    return new NodeClientError(kind, this.peer, message);
  }
}

const UNSUPPORTED_VERSION = 35;

export interface NodeAddress {
  host: string;
  port: number;
}

/**
 * One NodeClient per node id, created on first use from the node's address. Changing a node's
 * address closes its client (the next `get` connects to the new one); `close` closes them all
 * (shutdown) and refuses later `get`s.
 */
export class NodeClients {
  private readonly addresses = new Map<number, NodeAddress>();
  private readonly clients = new Map<number, NodeClient>();
  private isClosed = false;

  constructor(
    addresses: Iterable<[number, NodeAddress]>,
    private readonly options: Omit<NodeClientOptions, 'host' | 'port'>,
  ) {
    for (const [nodeId, address] of addresses) this.addresses.set(nodeId, { ...address });
  }

  /** The client of `nodeId`; throws if the node's address is unknown or the pool is closed. */
  get(nodeId: number): NodeClient {
    if (this.isClosed) throw new Error(`node clients closed; no client for node ${nodeId}`);
    const existing = this.clients.get(nodeId);
    if (existing) return existing;
    const address = this.addresses.get(nodeId);
    if (!address) throw new Error(`no address known for node ${nodeId}`);
    const client = new NodeClient({
      ...this.options,
      host: address.host,
      port: address.port,
      logger: this.options.logger?.child({ node: nodeId }),
    });
    this.clients.set(nodeId, client);
    return client;
  }

  /** Sets (or moves) a node's address; a client to its old address is closed. */
  setAddress(nodeId: number, address: NodeAddress): void {
    const old = this.addresses.get(nodeId);
    if (old && old.host === address.host && old.port === address.port) return;
    this.addresses.set(nodeId, { ...address });
    this.clients.get(nodeId)?.close();
    this.clients.delete(nodeId);
  }

  address(nodeId: number): NodeAddress | undefined {
    const a = this.addresses.get(nodeId);
    return a && { ...a };
  }

  close(): void {
    this.isClosed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
