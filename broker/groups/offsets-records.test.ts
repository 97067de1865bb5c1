import { describe, expect, it } from 'vitest';
import { decodeRecordsAsync } from '../protocol/record-batch.js';
import { encodeOffsetsRecords, parseOffsetsRecord, type OffsetsRecord } from './offsets-topic.js';

function i16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}
function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
function i64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
}
/** A non-flexible string (int16 length), or null. */
function str(s: string | null): Buffer {
  return s === null ? i16(-1) : Buffer.concat([i16(Buffer.byteLength(s)), Buffer.from(s)]);
}
/** A flexible (compact) string: unsigned varint length + 1; short strings only. */
function compact(s: string): Buffer {
  return Buffer.concat([Buffer.from([Buffer.byteLength(s) + 1]), Buffer.from(s)]);
}
function bytes(b: Buffer): Buffer {
  return Buffer.concat([i32(b.length), b]);
}

const offsetKey = Buffer.concat([i16(1), str('g'), str('t'), i32(3)]);
const groupKey = Buffer.concat([i16(2), str('g')]);

describe('__consumer_offsets records in the schemas of Kafka', () => {
  it('round-trips offsets, group metadata and tombstones through a batch', async () => {
    const records: OffsetsRecord[] = [
      {
        kind: 'offset',
        group: 'g',
        topic: 't',
        partition: 3,
        value: { offset: 42, leaderEpoch: 5, metadata: 'm', commitTimestampMs: 1000 },
      },
      {
        kind: 'group',
        group: 'g',
        value: {
          protocolType: 'consumer',
          protocolName: 'range',
          generation: 7,
          leaderId: 'a',
          members: [
            {
              memberId: 'a',
              groupInstanceId: 'static-a',
              clientId: 'c',
              clientHost: '/127.0.0.1',
              sessionTimeoutMs: 10_000,
              rebalanceTimeoutMs: 20_000,
              subscription: Buffer.from('sub'),
              assignment: Buffer.from('asg'),
            },
          ],
        },
      },
      {
        kind: 'group',
        group: 'empty',
        value: { protocolType: null, protocolName: null, generation: 2, leaderId: null, members: [] },
      },
      { kind: 'offset', group: 'g', topic: 't', partition: 3, value: null },
      { kind: 'group', group: 'g', value: null },
    ];
    const { batch } = encodeOffsetsRecords(records, 1234);
    const decoded = await decodeRecordsAsync(batch);
    expect(decoded[0].key).toEqual(offsetKey);
    expect(decoded[1].key).toEqual(groupKey);
    expect(decoded.map((r) => parseOffsetsRecord(r.key!, r.value))).toEqual(records);
    // Values are written at version 3, as Kafka 4.1 writes them when it has no topic id.
    expect(decoded[0].value!.readInt16BE(0)).toBe(3);
    expect(decoded[1].value!.readInt16BE(0)).toBe(3);
  });

  it('reads offset commit values of versions 0 to 4, the flexible one with its tagged topic id', () => {
    const tail = Buffer.concat([str('m'), i64(1000)]);
    const v0 = Buffer.concat([i16(0), i64(42), tail]);
    const v1 = Buffer.concat([i16(1), i64(42), tail, i64(99_999)]);
    const v3 = Buffer.concat([i16(3), i64(42), i32(5), tail]);
    const v4 = Buffer.concat([
      i16(4),
      i64(42),
      i32(5),
      compact('m'),
      i64(1000),
      Buffer.from([1, 0, 16]),
      Buffer.alloc(16, 7),
    ]);
    const expected = (leaderEpoch: number) => ({
      kind: 'offset',
      group: 'g',
      topic: 't',
      partition: 3,
      value: { offset: 42, leaderEpoch, metadata: 'm', commitTimestampMs: 1000 },
    });
    expect(parseOffsetsRecord(offsetKey, v0)).toEqual(expected(-1));
    expect(parseOffsetsRecord(offsetKey, v1)).toEqual(expected(-1));
    expect(parseOffsetsRecord(offsetKey, v3)).toEqual(expected(5));
    expect(parseOffsetsRecord(offsetKey, v4)).toEqual(expected(5));
    // LegacyOffsetCommitKey (type 0) has the same fields.
    expect(parseOffsetsRecord(Buffer.concat([i16(0), offsetKey.subarray(2)]), v0)).toEqual(expected(-1));
  });

  it('reads group metadata values of version 0 (no rebalance timeout, no instance id) and 4 (flexible)', () => {
    const v0 = Buffer.concat([
      i16(0),
      str('consumer'),
      i32(7),
      str('range'),
      str('a'),
      i32(1),
      str('a'),
      str('c'),
      str('/h'),
      i32(10_000),
      bytes(Buffer.from('sub')),
      bytes(Buffer.from('asg')),
    ]);
    const v4 = Buffer.concat([
      i16(4),
      compact('consumer'),
      i32(7),
      compact('range'),
      compact('a'),
      i64(1234),
      Buffer.from([2]), // one member
      compact('a'),
      Buffer.from([0]), // null group instance id
      compact('c'),
      compact('/h'),
      i32(20_000),
      i32(10_000),
      Buffer.from([4]),
      Buffer.from('sub'),
      Buffer.from([4]),
      Buffer.from('asg'),
      Buffer.from([0]), // member's tagged fields
      Buffer.from([0]), // value's tagged fields
    ]);
    const member = {
      memberId: 'a',
      groupInstanceId: null,
      clientId: 'c',
      clientHost: '/h',
      sessionTimeoutMs: 10_000,
      subscription: Buffer.from('sub'),
      assignment: Buffer.from('asg'),
    };
    const group = (rebalanceTimeoutMs: number) => ({
      kind: 'group',
      group: 'g',
      value: {
        protocolType: 'consumer',
        protocolName: 'range',
        generation: 7,
        leaderId: 'a',
        members: [{ ...member, rebalanceTimeoutMs }],
      },
    });
    expect(parseOffsetsRecord(groupKey, v0)).toEqual(group(-1));
    expect(parseOffsetsRecord(groupKey, v4)).toEqual(group(20_000));
  });

  it('reports what does not decode instead of throwing', () => {
    const value = Buffer.concat([i16(3), i64(42), i32(5), str('m'), i64(1000)]);
    expect(parseOffsetsRecord(Buffer.concat([i16(3), str('g')]), null)).toMatch(/record type 3 is not/);
    expect(parseOffsetsRecord(Buffer.from([1]), null)).toMatch(/does not decode/);
    expect(parseOffsetsRecord(offsetKey.subarray(0, offsetKey.length - 1), value)).toMatch(/does not decode/);
    expect(parseOffsetsRecord(Buffer.concat([offsetKey, Buffer.from([0])]), value)).toMatch(/after the key/);
    expect(parseOffsetsRecord(offsetKey, value.subarray(0, value.length - 2))).toMatch(/does not decode/);
    expect(parseOffsetsRecord(offsetKey, Buffer.concat([i16(5), value.subarray(2)]))).toMatch(/value version 5/);
    expect(parseOffsetsRecord(offsetKey, Buffer.concat([i16(-1), value.subarray(2)]))).toMatch(/value version -1/);
    expect(parseOffsetsRecord(Buffer.from('["offset","g","t",0]'), Buffer.from('{}'))).toMatch(/is not a classic/);
  });
});
