// The declarative message schema. Each Kafka message is written once as a `struct` of fields
// with the versions they exist in; `compile(struct, version, flexible)` derives the decoder
// and encoder of one version, and the result is cached. Adding a version to a message is a
// change to its version range plus `.v(n)` on the fields it adds. Field names, types, versions,
// nullable versions, tags and defaults are checked against Kafka's own definitions by
// kafka-definitions.test.ts.

import { MalformedFrameError, type Reader, Writer } from './wire.js';

const ANY_VERSION = 0x7fff;

/** How one field type reads and writes itself; `flexible` selects compact encodings. */
interface Codec {
  read(r: Reader, flexible: boolean): unknown;
  write(w: Writer, value: unknown, flexible: boolean): void;
}

/**
 * A field type. `T` is the decoded type, `I` the type accepted by the encoder, and `Opt`
 * whether an encoder input may omit it (a default then applies).
 */
export class Field<T, I = T, Opt extends boolean = false> {
  declare readonly _decoded: T;
  declare readonly _input: I;
  declare readonly _optional: Opt;

  constructor(
    readonly kind: FieldKind,
    readonly zero: () => unknown,
    readonly minVersion = 0,
    readonly maxVersion = ANY_VERSION,
    readonly tag: number | undefined = undefined,
    /** First version in which a nullable type may be null (Kafka's `nullableVersions`). */
    readonly nullableMinVersion = 0,
  ) {}

  /** Present from `min` (and up to `max`, inclusive). */
  v(min: number, max = ANY_VERSION): Field<T, I, true> {
    return new Field(this.kind, this.zero, min, max, this.tag, this.nullableMinVersion);
  }
  /** A tagged field (flexible versions only), omitted on the wire when it equals its default. */
  tagged(tag: number, min = 0): Field<T, I, true> {
    return new Field(this.kind, this.zero, min, this.maxVersion, tag, this.nullableMinVersion);
  }
  /** Value used when the version lacks the field or the encoder input omits it. */
  default(value: T): Field<T, I, true> {
    return new Field(this.kind, () => value, this.minVersion, this.maxVersion, this.tag, this.nullableMinVersion);
  }
  /**
   * A nullable type that may be null only from `version` on. In earlier versions a null is
   * encoded as the empty value ('' / empty bytes / empty array), as Kafka's brokers do there
   * (e.g. JoinGroupResponse before v7), and a null read from the wire decodes as that value.
   */
  nullableFrom(version: number): Field<T, I, Opt> {
    if (!isNullableKind(this.kind)) throw new Error('nullableFrom() applies only to a nullable type');
    return new Field(this.kind, this.zero, this.minVersion, this.maxVersion, this.tag, version);
  }
}

/** A wire type; `name` is Kafka's name for a primitive type ("int32", "string", "records", …). */
export type FieldKind =
  | { type: 'primitive'; name: PrimitiveName; codec: Codec; nullable: boolean }
  | { type: 'array'; nullable: boolean; item: FieldKind }
  | { type: 'struct'; struct: Struct<Fields> };

export type PrimitiveName =
  'int8' | 'int16' | 'uint16' | 'int32' | 'int64' | 'float64' | 'bool' | 'string' | 'bytes' | 'records' | 'uuid';

function isNullableKind(kind: FieldKind): boolean {
  return kind.type !== 'struct' && kind.nullable;
}

/** The value a nullable kind takes in versions where it may not be null. */
function emptyOf(kind: FieldKind): unknown {
  if (kind.type === 'array') return [];
  if (kind.type === 'primitive' && kind.name === 'string') return '';
  return Buffer.alloc(0);
}

export type Fields = Record<string, Field<unknown, unknown, boolean>>;

export class Struct<F extends Fields> {
  constructor(readonly fields: F) {}
}

export type Decoded<F extends Fields> = { [K in keyof F]: F[K]['_decoded'] };
type RequiredKeys<F extends Fields> = { [K in keyof F]: F[K]['_optional'] extends true ? never : K }[keyof F];
type OptionalKeys<F extends Fields> = Exclude<keyof F, RequiredKeys<F>>;
export type Input<F extends Fields> = { [K in RequiredKeys<F>]: F[K]['_input'] } & {
  [K in OptionalKeys<F>]?: F[K]['_input'];
};

function primitive<T>(name: PrimitiveName, zero: T, codec: Codec, nullable = false): Field<T> {
  return new Field<T>({ type: 'primitive', name, codec, nullable }, () => zero);
}

export const int8 = primitive<number>('int8', 0, {
  read: (r) => r.int8(),
  write: (w, v) => w.int8(v as number),
});
export const int16 = primitive<number>('int16', 0, {
  read: (r) => r.int16(),
  write: (w, v) => w.int16(v as number),
});
export const uint16 = primitive<number>('uint16', 0, {
  read: (r) => r.uint16(),
  write: (w, v) => w.uint16(v as number),
});
export const int32 = primitive<number>('int32', 0, {
  read: (r) => r.int32(),
  write: (w, v) => w.int32(v as number),
});
export const int64 = primitive<number>('int64', 0, {
  read: (r) => r.int64(),
  write: (w, v) => w.int64(v as number),
});
export const float64 = primitive<number>('float64', 0, {
  read: (r) => r.float64(),
  write: (w, v) => w.float64(v as number),
});
export const bool = primitive<boolean>('bool', false, {
  read: (r) => r.bool(),
  write: (w, v) => w.bool(v as boolean),
});
export const string = primitive<string>('string', '', {
  read: (r, flexible) => r.nullableString(flexible) ?? '',
  write: (w, v, flexible) => w.nullableString(v as string, flexible),
});
export const nullableString = primitive<string | null>(
  'string',
  null,
  {
    read: (r, flexible) => r.nullableString(flexible),
    write: (w, v, flexible) => w.nullableString(v as string | null, flexible),
  },
  true,
);
export const bytes = primitive<Buffer>('bytes', Buffer.alloc(0), {
  read: (r, flexible) => r.nullableBytes(flexible) ?? Buffer.alloc(0),
  write: (w, v, flexible) => w.nullableBytes(v as Buffer, flexible),
});
export const nullableBytes = primitive<Buffer | null>(
  'bytes',
  null,
  {
    read: (r, flexible) => r.nullableBytes(flexible),
    write: (w, v, flexible) => w.nullableBytes(v as Buffer | null, flexible),
  },
  true,
);

/**
 * Record batches. Decoded as a slice of the request buffer; encoded from one buffer or a
 * list of buffers (batches read from the log), which the writer references without copying.
 */
export const records = primitive<Buffer | null>(
  'records',
  null,
  {
    read: (r, flexible) => r.nullableBytes(flexible),
    write: (w, v, flexible) => {
      if (v === null || Buffer.isBuffer(v)) {
        w.nullableBytes(v, flexible);
        return;
      }
      const parts = v as Buffer[];
      let total = 0;
      for (const p of parts) total += p.length;
      w.lengthPrefix(total, flexible, true);
      w.rawChunks(parts);
    },
  },
  true,
) as Field<Buffer | null, Buffer | Buffer[] | null>;

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
/** Kafka's Uuid, in the base64url form Kafka prints. */
export const uuid = primitive<string>('uuid', ZERO_UUID, {
  read: (r) => r.slice(16).toString('base64url'),
  write: (w, v) => {
    const b = Buffer.from(v as string, 'base64url');
    if (b.length !== 16) throw new Error(`not a 16-byte UUID: ${String(v)}`);
    w.raw(b);
  },
});

export function struct<F extends Fields>(fields: F): Field<Decoded<F>, Input<F>> & { struct: Struct<F> } {
  const s = new Struct(fields);
  const field = new Field<Decoded<F>, Input<F>>({ type: 'struct', struct: s }, () => defaults(s, ANY_VERSION));
  return Object.assign(field, { struct: s });
}

export function array<T, I>(item: Field<T, I, boolean>): Field<T[], I[]> {
  return new Field<T[], I[]>({ type: 'array', nullable: false, item: item.kind }, () => []);
}

export function nullableArray<T, I>(item: Field<T, I, boolean>): Field<T[] | null, I[] | null> {
  return new Field<T[] | null, I[] | null>({ type: 'array', nullable: true, item: item.kind }, () => null);
}

function defaults(s: Struct<Fields>, version: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(s.fields)) {
    if (version >= f.minVersion && version <= f.maxVersion) out[name] = f.zero();
  }
  return out;
}

// ---- compilation -------------------------------------------------------------------------

export interface CompiledCodec<T, I> {
  read(r: Reader): T;
  write(w: Writer, value: I): void;
}

type Step = { name: string; zero: () => unknown; codec: Codec; present: boolean; tag: number | undefined };

function compileKind(kind: FieldKind, version: number, flexible: boolean): Codec {
  switch (kind.type) {
    case 'primitive':
      return kind.codec;
    case 'struct':
      return compileStruct(kind.struct, version, flexible);
    case 'array': {
      const item = compileKind(kind.item, version, flexible);
      const nullable = kind.nullable;
      return {
        read(r, flex) {
          const n = r.length(flex, true);
          if (n < 0) {
            if (nullable) return null;
            throw new MalformedFrameError('null array in a non-nullable field');
          }
          if (n > r.remaining) throw new MalformedFrameError(`array of ${n} items exceeds the frame`);
          const out = new Array<unknown>(n);
          for (let i = 0; i < n; i++) out[i] = item.read(r, flex);
          return out;
        },
        write(w, v, flex) {
          if (v === null || v === undefined) {
            w.lengthPrefix(nullable ? -1 : 0, flex, true);
            return;
          }
          const items = v as unknown[];
          w.lengthPrefix(items.length, flex, true);
          for (const it of items) item.write(w, it, flex);
        },
      };
    }
  }
}

function compileStruct(s: Struct<Fields>, version: number, flexible: boolean): Codec {
  const steps: Step[] = [];
  const tagged: Step[] = [];
  for (const [name, f] of Object.entries(s.fields)) {
    const present = version >= f.minVersion && version <= f.maxVersion && (f.tag === undefined || flexible);
    let codec = compileKind(f.kind, version, flexible);
    if (version < f.nullableMinVersion) codec = notNull(codec, f.kind);
    const step = { name, zero: f.zero, codec, present, tag: f.tag };
    if (f.tag !== undefined) tagged.push(step);
    else steps.push(step);
  }
  const tagsByNumber = new Map(tagged.filter((t) => t.present).map((t) => [t.tag!, t]));
  const writtenTags = tagged.filter((t) => t.present).sort((a, b) => a.tag! - b.tag!);

  return {
    read(r) {
      const out: Record<string, unknown> = {};
      for (const step of steps) out[step.name] = step.present ? step.codec.read(r, flexible) : step.zero();
      for (const t of tagged) out[t.name] = t.zero();
      if (flexible) {
        const count = r.uvarint();
        for (let i = 0; i < count; i++) {
          const tag = r.uvarint();
          const size = r.uvarint();
          const known = tagsByNumber.get(tag);
          if (!known) {
            r.slice(size);
            continue;
          }
          const end = r.pos + size;
          out[known.name] = known.codec.read(r, flexible);
          if (r.pos !== end) throw new MalformedFrameError(`tagged field ${tag} size mismatch`);
        }
      }
      return out;
    },
    write(w, value) {
      const v = value as Record<string, unknown>;
      for (const step of steps) {
        if (!step.present) continue;
        const fv = v[step.name];
        step.codec.write(w, fv === undefined ? step.zero() : fv, flexible);
      }
      if (!flexible) return;
      const toWrite = writtenTags.filter((t) => {
        const fv = v[t.name];
        return fv !== undefined && !sameAsDefault(fv, t.zero());
      });
      w.uvarint(toWrite.length);
      for (const t of toWrite) {
        const inner = new Writer(64);
        t.codec.write(inner, v[t.name], flexible);
        const body = inner.toBuffer();
        w.uvarint(t.tag!);
        w.uvarint(body.length);
        w.raw(body);
      }
    },
  };
}

/** A nullable kind in a version where it may not be null: null is written, and read, as the empty value. */
function notNull(codec: Codec, kind: FieldKind): Codec {
  return {
    read: (r, flexible) => codec.read(r, flexible) ?? emptyOf(kind),
    write: (w, v, flexible) => codec.write(w, v ?? emptyOf(kind), flexible),
  };
}

/** As Kafka decides whether a tagged field is written: empty arrays and bytes, and structs field by field. */
function sameAsDefault(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === 0 && b.length === 0;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (isStructValue(a) && isStructValue(b)) {
    return Object.keys(b).every((k) => a[k] === undefined || sameAsDefault(a[k], b[k]));
  }
  return false;
}

function isStructValue(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

const compiled = new WeakMap<Struct<Fields>, Map<number, Codec>>();

export function compile<F extends Fields>(
  s: Struct<F>,
  version: number,
  flexible: boolean,
): CompiledCodec<Decoded<F>, Input<F>> {
  const key = version * 2 + (flexible ? 1 : 0);
  let byVersion = compiled.get(s);
  if (!byVersion) compiled.set(s, (byVersion = new Map<number, Codec>()));
  let codec = byVersion.get(key);
  if (!codec) byVersion.set(key, (codec = compileStruct(s, version, flexible)));
  const c = codec;
  return {
    read: (r) => c.read(r, flexible) as Decoded<F>,
    write: (w, v) => c.write(w, v, flexible),
  };
}

// ---- API definitions ---------------------------------------------------------------------

export interface ApiDefinition<Req extends Fields, Res extends Fields> {
  key: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** Lowest version listed in ApiVersions; below minVersion only for clients' sake (Produce). */
  advertisedMinVersion: number;
  /** First flexible version (compact encodings, tagged fields), or undefined if none. */
  flexibleFrom: number | undefined;
  request: Struct<Req>;
  response: Struct<Res>;
}

export function api<Req extends Fields, Res extends Fields>(def: {
  key: number;
  name: string;
  versions: [number, number];
  advertisedMinVersion?: number;
  flexibleFrom?: number;
  request: Field<unknown, unknown, boolean> & { struct: Struct<Req> };
  response: Field<unknown, unknown, boolean> & { struct: Struct<Res> };
}): ApiDefinition<Req, Res> {
  return {
    key: def.key,
    name: def.name,
    minVersion: def.versions[0],
    maxVersion: def.versions[1],
    advertisedMinVersion: def.advertisedMinVersion ?? def.versions[0],
    flexibleFrom: def.flexibleFrom,
    request: def.request.struct,
    response: def.response.struct,
  };
}

export function isFlexible(def: { flexibleFrom: number | undefined }, version: number): boolean {
  return def.flexibleFrom !== undefined && version >= def.flexibleFrom;
}

export type RequestOf<A> = A extends ApiDefinition<infer Req, Fields> ? Decoded<Req> : never;
export type ResponseOf<A> = A extends ApiDefinition<Fields, infer Res> ? Input<Res> : never;
export type DecodedResponseOf<A> = A extends ApiDefinition<Fields, infer Res> ? Decoded<Res> : never;
