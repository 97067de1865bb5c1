// DescribeLogDirs: this broker's log dirs, their file systems' total and usable bytes, and the
// size and offset lag of each partition replica in them (null topics: every partition). A topic or
// partition this broker holds no replica of is left out, as Kafka does.

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import { DescribeLogDirs } from '../protocol/messages/index.js';
import { describeLogDirs } from '../log/log-dirs.js';
import { partitionKey } from '../log/log-manager.js';
import { handler } from './dispatch.js';

export const describeLogDirsHandler = (broker: BrokerServices) =>
  handler(DescribeLogDirs, async (req) => {
    const wanted =
      req.topics === null
        ? null
        : new Set(req.topics.flatMap((t) => t.partitions.map((p) => partitionKey(t.topic, p))));
    const dirs = await describeLogDirs(broker.logs, wanted);
    const results = dirs.map((d) =>
      d.ok
        ? {
            errorCode: ErrorCode.NONE,
            logDir: d.logDir,
            topics: d.topics.map((t) => ({
              name: t.topic,
              partitions: t.partitions.map((p) => ({
                partitionIndex: p.partition,
                partitionSize: p.sizeBytes,
                offsetLag: p.offsetLag,
                isFutureKey: false,
              })),
            })),
            totalBytes: d.totalBytes,
            usableBytes: d.usableBytes,
          }
        : { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, logDir: d.logDir, topics: [], totalBytes: -1, usableBytes: -1 },
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results };
  });
