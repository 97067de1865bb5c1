// raft/wire.ts's snapshot side against a stock Apache Kafka 4.1 controller (one combined-mode
// node) that snapshots after every committed batch (metadata.log.max.record.bytes.between.snapshots
// = 1): a Fetch below its log start is answered with its snapshot id, which our adapter reads as
// SnapshotId, and FetchSnapshot reads that snapshot in chunks, byte for byte as on Kafka's disk.
// (Asked for a snapshot it does not have, Kafka 4.1 answers UNKNOWN_SERVER_ERROR: building its
// SNAPSHOT_NOT_FOUND answer dereferences a null UnalignedRecords. Runnel's leader answers
// SNAPSHOT_NOT_FOUND with empty records, and its follower reads both as "fetch again".)

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KAFKA_START_TIMEOUT_MS, startKafkaController, type KafkaController } from '../test/kafka-controller.js';
import { ErrorCode } from '../protocol/errors.js';
import { DescribeQuorum, Fetch, FetchSnapshot } from '../protocol/messages/index.js';
import type { OffsetAndEpoch } from '../raft/log.js';
import {
  fetchRequestToWire,
  fetchResponseFromWire,
  fetchSnapshotRequestToWire,
  fetchSnapshotResponseFromWire,
  METADATA_TOPIC,
} from '../raft/wire.js';
import { NodeClient } from './node-client.js';

const REQUEST = { timeoutMs: 10_000 };
const SNAPSHOT_FILE = /^(\d{20})-(\d{10})\.checkpoint$/;
const describeRequest = { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }] };

let kafka: KafkaController | undefined;
let metadataDir: string;
let client: NodeClient;
let clusterId: string;

beforeAll(async () => {
  kafka = await startKafkaController({ 'metadata.log.max.record.bytes.between.snapshots': '1' });
  ({ client, clusterId } = kafka);
  metadataDir = path.join(kafka.dataDir, '__cluster_metadata-0');
}, KAFKA_START_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await kafka?.stop();
});

/** The snapshots on Kafka's disk, newest last; waits until there is one. */
async function snapshotsOnDisk(): Promise<OffsetAndEpoch[]> {
  for (const deadline = Date.now() + 30_000; ;) {
    const ids = (await readdir(metadataDir))
      .map((f) => SNAPSHOT_FILE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ offset: Number(m[1]), epoch: Number(m[2]) }))
      .sort((a, b) => a.offset - b.offset);
    if (ids.length > 0 || Date.now() > deadline) return ids;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const leaderEpoch = async () =>
  (await client.request(DescribeQuorum, 'latest', describeRequest, REQUEST)).topics[0].partitions[0].leaderEpoch;

describe('against a Kafka 4.1 controller that snapshots', () => {
  test('a Fetch from offset 0 is answered with the snapshot id of one of its snapshots (SnapshotId)', async () => {
    const onDisk = await snapshotsOnDisk();
    expect(onDisk.length).toBeGreaterThan(0);
    const request = {
      type: 'FetchRequest' as const,
      clusterId,
      replicaId: 99,
      maxWaitMs: 0,
      currentLeaderEpoch: await leaderEpoch(),
      fetchOffset: 0,
      lastFetchedEpoch: 0,
    };
    const body = await client.request(Fetch, 'latest', fetchRequestToWire(request), REQUEST);
    const { message } = fetchResponseFromWire(body, () => []);
    expect(message.errorCode).toBe(ErrorCode.NONE);
    expect(message.snapshotId).not.toBeNull();
    expect(message.records).toEqual([]);
    const named = (await snapshotsOnDisk()).some(
      (id) => id.offset === message.snapshotId!.offset && id.epoch === message.snapshotId!.epoch,
    );
    expect(named, `snapshot ${JSON.stringify(message.snapshotId)} is on Kafka's disk`).toBe(true);
  });

  test('FetchSnapshot reads its snapshot in chunks, byte for byte as on its disk', async () => {
    const onDisk = await snapshotsOnDisk();
    const snapshotId = onDisk[onDisk.length - 1];
    const name = `${String(snapshotId.offset).padStart(20, '0')}-${String(snapshotId.epoch).padStart(10, '0')}.checkpoint`;
    const file = await readFile(path.join(metadataDir, name));
    const epoch = await leaderEpoch();
    const chunks: Buffer[] = [];
    for (let position = 0; position < file.length;) {
      const request = {
        type: 'FetchSnapshotRequest' as const,
        clusterId,
        replicaId: 99,
        currentLeaderEpoch: epoch,
        snapshotId,
        position,
        maxBytes: 64,
      };
      const body = await client.request(FetchSnapshot, 'latest', fetchSnapshotRequestToWire(request), REQUEST);
      const { message } = fetchSnapshotResponseFromWire(body, request);
      expect(message).toMatchObject({ errorCode: ErrorCode.NONE, snapshotId, size: file.length, position });
      expect(message.bytes.length).toBeGreaterThan(0);
      chunks.push(message.bytes);
      position += message.bytes.length;
    }
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks)).toEqual(file);
  });
});
