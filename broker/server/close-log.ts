// Connections the broker closes or refuses for a cause: each one is counted, but logged at a
// bounded rate, so that a client sending garbage in a loop (or a thousand clients over a limit)
// cannot flood the log. Per cause, the first CLOSE_LOG_BURST closes are logged one by one (a
// developer whose client is refused sees why), then at most one line per CLOSE_LOG_INTERVAL_MS,
// which carries how many closes were not logged since the previous line. A trailing line
// reports the closes of a burst that ends while lines are being held back.

import { systemClock, type Clock, type Timer } from '../clock.js';
import type { Logger } from 'pino';

export const CLOSE_CAUSES = [
  'invalid_frame',
  'malformed_request',
  'request_failed',
  'idle',
  'max_connections',
  'max_connections_per_ip',
] as const;

/**
 * Why the broker ended a connection: a frame size outside socket.request.max.bytes; a request
 * it cannot decode or serve (the dispatcher's CloseConnection); a handler failure; idle for
 * connections.max.idle.ms; refused at accept over max.connections or max.connections.per.ip.
 */
export type CloseCause = (typeof CLOSE_CAUSES)[number];

export const CLOSE_LOG_BURST = 10;
export const CLOSE_LOG_INTERVAL_MS = 10_000;

const LEVEL: Record<CloseCause, 'info' | 'warn' | 'error'> = {
  invalid_frame: 'warn',
  malformed_request: 'warn',
  request_failed: 'error',
  idle: 'info',
  max_connections: 'warn',
  max_connections_per_ip: 'warn',
};

interface CauseState {
  tokens: number;
  refilledAt: number;
  suppressed: number;
  timer: Timer | undefined;
}

export interface CloseLogOptions {
  burst?: number;
  intervalMs?: number;
  /** Told of every close, logged or not (metrics). */
  counted?: (cause: CloseCause) => void;
  clock?: Clock;
}

export class CloseLog {
  private readonly states = new Map<CloseCause, CauseState>();
  private readonly burst: number;
  private readonly intervalMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly logger: Logger,
    private readonly options: CloseLogOptions = {},
  ) {
    this.burst = options.burst ?? CLOSE_LOG_BURST;
    this.intervalMs = options.intervalMs ?? CLOSE_LOG_INTERVAL_MS;
    this.clock = options.clock ?? systemClock;
  }

  /** One close: counted, and logged on `logger` (which carries the connection) unless held back. */
  record(cause: CloseCause, logger: Logger, fields: Record<string, unknown>, message: string): void {
    this.options.counted?.(cause);
    const state = this.refill(cause);
    if (state.tokens < 1) {
      state.suppressed++;
      state.timer ??= this.scheduleSummary(cause, state);
      return;
    }
    state.tokens--;
    const notLogged = state.suppressed > 0 ? { suppressed: state.suppressed } : {};
    state.suppressed = 0;
    logger[LEVEL[cause]]({ cause, ...fields, ...notLogged }, message);
  }

  /** Logs what is held back now (at shutdown) and stops the timers. */
  flush(): void {
    for (const [cause, state] of this.states) {
      state.timer?.cancel();
      state.timer = undefined;
      this.logSummary(cause, state);
    }
  }

  private refill(cause: CloseCause): CauseState {
    const now = this.clock.nowMs();
    let state = this.states.get(cause);
    if (!state) {
      state = { tokens: this.burst, refilledAt: now, suppressed: 0, timer: undefined };
      this.states.set(cause, state);
    }
    const earned = Math.floor((now - state.refilledAt) / this.intervalMs);
    if (earned > 0) {
      state.tokens = Math.min(this.burst, state.tokens + earned);
      state.refilledAt += earned * this.intervalMs;
    }
    if (state.tokens === this.burst) state.refilledAt = now;
    return state;
  }

  private scheduleSummary(cause: CloseCause, state: CauseState): Timer {
    const waitMs = Math.max(0, state.refilledAt + this.intervalMs - this.clock.nowMs());
    return this.clock.after(waitMs, () => {
      state.timer = undefined;
      this.refill(cause);
      if (state.suppressed === 0) return;
      if (state.tokens < 1) {
        state.timer = this.scheduleSummary(cause, state);
        return;
      }
      state.tokens--;
      this.logSummary(cause, state);
    });
  }

  private logSummary(cause: CloseCause, state: CauseState): void {
    if (state.suppressed === 0) return;
    this.logger[LEVEL[cause]](
      { cause, suppressed: state.suppressed },
      `${state.suppressed} more connections closed or refused (${cause}) were not logged`,
    );
    state.suppressed = 0;
  }
}
