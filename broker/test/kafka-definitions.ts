// Kafka's own definitions, read straight from its jars as the oracle for our schemas: messages
// (common/message/*.json in kafka-clients) and metadata records (common/metadata/*.json in
// kafka-metadata); and the comparison of one of our structs with them. The jars are resolved by
// Maven from Maven Central on first use into ~/.cache/runnel/kafka-<version>/repository, the local
// repository the Kafka benchmark (broker/bench/kafka.ts) uses for the same release; nothing is
// copied into the repo. A jar is a zip: its central directory is read here and entries are
// inflated with node:zlib.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { ZERO_UUID, type Field, type FieldKind, type Fields, type Struct } from '../protocol/schema.js';
import { JAVA_CLIENT_VERSION, requireJdkAndMaven, run } from './compat/clients.js';

/** The kafka-clients release whose definitions are the reference (the one the compatibility matrix runs). */
export const KAFKA_CLIENTS_VERSION = process.env.RUNNEL_KAFKA_CLIENTS_VERSION ?? JAVA_CLIENT_VERSION;

/** The same maven-dependency-plugin version the repository's poms pin. */
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const MAVEN_TIMEOUT_MS = 10 * 60_000;

/** A version range as Kafka writes it: "3+", "0-7", "5", "none". `to` is inclusive; Infinity for "N+". */
export interface Versions {
  from: number;
  to: number;
}
export const NO_VERSIONS: Versions = { from: 1, to: 0 };

export function parseVersions(text: string | undefined, fallback: Versions = NO_VERSIONS): Versions {
  if (text === undefined) return fallback;
  const s = text.trim();
  if (s === 'none') return NO_VERSIONS;
  let m = /^(\d+)\+$/.exec(s);
  if (m) return { from: Number(m[1]), to: Infinity };
  m = /^(\d+)-(\d+)$/.exec(s);
  if (m) return { from: Number(m[1]), to: Number(m[2]) };
  m = /^(\d+)$/.exec(s);
  if (m) return { from: Number(m[1]), to: Number(m[1]) };
  throw new Error(`not a Kafka version range: ${JSON.stringify(text)}`);
}

export function inVersions(r: Versions, v: number): boolean {
  return v >= r.from && v <= r.to;
}

/** One field as Kafka's JSON states it (only the keys that shape the wire). */
export interface KafkaField {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  flexibleVersions?: string;
  fields?: KafkaField[];
}

export interface KafkaMessage {
  apiKey?: number;
  type: 'request' | 'response' | 'header' | 'data' | 'metadata' | 'coordinator-key' | 'coordinator-value';
  name: string;
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: KafkaField[];
  commonStructs?: Array<{ name: string; versions: string; fields: KafkaField[] }>;
}

/** The Kafka jars whose definitions serve as oracles: messages (kafka-clients) and metadata records (kafka-metadata). */
export type KafkaArtifact = 'kafka-clients' | 'kafka-metadata';

/** The path of the kafka-clients jar, resolving it with Maven (first run only). */
export async function kafkaClientsJar(log: (line: string) => void = () => {}): Promise<string> {
  return process.env.RUNNEL_KAFKA_CLIENTS_JAR ?? kafkaJar('kafka-clients', log);
}

/** The path of one of Kafka's jars at KAFKA_CLIENTS_VERSION, resolving it with Maven (first run only). */
export async function kafkaJar(artifact: KafkaArtifact, log: (line: string) => void = () => {}): Promise<string> {
  const version = KAFKA_CLIENTS_VERSION;
  const repository = path.join(os.homedir(), '.cache/runnel', `kafka-${version}`, 'repository');
  const jar = path.join(repository, 'org/apache/kafka', artifact, version, `${artifact}-${version}.jar`);
  if (existsSync(jar)) return jar;
  await requireJdkAndMaven(`reading Kafka's definitions (${artifact} ${version})`, ['mvn']);
  log(`resolving ${artifact} ${version} from Maven Central into ${repository} (first run only)`);
  await run(
    'mvn',
    [
      '-B',
      '-q',
      `-Dmaven.repo.local=${repository}`,
      `${DEPENDENCY_PLUGIN}:get`,
      `-Dartifact=org.apache.kafka:${artifact}:${version}`,
      '-Dtransitive=false',
    ],
    { timeoutMs: MAVEN_TIMEOUT_MS, cwd: os.tmpdir() },
  );
  if (!existsSync(jar)) throw new Error(`Maven finished but ${jar} is missing`);
  return jar;
}

// ---- zip -----------------------------------------------------------------------------------

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** The entries of a zip file whose names pass `want`, decompressed (stored or deflated entries). */
export function unzipEntries(zip: Buffer, want: (name: string) => boolean): Map<string, Buffer> {
  // The end-of-central-directory record sits in the last 22 bytes plus a comment of up to 64 KiB.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let pos = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || pos === 0xffffffff) throw new Error('zip64 archives are not supported');

  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(pos) !== CENTRAL_SIGNATURE) throw new Error(`bad central directory entry at ${pos}`);
    const method = zip.readUInt16LE(pos + 10);
    const compressedSize = zip.readUInt32LE(pos + 20);
    const nameLength = zip.readUInt16LE(pos + 28);
    const extraLength = zip.readUInt16LE(pos + 30);
    const commentLength = zip.readUInt16LE(pos + 32);
    const localOffset = zip.readUInt32LE(pos + 42);
    const name = zip.toString('utf8', pos + 46, pos + 46 + nameLength);
    pos += 46 + nameLength + extraLength + commentLength;
    if (!want(name)) continue;

    if (zip.readUInt32LE(localOffset) !== LOCAL_SIGNATURE) throw new Error(`bad local header for ${name}`);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (method === 0) out.set(name, Buffer.from(data));
    else if (method === 8) out.set(name, zlib.inflateRawSync(data));
    else throw new Error(`${name}: unsupported zip compression method ${method}`);
  }
  return out;
}

// ---- JSON with comments ----------------------------------------------------------------------

/** Kafka's definition files are JSON with // line comments (and the odd block comment). */
export function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Every definition in the jar's `dir` (common/message in kafka-clients, common/metadata in
 * kafka-metadata), by its name ("JoinGroupRequest", "RequestHeader", "PartitionRecord", …).
 */
export async function readKafkaMessages(jarPath: string, dir = 'common/message'): Promise<Map<string, KafkaMessage>> {
  const prefix = `${dir}/`;
  const entries = unzipEntries(
    await readFile(jarPath),
    (n) => n.startsWith(prefix) && n.endsWith('.json') && !n.slice(prefix.length).includes('/'),
  );
  if (entries.size === 0) throw new Error(`${jarPath} has no ${dir}/*.json`);
  const out = new Map<string, KafkaMessage>();
  for (const [name, data] of entries) {
    let message: KafkaMessage;
    try {
      message = JSON.parse(stripComments(data.toString('utf8'))) as KafkaMessage;
    } catch (e) {
      throw new Error(`${name} in ${jarPath}: ${(e as Error).message}`);
    }
    out.set(message.name, message);
  }
  return out;
}

// ---- comparing a schema with Kafka's definition ------------------------------------------------

type AnyField = Field<unknown, unknown, boolean>;

/** Kafka's generator names a field's accessor by lower-casing its first letter. */
export function camel(kafkaName: string): string {
  return kafkaName.charAt(0).toLowerCase() + kafkaName.slice(1);
}

/** One struct comparison: which message and version, and where the differences are collected. */
export interface SchemaCheck {
  /** The message's name as issues report it ("JoinGroup", "PartitionRecord"). */
  api: string;
  /** Which of its structs ("request", "response", "value"). */
  side: string;
  version: number;
  flexible: boolean;
  /** The message's commonStructs, by name. */
  common: Map<string, KafkaField[]>;
  issues: Set<string>;
  /**
   * Fields whose name is not Kafka's in camelCase, keyed `<api> <side> <path to the struct, in our
   * names><Kafka's field name>` → our name; the keys used are added to `usedNameExceptions`.
   */
  nameExceptions?: Record<string, string>;
  usedNameExceptions?: Set<string>;
}

const PRIMITIVES = new Set([
  'int8',
  'int16',
  'uint16',
  'int32',
  'int64',
  'float64',
  'bool',
  'string',
  'bytes',
  'records',
  'uuid',
]);

function describeKind(kind: FieldKind): string {
  switch (kind.type) {
    case 'primitive':
      return kind.name;
    case 'array':
      return `[]${describeKind(kind.item)}`;
    case 'struct':
      return 'struct';
  }
}

function kafkaPresent(f: KafkaField, version: number): boolean {
  return inVersions(parseVersions(f.versions), version);
}

/** The tag a Kafka field is written under at `version`, or undefined if it is a regular field there. */
function kafkaTag(f: KafkaField, version: number): number | undefined {
  if (f.tag === undefined) return undefined;
  return inVersions(parseVersions(f.taggedVersions, parseVersions(f.versions)), version) ? f.tag : undefined;
}

function oursPresent(f: AnyField, version: number, flexible: boolean): boolean {
  return version >= f.minVersion && version <= f.maxVersion && (f.tag === undefined || flexible);
}

function oursNullable(f: AnyField, version: number): boolean {
  return f.kind.type !== 'struct' && f.kind.nullable && version >= f.nullableMinVersion;
}

function versionsText(f: AnyField): string {
  return f.maxVersion >= 0x7fff ? `v${f.minVersion}+` : `v${f.minVersion}-v${f.maxVersion}`;
}

/** Kafka's default for a field, as the value our schema would hold; undefined where none applies. */
function kafkaDefault(f: KafkaField, kind: FieldKind): { value: unknown } | undefined {
  const text = f.default === undefined ? undefined : String(f.default);
  if (text === 'null') return { value: null };
  if (kind.type === 'struct') return undefined;
  if (kind.type === 'array') return text === undefined ? { value: [] } : undefined;
  switch (kind.name) {
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'int64': {
      if (text === undefined) return { value: 0 };
      const negative = text.startsWith('-');
      const n = BigInt(negative ? text.slice(1) : text);
      return { value: Number(negative ? -n : n) };
    }
    case 'float64':
      return { value: text === undefined ? 0 : Number(text) };
    case 'bool':
      return { value: text === 'true' };
    case 'string':
      return { value: text ?? '' };
    case 'uuid':
      return { value: text ?? ZERO_UUID };
    case 'bytes':
    case 'records':
      return text === undefined ? { value: Buffer.alloc(0) } : undefined;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === 0 && b.length === 0;
  return Object.is(a, b) || a === b;
}

function show(v: unknown): string {
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  return JSON.stringify(v);
}

/**
 * Adds to `ctx.issues` every way `ours` differs from Kafka's fields at `ctx.version`: fields missing
 * or extra, order of the regular fields, types, nullability, tags and defaults, nested structs too.
 */
export function compareStruct(ctx: SchemaCheck, path: string, kafkaFields: KafkaField[], ours: Struct<Fields>): void {
  const at = (name: string) => `${ctx.api} v${ctx.version} ${ctx.side} ${path}${name}`;
  const oursAll = Object.entries(ours.fields);
  const oursHere = new Map(oursAll.filter(([, f]) => oursPresent(f, ctx.version, ctx.flexible)));
  const matched = new Set<string>();
  const kafkaOrder: string[] = [];

  for (const kf of kafkaFields) {
    if (!kafkaPresent(kf, ctx.version)) continue;
    const kafkaPath = `${ctx.api} ${ctx.side} ${path}${kf.name}`;
    const exception = ctx.nameExceptions?.[kafkaPath];
    if (exception !== undefined) ctx.usedNameExceptions?.add(kafkaPath);
    const name = exception ?? camel(kf.name);
    const tag = kafkaTag(kf, ctx.version);
    if (tag !== undefined && !ctx.flexible) continue; // only on the wire in flexible versions
    const f = oursHere.get(name);
    if (!f) {
      const elsewhere = ours.fields[name];
      ctx.issues.add(
        elsewhere
          ? `${at(name)}: Kafka has ${kf.name} in this version; ours is ${versionsText(elsewhere)}${elsewhere.tag !== undefined ? ` tagged ${elsewhere.tag}` : ''}`
          : `${at(name)}: missing (Kafka's ${kf.name}: ${kf.type}, versions ${kf.versions})`,
      );
      continue;
    }
    matched.add(name);
    if (tag === undefined) kafkaOrder.push(name);
    if (tag !== f.tag) {
      const mode = (t: number | undefined) => (t === undefined ? 'a regular field' : `tagged ${t}`);
      ctx.issues.add(`${at(name)}: Kafka's ${kf.name} is ${mode(tag)}, ours is ${mode(f.tag)}`);
    }
    compareField(ctx, at(name), path, kf, f);
  }

  for (const name of oursHere.keys()) {
    if (!matched.has(name)) ctx.issues.add(`${at(name)}: not in Kafka's definition of this version`);
  }
  const oursOrder = [...oursHere].filter(([n, f]) => f.tag === undefined && matched.has(n)).map(([n]) => n);
  const kafkaRegular = kafkaOrder.filter((n) => oursHere.get(n)?.tag === undefined);
  if (oursOrder.join() !== kafkaRegular.join()) {
    ctx.issues.add(
      `${at('')}: field order differs: Kafka [${kafkaRegular.join(', ')}], ours [${oursOrder.join(', ')}]`,
    );
  }
}

function compareField(ctx: SchemaCheck, where: string, path: string, kf: KafkaField, f: AnyField): void {
  if (kf.flexibleVersions !== undefined) {
    ctx.issues.add(
      `${where}: Kafka overrides this field's flexible versions (${kf.flexibleVersions}); our schema cannot`,
    );
  }
  const kafkaNullable = inVersions(parseVersions(kf.nullableVersions), ctx.version);
  const nullable = oursNullable(f, ctx.version);
  if (kafkaNullable !== nullable) {
    ctx.issues.add(
      `${where}: ${kafkaNullable ? 'nullable' : 'not nullable'} in Kafka (nullableVersions ${kf.nullableVersions ?? 'none'}), ${nullable ? 'nullable' : 'not nullable'} in ours`,
    );
  }
  if (compareType(ctx, where, `${path}${camel(kf.name)}`, kf.type, kf.fields, f.kind)) {
    // Where Kafka states a default it decides what a field reads as in versions without it and
    // what is written for a field a handler leaves out; for a tagged field, even Kafka's implicit
    // default (0, '', false, empty) decides whether it is on the wire at all.
    const expected = kf.default !== undefined || f.tag !== undefined ? kafkaDefault(kf, f.kind) : undefined;
    if (expected && !sameValue(f.zero(), expected.value)) {
      ctx.issues.add(
        `${ctx.api} ${ctx.side} ${path}${camel(kf.name)}: default ${show(expected.value)} in Kafka${kf.default === undefined ? ' (implicit)' : ''}, ${show(f.zero())} in ours`,
      );
    }
  }
}

/** Compares one type; true if it matched (and then nested structs were compared too). */
function compareType(
  ctx: SchemaCheck,
  where: string,
  path: string,
  kafkaType: string,
  fields: KafkaField[] | undefined,
  kind: FieldKind,
): boolean {
  const mismatch = () => {
    ctx.issues.add(`${where}: type ${kafkaType} in Kafka, ${describeKind(kind)} in ours`);
    return false;
  };
  if (kafkaType.startsWith('[]')) {
    if (kind.type !== 'array') return mismatch();
    const item = kafkaType.slice(2);
    if (PRIMITIVES.has(item)) {
      if (kind.item.type !== 'primitive' || kind.item.name !== item || kind.item.nullable) return mismatch();
      return true;
    }
    if (kind.item.type !== 'struct') return mismatch();
    return compareNested(ctx, where, `${path}[].`, item, fields, kind.item.struct);
  }
  if (PRIMITIVES.has(kafkaType)) {
    if (kind.type !== 'primitive' || kind.name !== kafkaType) return mismatch();
    return true;
  }
  if (kind.type !== 'struct') return mismatch();
  return compareNested(ctx, where, `${path}.`, kafkaType, fields, kind.struct);
}

function compareNested(
  ctx: SchemaCheck,
  where: string,
  path: string,
  typeName: string,
  fields: KafkaField[] | undefined,
  s: Struct<Fields>,
): boolean {
  const structFields = fields ?? ctx.common.get(typeName);
  if (!structFields) {
    ctx.issues.add(`${where}: Kafka's type ${typeName} is not defined in its message`);
    return false;
  }
  compareStruct(ctx, path, structFields, s);
  return true;
}
