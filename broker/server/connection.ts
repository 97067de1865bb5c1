// One client connection: frames in, responses out in request order. Requests are started as
// they arrive (so a produce pipeline keeps the disk busy) but answered strictly in order.
// Too many requests in flight, or a socket that is not draining, pauses reading: the client
// is pushed back instead of the broker buffering without limit.
//
// A response may hold buffers its producer wants back (pooled fetch reads): its `release` runs
// exactly once, after the socket has called back for every chunk of it (written, or failed
// because the socket was destroyed), or at once when the connection closes before it is
// written. Never earlier: a chunk the socket still queues would be overwritten.

import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameSplitter } from './frames.js';

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

interface Pending {
  done: boolean;
  response: Response | null;
}

export class Connection {
  private readonly splitter: FrameSplitter;
  private readonly pending: Pending[] = [];
  private closed = false;
  private readPaused = false;
  /** Set by drain(): no new requests are read from now on. */
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly socket: Socket,
    readonly info: ConnectionInfo,
    private readonly handle: FrameHandler,
    maxFrameBytes: number,
  ) {
    this.splitter = new FrameSplitter(maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (data) => this.onData(data));
    socket.on('drain', () => this.updateFlow());
    socket.on('error', (err) => info.logger.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.onClosed());
  }

  get inFlight(): number {
    return this.pending.length;
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    for (const event of this.splitter.push(data)) {
      if (event.type === 'error') {
        this.close(event.reason);
        return;
      }
      this.start(event.frame);
    }
    this.updateFlow();
  }

  private start(frame: Buffer): void {
    const slot: Pending = { done: false, response: null };
    this.pending.push(slot);
    this.handle(frame, this.info).then(
      (response) => {
        if (this.closed) {
          response?.release?.();
          return;
        }
        slot.done = true;
        slot.response = response;
        this.flush();
      },
      (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        if (!(err instanceof CloseConnection)) this.info.logger.error({ err }, 'request failed');
        this.close(reason);
      },
    );
  }

  private flush(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.pending.length > 0 && this.pending[0]!.done) {
      const { response } = this.pending.shift()!;
      if (response === null) continue;
      if (!wrote) this.socket.cork();
      wrote = true;
      this.write(response);
    }
    if (wrote) this.socket.uncork();
    this.updateFlow();
    if (this.pending.length === 0) this.notifyIdle();
  }

  private write({ chunks, release }: Response): void {
    if (!release) {
      for (const chunk of chunks) this.socket.write(chunk);
      return;
    }
    if (chunks.length === 0) {
      release();
      return;
    }
    let unwritten = chunks.length;
    const written = () => {
      if (--unwritten === 0) release();
    };
    for (const chunk of chunks) this.socket.write(chunk, written);
  }

  private updateFlow(): void {
    if (this.closed) return;
    const shouldPause = this.stopped || this.pending.length >= MAX_IN_FLIGHT_REQUESTS || this.socket.writableNeedDrain;
    if (shouldPause && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    } else if (!shouldPause && this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    this.info.logger.warn({ reason }, 'closing connection');
    this.socket.destroy();
    this.onClosed();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    // Answered but not yet written (waiting for an earlier request): they never will be.
    for (const slot of this.pending.splice(0)) slot.response?.release?.();
    this.notifyIdle();
  }

  /** Stops reading new requests; resolves when every request already read is answered. */
  drain(): Promise<void> {
    this.stopped = true;
    this.updateFlow();
    if (this.closed || this.pending.length === 0) return Promise.resolve();
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
