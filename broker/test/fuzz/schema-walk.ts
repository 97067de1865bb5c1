// The broker's message schemas (protocol/schema.ts) walked from outside: an encoder that
// writes a decoded body back exactly as `compile` does, except where the fuzzer has put a
// lie in it (raw bytes instead of a field, an array whose count is not its length, a tagged
// section of garbage), and a listing of every field present in a body at a version, so the
// mutator can pick one by its type.

import { writeRequestHeader } from '../../protocol/header.js';
import {
  bool,
  bytes,
  float64,
  int16,
  int32,
  int64,
  int8,
  isFlexible,
  nullableBytes,
  nullableString,
  records,
  string,
  uint16,
  uuid,
  type Field,
  type Fields,
  type Struct,
} from '../../protocol/schema.js';
import { Writer } from '../../protocol/wire.js';
import type { AnyApi } from '../raw-client.js';

/** Bytes written verbatim in place of a field (its length prefix included, if any). */
export class Raw {
  constructor(readonly bytes: Buffer) {}
}

/** An array written with `count` as its length prefix, followed by `items` whatever their number. */
export class CountLie {
  constructor(
    readonly count: number,
    readonly items: unknown[],
  ) {}
}

/** Key of a struct value whose Raw replaces the struct's whole tagged-fields section. */
export const TAGS_OVERRIDE = '__fuzzTaggedFields';

type Kind = Field<unknown>['kind'];

export type PrimitiveName =
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'int64'
  | 'float64'
  | 'bool'
  | 'string'
  | 'nullableString'
  | 'bytes'
  | 'nullableBytes'
  | 'records'
  | 'uuid';

const PRIMITIVE_FIELDS: Array<[Field<unknown, unknown, boolean>, PrimitiveName]> = [
  [int8, 'int8'],
  [int16, 'int16'],
  [uint16, 'uint16'],
  [int32, 'int32'],
  [int64, 'int64'],
  [float64, 'float64'],
  [bool, 'bool'],
  [string, 'string'],
  [nullableString, 'nullableString'],
  [bytes, 'bytes'],
  [nullableBytes, 'nullableBytes'],
  [records, 'records'],
  [uuid, 'uuid'],
];

const PRIMITIVE_BY_CODEC = new Map<unknown, PrimitiveName>(
  PRIMITIVE_FIELDS.map(([f, name]) => [(f.kind as { codec: unknown }).codec, name]),
);

function primitiveName(kind: Kind): PrimitiveName {
  if (kind.type !== 'primitive') throw new Error(`not a primitive: ${kind.type}`);
  const name = PRIMITIVE_BY_CODEC.get(kind.codec);
  if (!name) throw new Error('a primitive field type the fuzzer does not know; add it to PRIMITIVE_FIELDS');
  return name;
}

function isPresent(f: Field<unknown, unknown, boolean>, version: number, flexible: boolean): boolean {
  return version >= f.minVersion && version <= f.maxVersion && (f.tag === undefined || flexible);
}

function sameAsDefault(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === 0 && b.length === 0;
  return false;
}

// ---- encoding ----------------------------------------------------------------------------

function writeKind(w: Writer, kind: Kind, value: unknown, version: number, flexible: boolean): void {
  if (value instanceof Raw) {
    w.raw(value.bytes);
    return;
  }
  switch (kind.type) {
    case 'primitive':
      kind.codec.write(w, value, flexible);
      return;
    case 'struct':
      writeStruct(w, kind.struct, value as Record<string, unknown>, version, flexible);
      return;
    case 'array': {
      if (value instanceof CountLie) {
        w.lengthPrefix(value.count, flexible, true);
        for (const item of value.items) writeKind(w, kind.item, item, version, flexible);
        return;
      }
      if (value === null || value === undefined) {
        w.lengthPrefix(kind.nullable ? -1 : 0, flexible, true);
        return;
      }
      const items = value as unknown[];
      w.lengthPrefix(items.length, flexible, true);
      for (const item of items) writeKind(w, kind.item, item, version, flexible);
    }
  }
}

export function writeStruct(
  w: Writer,
  s: Struct<Fields>,
  value: Record<string, unknown>,
  version: number,
  flexible: boolean,
): void {
  const tagged: Array<[string, Field<unknown, unknown, boolean>]> = [];
  for (const [name, f] of Object.entries(s.fields)) {
    if (!isPresent(f, version, flexible)) continue;
    if (f.tag !== undefined) {
      tagged.push([name, f]);
      continue;
    }
    const fv = value[name];
    writeKind(w, f.kind, fv === undefined ? f.zero() : fv, version, flexible);
  }
  if (!flexible) return;
  const override = value[TAGS_OVERRIDE];
  if (override instanceof Raw) {
    w.raw(override.bytes);
    return;
  }
  const toWrite = tagged
    .filter(([name, f]) => value[name] !== undefined && !sameAsDefault(value[name], f.zero()))
    .sort((a, b) => a[1].tag! - b[1].tag!);
  w.uvarint(toWrite.length);
  for (const [name, f] of toWrite) {
    const inner = new Writer(64);
    writeKind(inner, f.kind, value[name], version, flexible);
    const body = inner.toBuffer();
    w.uvarint(f.tag!);
    w.uvarint(body.length);
    w.raw(body);
  }
}

export interface FrameHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** A Raw writes the client id field verbatim (a lie about its length, invalid UTF-8). */
  clientId: string | null | Raw;
  /** Whether to end the header with tagged fields (request header v2); a Raw replaces them. */
  headerTags: boolean | Raw;
}

/**
 * A whole request frame, size prefix included: `body` encoded with `api`'s schema at
 * `schemaVersion` (which may differ from the version the header states).
 */
export function encodeFrame(
  api: AnyApi,
  schemaVersion: number,
  body: Record<string, unknown>,
  header: FrameHeader,
): Buffer {
  const w = new Writer();
  const setSize = w.placeholderInt32();
  if (header.clientId instanceof Raw) {
    w.int16(header.apiKey);
    w.int16(header.apiVersion);
    w.int32(header.correlationId);
    w.raw(header.clientId.bytes);
  } else {
    writeRequestHeader(
      w,
      {
        apiKey: header.apiKey,
        apiVersion: header.apiVersion,
        correlationId: header.correlationId,
        clientId: header.clientId,
      },
      false,
    );
  }
  if (header.headerTags instanceof Raw) w.raw(header.headerTags.bytes);
  else if (header.headerTags) w.uvarint(0);
  writeStruct(w, api.request, body, schemaVersion, isFlexible(api, schemaVersion));
  setSize(w.length - 4);
  return w.toBuffer();
}

// ---- listing fields ----------------------------------------------------------------------

export type Slot =
  | { type: 'primitive'; primitive: PrimitiveName; path: string; get(): unknown; set(v: unknown): void }
  | { type: 'array'; nullable: boolean; itemKind: Kind; path: string; get(): unknown; set(v: unknown): void }
  | { type: 'struct'; struct: Struct<Fields>; path: string; value: Record<string, unknown> };

/** Every field present in `value` at `version`, depth first, as slots the mutator can rewrite. */
export function slotsOf(
  s: Struct<Fields>,
  value: Record<string, unknown>,
  version: number,
  flexible: boolean,
  path = '',
): Slot[] {
  const out: Slot[] = [];
  if (flexible) out.push({ type: 'struct', struct: s, path: path || '(body)', value });
  for (const [name, f] of Object.entries(s.fields)) {
    if (!isPresent(f, version, flexible)) continue;
    const p = path ? `${path}.${name}` : name;
    const get = () => value[name];
    const set = (v: unknown) => {
      value[name] = v;
    };
    slotsOfKind(out, f.kind, p, get, set, version, flexible);
  }
  return out;
}

function slotsOfKind(
  out: Slot[],
  kind: Kind,
  path: string,
  get: () => unknown,
  set: (v: unknown) => void,
  version: number,
  flexible: boolean,
): void {
  const current = get();
  if (current instanceof Raw || current instanceof CountLie) return;
  switch (kind.type) {
    case 'primitive':
      out.push({ type: 'primitive', primitive: primitiveName(kind), path, get, set });
      return;
    case 'struct':
      if (current && typeof current === 'object')
        out.push(...slotsOf(kind.struct, current as Record<string, unknown>, version, flexible, path));
      return;
    case 'array': {
      out.push({ type: 'array', nullable: kind.nullable, itemKind: kind.item, path, get, set });
      if (!Array.isArray(current)) return;
      current.forEach((_, i) => {
        slotsOfKind(
          out,
          kind.item,
          `${path}[${i}]`,
          () => current[i],
          (v) => {
            current[i] = v;
          },
          version,
          flexible,
        );
      });
    }
  }
}

/** A deep copy of a decoded body (Buffers copied too, so batch mutations never touch a seed). */
export function cloneBody<T>(value: T): T {
  if (Buffer.isBuffer(value)) return Buffer.from(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => cloneBody(v)) as T;
  if (value && typeof value === 'object' && !(value instanceof Raw) && !(value instanceof CountLie)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = cloneBody(v);
    return out as T;
  }
  return value;
}

// ---- generic bodies ----------------------------------------------------------------------

/** Values a generic body uses for each primitive type. */
export interface GenericValues {
  string: string;
  uuid: string;
}

/**
 * A plausible body for any request schema: one item in every array, `values.string` in every
 * string, zeros elsewhere. Seeds for APIs no one wrote a seed for (a newly served API is
 * fuzzed from the day it is added).
 */
export function genericBody(
  s: Struct<Fields>,
  version: number,
  flexible: boolean,
  values: GenericValues,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(s.fields)) {
    if (!isPresent(f, version, flexible) || f.tag !== undefined) continue;
    out[name] = genericValue(f.kind, version, flexible, values);
  }
  return out;
}

function genericValue(kind: Kind, version: number, flexible: boolean, values: GenericValues): unknown {
  switch (kind.type) {
    case 'struct':
      return genericBody(kind.struct, version, flexible, values);
    case 'array':
      return [genericValue(kind.item, version, flexible, values)];
    case 'primitive':
      switch (primitiveName(kind)) {
        case 'string':
        case 'nullableString':
          return values.string;
        case 'uuid':
          return values.uuid;
        case 'bool':
          return false;
        case 'bytes':
        case 'nullableBytes':
          return Buffer.alloc(0);
        case 'records':
          return null;
        default:
          return 0;
      }
  }
}
