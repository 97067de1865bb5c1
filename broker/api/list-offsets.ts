// ListOffsets: earliest (-2, and earliest-local -4), latest (-1), max timestamp (-3), or the
// first offset whose timestamp is at or after a given time.

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import { ListOffsets } from '../protocol/messages/index.js';
import { handler } from './dispatch.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

export const listOffsetsHandler = (broker: BrokerServices) =>
  handler(ListOffsets, async (req) => {
    const topics = await Promise.all(
      req.topics.map(async (t) => {
        const partitions = await Promise.all(
          t.partitions.map(async (p) => {
            const none = { partitionIndex: p.partitionIndex, timestamp: -1, offset: -1, leaderEpoch: -1 };
            const lookup = broker.partitions.leader({ name: t.name }, p.partitionIndex, p.currentLeaderEpoch);
            if (!lookup.ok) return { ...none, errorCode: lookup.errorCode };
            const { state, log } = lookup.partition;
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
