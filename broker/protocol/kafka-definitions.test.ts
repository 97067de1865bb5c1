// Every message Runnel defines, checked against Kafka's own definitions (common/message/*.json in
// the kafka-clients jar, fetched by Maven into ~/.cache/runnel on first run): for every version we
// serve, each request and response must have Kafka's fields in Kafka's order, with Kafka's types,
// nullability, tags and defaults, and the same flexible versions; and the dispatcher must frame
// them with the header versions Kafka's clients expect. Our field names are Kafka's in camelCase;
// the few deliberate differences are listed below, as are known discrepancies, each with its reason.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { beforeAll, describe, expect, test } from 'vitest';
import { Dispatcher, handler } from '../api/dispatch.js';
import {
  compareStruct,
  inVersions,
  kafkaClientsJar,
  KAFKA_CLIENTS_VERSION,
  parseVersions,
  readKafkaMessages,
  type KafkaMessage,
  type SchemaCheck,
} from '../test/kafka-definitions.js';
import { writeRequestHeader } from './header.js';
import { ALL_APIS, ApiVersions, JoinGroup } from './messages/index.js';
import {
  api,
  array,
  bool,
  compile,
  int32,
  int64,
  isFlexible,
  nullableString,
  string,
  struct,
  type ApiDefinition,
  type Fields,
} from './schema.js';
import { Reader, Writer } from './wire.js';

type AnyApi = ApiDefinition<Fields, Fields>;
type Side = 'request' | 'response';

const apis = ALL_APIS as readonly AnyApi[];

/**
 * Fields whose name is not Kafka's in camelCase, keyed `<Api> <side> <path to the struct, in our
 * names><Kafka's field name>` (e.g. 'Fetch request topics[].partitions[].FetchOffset') → our name.
 * Empty: every field is named as Kafka names it.
 */
const NAME_EXCEPTIONS: Record<string, string> = {};
const usedNameExceptions = new Set<string>();

/**
 * Discrepancies we keep on purpose, by the exact message the check gives, with the reason.
 * An entry that no longer matches anything fails the check, so this list cannot go stale.
 */
const ALLOWED: Record<string, string> = {
  "Produce: ApiVersions advertises v0, below Kafka's validVersions 3-13":
    'Kafka 4 brokers advertise Produce v0-v2 too but refuse them (KAFKA-18659): librdkafka disables compression unless v0 is listed.',
};

function flexibleVersionsIssue(def: AnyApi, side: Side, message: KafkaMessage): string | undefined {
  const kafka = parseVersions(message.flexibleVersions);
  const differ: number[] = [];
  for (let v = def.minVersion; v <= def.maxVersion; v++)
    if (isFlexible(def, v) !== inVersions(kafka, v)) differ.push(v);
  if (differ.length === 0) return undefined;
  return `${def.name} ${side}: flexible versions ${message.flexibleVersions} in Kafka, ours from ${def.flexibleFrom ?? 'none'} (differs at v${differ.join(', v')})`;
}

/** Everything in which `def` differs from Kafka's definitions, one readable line each. */
function compareWithKafka(def: AnyApi, kafka: Map<string, KafkaMessage>): string[] {
  const issues = new Set<string>();
  for (const side of ['request', 'response'] as const) {
    const message = kafka.get(`${def.name}${side === 'request' ? 'Request' : 'Response'}`);
    if (!message) {
      issues.add(`${def.name} ${side}: Kafka has no message ${def.name}${side === 'request' ? 'Request' : 'Response'}`);
      continue;
    }
    if (message.apiKey !== def.key)
      issues.add(`${def.name} ${side}: api key ${message.apiKey} in Kafka, ${def.key} in ours`);
    const valid = parseVersions(message.validVersions);
    if (def.minVersion < valid.from || def.maxVersion > valid.to) {
      issues.add(
        `${def.name} ${side}: we serve v${def.minVersion}-v${def.maxVersion}, Kafka defines v${message.validVersions}`,
      );
    }
    if (side === 'request' && def.advertisedMinVersion < valid.from) {
      issues.add(
        `${def.name}: ApiVersions advertises v${def.advertisedMinVersion}, below Kafka's validVersions ${message.validVersions}`,
      );
    }
    if (message.latestVersionUnstable && def.maxVersion >= valid.to) {
      issues.add(`${def.name} ${side}: we serve v${valid.to}, which Kafka marks unstable (latestVersionUnstable)`);
    }
    const flexibleIssue = flexibleVersionsIssue(def, side, message);
    if (flexibleIssue) issues.add(flexibleIssue);

    const common = new Map((message.commonStructs ?? []).map((s) => [s.name, s.fields]));
    for (let version = def.minVersion; version <= def.maxVersion; version++) {
      const ctx: SchemaCheck = {
        api: def.name,
        side,
        version,
        flexible: isFlexible(def, version),
        common,
        issues,
        nameExceptions: NAME_EXCEPTIONS,
        usedNameExceptions,
      };
      compareStruct(ctx, '', message.fields, def[side]);
    }
  }
  return [...issues];
}

// ---- the tests -----------------------------------------------------------------------------------

let kafka: Map<string, KafkaMessage>;

beforeAll(async () => {
  const jar = await kafkaClientsJar((line) => console.log(line));
  kafka = await readKafkaMessages(jar);
}, 15 * 60_000);

describe(`message definitions match Kafka ${KAFKA_CLIENTS_VERSION}'s (kafka-clients common/message/*.json)`, () => {
  test.each(apis.map((def) => [def.name, def] as const))('%s at every version we serve', (_, def) => {
    const found = compareWithKafka(def, kafka);
    const unexplained = found.filter((issue) => !(issue in ALLOWED));
    expect(unexplained, `${def.name} differs from Kafka's definition`).toStrictEqual([]);
  });

  test('every message definition in messages/ is in ALL_APIS, so none escapes this check', async () => {
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'messages');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'index.ts');
    const defined: string[] = [];
    for (const file of files) {
      const module = (await import(path.join(dir, file))) as Record<string, unknown>;
      for (const value of Object.values(module)) {
        if (
          typeof value === 'object' &&
          value !== null &&
          'request' in value &&
          'response' in value &&
          'key' in value
        ) {
          defined.push((value as AnyApi).name);
        }
      }
    }
    expect(defined.length, 'every message file exports its definition').toBeGreaterThanOrEqual(files.length);
    expect(defined.filter((name) => !apis.some((def) => def.name === name))).toStrictEqual([]);
  });

  test('every allowed discrepancy still occurs', () => {
    const found = new Set(apis.flatMap((def) => compareWithKafka(def, kafka)));
    expect(Object.keys(ALLOWED).filter((issue) => !found.has(issue))).toStrictEqual([]);
  });

  test('every name exception names a field Kafka has', () => {
    for (const def of apis) compareWithKafka(def, kafka);
    expect(Object.keys(NAME_EXCEPTIONS).filter((key) => !usedNameExceptions.has(key))).toStrictEqual([]);
  });
});

describe('the check reports a wrong definition by message, version and field', () => {
  // JoinGroup with five mistakes: a nullable field too early, a wrong type, a renamed field,
  // two fields swapped, and a wrong default.
  const wrong = api({
    key: 11,
    name: 'JoinGroup',
    versions: [0, 9],
    flexibleFrom: 6,
    request: struct(JoinGroup.request.fields),
    response: struct({
      throttleTimeMs: int32.v(2),
      errorCode: int32,
      generationId: int32.default(-1),
      protocolType: nullableString.v(7),
      protocolName: nullableString,
      leader: string,
      skipAssignment: JoinGroup.response.fields.skipAssignment,
      memberIdentity: string,
      members: array(
        struct({
          memberId: string,
          metadata: array(struct({ bytes: int32 })),
          groupInstanceId: nullableString.v(5),
        }),
      ),
    }),
  }) as AnyApi;

  test('each mistake is named', () => {
    const found = compareWithKafka(wrong, kafka);
    expect(found).toContain(
      'JoinGroup v5 response protocolName: not nullable in Kafka (nullableVersions 7+), nullable in ours',
    );
    expect(found).toContain('JoinGroup v3 response errorCode: type int16 in Kafka, int32 in ours');
    expect(found).toContain("JoinGroup v9 response memberId: missing (Kafka's MemberId: string, versions 0+)");
    expect(found).toContain("JoinGroup v9 response memberIdentity: not in Kafka's definition of this version");
    expect(found).toContain(
      'JoinGroup v5 response members[].: field order differs: Kafka [memberId, groupInstanceId, metadata], ours [memberId, metadata, groupInstanceId]',
    );
    expect(found).toContain('JoinGroup v0 response members[].metadata: type bytes in Kafka, []struct in ours');
    // The real definition has none of these.
    expect(compareWithKafka(JoinGroup as unknown as AnyApi, kafka)).toStrictEqual([]);
  });

  test('a wrong default, tag and flexible version are named', () => {
    const fields = ApiVersions.response.fields;
    const wrongApiVersions = api({
      key: 18,
      name: 'ApiVersions',
      versions: [0, 4],
      flexibleFrom: 2,
      request: struct(ApiVersions.request.fields),
      response: struct({
        errorCode: fields.errorCode,
        apiKeys: fields.apiKeys,
        throttleTimeMs: fields.throttleTimeMs,
        supportedFeatures: fields.supportedFeatures,
        finalizedFeaturesEpoch: int64.tagged(1),
        finalizedFeatures: fields.finalizedFeatures,
        zkMigrationReady: bool.tagged(4),
        extra: int32.tagged(5),
      }),
    }) as AnyApi;
    const found = compareWithKafka(wrongApiVersions, kafka);
    expect(found).toContain('ApiVersions request: flexible versions 3+ in Kafka, ours from 2 (differs at v2)');
    expect(found).toContain('ApiVersions response finalizedFeaturesEpoch: default -1 in Kafka, 0 in ours');
    expect(found).toContain(
      "ApiVersions v4 response zkMigrationReady: Kafka's ZkMigrationReady is tagged 3, ours is tagged 4",
    );
    expect(found).toContain("ApiVersions v4 response extra: not in Kafka's definition of this version");
    expect(compareWithKafka(ApiVersions as unknown as AnyApi, kafka)).toStrictEqual([]);
  });
});

describe('header versions are the ones Kafka derives from flexible versions', () => {
  // Kafka (ApiMessageType.requestHeaderVersion / responseHeaderVersion): a flexible version takes
  // request header v2 and response header v1, others v1 and v0; ApiVersions always answers with
  // response header v0, so that a client can read the answer whatever version it tried.
  const connection = { id: 1, remoteAddress: '127.0.0.1', logger: pino({ level: 'silent' }) };

  test('the header definitions are the ones our framing assumes', () => {
    const request = kafka.get('RequestHeader')!;
    expect(request.flexibleVersions).toBe('2+');
    expect(
      request.fields.map(
        (f) => `${f.name}:${f.type}:${f.versions}:${f.nullableVersions ?? ''}:${f.flexibleVersions ?? ''}`,
      ),
    ).toStrictEqual([
      'RequestApiKey:int16:0+::',
      'RequestApiVersion:int16:0+::',
      'CorrelationId:int32:0+::',
      // The client id keeps its int16 length in flexible (v2) headers: header.ts relies on it.
      'ClientId:string:1+:1+:none',
    ]);
    const response = kafka.get('ResponseHeader')!;
    expect(response.flexibleVersions).toBe('1+');
    expect(response.fields.map((f) => `${f.name}:${f.type}:${f.versions}`)).toStrictEqual(['CorrelationId:int32:0+']);
  });

  const cases = apis.flatMap((def) => {
    const out: Array<{ def: AnyApi; version: number; label: string }> = [];
    for (let version = def.minVersion; version <= def.maxVersion; version++)
      out.push({ def, version, label: `${def.name} v${version}` });
    return out;
  });

  test.each(cases)('$label is framed with Kafka’s header versions', async ({ def, version }) => {
    const message = kafka.get(`${def.name}Request`)!;
    const kafkaFlexible = inVersions(parseVersions(message.flexibleVersions), version);
    const requestHeaderVersion = kafkaFlexible ? 2 : 1;
    const responseHeaderVersion = kafkaFlexible && def.name !== 'ApiVersions' ? 1 : 0;

    const body = new Writer();
    compile(def.request, version, kafkaFlexible).write(body, {});
    const frame = new Writer();
    writeRequestHeader(
      frame,
      { apiKey: def.key, apiVersion: version, correlationId: 77, clientId: 'check' },
      requestHeaderVersion === 2,
    );
    frame.raw(body.toBuffer());

    let received: unknown;
    const dispatcher = new Dispatcher([handler(def, (req) => ((received = req), {}))]);
    const response = await dispatcher.handleFrame(frame.toBuffer(), connection);
    expect(received, 'the request decodes after the header').toStrictEqual(
      compile(def.request, version, kafkaFlexible).read(new Reader(body.toBuffer())),
    );

    const expectedBody = new Writer();
    compile(def.response, version, kafkaFlexible).write(expectedBody, {});
    const header = Buffer.alloc(responseHeaderVersion === 1 ? 5 : 4);
    header.writeInt32BE(77);
    const expected = Buffer.concat([header, expectedBody.toBuffer()]);
    const bytes = Buffer.concat(response!.chunks);
    expect(bytes.readInt32BE(0), 'frame size').toBe(bytes.length - 4);
    expect(bytes.subarray(4).toString('hex')).toBe(expected.toString('hex'));
  });

  test('ApiVersions at a version we do not serve answers with response header v0', async () => {
    const frame = new Writer();
    writeRequestHeader(frame, { apiKey: 18, apiVersion: 99, correlationId: 5, clientId: 'check' }, true);
    const response = await new Dispatcher([]).handleFrame(frame.toBuffer(), connection);
    const r = new Reader(Buffer.concat(response!.chunks));
    r.int32(); // size
    expect(r.int32()).toBe(5);
    expect(r.int16()).toBe(35); // UNSUPPORTED_VERSION straight after the correlation id
  });
});
