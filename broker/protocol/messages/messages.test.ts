import { describe, expect, test } from 'vitest';
import { readRequestHeader, skipHeaderTaggedFields } from '../header.js';
import * as S from '../schema.js';
import { compile, isFlexible, type ApiDefinition, type Field, type Fields, type Struct } from '../schema.js';
import { MalformedFrameError, Reader, Writer } from '../wire.js';
import { ALL_APIS, ApiVersions, Metadata } from './index.js';

type AnyApi = ApiDefinition<Fields, Fields>;
type Kind = Field<unknown, unknown, boolean>['kind'];

const apis = ALL_APIS as readonly AnyApi[];

/** Builds an encoder input that sets every field present at one version to a non-default value. */
class Sampler {
  private n = 0;
  constructor(
    private readonly version: number,
    private readonly flexible: boolean,
    /** Put null in every nullable field instead of a value. */
    private readonly nulls: boolean,
  ) {}

  struct(s: Struct<Fields>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, f] of Object.entries(s.fields)) {
      const present =
        this.version >= f.minVersion && this.version <= f.maxVersion && (f.tag === undefined || this.flexible);
      // An absent field decodes as its default, so that is what the round trip must give back.
      // Nulls go only where the version allows them (a nullable type may be nullable from a later version).
      out[name] = present ? this.kind(f.kind, f.zero(), this.nulls && this.version >= f.nullableMinVersion) : f.zero();
    }
    return out;
  }

  private kind(kind: Kind, zero: unknown, nulls: boolean): unknown {
    switch (kind.type) {
      case 'struct':
        return this.struct(kind.struct);
      case 'array':
        if (kind.nullable && nulls) return null;
        return [this.kind(kind.item, undefined, nulls), this.kind(kind.item, undefined, nulls)];
      case 'primitive':
        return this.primitive(kind, zero, nulls);
    }
  }

  private primitive(kind: Kind, zero: unknown, nulls: boolean): unknown {
    const n = ++this.n;
    const sign = n % 2 === 0 ? 1 : -1;
    switch (kind) {
      case S.int8.kind:
        return sign * (n % 100) + 1;
      case S.int16.kind:
        return sign * ((n * 131) % 30000) + 1;
      case S.uint16.kind:
        return 40000 + n;
      case S.int32.kind:
        return sign * (n * 1_000_003 + 1);
      case S.int64.kind:
        // Above 2^32, so both halves of the int64 carry bits.
        return sign * (n * 2 ** 33 + n);
      case S.float64.kind:
        return n + 0.25;
      case S.bool.kind:
        return zero !== true;
      case S.string.kind:
        return `s${n}-é✓日本😀`;
      case S.nullableString.kind:
        return nulls ? null : `ns${n}-ß`;
      case S.bytes.kind:
        return Buffer.from([n & 0xff, 0, 0xff, 0x80]);
      case S.nullableBytes.kind:
        return nulls ? null : Buffer.from([n & 0xff, 0x7f]);
      case S.records.kind:
        if (nulls) return null;
        // Past the writer's zero-copy threshold on every other record set.
        return Buffer.alloc(n % 2 === 0 ? 700 : 40, n & 0xff);
      case S.uuid.kind: {
        const b = Buffer.alloc(16);
        for (let i = 0; i < 16; i++) b[i] = (n * 37 + i * 11) & 0xff;
        return b.toString('base64url');
      }
      default:
        throw new Error('sampler does not know this primitive');
    }
  }
}

function versions(def: AnyApi): number[] {
  const out: number[] = [];
  for (let v = def.minVersion; v <= def.maxVersion; v++) out.push(v);
  return out;
}

function encode(s: Struct<Fields>, version: number, flexible: boolean, value: unknown, scratchBytes = 16): Buffer {
  // A tiny scratch buffer makes every message exercise the writer's growth.
  const w = new Writer(scratchBytes);
  compile(s, version, flexible).write(w, value as never);
  return w.toBuffer();
}

const roundTripCases = apis.flatMap((def) =>
  versions(def).flatMap((version) =>
    (['request', 'response'] as const).flatMap((side) =>
      [false, true].map((nulls) => ({
        def,
        version,
        side,
        nulls,
        label: `${def.name} v${version} ${side}${nulls ? ' (nulls)' : ''}`,
      })),
    ),
  ),
);

describe('every message at every version', () => {
  test.each(roundTripCases)('$label round-trips', ({ def, version, side, nulls }) => {
    const s = def[side];
    const flexible = isFlexible(def, version);
    const value = new Sampler(version, flexible, nulls).struct(s);
    const buf = encode(s, version, flexible, value);

    const r = new Reader(buf);
    expect(compile(s, version, flexible).read(r)).toStrictEqual(value);
    expect(r.pos).toBe(buf.length);

    if (buf.length > 0) {
      const truncated = new Reader(buf.subarray(0, buf.length - 1));
      expect(() => compile(s, version, flexible).read(truncated)).toThrow(MalformedFrameError);
    }
  });
});

describe('definitions', () => {
  test('API keys are unique and in key order', () => {
    const keys = apis.map((d) => d.key);
    expect(keys).toStrictEqual([...keys].sort((a, b) => a - b));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toStrictEqual([
      0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 32, 33, 35, 37, 42, 43, 44, 45, 46, 47, 52,
      53, 54, 55, 56, 59, 60, 62, 63, 64, 67, 80, 81,
    ]);
  });

  // What kafkajs 2.2.4 sends: the lower of its own maximum and the broker's.
  const KAFKAJS_VERSIONS: Record<string, number> = {
    Produce: 7,
    Fetch: 11,
    ListOffsets: 3,
    Metadata: 6,
    OffsetCommit: 5,
    OffsetFetch: 4,
    FindCoordinator: 2,
    JoinGroup: 5,
    Heartbeat: 3,
    LeaveGroup: 3,
    SyncGroup: 3,
    DescribeGroups: 2,
    ListGroups: 2,
    ApiVersions: 2,
    CreateTopics: 3,
    DeleteTopics: 1,
    InitProducerId: 1,
    DescribeConfigs: 2,
    AlterConfigs: 1,
    CreatePartitions: 1,
    DeleteGroups: 1,
  };
  test.each(Object.entries(KAFKAJS_VERSIONS))('%s serves the version kafkajs sends (v%i)', (name, version) => {
    const def = apis.find((d) => d.name === name)!;
    expect(version).toBeGreaterThanOrEqual(def.minVersion);
    expect(version).toBeLessThanOrEqual(def.maxVersion);
  });

  // Every field exists in some version of its API, and no two tagged fields of a struct share a tag.
  function checkStruct(def: AnyApi, s: Struct<Fields>, path: string): void {
    const tags = new Map<number, string>();
    for (const [name, f] of Object.entries(s.fields)) {
      const where = `${def.name} ${path}.${name}`;
      expect(f.minVersion <= def.maxVersion && f.maxVersion >= def.minVersion, `${where} has no version`).toBe(true);
      if (f.tag !== undefined) {
        expect(def.flexibleFrom, `${where} is tagged in an API without flexible versions`).toBeDefined();
        expect(tags.has(f.tag), `${where} reuses tag ${f.tag} of ${tags.get(f.tag)}`).toBe(false);
        tags.set(f.tag, name);
      }
      let kind: Kind = f.kind;
      while (kind.type === 'array') kind = kind.item;
      if (kind.type === 'struct') checkStruct(def, kind.struct, `${path}.${name}`);
    }
  }
  test.each(apis.map((def) => [def.name, def]))('%s fields are all reachable', (_, def) => {
    checkStruct(def, def.request, 'request');
    checkStruct(def, def.response, 'response');
  });
});

/** Bytes from hex, ignoring spaces, so vectors can be laid out field by field. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

describe('wire vectors from the Kafka protocol spec', () => {
  test('ApiVersions v3 request with a v2 header', () => {
    const frame = Buffer.concat([
      hex('0012 0003 0000002a'), // api key 18, version 3, correlation id 42
      hex('0003'),
      Buffer.from('cli'), // client id: int16 length even in flexible headers
      hex('00'), // header tagged fields
      hex('12'),
      Buffer.from('apache-kafka-java'), // compact string: length 17 + 1
      hex('06'),
      Buffer.from('4.1.0'),
      hex('00'), // body tagged fields
    ]);
    const r = new Reader(frame);
    expect(readRequestHeader(r)).toStrictEqual({ apiKey: 18, apiVersion: 3, correlationId: 42, clientId: 'cli' });
    skipHeaderTaggedFields(r);
    expect(compile(ApiVersions.request, 3, isFlexible(ApiVersions, 3)).read(r)).toStrictEqual({
      clientSoftwareName: 'apache-kafka-java',
      clientSoftwareVersion: '4.1.0',
    });
    expect(r.remaining).toBe(0);
  });

  test('Metadata v1 request: named topics, and null for all topics', () => {
    const codec = compile(Metadata.request, 1, isFlexible(Metadata, 1));
    const named = hex('00000002  0001 61  0002 6263');
    const defaults = {
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    };
    expect(codec.read(new Reader(named))).toStrictEqual({
      topics: [
        { topicId: S.ZERO_UUID, name: 'a' },
        { topicId: S.ZERO_UUID, name: 'bc' },
      ],
      ...defaults,
    });
    expect(codec.read(new Reader(hex('ffffffff')))).toStrictEqual({ topics: null, ...defaults });

    const w = new Writer();
    codec.write(w, { topics: [{ name: 'a' }, { name: 'bc' }] });
    expect(w.toBuffer()).toStrictEqual(named);
  });

  test('ApiVersions v3 response writes a non-default tagged field and omits default ones', () => {
    const w = new Writer();
    compile(ApiVersions.response, 3, true).write(w, {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      finalizedFeaturesEpoch: 5,
      zkMigrationReady: false,
    });
    expect(w.toBuffer()).toStrictEqual(
      Buffer.concat([
        hex('0000'), // error code
        hex('02 0012 0000 0004 00'), // compact array of one api key, with its empty tagged fields
        hex('00000000'), // throttle time
        hex('01 01 08 0000000000000005'), // one tagged field: tag 1, 8 bytes, epoch 5
      ]),
    );
  });

  test('ApiVersions v0 response', () => {
    const w = new Writer();
    compile(ApiVersions.response, 0, false).write(w, {
      errorCode: 35,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
    });
    expect(w.toBuffer()).toStrictEqual(hex('0023  00000001  0012 0000 0004'));
  });
});
