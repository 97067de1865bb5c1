// The records every client test produces and expects back: keyed, with headers, with
// distinct timestamps, spread over several partitions.

export const PARTITIONS = 3;
export const RECORDS_PER_PARTITION = 20;
const BASE_TIMESTAMP_MS = 1_700_000_000_000;

export interface ExpectedRecord {
  partition: number;
  offset: number;
  key: string;
  value: string;
  headers: Array<[string, string]>;
  timestamp: number;
}

export function expectedRecords(tag: string): ExpectedRecord[] {
  const out: ExpectedRecord[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    for (let offset = 0; offset < RECORDS_PER_PARTITION; offset++) {
      out.push({
        partition,
        offset,
        key: `${tag}-key-${partition}-${offset}`,
        value: `${tag} value ${partition}/${offset} ✓ ${'x'.repeat(offset * 13)}`,
        headers: [
          ['trace-id', `t-${partition}-${offset}`],
          ['source', tag],
        ],
        timestamp: BASE_TIMESTAMP_MS + partition * 1000 + offset,
      });
    }
  }
  return out;
}

/** Sorts by partition, then offset: the order the tests compare in. */
export function byPartitionAndOffset<T extends { partition: number; offset: number }>(records: T[]): T[] {
  return [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
