// ListOffsets: earliest (-2, and earliest-local -4), latest (-1), max timestamp (-3), or the
// first offset whose timestamp is at or after a given time.

import type { BrokerContext } from '../node.js';
import { ErrorCode } from '../protocol/errors.js';
import { ListOffsets } from '../protocol/messages/index.js';
import { handler } from './dispatch.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

export const listOffsetsHandler = (getBroker: () => BrokerContext) =>
  handler(ListOffsets, async (req) => {
    const broker = getBroker();
    const topics = await Promise.all(
      req.topics.map(async (t) => {
        const topic = broker.topics.image.topic(t.name);
        const partitions = await Promise.all(
          t.partitions.map(async (p) => {
            const none = { partitionIndex: p.partitionIndex, timestamp: -1, offset: -1, leaderEpoch: -1 };
            const state = topic?.partitions[p.partitionIndex];
            const log = topic && state ? broker.logs.get(topic.name, p.partitionIndex) : undefined;
            if (!state || !log) return { ...none, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
            if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== state.leaderEpoch) {
              const errorCode = p.currentLeaderEpoch > state.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
              return { ...none, errorCode };
            }
            const found = { ...none, errorCode: ErrorCode.NONE, leaderEpoch: state.leaderEpoch };
            switch (p.timestamp) {
              case LATEST:
              case LATEST_TIERED:
                return { ...found, offset: log.highWatermark };
              case EARLIEST:
              case EARLIEST_LOCAL:
                return { ...found, offset: log.logStartOffset };
              case MAX_TIMESTAMP: {
                const max = await log.maxTimestamp();
                return max ? { ...found, offset: max.offset, timestamp: max.timestamp } : found;
              }
              default: {
                if (p.timestamp < 0) return { ...none, errorCode: ErrorCode.INVALID_REQUEST };
                const hit = await log.offsetForTimestamp(p.timestamp);
                return hit ? { ...found, offset: hit.offset, timestamp: hit.timestamp } : found;
              }
            }
          }),
        );
        return { name: t.name, partitions };
      }),
    );
    return { throttleTimeMs: 0, topics };
  });
