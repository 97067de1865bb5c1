// Which old segments retention deletes, as a pure function of the segments' sizes, timestamps
// and offsets. Kafka's rules, applied in Kafka's order: segments wholly below the log start
// offset, then retention.bytes, then retention.ms. Only a prefix of whole segments goes, never
// a segment holding offsets at or above the high watermark, never an empty last segment.

export interface RetentionSegment {
  size: number;
  /** The segment's max timestamp, or its file's modification time when it has none. */
  largestTimestampMs: number;
  /** The next segment's base offset; the log end offset for the last segment. */
  upperBoundOffset: number;
}

export interface RetentionPolicy {
  nowMs: number;
  /** -1: no time limit. */
  retentionMs: number;
  /** -1: no size limit. */
  retentionBytes: number;
  logStartOffset: number;
  highWatermark: number;
}

/** How many segments, oldest first, retention deletes. */
export function countDeletableSegments(segments: readonly RetentionSegment[], policy: RetentionPolicy): number {
  let count = 0;
  const deletable = (predicate: (s: RetentionSegment) => boolean): boolean => {
    const s = segments[count];
    if (!s || s.upperBoundOffset > policy.highWatermark) return false;
    if (count === segments.length - 1 && s.size === 0) return false;
    return predicate(s);
  };

  while (deletable((s) => s.upperBoundOffset <= policy.logStartOffset)) count++;

  const totalBytes = segments.slice(count).reduce((sum, s) => sum + s.size, 0);
  if (policy.retentionBytes >= 0 && totalBytes >= policy.retentionBytes) {
    let excess = totalBytes - policy.retentionBytes;
    while (deletable((s) => excess - s.size >= 0)) {
      excess -= segments[count].size;
      count++;
    }
  }

  if (policy.retentionMs >= 0) {
    while (deletable((s) => policy.nowMs - s.largestTimestampMs > policy.retentionMs)) count++;
  }
  return count;
}
