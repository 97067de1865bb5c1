// Fetch: read whole batches from each partition's log, within the partition and response byte
// limits, and long-poll until min.bytes are available or max.wait.ms passes. Fetch sessions
// (KIP-227) are not kept: every response says session 0, and clients send full fetches.
// Records are read into pooled buffers (broker/log/read-buffers.ts) and sent as slices of them:
// the response owns its loan until the connection has written it.

import type { BrokerServices } from './services.js';
import { partitionKey } from '../log/log-manager.js';
import type { ReadLoan } from '../log/read-buffers.js';
import { ErrorCode } from '../protocol/errors.js';
import { Fetch } from '../protocol/messages/index.js';
import { ZERO_UUID, type RequestOf } from '../protocol/schema.js';
import type { TopicState } from '../metadata/image.js';
import { handler } from './dispatch.js';
import { fetchMetadataLog } from './quorum.js';
import { METADATA_TOPIC, METADATA_TOPIC_ID } from '../raft/wire.js';

type FetchRequest = RequestOf<typeof Fetch>;

/** A quorum member's fetch of the metadata log (by name before v13, by Kafka's fixed id from v13). */
function isMetadataLogFetch(req: FetchRequest): boolean {
  return req.topics.some((t) => t.topicId === METADATA_TOPIC_ID || t.topic === METADATA_TOPIC);
}
const NO_SESSION = 0;
/**
 * The longest a fetch is parked. Clients time a fetch out after their request timeout (30 s by
 * default) plus their own max wait, so a longer wait only holds a request nobody awaits; an
 * early empty answer is harmless (the client fetches again).
 */
export const MAX_FETCH_WAIT_MS = 30_000;

interface PartitionRead {
  partitionIndex: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  abortedTransactions: null;
  preferredReadReplica: number;
  records: Buffer[];
  /** To a follower whose log went on past where its last epoch ended here. */
  divergingEpoch?: { epoch: number; endOffset: number };
}

interface TopicRead {
  topic: string;
  topicId: string;
  partitions: PartitionRead[];
}

function errorRead(partitionIndex: number, errorCode: number): PartitionRead {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: [],
  };
}

/**
 * A follower's fetch names its broker id (replicaState from v15, replicaId before); a consumer's
 * is -1. Followers read up to the log end, consumers up to the high watermark.
 */
function replicaIdOf(req: FetchRequest, version: number): number {
  return version >= 15 ? req.replicaState.replicaId : req.replicaId;
}

async function readOnce(
  broker: BrokerServices,
  req: FetchRequest,
  byTopicId: boolean,
  replicaId: number,
  buffers: ReadLoan,
): Promise<{ topics: TopicRead[]; bytes: number; errors: boolean }> {
  let remaining = Math.min(req.maxBytes, broker.config.fetchMaxBytes);
  let bytes = 0;
  let errors = false;
  const topics: TopicRead[] = [];
  for (const t of req.topics) {
    const ref = byTopicId ? { id: t.topicId } : { name: t.topic };
    let topic: TopicState | undefined;
    const partitions: PartitionRead[] = [];
    for (const p of t.partitions) {
      const found = broker.partitions.leader(ref, p.partition, p.currentLeaderEpoch);
      if (!found.ok) {
        errors = true;
        partitions.push(errorRead(p.partition, found.errorCode));
        continue;
      }
      const partition = found.partition;
      topic = partition.topic;
      const log = partition.log;
      if (replicaId >= 0 && !partition.isReplica(replicaId)) {
        errors = true;
        partitions.push(errorRead(p.partition, ErrorCode.NOT_LEADER_OR_FOLLOWER));
        continue;
      }
      const highWatermark = log.highWatermark;
      const base = {
        ...errorRead(p.partition, ErrorCode.NONE),
        highWatermark,
        lastStableOffset: highWatermark,
        logStartOffset: log.logStartOffset,
      };
      if (replicaId >= 0 && p.lastFetchedEpoch >= 0) {
        // Kafka's diverging-epoch check: where the follower's last epoch ended in this log.
        const end = log.endOffsetForEpoch(p.lastFetchedEpoch);
        if (end.epoch < p.lastFetchedEpoch || end.endOffset < p.fetchOffset) {
          errors = true;
          partitions.push({ ...base, divergingEpoch: end });
          continue;
        }
      }
      if (p.fetchOffset < log.logStartOffset || p.fetchOffset > log.logEndOffset) {
        errors = true;
        partitions.push({ ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
        continue;
      }
      const limit = Math.min(p.partitionMaxBytes, remaining);
      if (limit <= 0 && bytes > 0) {
        partitions.push({ ...base, records: [] });
        continue;
      }
      // KIP-74: the first batch of the response is returned whole even when over the limits.
      if (replicaId >= 0 && broker.partitions.quotas.leaderThrottled(partition, replicaId)) {
        // leader.replication.throttled.*: the follower's position counts, its data waits.
        broker.partitions.followerFetched(partition, replicaId, p.fetchOffset);
        partitions.push({ ...base, records: [] });
        continue;
      }
      const maxOffset = replicaId >= 0 ? log.writtenEnd : log.highWatermark;
      const read = await log.read(p.fetchOffset, Math.max(limit, 0), bytes === 0, { buffers, maxOffset });
      if (replicaId >= 0) {
        broker.partitions.followerFetched(partition, replicaId, p.fetchOffset);
        if (read.ok) broker.partitions.quotas.recordLeader(partition, replicaId, read.bytes);
      }
      if (!read.ok) {
        errors = true;
        partitions.push({ ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
        continue;
      }
      bytes += read.bytes;
      remaining -= read.bytes;
      partitions.push({ ...base, records: read.chunks });
    }
    topics.push({ topic: topic?.name ?? t.topic, topicId: topic?.id ?? t.topicId ?? ZERO_UUID, partitions });
  }
  return { topics, bytes, errors };
}

/**
 * `metadataLog`: on a controller listener, where a fetch of `__cluster_metadata-0` is the quorum's
 * (and nothing else is served); elsewhere that topic is unknown, as on Kafka's brokers.
 */
export const fetchHandler = (broker: BrokerServices, { metadataLog }: { metadataLog: boolean }) =>
  handler(Fetch, async (req, ctx) => {
    if (metadataLog) {
      if (isMetadataLogFetch(req)) return fetchMetadataLog(broker, req);
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, sessionId: NO_SESSION, responses: [] };
    }
    const version = ctx.header.apiVersion;
    const byTopicId = version >= 13;
    const base = { throttleTimeMs: 0, sessionId: NO_SESSION };
    if (req.sessionId !== NO_SESSION) {
      return { ...base, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, responses: [] };
    }
    const deadline = broker.clock.nowMs() + Math.min(Math.max(req.maxWaitMs, 0), MAX_FETCH_WAIT_MS);
    const keys = req.topics.flatMap((t) => {
      const name = byTopicId ? broker.topics.image.topicById(t.topicId)?.name : t.topic;
      return name === undefined ? [] : t.partitions.map((p) => partitionKey(name, p.partition));
    });
    for (;;) {
      const buffers = broker.readBuffers.loan();
      let result;
      try {
        result = await readOnce(broker, req, byTopicId, replicaIdOf(req, version), buffers);
      } catch (err) {
        buffers.release();
        throw err;
      }
      const waitMs = deadline - broker.clock.nowMs();
      if (result.bytes >= req.minBytes || result.errors || waitMs <= 0 || broker.partitions.shuttingDown) {
        ctx.releaseAfterWrite(() => buffers.release());
        return { ...base, errorCode: ErrorCode.NONE, responses: result.topics };
      }
      // Not enough yet: these reads are dropped, and read again after the wait.
      buffers.release();
      await broker.partitions.waitForData(keys, waitMs);
    }
  });
