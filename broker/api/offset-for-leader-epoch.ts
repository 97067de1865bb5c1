// OffsetForLeaderEpoch: where a leader epoch ended in this leader's log (the largest epoch at or
// below the one asked that wrote here, and the offset after its last record). Consumers ask it
// after a leader change to check that the records they read were not truncated (KIP-320).

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import { OffsetForLeaderEpoch } from '../protocol/messages/index.js';
import { handler } from './dispatch.js';

export const offsetForLeaderEpochHandler = (broker: BrokerServices) =>
  handler(OffsetForLeaderEpoch, (req) => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => {
        const lookup = broker.partitions.leader({ name: t.topic }, p.partition, p.currentLeaderEpoch);
        if (!lookup.ok) return { partition: p.partition, errorCode: lookup.errorCode, leaderEpoch: -1, endOffset: -1 };
        const end = lookup.partition.log.endOffsetForEpoch(p.leaderEpoch);
        return { partition: p.partition, errorCode: ErrorCode.NONE, leaderEpoch: end.epoch, endOffset: end.endOffset };
      }),
    })),
  }));
