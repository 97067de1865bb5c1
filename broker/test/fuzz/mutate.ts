// Turns a seed request into a fuzz case: field values pushed to their type's edges, names
// swapped for internal or illegal ones, arrays emptied, nulled or lied about, record batches
// corrupted in every header field (with and without a correct CRC) or filled with codec
// garbage and decompression bombs, header versions and api keys moved, and the encoded frame
// itself flipped, cut, extended or given a lying size prefix. Everything is drawn from one
// random source (broker/random.ts) seeded per request, so (run seed, index) names the exact bytes.

import { crc32c } from '@node-rs/crc32';
import { CODEC_IDS } from '../../protocol/compression.js';
import { readRequestHeader } from '../../protocol/header.js';
import { ALL_APIS } from '../../protocol/messages/index.js';
import { BatchField, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD, readBatchHeader } from '../../protocol/record-batch.js';
import { isFlexible } from '../../protocol/schema.js';
import { Reader, Writer } from '../../protocol/wire.js';
import { decodeRequest, type AnyApi, type DecodedRequest } from '../raw-client.js';
import { NAME_POOL, type Corpus, type SeedRequest } from './corpus.js';
import { SeededRandom } from '../../random.js';
import { requestSeed } from './seeds.js';
import {
  CountLie,
  Raw,
  TAGS_OVERRIDE,
  cloneBody,
  encodeFrame,
  slotsOf,
  type FrameHeader,
  type Slot,
} from './schema-walk.js';

/** One generated request: the bytes written to the socket and how they were made. */
export interface FuzzCase {
  index: number;
  /** The random seed of this case (derived from the run seed and the index). */
  caseSeed: number;
  seedSource: string;
  seedApi: string;
  seedVersion: number;
  /** Mutations applied, as `class@where` (class names are what exclusion lists match). */
  mutations: string[];
  bytes: Buffer;
  /** What the broker sees, when the bytes are exactly one well-sized frame. */
  frame: FrameView | null;
}

export interface FrameView {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  api: AnyApi | undefined;
  /** The request as the broker's schema reads it, when it reads completely. */
  request: DecodedRequest | null;
  /** Whether a response is due: a served API at a served version, not acks=0. */
  answerDue: boolean;
}

/** Frames stay below this so a case never makes the fuzzer itself the bottleneck. */
const MAX_CASE_BYTES = 8 * 1024 * 1024;
const INT_MAX = { int8: 0x7f, int16: 0x7fff, uint16: 0xffff, int32: 0x7fffffff } as const;
const INT_MIN = { int8: -0x80, int16: -0x8000, uint16: 0, int32: -0x80000000 } as const;
const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0xc0, 0x80]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0x66, 0x7a, 0xe2, 0x82]),
  Buffer.from([0x80]),
];
/** API keys Kafka defines that Runnel does not serve, and keys no one defines. */
const UNSERVED_API_KEYS = [
  -32768, -1, 4, 5, 6, 7, 17, 21, 24, 25, 26, 27, 28, 29, 30, 31, 34, 35, 36, 38, 39, 40, 41, 43, 45, 46, 48, 50, 51,
  55, 57, 61, 65, 68, 69, 71, 1000, 32767,
];

// ---- helpers -----------------------------------------------------------------------------

function lengthPrefixed(declared: number, payload: Buffer, compact: boolean, wide: boolean): Raw {
  const w = new Writer();
  if (compact) w.uvarint(declared < -1 ? 0xffffffff : declared + 1);
  else if (wide) w.int32(declared);
  else w.int16(Math.max(-0x8000, Math.min(0x7fff, declared)));
  w.raw(payload);
  return new Raw(w.toBuffer());
}

function int64Raw(hex: string): Raw {
  return new Raw(Buffer.from(hex, 'hex'));
}

/** Wraps to int32, as a header field holds it (a count already at the edge times 1000). */
function i32(n: number): number {
  return n | 0;
}

function fixCrc(batch: Buffer): void {
  if (batch.length < RECORD_BATCH_OVERHEAD) return;
  batch.writeUInt32BE(crc32c(batch.subarray(BatchField.attributes)), BatchField.crc);
}

function setLength(batch: Buffer): void {
  if (batch.length >= LOG_OVERHEAD) batch.writeInt32BE(batch.length - LOG_OVERHEAD, BatchField.batchLength);
}

function looksLikeBatch(b: unknown): b is Buffer {
  return Buffer.isBuffer(b) && b.length >= RECORD_BATCH_OVERHEAD && b[BatchField.magic] === 2;
}

// ---- field mutations ---------------------------------------------------------------------

interface Ctx {
  rng: SeededRandom;
  corpus: Corpus;
  flexible: boolean;
  mutations: string[];
}

function note(ctx: Ctx, cls: string, where: string): void {
  ctx.mutations.push(`${cls}@${where}`);
}

function mutateInt(ctx: Ctx, slot: Extract<Slot, { type: 'primitive' }>): void {
  const { rng } = ctx;
  const cur = slot.get() as number;
  if (slot.primitive === 'int64') {
    const choice = rng.pick(['max', 'min', '-1', '0', 'neg', 'big', 'near'] as const);
    const value = {
      max: int64Raw('7fffffffffffffff'),
      min: int64Raw('8000000000000000'),
      '-1': -1,
      '0': 0,
      neg: -rng.between(2, 1000),
      big: 2 ** 53 + rng.int(1000),
      near: cur + rng.pick([-1, 1, 1000, -1000]),
    }[choice];
    slot.set(value);
    note(ctx, 'int-boundary', `${slot.path}=${choice}`);
    return;
  }
  if (slot.primitive === 'float64') {
    slot.set(rng.pick([NaN, Infinity, -Infinity, -1, 0, 1e308]));
    note(ctx, 'int-boundary', slot.path);
    return;
  }
  const p = slot.primitive as keyof typeof INT_MAX;
  const max = INT_MAX[p];
  const min = INT_MIN[p];
  const candidates = [max, min, -1, 0, 1, max - 1, min + 1, cur + 1, cur - 1, rng.between(min, max)].filter(
    (v) => v >= min && v <= max,
  );
  const v = rng.pick(candidates);
  slot.set(v);
  note(ctx, 'int-boundary', `${slot.path}=${v}`);
}

function mutateString(ctx: Ctx, slot: Extract<Slot, { type: 'primitive' }>): void {
  const { rng, flexible } = ctx;
  const cur = (slot.get() as string | null) ?? '';
  const curBytes = Buffer.from(cur);
  const nullable = slot.primitive === 'nullableString';
  const op = rng.weighted([
    [3, 'pool'],
    [2, 'internal'],
    [1, 'empty'],
    [1, 'null'],
    [1, 'huge'],
    [2, 'invalid-utf8'],
    [2, 'length-lie'],
    [1, 'bitflip'],
  ] as const);
  switch (op) {
    case 'pool':
      slot.set(rng.pick(NAME_POOL));
      note(ctx, 'string-name-pool', slot.path);
      return;
    case 'internal':
      slot.set('__consumer_offsets');
      note(ctx, 'topic-internal', slot.path);
      return;
    case 'empty':
      slot.set('');
      note(ctx, 'string-empty', slot.path);
      return;
    case 'null':
      slot.set(nullable ? null : lengthPrefixed(-1, Buffer.alloc(0), flexible, false));
      note(ctx, 'string-null', slot.path);
      return;
    case 'huge':
      slot.set('h'.repeat(flexible ? rng.pick([32768, 200_000]) : 32767));
      note(ctx, 'string-huge', slot.path);
      return;
    case 'invalid-utf8': {
      const bad = Buffer.concat([curBytes.subarray(0, rng.int(curBytes.length + 1)), rng.pick(INVALID_UTF8)]);
      slot.set(lengthPrefixed(bad.length, bad, flexible, false));
      note(ctx, 'string-invalid-utf8', slot.path);
      return;
    }
    case 'length-lie': {
      const declared = rng.pick([
        curBytes.length + 1,
        curBytes.length + 1000,
        0x7fff,
        -2,
        Math.max(0, curBytes.length - 1),
      ]);
      slot.set(lengthPrefixed(declared, curBytes, flexible, false));
      note(ctx, 'string-length-lie', `${slot.path}=${declared}`);
      return;
    }
    case 'bitflip': {
      if (curBytes.length === 0) {
        slot.set('\u0000');
      } else {
        const b = Buffer.from(curBytes);
        b[rng.int(b.length)] ^= 1 << rng.int(8);
        slot.set(lengthPrefixed(b.length, b, flexible, false));
      }
      note(ctx, 'string-bitflip', slot.path);
    }
  }
}

function mutateBytes(ctx: Ctx, slot: Extract<Slot, { type: 'primitive' }>): void {
  const { rng, flexible } = ctx;
  const cur = (slot.get() as Buffer | null) ?? Buffer.alloc(0);
  const op = rng.pick(['empty', 'null', 'random', 'huge', 'length-lie', 'bitflip'] as const);
  switch (op) {
    case 'empty':
      slot.set(Buffer.alloc(0));
      break;
    case 'null':
      slot.set(slot.primitive === 'bytes' ? lengthPrefixed(-1, Buffer.alloc(0), flexible, true) : null);
      break;
    case 'random':
      slot.set(rng.bytes(rng.between(1, 64)));
      break;
    case 'huge':
      slot.set(Buffer.alloc(rng.pick([65536, 1 << 20, 4 << 20]), 0x61));
      break;
    case 'length-lie': {
      const declared = rng.pick([cur.length + 1, cur.length + 100_000, 0x7fffffff, -2, Math.max(0, cur.length - 1)]);
      slot.set(lengthPrefixed(declared, cur, flexible, true));
      break;
    }
    case 'bitflip': {
      const b = Buffer.from(cur.length ? cur : Buffer.alloc(1));
      b[rng.int(b.length)] ^= 1 << rng.int(8);
      slot.set(b);
    }
  }
  note(ctx, `bytes-${op}`, slot.path);
}

function mutateUuid(ctx: Ctx, slot: Extract<Slot, { type: 'primitive' }>): void {
  const { rng } = ctx;
  const op = rng.pick(['zero', 'ones', 'random', 'short'] as const);
  const bytes = { zero: Buffer.alloc(16), ones: Buffer.alloc(16, 0xff), random: rng.bytes(16), short: rng.bytes(15) }[
    op
  ];
  slot.set(new Raw(bytes));
  note(ctx, `uuid-${op}`, slot.path);
}

function mutateBool(ctx: Ctx, slot: Extract<Slot, { type: 'primitive' }>): void {
  const v = ctx.rng.pick([2, 0x7f, 0xff, -1]);
  if (v === -1) slot.set(!(slot.get() as boolean));
  else slot.set(new Raw(Buffer.from([v])));
  note(ctx, 'bool-invalid', `${slot.path}=${v}`);
}

function mutateArray(ctx: Ctx, slot: Extract<Slot, { type: 'array' }>): void {
  const { rng, flexible } = ctx;
  const cur = slot.get() as unknown[] | null;
  const items = cur ?? [];
  const op = rng.weighted([
    [2, 'empty'],
    [1, 'null'],
    [2, 'duplicate'],
    [2, 'huge-count'],
    [2, 'count-lie'],
  ] as const);
  switch (op) {
    case 'empty':
      slot.set([]);
      break;
    case 'null':
      slot.set(slot.nullable ? null : new CountLie(-1, []));
      break;
    case 'duplicate': {
      if (items.length === 0) return mutateArray(ctx, slot);
      const times = rng.pick([2, 3, 10, 100, 1000]);
      slot.set(Array.from({ length: items.length * times }, (_, i) => items[i % items.length]));
      note(ctx, 'array-duplicate', `${slot.path}x${times}`);
      return;
    }
    case 'huge-count':
      slot.set(new CountLie(rng.pick([0x7fffffff, 0x10000000, 1_000_000]), items));
      break;
    case 'count-lie':
      slot.set(
        new CountLie(rng.pick([items.length + 1, items.length + 2, -2, 0, Math.max(0, items.length - 1)]), items),
      );
      break;
  }
  void flexible;
  note(ctx, `array-${op}`, slot.path);
}

function mutateTags(ctx: Ctx, slot: Extract<Slot, { type: 'struct' }>): void {
  const { rng } = ctx;
  const w = new Writer();
  const op = rng.pick(['unknown-tag', 'count-lie', 'size-lie', 'huge-size'] as const);
  switch (op) {
    case 'unknown-tag':
      w.uvarint(1);
      w.uvarint(rng.pick([0, 1, 2, 99, 0x7fff]));
      w.uvarint(4);
      w.raw(rng.bytes(4));
      break;
    case 'count-lie':
      w.uvarint(rng.pick([2, 100, 0x7fffffff]));
      w.uvarint(7);
      w.uvarint(1);
      w.raw(Buffer.from([0]));
      break;
    case 'size-lie':
      w.uvarint(1);
      w.uvarint(rng.pick([0, 1, 2]));
      w.uvarint(rng.pick([0, 1, 3, 200]));
      w.raw(rng.bytes(2));
      break;
    case 'huge-size':
      w.uvarint(1);
      w.uvarint(5);
      w.uvarint(0xffffffff);
      break;
  }
  slot.value[TAGS_OVERRIDE] = new Raw(w.toBuffer());
  note(ctx, `tags-${op}`, slot.path);
}

// ---- record batch mutations --------------------------------------------------------------

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

function withPayload(batch: Buffer, payload: Buffer, codecId: number): Buffer {
  const out = Buffer.concat([batch.subarray(0, RECORD_BATCH_OVERHEAD), payload]);
  out.writeInt16BE((out.readInt16BE(BatchField.attributes) & ~7) | codecId, BatchField.attributes);
  setLength(out);
  fixCrc(out);
  return out;
}

/** Returns the mutated batch (a copy) and the mutation's class. */
function mutateBatch(ctx: Ctx, original: Buffer): { batch: Buffer; cls: string } {
  const { rng, corpus } = ctx;
  const b = Buffer.from(original);
  const h = readBatchHeader(b, 0);
  const op = rng.weighted([
    [1, 'crc'],
    [2, 'bitflip'],
    [3, 'bitflip-crc-fixed'],
    [3, 'record-count'],
    [2, 'offset-delta'],
    [2, 'length'],
    [2, 'codec-bits'],
    [2, 'codec-garbage'],
    [2, 'codec-truncated'],
    [2, 'codec-bomb'],
    [2, 'attr-bits'],
    [1, 'producer'],
    [1, 'timestamps'],
    [1, 'base-offset'],
    [1, 'magic'],
    [1, 'truncate'],
    [1, 'extra'],
    [2, 'records-garbage'],
  ] as const);
  switch (op) {
    case 'crc':
      b.writeUInt32BE(rng.int(2 ** 32), BatchField.crc);
      return { batch: b, cls: 'batch-crc' };
    case 'bitflip': {
      for (let i = rng.between(1, 4); i > 0; i--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return { batch: b, cls: 'batch-bitflip' };
    }
    case 'bitflip-crc-fixed': {
      for (let i = rng.between(1, 4); i > 0; i--) {
        const at = rng.chance(0.7)
          ? rng.between(RECORD_BATCH_OVERHEAD, b.length - 1)
          : rng.between(BatchField.attributes, b.length - 1);
        b[at] ^= 1 << rng.int(8);
      }
      fixCrc(b);
      return { batch: b, cls: 'batch-bitflip-crc-fixed' };
    }
    case 'record-count': {
      const count = rng.pick([
        0,
        -1,
        h.recordCount + 1,
        h.recordCount - 1,
        h.recordCount * 1000,
        0x7fffffff,
        -0x80000000,
        rng.between(1, 1_000_000),
      ]);
      b.writeInt32BE(i32(count), BatchField.recordCount);
      // Usually keep lastOffsetDelta consistent, so the lie passes the header checks.
      if (i32(count) > 0 && rng.chance(0.7)) b.writeInt32BE(i32(count) - 1, BatchField.lastOffsetDelta);
      fixCrc(b);
      return { batch: b, cls: 'batch-record-count' };
    }
    case 'offset-delta':
      b.writeInt32BE(
        i32(rng.pick([-1, 0, h.lastOffsetDelta + 1, 0x7fffffff, -0x80000000])),
        BatchField.lastOffsetDelta,
      );
      fixCrc(b);
      return { batch: b, cls: 'batch-offset-delta' };
    case 'length':
      b.writeInt32BE(
        i32(
          rng.pick([
            -1,
            0,
            13,
            14,
            48,
            49,
            h.batchLength - 1,
            h.batchLength + 1,
            h.batchLength + 1000,
            0x7fffffff,
            -0x80000000,
          ]),
        ),
        BatchField.batchLength,
      );
      return { batch: b, cls: 'batch-length' };
    case 'codec-bits': {
      const id = rng.between(1, 7);
      b.writeInt16BE((h.attributes & ~7) | id, BatchField.attributes);
      fixCrc(b);
      return { batch: b, cls: `batch-codec-bits:${id}` };
    }
    case 'codec-garbage': {
      const codec = rng.pick(CODECS);
      return {
        batch: withPayload(b, rng.bytes(rng.between(0, 200)), CODEC_IDS[codec]),
        cls: `batch-codec-garbage:${codec}`,
      };
    }
    case 'codec-truncated': {
      const codec = rng.pick(CODECS);
      const payload = corpus.payloads.compressedRecords[codec];
      if (!payload) return mutateBatch(ctx, original);
      const cut = rng.chance(0.5)
        ? payload.subarray(0, rng.int(payload.length))
        : Buffer.concat([payload, rng.bytes(rng.between(1, 16))]);
      return { batch: withPayload(b, cut, CODEC_IDS[codec]), cls: `batch-codec-truncated:${codec}` };
    }
    case 'codec-bomb': {
      const available = CODECS.filter((c) => corpus.payloads.bombs[c]);
      if (available.length === 0) return mutateBatch(ctx, original);
      const codec = rng.pick(available);
      const out = withPayload(b, corpus.payloads.bombs[codec]!, CODEC_IDS[codec]);
      return { batch: out, cls: `batch-codec-bomb:${codec}` };
    }
    case 'attr-bits': {
      const bit = rng.pick([0x08, 0x10, 0x20, 0x40, 0x80, 0x100, 0x8000, 0x30, 0x28]);
      b.writeInt16BE(((h.attributes ^ bit) << 16) >> 16, BatchField.attributes);
      fixCrc(b);
      return { batch: b, cls: `batch-attr-bits:0x${bit.toString(16)}` };
    }
    case 'producer': {
      const field = rng.pick(['producerId', 'producerEpoch', 'baseSequence'] as const);
      if (field === 'producerId')
        b.write(
          rng.pick(['7fffffffffffffff', '0000000000000000', 'fffffffffffffffe', '00000000000003e8']),
          BatchField.producerId,
          'hex',
        );
      if (field === 'producerEpoch') b.writeInt16BE(rng.pick([-1, 0, 0x7fff, -0x8000]), BatchField.producerEpoch);
      if (field === 'baseSequence') b.writeInt32BE(rng.pick([-1, 0, 0x7fffffff, 5]), BatchField.baseSequence);
      fixCrc(b);
      return { batch: b, cls: `batch-producer:${field}` };
    }
    case 'timestamps': {
      const at = rng.pick([BatchField.baseTimestamp, BatchField.maxTimestamp]);
      b.write(rng.pick(['7fffffffffffffff', '8000000000000000', 'ffffffffffffffff', '0000000000000000']), at, 'hex');
      fixCrc(b);
      return { batch: b, cls: 'batch-timestamps' };
    }
    case 'base-offset':
      b.write(rng.pick(['0000000000000001', 'ffffffffffffffff', '7fffffffffffffff']), BatchField.baseOffset, 'hex');
      return { batch: b, cls: 'batch-base-offset' };
    case 'magic':
      b.writeInt8(rng.pick([0, 1, 3, -1, 127]), BatchField.magic);
      return { batch: b, cls: 'batch-magic' };
    case 'truncate':
      return { batch: b.subarray(0, rng.int(b.length)), cls: 'batch-truncate' };
    case 'extra':
      return {
        batch: Buffer.concat([b, rng.chance(0.5) ? Buffer.from(original) : rng.bytes(rng.between(1, 80))]),
        cls: 'batch-extra',
      };
    case 'records-garbage': {
      const out = Buffer.concat([b.subarray(0, RECORD_BATCH_OVERHEAD), rng.bytes(rng.between(0, 120))]);
      setLength(out);
      fixCrc(out);
      return { batch: out, cls: 'batch-records-garbage' };
    }
  }
}

function mutateRecords(ctx: Ctx, slot: Extract<Slot, { type: 'primitive' }>): void {
  const cur = slot.get();
  if (looksLikeBatch(cur) && ctx.rng.chance(0.85)) {
    const { batch, cls } = mutateBatch(ctx, cur);
    slot.set(batch);
    note(ctx, cls, slot.path);
    return;
  }
  mutateBytes(ctx, slot);
}

function mutateSlot(ctx: Ctx, slot: Slot): void {
  if (slot.type === 'array') return mutateArray(ctx, slot);
  if (slot.type === 'struct') return mutateTags(ctx, slot);
  switch (slot.primitive) {
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'int64':
    case 'float64':
      return mutateInt(ctx, slot);
    case 'bool':
      return mutateBool(ctx, slot);
    case 'string':
    case 'nullableString':
      return mutateString(ctx, slot);
    case 'bytes':
    case 'nullableBytes':
      return mutateBytes(ctx, slot);
    case 'records':
      return mutateRecords(ctx, slot);
    case 'uuid':
      return mutateUuid(ctx, slot);
  }
}

// ---- header mutations --------------------------------------------------------------------

interface Draft {
  api: AnyApi;
  schemaVersion: number;
  header: FrameHeader;
  body: Record<string, unknown>;
}

function mutateHeader(ctx: Ctx, d: Draft): void {
  const { rng } = ctx;
  const op = rng.weighted([
    [3, 'version-neighbour'],
    [2, 'version-unsupported'],
    [1, 'apikey-unserved'],
    [1, 'apikey-swap'],
    [1, 'correlation'],
    [2, 'clientid'],
    [1, 'header-tags'],
  ] as const);
  switch (op) {
    case 'version-neighbour': {
      const v = rng.pick([d.schemaVersion - 1, d.schemaVersion + 1, d.api.minVersion, d.api.maxVersion]);
      if (v < d.api.minVersion || v > d.api.maxVersion) return mutateHeader(ctx, d);
      d.schemaVersion = v;
      d.header.apiVersion = v;
      d.header.headerTags = isFlexible(d.api, v);
      note(ctx, 'version-neighbour', `v${v}`);
      return;
    }
    case 'version-unsupported': {
      const v = rng.pick([d.api.minVersion - 1, d.api.maxVersion + 1, -1, -0x8000, 0x7fff, d.api.maxVersion + 2]);
      d.header.apiVersion = v;
      note(ctx, 'version-unsupported', `v${v}`);
      return;
    }
    case 'apikey-unserved': {
      const k = rng.pick(UNSERVED_API_KEYS);
      d.header.apiKey = k;
      note(ctx, 'apikey-unserved', `key${k}`);
      return;
    }
    case 'apikey-swap': {
      const other = rng.pick(ALL_APIS);
      d.header.apiKey = other.key;
      note(ctx, 'apikey-swap', other.name);
      return;
    }
    case 'correlation': {
      d.header.correlationId = rng.pick([-1, 0, 0x7fffffff, -0x80000000]);
      note(ctx, 'correlation-boundary', String(d.header.correlationId));
      return;
    }
    case 'clientid': {
      const kind = rng.pick(['null', 'empty', 'huge', 'invalid-utf8', 'length-lie'] as const);
      if (kind === 'null') d.header.clientId = null;
      if (kind === 'empty') d.header.clientId = '';
      if (kind === 'huge') d.header.clientId = 'c'.repeat(32767);
      if (kind === 'invalid-utf8') {
        const bad = rng.pick(INVALID_UTF8);
        d.header.clientId = lengthPrefixed(bad.length, bad, false, false);
      }
      if (kind === 'length-lie')
        d.header.clientId = lengthPrefixed(rng.pick([-2, 100, 0x7fff]), Buffer.from('fz'), false, false);
      note(ctx, `clientid-${kind}`, 'header');
      return;
    }
    case 'header-tags': {
      const w = new Writer();
      w.uvarint(rng.pick([1, 2, 0x7fffffff]));
      w.uvarint(rng.int(4));
      w.uvarint(rng.pick([0, 3, 1000]));
      w.raw(rng.bytes(3));
      d.header.headerTags = new Raw(w.toBuffer());
      note(ctx, 'header-tags', 'header');
    }
  }
}

// ---- frame mutations ---------------------------------------------------------------------

function resize(frame: Buffer): Buffer {
  if (frame.length >= 4) frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}

function mutateFrame(ctx: Ctx, frame: Buffer, other: () => Buffer): Buffer {
  const { rng } = ctx;
  const op = rng.weighted([
    [3, 'bitflip'],
    [2, 'byte-set'],
    [2, 'truncate'],
    [1, 'truncate-size-lie'],
    [2, 'extend'],
    [1, 'trailing-frame-garbage'],
    [2, 'size-lie'],
    [1, 'splice'],
    [1, 'delete'],
    [1, 'pipeline'],
    [1, 'garbage'],
  ] as const);
  ctx.mutations.push(`frame-${op}`);
  const f = Buffer.from(frame);
  switch (op) {
    case 'bitflip':
      for (let i = rng.between(1, 8); i > 0; i--) {
        const at = rng.between(4, f.length - 1);
        f[at] ^= 1 << rng.int(8);
      }
      return f;
    case 'byte-set':
      for (let i = rng.between(1, 4); i > 0; i--)
        f[rng.between(4, f.length - 1)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]);
      return f;
    case 'truncate':
      return resize(Buffer.from(f.subarray(0, rng.between(4, f.length - 1))));
    case 'truncate-size-lie':
      return f.subarray(0, rng.between(4, f.length - 1));
    case 'extend':
      return resize(Buffer.concat([f, rng.bytes(rng.between(1, 64))]));
    case 'trailing-frame-garbage':
      return Buffer.concat([f, rng.bytes(rng.between(1, 64))]);
    case 'size-lie':
      f.writeInt32BE(
        rng.pick([
          0,
          -1,
          -0x80000000,
          0x7fffffff,
          100 * 1024 * 1024,
          100 * 1024 * 1024 + 1,
          f.length - 5,
          f.length - 3,
          f.length + 1000,
        ]),
        0,
      );
      return f;
    case 'splice': {
      const at = rng.between(4, f.length);
      return resize(Buffer.concat([f.subarray(0, at), rng.bytes(rng.between(1, 32)), f.subarray(at)]));
    }
    case 'delete': {
      const at = rng.between(4, f.length - 1);
      return resize(Buffer.concat([f.subarray(0, at), f.subarray(Math.min(f.length, at + rng.between(1, 16)))]));
    }
    case 'pipeline': {
      const parts: Buffer[] = [f];
      for (let i = rng.between(1, 31); i > 0; i--) parts.push(other());
      return Buffer.concat(parts);
    }
    case 'garbage':
      return resize(Buffer.concat([Buffer.alloc(4), rng.bytes(rng.between(0, 256))]));
  }
}

// ---- cases -------------------------------------------------------------------------------

function draftOf(seed: SeedRequest, correlationId: number): Draft {
  return {
    api: seed.api,
    schemaVersion: seed.version,
    header: {
      apiKey: seed.api.key,
      apiVersion: seed.version,
      correlationId,
      clientId: seed.clientId,
      headerTags: isFlexible(seed.api, seed.version),
    },
    body: cloneBody(seed.body),
  };
}

function encodeDraft(d: Draft): Buffer {
  return encodeFrame(d.api, d.schemaVersion, d.body, d.header);
}

/** Reads what the broker would see in `bytes`, if they are exactly one frame. */
export function viewFrame(bytes: Buffer): FrameView | null {
  if (bytes.length < 12 || bytes.readInt32BE(0) !== bytes.length - 4) return null;
  let header;
  try {
    header = readRequestHeader(new Reader(bytes, 4));
  } catch {
    return null;
  }
  const api = (ALL_APIS as readonly AnyApi[]).find((a) => a.key === header.apiKey);
  let request: DecodedRequest | null = null;
  try {
    request =
      api && header.apiVersion >= api.minVersion && header.apiVersion <= api.maxVersion ? decodeRequest(bytes) : null;
  } catch {
    request = null;
  }
  const acksZero = request?.api.name === 'Produce' && (request.body as { acks?: number }).acks === 0;
  return {
    apiKey: header.apiKey,
    apiVersion: header.apiVersion,
    correlationId: header.correlationId,
    api,
    request,
    answerDue:
      api !== undefined && header.apiVersion >= api.minVersion && header.apiVersion <= api.maxVersion && !acksZero,
  };
}

function mutateFields(ctx: Ctx, draft: Draft): void {
  const { rng } = ctx;
  for (
    let n = rng.weighted([
      [6, 1],
      [3, 2],
      [1, 3],
    ] as const);
    n > 0;
    n--
  ) {
    if (rng.chance(0.15)) {
      mutateHeader(ctx, draft);
      continue;
    }
    const flexible = isFlexible(draft.api, draft.schemaVersion);
    ctx.flexible = flexible;
    const slots = slotsOf(draft.api.request, draft.body, draft.schemaVersion, flexible);
    if (slots.length === 0) {
      mutateHeader(ctx, draft);
      continue;
    }
    // Record batches are where most of the broker's parsing is: weight them up.
    const batchSlots = slots.filter((s) => s.type === 'primitive' && s.primitive === 'records');
    mutateSlot(ctx, batchSlots.length > 0 && rng.chance(0.5) ? rng.pick(batchSlots) : rng.pick(slots));
  }
}

/** Case `index` of the run seeded `runSeed`. */
export function generateCase(corpus: Corpus, runSeed: number, index: number): FuzzCase {
  const caseSeed = requestSeed(runSeed, index);
  const rng = new SeededRandom(caseSeed);
  const seed = rng.pick(corpus.seeds);
  const correlationId = (index % 0x7ffffffe) + 1;
  const draft = draftOf(seed, correlationId);
  const ctx: Ctx = { rng, corpus, flexible: isFlexible(seed.api, seed.version), mutations: [] };
  const mode = rng.weighted([
    [1, 'none'],
    [12, 'fields'],
    [3, 'fields+frame'],
    [3, 'frame'],
  ] as const);

  if (mode === 'fields' || mode === 'fields+frame') {
    try {
      mutateFields(ctx, draft);
    } catch (err) {
      // A mutator bug must not stop the run: note it, and send what was mutated so far.
      ctx.mutations.push(`mutator-error:${(err as Error).message.slice(0, 60)}`);
    }
  }
  let bytes: Buffer;
  try {
    bytes = encodeDraft(draft);
  } catch {
    // A value the field's encoding cannot hold (a 32768-byte string once a version change
    // made the field non-compact): send the seed as it is instead.
    bytes = Buffer.alloc(MAX_CASE_BYTES + 1);
  }
  if (bytes.length > MAX_CASE_BYTES) {
    ctx.mutations.push('unencodable-draft-dropped');
    bytes = encodeDraft(draftOf(seed, correlationId));
  }
  if (mode === 'frame' || mode === 'fields+frame') {
    const other = () => encodeDraft(draftOf(rng.pick(corpus.seeds), correlationId + 1));
    bytes = mutateFrame(ctx, bytes, other);
  }
  return {
    index,
    caseSeed,
    seedSource: seed.source,
    seedApi: seed.api.name,
    seedVersion: seed.version,
    mutations: ctx.mutations,
    bytes,
    frame: viewFrame(bytes),
  };
}

/** `bytes` as hex, cut in the middle when long (reports stay readable; the seed has it all). */
export function shortHex(bytes: Buffer, maxBytes = 512): string {
  if (bytes.length <= maxBytes) return bytes.toString('hex');
  const half = maxBytes / 2;
  return `${bytes.subarray(0, half).toString('hex')}…(${bytes.length - maxBytes} bytes)…${bytes.subarray(bytes.length - half).toString('hex')}`;
}
