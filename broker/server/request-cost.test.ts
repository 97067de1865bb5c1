import { describe, expect, it } from 'vitest';
import { Fetch, Metadata } from '../protocol/messages/index.js';
import { ZERO_UUID } from '../protocol/schema.js';
import { encodeRequest, type RequestInputOf } from '../test/raw-client.js';
import { requestCostBytes } from './request-cost.js';

const UNKNOWN = 16 * 1024 * 1024;
const unprefixed = (frame: Buffer) => frame.subarray(4);

function fetchBody(maxBytes: number, partitionMaxBytes: number[]): RequestInputOf<typeof Fetch> {
  return {
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: 't',
        topicId: ZERO_UUID,
        partitions: partitionMaxBytes.map((b, partition) => ({ partition, fetchOffset: 0, partitionMaxBytes: b })),
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

describe('requestCostBytes', () => {
  it('charges a Fetch what it may return: its partitions’ limits, capped by maxBytes, at every version', () => {
    for (const version of [4, 11, 12, 15, Fetch.maxVersion]) {
      const few = unprefixed(
        encodeRequest(Fetch, version, fetchBody(50 * 1024 * 1024, [1024 * 1024, 1024 * 1024]), { correlationId: 1 }),
      );
      expect(requestCostBytes(few, UNKNOWN), `v${version}`).toBe(few.length + 2 * 1024 * 1024);
      const capped = unprefixed(encodeRequest(Fetch, version, fetchBody(3000, [1024 * 1024]), { correlationId: 1 }));
      expect(requestCostBytes(capped, UNKNOWN), `v${version}`).toBe(capped.length + 3000);
    }
  });

  it('charges other requests their frame, and a Fetch it cannot read as large', () => {
    const metadata = unprefixed(
      encodeRequest(
        Metadata,
        12,
        { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
        { correlationId: 1 },
      ),
    );
    expect(requestCostBytes(metadata, UNKNOWN)).toBe(metadata.length);
    const cut = unprefixed(encodeRequest(Fetch, 12, fetchBody(1000, [1000]), { correlationId: 1 })).subarray(0, 20);
    expect(requestCostBytes(cut, UNKNOWN)).toBe(cut.length + UNKNOWN);
    const huge = unprefixed(encodeRequest(Fetch, 12, fetchBody(2147483647, [2147483647]), { correlationId: 1 }));
    expect(requestCostBytes(huge, UNKNOWN)).toBe(huge.length + UNKNOWN);
  });
});
