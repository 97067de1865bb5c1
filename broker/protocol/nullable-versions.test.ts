import { describe, expect, test } from 'vitest';
import { JoinGroup } from './messages/index.js';
import { compile, int32, int64, nullableArray, nullableString, string, struct } from './schema.js';
import { Reader, Writer } from './wire.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function encode<T>(codec: { write(w: Writer, v: T): void }, value: T): Buffer {
  const w = new Writer();
  codec.write(w, value);
  return w.toBuffer();
}

describe('a field nullable only from a later version', () => {
  const Msg = struct({
    name: nullableString.nullableFrom(2),
    ids: nullableArray(int32).nullableFrom(2),
  });

  test('before that version a null is written as the empty value, as Kafka writes it', () => {
    const v1 = compile(Msg.struct, 1, false);
    expect(encode(v1, { name: null, ids: null })).toStrictEqual(hex('0000 00000000'));
    expect(v1.read(new Reader(hex('0000 00000000')))).toStrictEqual({ name: '', ids: [] });
    // A null that arrives anyway reads as the empty value.
    expect(v1.read(new Reader(hex('ffff ffffffff')))).toStrictEqual({ name: '', ids: [] });
  });

  test('from that version a null is a null', () => {
    const v2 = compile(Msg.struct, 2, false);
    expect(encode(v2, { name: null, ids: null })).toStrictEqual(hex('ffff ffffffff'));
    expect(v2.read(new Reader(hex('ffff ffffffff')))).toStrictEqual({ name: null, ids: null });
  });

  test('only a nullable type can be nullable from a version', () => {
    expect(() => string.nullableFrom(3)).toThrow(/nullable type/);
  });

  test('a JoinGroup v5 response without a protocol (MEMBER_ID_REQUIRED) carries an empty protocol name, v7 a null', () => {
    const response = { errorCode: 79, generationId: -1, protocolName: null, leader: '', memberId: 'm', members: [] };
    // v5: throttle, error, generation, protocol name '' (int16 length 0), leader, member id, members.
    expect(encode(compile(JoinGroup.response, 5, false), response)).toStrictEqual(
      hex('00000000 004f ffffffff 0000 0000 0001 6d 00000000'),
    );
    // v7 (flexible): protocol type null (0), protocol name null (0), leader '' (1), member id, members, tags.
    expect(encode(compile(JoinGroup.response, 7, true), response)).toStrictEqual(
      hex('00000000 004f ffffffff 00 00 01 02 6d 01 00'),
    );
  });
});

describe('tagged fields equal to their default are left out, as Kafka leaves them out', () => {
  const Msg = struct({
    id: int32,
    leader: struct({ leaderId: int32.default(-1), leaderEpoch: int32.default(-1) }).tagged(0),
    epoch: int64.default(-1).tagged(1),
  });
  const codec = compile(Msg.struct, 0, true);

  test('a struct with only default values is not written', () => {
    expect(encode(codec, { id: 1, leader: { leaderId: -1, leaderEpoch: -1 }, epoch: -1 })).toStrictEqual(
      hex('00000001 00'),
    );
  });

  test('a struct with any other value is', () => {
    expect(encode(codec, { id: 1, leader: { leaderId: 3, leaderEpoch: -1 } })).toStrictEqual(
      hex('00000001 01 00 09 00000003 ffffffff 00'),
    );
  });
});

describe('strings with an int16 length', () => {
  test('cut an error message quoting oversized input to fit, instead of failing the response', () => {
    const w = new Writer();
    const long = `This server does not host this topic: ${'h'.repeat(40_000)}`;
    w.nullableString(long, false);
    const r = new Reader(w.toBuffer());
    const read = r.nullableString(false)!;
    expect(Buffer.byteLength(read)).toBeLessThanOrEqual(0x7fff);
    expect(read.startsWith('This server does not host this topic: hhh')).toBe(true);
    expect(read.endsWith('...')).toBe(true);
  });
});

describe('int64 fields', () => {
  test('2^63 - 1 read from the wire (a number that rounds to 2^63) is written back as 2^63 - 1', () => {
    const max = Buffer.from('7fffffffffffffff', 'hex');
    const read = new Reader(max).int64();
    const w = new Writer();
    w.int64(read);
    expect(w.toBuffer()).toEqual(max);
  });
});
