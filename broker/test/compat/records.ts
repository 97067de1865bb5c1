// The records every matrix scenario produces or seeds, and the exact comparison of what a
// client read back with what was expected: keys, values, headers, timestamps, offsets and the
// order within each partition.

export const PARTITIONS = 3;

export type Headers = Array<[string, string]>;

/** A record as a driver is asked to produce it (timestamp null: the producer assigns one). */
export interface RecordSpec {
  partition: number;
  key: string;
  value: string;
  headers: Headers;
  timestamp: number | null;
}

/** A record as read back: where it was stored and what it holds. */
export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Headers;
  timestamp: number;
}

export interface ExpectedRecord extends RecordSpec {
  offset: number;
}

export interface RecordSetOptions {
  tag: string;
  /** Offsets first..first+count-1 in every partition. */
  first?: number;
  count: number;
  /** Timestamp of offset 0 in partition 0; null leaves timestamps to the producer. */
  baseTimestamp: number | null;
  /**
   * Whether each record carries its own headers. kcat sets headers per invocation (-H), so
   * its records carry the same headers throughout a partition.
   */
  perRecordHeaders: boolean;
}

/** Records ordered by partition, then offset; values of varied length with non-ASCII text. */
export function recordSet(o: RecordSetOptions): ExpectedRecord[] {
  const out: ExpectedRecord[] = [];
  const first = o.first ?? 0;
  for (let partition = 0; partition < PARTITIONS; partition++) {
    for (let offset = first; offset < first + o.count; offset++) {
      out.push({
        partition,
        offset,
        key: `${o.tag}-key-${partition}-${offset}`,
        value: `${o.tag} value ${partition}/${offset} ✓ ünïcödé ${'xyz'.repeat((offset * 7) % 60)}`,
        headers: o.perRecordHeaders
          ? [
              ['trace-id', `t-${partition}-${offset}`],
              ['source', `${o.tag} ✓`],
            ]
          : [
              ['partition', String(partition)],
              ['source', `${o.tag} ✓`],
            ],
        timestamp: o.baseTimestamp === null ? null : o.baseTimestamp + partition * 1000 + offset,
      });
    }
  }
  return out;
}

export function specs(records: readonly ExpectedRecord[]): RecordSpec[] {
  return records.map(({ partition, key, value, headers, timestamp }) => ({
    partition,
    key,
    value,
    headers,
    timestamp,
  }));
}

export function endOffsets(records: readonly ExpectedRecord[]): number[] {
  const ends = Array<number>(PARTITIONS).fill(0);
  for (const r of records) ends[r.partition] = Math.max(ends[r.partition], r.offset + 1);
  return ends;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Whether offsets increase within each partition in the order the client handed records over. */
export function orderProblem(got: readonly ReadRecord[]): string | null {
  const last = new Map<number, number>();
  for (const r of got) {
    const prev = last.get(r.partition);
    if (prev !== undefined && r.offset <= prev)
      return `partition ${r.partition}: offset ${r.offset} delivered after offset ${prev}`;
    last.set(r.partition, r.offset);
  }
  return null;
}

/**
 * Compares records read (in the order the client delivered them) with the expected ones.
 * Returns null when they match exactly, else the first difference in words. Records whose
 * expected timestamp is null must carry a timestamp inside `producedWithin`.
 */
export function compareRecords(
  got: readonly ReadRecord[],
  expected: readonly ExpectedRecord[],
  producedWithin?: { from: number; to: number },
): string | null {
  const order = orderProblem(got);
  if (order) return order;
  const sorted = [...got].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const byPos = (r: { partition: number; offset: number }) => `${r.partition}/${r.offset}`;
  const gotPos = new Set(sorted.map(byPos));
  const wantPos = new Set(expected.map(byPos));
  const missing = expected.filter((r) => !gotPos.has(byPos(r)));
  const extra = sorted.filter((r) => !wantPos.has(byPos(r)));
  if (missing.length > 0 || extra.length > 0 || sorted.length !== expected.length) {
    const parts = [`read ${sorted.length} records, expected ${expected.length}`];
    if (missing.length > 0)
      parts.push(`missing ${missing.length} (first p${missing[0].partition}@${missing[0].offset})`);
    if (extra.length > 0) parts.push(`unexpected ${extra.length} (first p${extra[0].partition}@${extra[0].offset})`);
    return parts.join(', ');
  }
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i];
    const have = sorted[i];
    const at = `partition ${want.partition} offset ${want.offset}`;
    if (have.key !== want.key) return `${at}: key ${show(have.key)}, expected ${show(want.key)}`;
    if (have.value !== want.value) return `${at}: value ${show(have.value)}, expected ${show(want.value)}`;
    if (JSON.stringify(have.headers) !== JSON.stringify(want.headers))
      return `${at}: headers ${show(have.headers)}, expected ${show(want.headers)}`;
    if (want.timestamp !== null) {
      if (have.timestamp !== want.timestamp) return `${at}: timestamp ${have.timestamp}, expected ${want.timestamp}`;
    } else if (producedWithin && (have.timestamp < producedWithin.from || have.timestamp > producedWithin.to)) {
      return `${at}: timestamp ${have.timestamp} is outside the time it was produced (${producedWithin.from}..${producedWithin.to})`;
    }
  }
  return null;
}
