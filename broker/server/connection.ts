// One client connection: frames in, responses out in request order. Requests are started as
// they arrive (so a produce pipeline keeps the disk busy) but answered strictly in order.
//
// What one connection may hold is bounded in bytes (MAX_QUEUED_BYTES_PER_CONNECTION), not only
// in requests: the requests in flight (each charged its frame, and a Fetch also the response it
// asks for, see request-cost.ts), the responses answered but waiting for an earlier one, and the
// bytes handed to the socket that it has not yet passed on (socket.writableLength). A request is
// started only while it fits, while the socket is draining and while fewer than
// MAX_IN_FLIGHT_REQUESTS are in flight; frames that cannot start yet wait in order, and reading
// pauses while any wait, so a client that never reads is pushed back instead of the broker
// buffering without limit. A request larger than the budget still runs, alone, once the
// connection is otherwise idle. (Kafka mutes a channel until its response is sent; we keep
// pipelining, bounded.)
//
// A response may hold buffers its producer wants back (pooled fetch reads): its `release` runs
// exactly once, after the socket has called back for every chunk of it (written, or failed
// because the socket was destroyed), or at once when the connection closes before it is
// written. Never earlier: a chunk the socket still queues would be overwritten.

import type { Socket } from 'node:net';
import { MAX_TIMER_MS } from '../clock.js';
import type { Logger } from 'pino';
import type { CloseCause } from './close-log.js';
import { FrameSplitter } from './frames.js';
import { requestCostBytes } from './request-cost.js';

/** Handles one request frame: the response, or null when no response is due (acks=0). */
export type FrameHandler = (frame: Buffer, connection: ConnectionInfo) => Promise<Response | null>;

export interface Response {
  chunks: Buffer[];
  /** Called once the chunks are no longer needed (see above). */
  release?: (() => void) | undefined;
}

export interface ConnectionInfo {
  id: number;
  remoteAddress: string;
  logger: Logger;
}

/** Thrown by a frame handler to close the connection (a request that cannot be answered). */
export class CloseConnection extends Error {}

const MAX_IN_FLIGHT_REQUESTS = 64;

/**
 * 16 MiB: room for a producer's whole pipeline of requests at the usual 1 MiB maximum (the Java
 * producer keeps 5 in flight; librdkafka more, and 16 of them keep the disk busy), and for
 * several consumer fetches at the default max.partition.fetch.bytes (1 MiB). A consumer asking
 * for more than this in one Fetch (fetch.max.bytes defaults to 50 MiB) has it served alone, as
 * Kafka serves every request. A connection then holds at most this much, or one request and
 * its response when that is larger; a client that never reads costs no more than that.
 */
export const MAX_QUEUED_BYTES_PER_CONNECTION = 16 * 1024 * 1024;

export interface ConnectionOptions {
  /** socket.request.max.bytes */
  maxFrameBytes: number;
  /** connections.max.idle.ms: closed after this long with no request in progress and no bytes moving; null never. */
  idleTimeoutMs?: number | null;
  /** Defaults to MAX_QUEUED_BYTES_PER_CONNECTION (tests use less). */
  maxQueuedBytes?: number;
  /** Told when the broker closes the connection for a cause (not when the client hangs up, nor at shutdown); defaults to logging it. */
  closedFor?: (cause: CloseCause, reason: string, info: ConnectionInfo, err?: unknown) => void;
}

interface Pending {
  done: boolean;
  response: Response | null;
  /** Charged to the budget: the request's cost until answered, then the response's bytes. */
  bytes: number;
}

export class Connection {
  private readonly splitter: FrameSplitter;
  /** Frames read but not started, with their cost: they wait for room in the budget. */
  private readonly waiting: Array<{ frame: Buffer; cost: number }> = [];
  /** Started requests in order, answered or not, whose responses are not yet handed to the socket. */
  private readonly pending: Pending[] = [];
  private pendingBytes = 0;
  private readonly maxQueuedBytes: number;
  private closed = false;
  private readPaused = false;
  /** Set by drain(): no new requests are read from now on. */
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private readonly afterWrite = () => {
    if (this.waiting.length > 0 || this.readPaused) this.pump();
  };

  constructor(
    private readonly socket: Socket,
    readonly info: ConnectionInfo,
    private readonly handle: FrameHandler,
    private readonly options: ConnectionOptions,
  ) {
    this.splitter = new FrameSplitter(options.maxFrameBytes);
    this.maxQueuedBytes = options.maxQueuedBytes ?? MAX_QUEUED_BYTES_PER_CONNECTION;
    socket.setNoDelay(true);
    socket.on('data', (data) => this.onData(data));
    socket.on('drain', () => this.pump());
    socket.on('error', (err) => info.logger.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.onClosed());
    const idleMs = options.idleTimeoutMs;
    if (idleMs != null && idleMs >= 0) {
      // Node's socket timeout restarts on every read and write, and fires once per quiet spell;
      // like a timer it takes at most MAX_TIMER_MS (24.8 days).
      socket.setTimeout(Math.min(Math.max(idleMs, 1), MAX_TIMER_MS));
      socket.on('timeout', () => this.onQuiet(idleMs));
    }
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Bytes this connection holds against its budget (see the opening comment). */
  get queuedBytes(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    for (const event of this.splitter.push(data)) {
      if (event.type === 'error') {
        this.close('invalid_frame', event.reason);
        return;
      }
      this.waiting.push({ frame: event.frame, cost: requestCostBytes(event.frame, this.maxQueuedBytes) });
    }
    this.pump();
  }

  /** Starts the waiting frames that fit, in order; pauses or resumes reading. */
  private pump(): void {
    while (!this.closed && this.waiting.length > 0 && this.mayStart(this.waiting[0].cost)) {
      const { frame, cost } = this.waiting.shift()!;
      this.start(frame, cost);
    }
    this.updateFlow();
  }

  private mayStart(cost: number): boolean {
    if (this.pending.length >= MAX_IN_FLIGHT_REQUESTS || this.socket.writableNeedDrain) return false;
    const queued = this.queuedBytes;
    // Alone on an idle connection, a request runs whatever it costs.
    return queued === 0 || queued + cost <= this.maxQueuedBytes;
  }

  private start(frame: Buffer, cost: number): void {
    const slot: Pending = { done: false, response: null, bytes: cost };
    this.pending.push(slot);
    this.pendingBytes += cost;
    this.handle(frame, this.info).then(
      (response) => {
        if (this.closed) {
          response?.release?.();
          return;
        }
        slot.done = true;
        slot.response = response;
        let responseBytes = 0;
        for (const chunk of response?.chunks ?? []) responseBytes += chunk.length;
        this.pendingBytes += responseBytes - slot.bytes;
        slot.bytes = responseBytes;
        this.flush();
      },
      (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        if (err instanceof CloseConnection) this.close('malformed_request', reason);
        else this.close('request_failed', reason, err);
      },
    );
  }

  private flush(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.pending.length > 0 && this.pending[0].done) {
      const { response, bytes } = this.pending.shift()!;
      this.pendingBytes -= bytes;
      if (response === null) continue;
      if (!wrote) this.socket.cork();
      wrote = true;
      this.write(response);
    }
    if (wrote) this.socket.uncork();
    this.pump();
    if (this.isIdle()) this.notifyIdle();
  }

  private write({ chunks, release }: Response): void {
    if (!release) {
      for (const chunk of chunks) this.socket.write(chunk, this.afterWrite);
      return;
    }
    if (chunks.length === 0) {
      release();
      return;
    }
    let unwritten = chunks.length;
    const written = () => {
      if (--unwritten === 0) release();
      this.afterWrite();
    };
    for (const chunk of chunks) this.socket.write(chunk, written);
  }

  private updateFlow(): void {
    if (this.closed) return;
    const shouldPause =
      this.stopped ||
      this.waiting.length > 0 ||
      this.socket.writableNeedDrain ||
      this.queuedBytes >= this.maxQueuedBytes;
    if (shouldPause && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    } else if (!shouldPause && this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  /** No request waiting, in flight or unwritten. */
  private isIdle(): boolean {
    return this.waiting.length === 0 && this.pending.length === 0;
  }

  /**
   * Nothing read or written for idleMs. Closed unless a request is being served (a long poll):
   * also when the client has left responses unread that long, as Kafka closes a channel that
   * has not moved for connections.max.idle.ms.
   */
  private onQuiet(idleMs: number): void {
    if (this.closed || this.pending.length > 0) return;
    const unread = this.socket.writableLength;
    this.close(
      'idle',
      unread > 0
        ? `${unread} response bytes unread for ${idleMs} ms (connections.max.idle.ms)`
        : `no requests for ${idleMs} ms (connections.max.idle.ms)`,
    );
  }

  /** Closes the connection for a cause: reported once, then the socket is destroyed. */
  close(cause: CloseCause, reason: string, err?: unknown): void {
    if (this.closed) return;
    if (this.options.closedFor) this.options.closedFor(cause, reason, this.info, err);
    else this.info.logger.warn({ cause, reason, err }, 'closing connection');
    this.socket.destroy();
    this.onClosed();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting.length = 0;
    // Answered but not yet written (waiting for an earlier request): they never will be.
    for (const slot of this.pending.splice(0)) slot.response?.release?.();
    this.pendingBytes = 0;
    this.notifyIdle();
  }

  /** Stops reading new requests; resolves when every request already read is answered. */
  drain(): Promise<void> {
    this.stopped = true;
    this.updateFlow();
    if (this.closed || this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends the connection after pending writes are flushed. */
  end(): void {
    if (!this.closed) this.socket.end();
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
