// What this broker's log dirs hold, as Kafka's ReplicaManager.describeLogDirs reports it for
// DescribeLogDirs: every configured log dir, with its file system's total and usable bytes and the
// partitions it holds — each with the bytes of its segments and its offset lag. A log dir whose
// file system cannot be read is reported as failed, the others still are.

import { statfs } from 'node:fs/promises';
import { partitionKey, type LogManager } from './log-manager.js';

export interface PartitionInLogDir {
  partition: number;
  sizeBytes: number;
  /** max(0, high watermark - log end offset): how far this replica's log is behind what is committed. */
  offsetLag: number;
}

export type LogDirDescription =
  | {
      ok: true;
      logDir: string;
      totalBytes: number;
      usableBytes: number;
      /** Only topics with at least one partition asked for. */
      topics: Array<{ topic: string; partitions: PartitionInLogDir[] }>;
    }
  | { ok: false; logDir: string; reason: string };

/**
 * Every log dir and the partitions in it that `wanted` names (`<topic>-<partition>` keys, see
 * partitionKey), or all of them when `wanted` is null. A name that matches no log is left out.
 */
export async function describeLogDirs(
  logs: LogManager,
  wanted: ReadonlySet<string> | null,
): Promise<LogDirDescription[]> {
  return Promise.all(
    [...logs.logsByDir()].map(async ([logDir, held]): Promise<LogDirDescription> => {
      let space: { totalBytes: number; usableBytes: number };
      try {
        const fs = await statfs(logDir);
        space = { totalBytes: fs.blocks * fs.bsize, usableBytes: fs.bavail * fs.bsize };
      } catch (err) {
        return { ok: false, logDir, reason: (err as Error).message };
      }
      const byTopic = new Map<string, PartitionInLogDir[]>();
      for (const { topic, partition, log } of held) {
        if (wanted && !wanted.has(partitionKey(topic, partition))) continue;
        const partitions = byTopic.get(topic) ?? [];
        partitions.push({
          partition,
          sizeBytes: log.sizeBytes,
          offsetLag: Math.max(0, log.highWatermark - log.logEndOffset),
        });
        byTopic.set(topic, partitions);
      }
      const topics = [...byTopic].map(([topic, partitions]) => ({
        topic,
        partitions: partitions.sort((a, b) => a.partition - b.partition),
      }));
      return { ok: true, logDir, ...space, topics };
    }),
  );
}
