// Real partition logs in temporary directories for the log tests: every log opened here is
// closed, and every directory removed, after each test of the file that imports this module.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach } from 'vitest';
import { DEFAULT_LOG_CONFIG, type HighWatermarkPolicy, type LogConfig, PartitionLog } from '../log/partition-log.js';

export const silent = pino({ level: 'silent' });
/** Logs opened by `openLog` and not yet closed; tests may take one out to close it themselves. */
export const openLogs: PartitionLog[] = [];
const tmpRoots: string[] = [];

afterEach(async () => {
  for (const log of openLogs.splice(0)) await log.close().catch(() => undefined);
  for (const root of tmpRoots.splice(0)) await rm(root, { recursive: true, force: true });
});

/** A partition directory `<topic>-0` in a new temporary root (the directory itself is not created). */
export async function partitionDir(topic = 'events'): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'runnel-log-'));
  tmpRoots.push(root);
  return path.join(root, `${topic}-0`);
}

/** Kafka's defaults, with deleted segments removed at once. */
export function logConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0, ...overrides };
}

export async function openLog(
  dir: string,
  cfg: LogConfig = logConfig(),
  logger: Logger = silent,
  hwPolicy?: HighWatermarkPolicy,
): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, cfg, logger, undefined, hwPolicy);
  openLogs.push(log);
  return log;
}
