// DeleteRecords (what kafka-delete-records.sh and Admin.deleteRecords send): moves a partition's
// log start offset forward. An offset of -1 means the high watermark; one above it is out of
// range; one below the current start changes nothing. As in Kafka, a topic whose cleanup.policy
// does not include `delete` refuses it.

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import { DeleteRecords } from '../protocol/messages/index.js';
import { handler } from './dispatch.js';

const HIGH_WATERMARK = -1;

export const deleteRecordsHandler = (broker: BrokerServices) =>
  handler(DeleteRecords, async (req, ctx) => {
    const topics = await Promise.all(
      req.topics.map(async (t) => {
        const partitions = await Promise.all(
          t.partitions.map(async (p) => {
            const failed = (errorCode: number) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode });
            const lookup = broker.partitions.leader({ name: t.name }, p.partitionIndex);
            if (!lookup.ok) return failed(lookup.errorCode);
            const log = lookup.partition.log;
            if (!log.config.cleanupPolicy.delete) return failed(ErrorCode.POLICY_VIOLATION);
            const offset = p.offset === HIGH_WATERMARK ? log.highWatermark : p.offset;
            if (offset < 0 || offset > log.highWatermark) return failed(ErrorCode.OFFSET_OUT_OF_RANGE);
            try {
              return {
                partitionIndex: p.partitionIndex,
                lowWatermark: await log.deleteRecordsBefore(offset),
                errorCode: ErrorCode.NONE,
              };
            } catch (err) {
              ctx.logger.error({ err, topic: t.name, partition: p.partitionIndex }, 'DeleteRecords failed');
              return failed(ErrorCode.KAFKA_STORAGE_ERROR);
            }
          }),
        );
        return { name: t.name, partitions };
      }),
    );
    return { throttleTimeMs: 0, topics };
  });
