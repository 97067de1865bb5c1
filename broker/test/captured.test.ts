// Request frames captured from real clients (kcat/librdkafka, kafkajs, @platformatic/kafka) by
// fixtures/capture.ts decode with our codec to the values the capture sent, and re-encode with
// our codec at the same version to the very same bytes. Unlike the codec's own round-trip
// tests, the bytes here were written by other people's encoders.

import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ApiVersions, Metadata, Produce } from '../protocol/messages/index.js';
import { MAGIC_V2, readBatchHeader, validateProducedBatches } from '../protocol/record-batch.js';
import type { RequestOf } from '../protocol/schema.js';
import { batchesOf, decodeRequest, encodeRequest } from './raw-client.js';
import {
  CAPTURE_RECORDS,
  CLIENT_IDS,
  KCAT_HEADER,
  TOPICS,
  fixtureFileName,
  type CapturedClient,
  type CapturedFrame,
} from './fixtures/capture-plan.js';

const FIXTURES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

function load(client: CapturedClient, api: string): CapturedFrame {
  return JSON.parse(readFileSync(path.join(FIXTURES_DIR, fixtureFileName(client, api)), 'utf8')) as CapturedFrame;
}

/** The versions these clients chose against Runnel when the fixtures were captured. */
const CAPTURED: Array<{ client: CapturedClient; api: 'ApiVersions' | 'Metadata' | 'Produce'; version: number }> = [
  { client: 'kcat', api: 'ApiVersions', version: 3 },
  { client: 'kcat', api: 'Metadata', version: 4 },
  { client: 'kcat', api: 'Produce', version: 7 },
  { client: 'kafkajs', api: 'ApiVersions', version: 2 },
  { client: 'kafkajs', api: 'Metadata', version: 6 },
  { client: 'kafkajs', api: 'Produce', version: 7 },
  { client: 'platformatic', api: 'ApiVersions', version: 3 },
  { client: 'platformatic', api: 'Metadata', version: 12 },
  { client: 'platformatic', api: 'Produce', version: 11 },
];

function decoded(client: CapturedClient, api: string) {
  const fixture = load(client, api);
  return { fixture, ...decodeRequest(Buffer.from(fixture.hex, 'hex')) };
}

describe('byte vectors captured from real clients decode to the expected values', () => {
  it('the fixture directory holds exactly the captured frames', () => {
    const files = readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(CAPTURED.map((c) => fixtureFileName(c.client, c.api)).sort());
  });

  for (const { client, api, version } of CAPTURED) {
    it(`${client} ${api} v${version}: header and body decode, and re-encode to the same bytes`, () => {
      const fixture = load(client, api);
      expect(fixture).toMatchObject({ client, api, apiVersion: version });
      const frame = Buffer.from(fixture.hex, 'hex');
      const { header, api: def, body } = decodeRequest(frame);
      expect(def.name).toBe(api);
      expect(def.key).toBe(fixture.apiKey);
      expect(header.apiKey).toBe(fixture.apiKey);
      expect(header.apiVersion).toBe(version);
      expect(header.clientId).toBe(CLIENT_IDS[client]);
      expect(version).toBeGreaterThanOrEqual(def.minVersion);
      expect(version).toBeLessThanOrEqual(def.maxVersion);

      const again = encodeRequest(def, version, body as never, {
        correlationId: header.correlationId,
        clientId: header.clientId,
      });
      expect(again.toString('hex')).toBe(fixture.hex);
    });
  }

  describe('ApiVersions', () => {
    it('kcat sends v3 naming librdkafka and its version as the client software', () => {
      const { fixture, body } = decoded('kcat', 'ApiVersions');
      const librdkafka = /librdkafka (\S+)/.exec(fixture.clientVersion)![1];
      expect(body as RequestOf<typeof ApiVersions>).toEqual({
        clientSoftwareName: 'librdkafka',
        clientSoftwareVersion: librdkafka,
      });
    });

    it('@platformatic/kafka sends v3 naming itself and its version', () => {
      const { fixture, body } = decoded('platformatic', 'ApiVersions');
      const version = /@platformatic\/kafka (\S+)/.exec(fixture.clientVersion)![1];
      expect(body as RequestOf<typeof ApiVersions>).toEqual({
        clientSoftwareName: 'platformatic-kafka',
        clientSoftwareVersion: version,
      });
    });

    it('kafkajs sends v2, whose request is a header with no body', () => {
      const { fixture } = decoded('kafkajs', 'ApiVersions');
      const frame = Buffer.from(fixture.hex, 'hex');
      // size, api key, version, correlation id, client id (int16 length + bytes), nothing else.
      expect(frame.length).toBe(4 + 2 + 2 + 4 + 2 + CLIENT_IDS.kafkajs.length);
    });
  });

  describe('Metadata', () => {
    it('kcat -L asks for all topics with a null topic array', () => {
      const body = decoded('kcat', 'Metadata').body as RequestOf<typeof Metadata>;
      expect(body.topics).toBeNull();
      expect(body.allowAutoTopicCreation).toBe(true);
    });

    it('kafkajs names the topic it produces to and allows auto-creation', () => {
      const body = decoded('kafkajs', 'Metadata').body as RequestOf<typeof Metadata>;
      expect(body.topics!.map((t) => t.name)).toEqual([TOPICS.kafkajs]);
      expect(body.allowAutoTopicCreation).toBe(true);
    });

    it('@platformatic/kafka names its topic with a zero topic id, asks for authorized operations, and does not auto-create', () => {
      const body = decoded('platformatic', 'Metadata').body as RequestOf<typeof Metadata>;
      expect(body.topics).toEqual([{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: TOPICS.platformatic }]);
      expect(body.allowAutoTopicCreation).toBe(false);
      expect(body.includeTopicAuthorizedOperations).toBe(true);
    });
  });

  describe('Produce', () => {
    const cases: Array<{ client: CapturedClient; timeoutMs: number }> = [
      { client: 'kcat', timeoutMs: 30_000 },
      { client: 'kafkajs', timeoutMs: 30_000 },
      { client: 'platformatic', timeoutMs: 5_000 },
    ];
    for (const { client, timeoutMs } of cases) {
      it(`${client} sends one uncompressed magic-2 batch holding the records it was given, which the broker accepts`, () => {
        const body = decoded(client, 'Produce').body as RequestOf<typeof Produce>;
        expect(body).toMatchObject({ transactionalId: null, acks: -1, timeoutMs });
        expect(body.topicData.map((t) => t.name)).toEqual([TOPICS[client]]);
        const [partition] = body.topicData[0].partitionData;
        expect(body.topicData[0].partitionData).toHaveLength(1);
        expect(partition.index).toBe(0);

        const records = partition.records!;
        const header = readBatchHeader(records);
        expect(header).toMatchObject({
          baseOffset: 0,
          magic: MAGIC_V2,
          producerId: -1,
          recordCount: CAPTURE_RECORDS.length,
        });
        expect(header.attributes & 0x07).toBe(0);
        expect(validateProducedBatches(records).ok).toBe(true);

        // batchesOf checks every batch's CRC32C before decoding its records.
        const batches = batchesOf(records);
        expect(batches).toHaveLength(1);
        const got = batches[0].records.map((r) => ({
          offset: r.offset,
          key: r.key!.toString(),
          value: r.value!.toString(),
          headers: r.headers.map((h) => [h.key, h.value!.toString()]),
          timestampMs: r.timestampMs,
        }));
        expect(got).toEqual(
          CAPTURE_RECORDS.map((r, i) => ({
            offset: i,
            key: r.key,
            value: r.value,
            // kcat sets one header on every message, and stamps them with the time it sent them.
            headers: client === 'kcat' ? [KCAT_HEADER] : r.headers,
            timestampMs: client === 'kcat' ? header.baseTimestamp : r.timestampMs,
          })),
        );
      });
    }
  });
});
