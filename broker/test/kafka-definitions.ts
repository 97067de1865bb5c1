// Kafka's own message definitions (common/message/*.json in the kafka-clients jar), read straight
// from the jar as the oracle for our schemas. The jar is resolved by Maven from Maven Central on
// first use into ~/.cache/runnel/kafka-<version>/repository, the local repository the Kafka
// benchmark (broker/bench/kafka.ts) uses for the same release; nothing is copied into the repo.
// The jar is a zip: its central directory is read here and entries are inflated with node:zlib.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
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

/** The path of the kafka-clients jar, resolving it with Maven (first run only). */
export async function kafkaClientsJar(log: (line: string) => void = () => {}): Promise<string> {
  const override = process.env.RUNNEL_KAFKA_CLIENTS_JAR;
  if (override) return override;
  const version = KAFKA_CLIENTS_VERSION;
  const repository = path.join(os.homedir(), '.cache/runnel', `kafka-${version}`, 'repository');
  const jar = path.join(repository, 'org/apache/kafka/kafka-clients', version, `kafka-clients-${version}.jar`);
  if (existsSync(jar)) return jar;
  await requireJdkAndMaven(`reading Kafka's message definitions (kafka-clients ${version})`, ['mvn']);
  log(`resolving kafka-clients ${version} from Maven Central into ${repository} (first run only)`);
  await run(
    'mvn',
    [
      '-B',
      '-q',
      `-Dmaven.repo.local=${repository}`,
      `${DEPENDENCY_PLUGIN}:get`,
      `-Dartifact=org.apache.kafka:kafka-clients:${version}`,
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

/** Every definition in the jar's common/message/, by its name ("JoinGroupRequest", "RequestHeader", …). */
export async function readKafkaMessages(jarPath: string): Promise<Map<string, KafkaMessage>> {
  const entries = unzipEntries(await readFile(jarPath), (n) => /^common\/message\/[^/]+\.json$/.test(n));
  if (entries.size === 0) throw new Error(`${jarPath} has no common/message/*.json`);
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
