// Owns the partition logs of this broker: where each lives among the log dirs, opening and
// recovering them at start-up, deleting them with their topic, and the retention and log
// cleaner (compaction) schedules.

import { systemClock, type Clock, type Timer } from '../clock.js';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { LogCleaner } from '../log/cleaner.js';
import { PartitionLog, type LogConfig } from '../log/partition-log.js';
import { readHighWatermarks, writeHighWatermarks } from './offset-checkpoint.js';

export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Records which topic id a partition directory belongs to, as Kafka's partition.metadata does. */
const PARTITION_METADATA = 'partition.metadata';
const DELETED_SUFFIX = '-delete';
/** How often a failed partition log (see PartitionLog.fail) is tried to be reopened. */
export const REOPEN_RETRY_MS = 5_000;

export class LogManager {
  private readonly logs = new Map<string, PartitionLog>();
  private readonly dirOf = new Map<string, string>();
  private readonly partitionOf = new Map<string, { topic: string; partition: number }>();
  /** High watermarks read from the log dirs' replication-offset-checkpoint files at load. */
  private readonly checkpointedHighWatermarks = new Map<string, number>();
  private highWatermarkTimer: Timer | undefined;
  private highWatermarkWrites: Promise<void> = Promise.resolve();
  private retentionTimer: Timer | undefined;
  private retentionRunning = false;
  private readonly cleaner: LogCleaner;
  private cleanerTimer: Timer | undefined;
  private cleanerRun: Promise<void> | null = null;
  private cleanerStopped = false;
  private readonly reopenTimers = new Map<string, Timer>();
  private closing = false;
  /** Told when a failed log was reopened as a new PartitionLog, so its replica moves onto it. */
  onReopened: ((topic: string, partition: number) => void) | undefined;

  constructor(
    private readonly logDirs: string[],
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.cleaner = new LogCleaner(logger.child({ component: 'cleaner' }));
  }

  /** Every open partition log, by `<topic>-<partition>`. */
  entries(): IterableIterator<[string, PartitionLog]> {
    return this.logs.entries();
  }

  /** Every log dir (log.dirs, in order, empty ones too) with the partition logs it holds. */
  logsByDir(): Map<string, Array<{ topic: string; partition: number; log: PartitionLog }>> {
    const byDir = new Map<string, Array<{ topic: string; partition: number; log: PartitionLog }>>(
      this.logDirs.map((d) => [d, []]),
    );
    for (const [key, log] of this.logs) {
      const dir = this.dirOf.get(key);
      const at = this.partitionOf.get(key);
      if (dir && at) byDir.get(path.dirname(dir))?.push({ ...at, log });
    }
    return byDir;
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionKey(topic, partition));
  }

  /**
   * Opens the logs of the given partitions (recovering them if needed) and removes
   * directories that belong to no live topic: leftovers of deleted or recreated topics.
   */
  async load(wanted: Array<{ topic: string; topicId: string; partition: number; config: LogConfig }>): Promise<void> {
    const wantedByKey = new Map(wanted.map((w) => [partitionKey(w.topic, w.partition), w]));
    for (const logDir of this.logDirs) {
      await mkdir(logDir, { recursive: true });
      const highWatermarks = await readHighWatermarks(logDir);
      if (highWatermarks instanceof Error)
        this.logger.warn(
          { logDir, reason: highWatermarks.message },
          'ignoring an unreadable high-watermark checkpoint: high watermarks start at 0 and catch up from the leaders',
        );
      else
        for (const e of highWatermarks)
          this.checkpointedHighWatermarks.set(partitionKey(e.topic, e.partition), e.offset);
      for (const entry of await readdir(logDir, { withFileTypes: true })) {
        if (!entry.isDirectory() || entry.name.startsWith('__cluster_metadata')) continue;
        const dir = path.join(logDir, entry.name);
        const w = wantedByKey.get(entry.name);
        const topicId = await readTopicId(dir);
        if (!w || entry.name.endsWith(DELETED_SUFFIX) || topicId !== w.topicId) {
          this.logger.info({ dir }, 'removing partition directory of a deleted topic');
          await rm(dir, { recursive: true, force: true });
          continue;
        }
        this.dirOf.set(entry.name, dir);
      }
    }
    for (const w of wanted) await this.open(w.topic, w.topicId, w.partition, w.config);
  }

  /** Opens a partition's log, creating its directory in the least used log dir if new. */
  async open(topic: string, topicId: string, partition: number, config: LogConfig): Promise<PartitionLog> {
    const key = partitionKey(topic, partition);
    const existing = this.logs.get(key);
    if (existing) return existing;
    let dir = this.dirOf.get(key);
    if (!dir) {
      dir = path.join(this.leastUsedLogDir(), key);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, PARTITION_METADATA), `version: 0\ntopic_id: ${topicId}\n`);
      this.dirOf.set(key, dir);
    }
    const log = await PartitionLog.open(dir, config, this.logger.child({ topic, partition }), this.clock, {
      kind: 'replicated',
      checkpointed: this.checkpointedHighWatermarks.get(key) ?? 0,
    });
    this.logs.set(key, log);
    this.partitionOf.set(key, { topic, partition });
    log.onFailure = () => this.scheduleReopen(topic, partition, log);
    return log;
  }

  /**
   * A log that failed a write (a full disk, say) refuses appends. It is closed and opened again
   * — recovered from its files as after a crash: torn tail cut, offsets and producer state
   * rebuilt — every REOPEN_RETRY_MS until that works, so appends resume once space is freed.
   */
  private scheduleReopen(topic: string, partition: number, failed: PartitionLog): void {
    const key = partitionKey(topic, partition);
    const timer = this.clock.after(REOPEN_RETRY_MS, () => {
      this.reopenTimers.delete(key);
      void this.reopen(topic, partition, failed);
    });
    this.reopenTimers.set(key, timer);
  }

  private async reopen(topic: string, partition: number, failed: PartitionLog): Promise<void> {
    const key = partitionKey(topic, partition);
    const logger = this.logger.child({ topic, partition });
    if (this.closing || this.logs.get(key) !== failed) return;
    try {
      await failed.close();
      const log = await PartitionLog.open(failed.dir, failed.config, logger, this.clock, {
        kind: 'replicated',
        checkpointed: failed.highWatermark,
      });
      if (this.closing || this.logs.get(key) !== failed) {
        await log.close();
        return;
      }
      this.logs.set(key, log);
      log.onFailure = () => this.scheduleReopen(topic, partition, log);
      this.onReopened?.(topic, partition);
      logger.info({ logEndOffset: log.logEndOffset }, 'reopened failed partition log; appends resume');
    } catch (err) {
      logger.warn({ err }, `could not reopen failed partition log; retrying in ${REOPEN_RETRY_MS} ms`);
      if (this.logs.get(key) === failed) this.scheduleReopen(topic, partition, failed);
    }
  }

  /** Closes and removes a partition's log; the directory is renamed first so a crash cannot revive it. */
  async remove(topic: string, partition: number): Promise<void> {
    const key = partitionKey(topic, partition);
    const log = this.logs.get(key);
    const dir = this.dirOf.get(key);
    this.logs.delete(key);
    this.dirOf.delete(key);
    this.partitionOf.delete(key);
    this.checkpointedHighWatermarks.delete(key);
    if (log) await log.close();
    if (dir) {
      const doomed = path.join(path.dirname(dir), deletedDirName(path.basename(dir), this.clock.nowMs()));
      await rename(dir, doomed);
      await rm(doomed, { recursive: true, force: true });
    }
  }

  updateConfig(topic: string, partitions: number, config: LogConfig): void {
    for (let p = 0; p < partitions; p++) this.get(topic, p)?.updateConfig(config);
  }

  /** Writes every log dir's replication-offset-checkpoint each `intervalMs` (replica.high.watermark.checkpoint.interval.ms). */
  startHighWatermarkCheckpoints(intervalMs: number): void {
    this.highWatermarkTimer = this.clock.every(intervalMs, () => void this.checkpointHighWatermarks());
  }

  checkpointHighWatermarks(): Promise<void> {
    const byDir = new Map<string, { topic: string; partition: number; offset: number }[]>(
      this.logDirs.map((d) => [d, []]),
    );
    for (const [key, log] of this.logs) {
      const dir = this.dirOf.get(key);
      const at = this.partitionOf.get(key);
      if (dir && at) byDir.get(path.dirname(dir))?.push({ ...at, offset: log.highWatermark });
    }
    const run = this.highWatermarkWrites.then(async () => {
      for (const [dir, entries] of byDir)
        await writeHighWatermarks(dir, entries).catch((err: unknown) =>
          this.logger.error({ err, logDir: dir }, 'could not write the high-watermark checkpoint'),
        );
    });
    this.highWatermarkWrites = run;
    return run;
  }

  startRetention(intervalMs: number): void {
    this.retentionTimer = this.clock.every(intervalMs, () => void this.runRetention());
  }

  async runRetention(): Promise<void> {
    if (this.retentionRunning) return;
    this.retentionRunning = true;
    try {
      for (const [key, log] of this.logs) {
        try {
          const deleted = await log.applyRetention(this.clock.nowMs());
          if (deleted > 0)
            this.logger.info(
              { partition: key, segments: deleted, logStartOffset: log.logStartOffset },
              'retention deleted segments',
            );
        } catch (err) {
          this.logger.error({ err, partition: key }, 'retention failed');
        }
      }
    } finally {
      this.retentionRunning = false;
    }
  }

  /**
   * Checks every `log.cleaner.backoff.ms` which compacted logs need cleaning (cleaner.ts) and
   * cleans them one after another, as Kafka's single cleaner thread does.
   */
  startCleaner(backoffMs: number): void {
    const schedule = () => {
      if (this.cleanerStopped) return;
      this.cleanerTimer = this.clock.after(backoffMs, () => {
        this.cleanerRun = this.runCleaner().finally(() => {
          this.cleanerRun = null;
          schedule();
        });
      });
    };
    schedule();
  }

  /** One round of the cleaner over every log whose cleanup.policy includes compact. */
  async runCleaner(): Promise<void> {
    for (const [key, log] of [...this.logs]) {
      if (this.cleanerStopped) return;
      if (!log.config.cleanupPolicy.compact) continue;
      try {
        await this.cleaner.cleanIfNeeded(log, this.clock.nowMs());
      } catch (err) {
        if (log.isOpen) this.logger.error({ err, partition: key }, 'log cleaning failed');
      }
    }
  }

  async close(): Promise<void> {
    this.retentionTimer?.cancel();
    this.highWatermarkTimer?.cancel();
    this.closing = true;
    for (const timer of this.reopenTimers.values()) timer.cancel();
    this.reopenTimers.clear();
    this.cleanerStopped = true;
    this.cleanerTimer?.cancel();
    this.cleaner.stop();
    await this.cleanerRun;
    await Promise.all([...this.logs.values()].map((l) => l.close()));
    await this.checkpointHighWatermarks();
    this.logs.clear();
  }

  private leastUsedLogDir(): string {
    const counts = new Map(this.logDirs.map((d) => [d, 0]));
    for (const dir of this.dirOf.values()) {
      const parent = path.dirname(dir);
      counts.set(parent, (counts.get(parent) ?? 0) + 1);
    }
    return [...counts.entries()].sort((a, b) => a[1] - b[1])[0][0];
  }
}

/** The longest file name Linux file systems take. */
const NAME_MAX = 255;

/**
 * `<topic>-<partition>.<time>-delete`, with the start cut so it fits NAME_MAX (a topic name may
 * use 249 of its bytes), as Kafka cuts its delete dir names. Start-up removes any `-delete` dir.
 */
function deletedDirName(name: string, nowMs: number): string {
  const suffix = `.${nowMs}${DELETED_SUFFIX}`;
  return name.slice(Math.max(0, name.length + suffix.length - NAME_MAX)) + suffix;
}

async function readTopicId(dir: string): Promise<string | undefined> {
  try {
    const text = await readFile(path.join(dir, PARTITION_METADATA), 'utf8');
    return /topic_id:\s*(\S+)/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}
