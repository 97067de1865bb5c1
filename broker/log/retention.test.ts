import { describe, expect, it } from 'vitest';
import { type RetentionPolicy, type RetentionSegment, countDeletableSegments } from './retention.js';

const NOW = 1_000_000;
const keepAll: RetentionPolicy = {
  nowMs: NOW,
  retentionMs: -1,
  retentionBytes: -1,
  logStartOffset: 0,
  highWatermark: 400,
};

/** Four 100-byte segments of 100 offsets each, aged 40, 30, 20 and 10 seconds; the last one is active. */
const segments: RetentionSegment[] = [40, 30, 20, 10].map((ageSeconds, i) => ({
  size: 100,
  largestTimestampMs: NOW - ageSeconds * 1000,
  upperBoundOffset: (i + 1) * 100,
}));

describe('countDeletableSegments', () => {
  it('keeps everything without limits', () => {
    expect(countDeletableSegments(segments, keepAll)).toBe(0);
  });

  it('deletes the prefix older than retention.ms', () => {
    expect(countDeletableSegments(segments, { ...keepAll, retentionMs: 25_000 })).toBe(2);
    expect(countDeletableSegments(segments, { ...keepAll, retentionMs: 5_000 })).toBe(4);
  });

  it('stops at the first segment that is not expired, even if later ones are', () => {
    const unordered = [segments[3], segments[0]].map((s, i) => ({ ...s, upperBoundOffset: (i + 1) * 100 }));
    expect(countDeletableSegments(unordered, { ...keepAll, retentionMs: 25_000, highWatermark: 200 })).toBe(0);
  });

  it('deletes whole segments while the log stays at or above retention.bytes, as Kafka does', () => {
    expect(countDeletableSegments(segments, { ...keepAll, retentionBytes: 250 })).toBe(1);
    expect(countDeletableSegments(segments, { ...keepAll, retentionBytes: 200 })).toBe(2);
    expect(countDeletableSegments(segments, { ...keepAll, retentionBytes: 401 })).toBe(0);
  });

  it('deletes segments wholly below the log start offset', () => {
    expect(countDeletableSegments(segments, { ...keepAll, logStartOffset: 250 })).toBe(2);
  });

  it('never deletes segments holding offsets at or above the high watermark', () => {
    expect(countDeletableSegments(segments, { ...keepAll, retentionMs: 0, highWatermark: 250 })).toBe(2);
  });

  it('never deletes an empty last segment', () => {
    const withEmptyActive = [...segments, { size: 0, largestTimestampMs: 0, upperBoundOffset: 400 }];
    expect(countDeletableSegments(withEmptyActive, { ...keepAll, retentionMs: 0 })).toBe(4);
  });
});
