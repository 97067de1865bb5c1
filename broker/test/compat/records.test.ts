// The matrix's exact comparison must catch every kind of difference, or a cell passes that
// should not.

import { describe, expect, it } from 'vitest';
import { compareRecords, endOffsets, recordSet, type ReadRecord } from './records.js';

const expected = recordSet({ tag: 't', count: 3, baseTimestamp: 1_000_000, perRecordHeaders: true });
const read = (): ReadRecord[] =>
  expected.map((r) => ({
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    value: r.value,
    headers: r.headers.map(([k, v]) => [k, v] as [string, string]),
    timestamp: r.timestamp!,
  }));

describe('compareRecords', () => {
  it('accepts the same records, in any interleaving of partitions', () => {
    const got = read();
    const interleaved = [got[0], got[3], got[1], got[6], got[4], got[2], got[7], got[5], got[8]];
    expect(compareRecords(interleaved, expected)).toBeNull();
  });

  it('names a missing record, an extra one and a duplicate', () => {
    expect(compareRecords(read().slice(1), expected)).toMatch(/missing 1 \(first p0@0\)/);
    expect(compareRecords([...read(), { ...read()[0], offset: 3 }], expected)).toMatch(/unexpected 1 \(first p0@3\)/);
    expect(compareRecords([...read(), read()[0]], expected)).toMatch(/offset 0 delivered after offset 2/);
  });

  it('rejects records of a partition delivered out of order', () => {
    const got = read();
    [got[0], got[1]] = [got[1], got[0]];
    expect(compareRecords(got, expected)).toMatch(/partition 0: offset 0 delivered after offset 1/);
  });

  it('compares keys, values, header order and values, and timestamps exactly', () => {
    const change = (f: (r: ReadRecord) => void) => {
      const got = read();
      f(got[4]);
      return compareRecords(got, expected);
    };
    expect(change((r) => (r.key = null))).toMatch(/partition 1 offset 1: key null/);
    expect(change((r) => (r.value = r.value + ' '))).toMatch(/partition 1 offset 1: value/);
    expect(change((r) => r.headers.reverse())).toMatch(/headers/);
    expect(change((r) => (r.headers[0][1] = 'other'))).toMatch(/headers/);
    expect(change((r) => r.headers.pop())).toMatch(/headers/);
    expect(change((r) => (r.timestamp += 1))).toMatch(/timestamp 1001002, expected 1001001/);
  });

  it('checks producer-assigned timestamps against the time they were produced', () => {
    const own = recordSet({ tag: 't', count: 1, baseTimestamp: null, perRecordHeaders: false });
    const got = own.map((r) => ({ ...r, timestamp: 5000 }));
    expect(compareRecords(got, own, { from: 4000, to: 6000 })).toBeNull();
    expect(compareRecords(got, own, { from: 6000, to: 7000 })).toMatch(/outside the time it was produced/);
  });

  it('gives kcat-style records the same headers throughout a partition', () => {
    const own = recordSet({ tag: 'k', count: 2, baseTimestamp: null, perRecordHeaders: false });
    expect(new Set(own.filter((r) => r.partition === 1).map((r) => JSON.stringify(r.headers))).size).toBe(1);
    expect(endOffsets(own)).toEqual([2, 2, 2]);
  });
});
