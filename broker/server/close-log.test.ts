// How connections closed for a cause are logged: every one counted, the first few logged one by
// one, then at most one line per interval per cause, carrying how many were not logged.

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloseLog, type CloseCause } from './close-log.js';

function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('CloseLog', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('logs a burst, then one line per interval with the count not logged, and counts every close', () => {
    const { logger, lines } = recordingLogger();
    const counted: CloseCause[] = [];
    const log = new CloseLog(logger, { burst: 3, intervalMs: 10_000, counted: (c) => counted.push(c) });
    for (let i = 0; i < 1000; i++) log.record('invalid_frame', logger, { reason: `bad ${i}` }, 'closing connection');
    expect(counted).toHaveLength(1000);
    expect(lines.map((l) => l.reason)).toEqual(['bad 0', 'bad 1', 'bad 2']);

    // The burst ended while lines were held back: one line at the end of the interval says so.
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ cause: 'invalid_frame', suppressed: 997 });

    // Another cause has its own allowance.
    log.record('idle', logger, { reason: 'quiet' }, 'closing idle connection');
    expect(lines).toHaveLength(5);

    // Held back again until a line is due; the next logged close carries the count.
    log.record('invalid_frame', logger, { reason: 'late 1' }, 'closing connection');
    log.record('invalid_frame', logger, { reason: 'late 2' }, 'closing connection');
    expect(lines).toHaveLength(5);
    vi.advanceTimersByTime(10_000);
    expect(lines.at(-1)).toMatchObject({ cause: 'invalid_frame', suppressed: 2 });
    vi.advanceTimersByTime(60_000);
    log.record('invalid_frame', logger, { reason: 'after a quiet minute' }, 'closing connection');
    expect(lines.at(-1)).toMatchObject({ reason: 'after a quiet minute' });
    expect(lines.at(-1)).not.toHaveProperty('suppressed');
  });

  it('logs what is held back when flushed at shutdown', () => {
    const { logger, lines } = recordingLogger();
    const log = new CloseLog(logger, { burst: 1, intervalMs: 10_000 });
    for (let i = 0; i < 5; i++) log.record('max_connections_per_ip', logger, { reason: 'over' }, 'refused connection');
    log.flush();
    expect(lines.map((l) => l.suppressed)).toEqual([undefined, 4]);
    vi.advanceTimersByTime(20_000);
    expect(lines).toHaveLength(2);
  });
});
