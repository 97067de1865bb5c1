import { describe, expect, test } from 'vitest';
import {
  array,
  bytes,
  compile,
  int32,
  int64,
  nullableArray,
  nullableString,
  records,
  string,
  struct,
  uuid,
  ZERO_UUID,
} from './schema.js';
import { MalformedFrameError, Reader, Writer } from './wire.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

const Tagged = struct({
  id: int32,
  name: string.tagged(1),
  epoch: int64.default(-1).tagged(5),
  late: int32.tagged(7, 2),
});

describe('tagged fields', () => {
  const v1 = compile(Tagged.struct, 1, true);

  test('unknown tags are skipped and known ones decode', () => {
    const buf = Buffer.concat([
      hex('00000007'), // id
      hex('04'), // four tagged fields
      hex('00 03 aabbcc'), // tag 0, unknown: 3 bytes skipped
      hex('01 03 03 6869'), // tag 1: compact string "hi"
      hex('07 04 00000009'), // tag 7: not in version 1, so skipped as unknown
      hex('09 02 ffff'), // tag 9, unknown
    ]);
    const r = new Reader(buf);
    expect(v1.read(r)).toStrictEqual({ id: 7, name: 'hi', epoch: -1, late: 0 });
    expect(r.remaining).toBe(0);
  });

  test('fields equal to their default are not written; the rest go in tag order', () => {
    const w = new Writer();
    compile(Tagged.struct, 2, true).write(w, { id: 1, name: '', epoch: -1, late: 3 });
    expect(w.toBuffer()).toStrictEqual(hex('00000001 01 07 04 00000003'));

    const w2 = new Writer();
    v1.write(w2, { id: 1, epoch: 2, name: 'x' });
    expect(w2.toBuffer()).toStrictEqual(hex('00000001 02 01 02 0278 05 08 0000000000000002'));
  });

  test('a known tag whose size disagrees with its content is rejected', () => {
    // Tag 1 claims 4 bytes but its string "x" takes 2.
    expect(() => v1.read(new Reader(hex('00000001 01 01 04 0278 0000')))).toThrow(/size mismatch/);
  });

  test('non-flexible versions have no tagged fields', () => {
    const codec = compile(Tagged.struct, 2, false);
    const w = new Writer();
    codec.write(w, { id: 4, name: 'ignored', epoch: 9, late: 9 });
    expect(w.toBuffer()).toStrictEqual(hex('00000004'));
    expect(codec.read(new Reader(hex('00000004')))).toStrictEqual({ id: 4, name: '', epoch: -1, late: 0 });
  });
});

const Nested = struct({
  topics: array(
    struct({
      name: string,
      id: uuid,
      partitions: nullableArray(struct({ index: int32, data: records })),
      note: nullableString,
    }),
  ),
  blob: bytes,
});
const nestedValue = {
  topics: [
    {
      name: 'tópico',
      id: Buffer.alloc(16, 0xab).toString('base64url'),
      partitions: [{ index: 3, data: Buffer.from('batch') }],
      note: null,
    },
    { name: 'b', id: ZERO_UUID, partitions: null, note: 'n' },
  ],
  blob: Buffer.from([1, 2, 3]),
};

describe('malformed input', () => {
  test.each([false, true])('every truncation throws MalformedFrameError (flexible: %s)', (flexible) => {
    const codec = compile(Nested.struct, 0, flexible);
    const w = new Writer();
    codec.write(w, nestedValue);
    const buf = w.toBuffer();
    expect(codec.read(new Reader(buf))).toStrictEqual(nestedValue);
    for (let n = 0; n < buf.length; n++) {
      expect(() => codec.read(new Reader(buf.subarray(0, n))), `prefix of ${n} bytes`).toThrow(MalformedFrameError);
    }
  });

  test('an array longer than the frame, a null non-nullable array and a negative length are rejected', () => {
    const codec = compile(Nested.struct, 0, false);
    expect(() => codec.read(new Reader(hex('7fffffff')))).toThrow(MalformedFrameError);
    expect(() => codec.read(new Reader(hex('ffffffff')))).toThrow(MalformedFrameError);
    expect(() => codec.read(new Reader(hex('00000001 fffe')))).toThrow(MalformedFrameError);
  });

  test('unsigned varints are at most 5 bytes', () => {
    expect(new Reader(hex('ffffffff0f')).uvarint()).toBe(0xffffffff);
    expect(() => new Reader(hex('ffffffffff01')).uvarint()).toThrow(MalformedFrameError);
  });
});

describe('writer', () => {
  test('encodes the same whatever its scratch size', () => {
    const codec = compile(Nested.struct, 0, true);
    const big = { ...nestedValue, topics: Array.from({ length: 50 }, () => nestedValue.topics[0]) };
    const encodings = [1, 7, 64, 1 << 16].map((size) => {
      const w = new Writer(size);
      codec.write(w, big);
      return w.toBuffer();
    });
    for (const e of encodings) expect(e).toStrictEqual(encodings[3]);
    expect(codec.read(new Reader(encodings[0]))).toStrictEqual(big);
  });

  test('a placeholder taken as the scratch buffer fills up still lands in the output', () => {
    const w = new Writer(6);
    w.int32(1);
    const setSize = w.placeholderInt32();
    w.int64(2);
    setSize(0x01020304);
    expect(w.toBuffer()).toStrictEqual(hex('00000001 01020304 0000000000000002'));
  });

  test('int64 keeps both halves, negative values included', () => {
    const w = new Writer(4);
    for (const v of [-1, 2 ** 32, -(2 ** 40) - 3, Number.MAX_SAFE_INTEGER]) w.int64(v);
    const r = new Reader(w.toBuffer());
    expect([r.int64(), r.int64(), r.int64(), r.int64()]).toStrictEqual([
      -1,
      2 ** 32,
      -(2 ** 40) - 3,
      Number.MAX_SAFE_INTEGER,
    ]);
  });

  test('records given as a list of batches are written without copying and read back as one', () => {
    const Msg = struct({ data: records });
    const batches = [Buffer.alloc(600, 1), Buffer.alloc(10, 2)];
    const w = new Writer();
    compile(Msg.struct, 0, true).write(w, { data: batches });
    const chunks = w.finish();
    expect(chunks).toContain(batches[0]);
    const r = new Reader(Buffer.concat(chunks));
    expect(compile(Msg.struct, 0, true).read(r)).toStrictEqual({ data: Buffer.concat(batches) });
    expect(r.remaining).toBe(0);
  });
});
