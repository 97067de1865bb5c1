// Produce: validate each partition's batches (CRC, magic, sizes), append them to the log with
// offsets assigned in request order, and answer per acks. The append for every partition is
// started before any is awaited, so pipelined requests keep their order in the log; a batch
// that needs async work first (keys of a compacted topic, re-encoding for compression.type, see
// produce-prepare.ts) keeps its place through PartitionLog.inOrder. Idempotent producers'
// duplicates and sequence errors come from the log's producer state.

import type { BrokerServices } from './services.js';
import { INTERNAL_TOPICS } from '../controller/topics.js';
import { type AppendResult, ProducerStateError } from '../log/partition-log.js';
import { ErrorCode } from '../protocol/errors.js';
import { Produce } from '../protocol/messages/index.js';
import { validateProducedBatches } from '../protocol/record-batch.js';
import { NO_RESPONSE, handler } from './dispatch.js';
import { type Prepared, type RecordError, needsPreparation, prepareBatch, timestampBounds } from './produce-prepare.js';

const ACKS_ALL = -1;

/** Why an acks=-1 produce that was appended is still answered with an error. */
function replicationFailure(code: number): string {
  if (code === ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND)
    return 'the records were written, but the ISR fell below min.insync.replicas before they were replicated';
  if (code === ErrorCode.REQUEST_TIMED_OUT)
    return 'the records were not replicated to the ISR within the request timeout';
  return 'this broker stopped leading the partition before the records were replicated';
}

/** Produce v7 is the first that may carry zstd batches (KIP-110). */
const FIRST_ZSTD_PRODUCE_VERSION = 7;

type Refused = Extract<Prepared, { ok: false }>;

interface PartitionResult {
  index: number;
  errorCode: number;
  errorMessage: string | null;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  recordErrors?: RecordError[];
}

function failed(
  index: number,
  errorCode: number,
  errorMessage: string | null = null,
  recordErrors: RecordError[] = [],
): PartitionResult {
  return { index, errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors };
}

export const produceHandler = (broker: BrokerServices) =>
  handler(Produce, async (req, ctx) => {
    const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
    const pending: Array<{
      name: string;
      topicId: string;
      results: Array<Promise<PartitionResult>>;
    }> = [];

    const byTopicId = ctx.header.apiVersion >= 13;
    // A partition this broker was just made leader of is served once its log is open, rather than
    // refused: a client that resends a whole request for one refused partition would duplicate the rest.
    const refOf = (t: (typeof req.topicData)[number]) => (byTopicId ? { id: t.topicId } : { name: t.name });
    if (req.topicData.some((t) => t.partitionData.some((p) => broker.partitions.becomingLeader(refOf(t), p.index))))
      await broker.metadataSettled();
    for (const t of req.topicData) {
      const results = t.partitionData.map((p): Promise<PartitionResult> | PartitionResult => {
        if (!validAcks)
          return failed(p.index, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, got ${req.acks}`);
        if (req.transactionalId !== null) {
          return failed(p.index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactions are not supported yet');
        }
        const found = broker.partitions.leader(refOf(t), p.index);
        if (!found.ok) return failed(p.index, found.errorCode);
        const partition = found.partition;
        const { topic, log } = partition;
        // Only the broker writes its internal topics: a client's record there could not be read back as state.
        if (INTERNAL_TOPICS.has(topic.name))
          return failed(p.index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${topic.name}`);
        const acksError = broker.partitions.checkAcks(partition, req.acks);
        if (acksError !== ErrorCode.NONE) return failed(p.index, acksError);
        const records = p.records ?? Buffer.alloc(0);
        const nowMs = broker.clock.nowMs();
        const checked = validateProducedBatches(
          records,
          log.config.maxMessageBytes,
          undefined,
          timestampBounds(log.config, nowMs),
        );
        if (!checked.ok) {
          ctx.logger.warn(
            { topic: topic.name, partition: p.index, error: checked.error, reason: checked.message },
            'rejected produce batch',
          );
          return failed(p.index, ErrorCode[checked.error], checked.message, checked.recordErrors);
        }
        const batch = checked.batches[0];
        if (batch.compression === 'zstd' && ctx.header.apiVersion < FIRST_ZSTD_PRODUCE_VERSION) {
          return failed(
            p.index,
            ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
            `zstd-compressed batches need Produce v${FIRST_ZSTD_PRODUCE_VERSION} or later`,
          );
        }
        const appending: Promise<AppendResult | Refused> = needsPreparation(log.config, batch)
          ? log.inOrder(
              prepareBatch(records, batch, log.config, partition.key, nowMs),
              (prepared): Promise<AppendResult | Refused> =>
                prepared.ok
                  ? broker.partitions.append(partition, prepared.records, prepared.batches)
                  : Promise.resolve(prepared),
            )
          : broker.partitions.append(partition, records, checked.batches);
        return appending.then(
          async (appended): Promise<PartitionResult> => {
            if ('ok' in appended) {
              ctx.logger.warn(
                { topic: topic.name, partition: p.index, error: appended.error, reason: appended.message },
                'rejected produce batch',
              );
              return failed(p.index, ErrorCode[appended.error], appended.message, appended.recordErrors);
            }
            if (req.acks === ACKS_ALL) {
              const code = await broker.partitions.waitForReplication(partition, appended, req.timeoutMs);
              if (code !== ErrorCode.NONE) return failed(p.index, code, replicationFailure(code));
            }
            return {
              index: p.index,
              errorCode: ErrorCode.NONE,
              errorMessage: null,
              baseOffset: appended.baseOffset,
              logAppendTimeMs: appended.logAppendTimeMs,
              logStartOffset: log.logStartOffset,
            };
          },
          (err: unknown) => {
            if (err instanceof ProducerStateError) {
              ctx.logger.warn(
                { topic: topic.name, partition: p.index, error: err.error, reason: err.message },
                'rejected produce batch',
              );
              return failed(p.index, ErrorCode[err.error], err.message);
            }
            ctx.logger.error({ err, topic: topic.name, partition: p.index }, 'append failed');
            return failed(
              p.index,
              ErrorCode.KAFKA_STORAGE_ERROR,
              'the broker could not write to its log dir; see the broker log',
            );
          },
        );
      });
      // Refusals are decided synchronously; Promise.all would wrap them the same way.
      pending.push({ name: t.name, topicId: t.topicId, results: results.map((r) => Promise.resolve(r)) });
    }

    const responses = await Promise.all(
      pending.map(async ({ name, topicId, results }) => ({
        name,
        topicId,
        partitionResponses: (await Promise.all(results)).map((r) => ({ ...r, recordErrors: r.recordErrors ?? [] })),
      })),
    );
    if (req.acks === 0) return NO_RESPONSE;
    return { responses, throttleTimeMs: 0 };
  });
