// Metadata snapshots in a running cluster (three combined voters and one broker-only node, as
// processes): with a small metadata.log.max.record.bytes.between.snapshots and a short
// metadata.log.segment.ms, the nodes snapshot the metadata log and delete its old segments while
// a voter and the broker-only node are stopped and many topics are created. The voter comes back
// far behind (its fetch offset below the leader's log start), the broker-only node with an empty
// metadata log: both catch up through FetchSnapshot, install the leader's snapshot, and serve the
// new topics.

import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareKafka } from '../bench/kafka.js';
import { ErrorCode } from '../protocol/errors.js';
import { ListOffsets, Metadata } from '../protocol/messages/index.js';
import { METADATA_PARTITION_DIR } from '../raft/disk-log.js';
import { startCluster, type TestCluster } from './cluster-processes.js';
import { ask, createTopic, until as untilWithin } from './cluster/cluster-clients.js';
import { run } from './compat/clients.js';

const TOPICS = 60;
const REQUEST_TIMEOUT_MS = 10_000;
const WAIT_MS = 30_000;
const TEST_TIMEOUT_MS = 120_000;
const FAR_BEHIND = 3;
const EMPTY = 4;

const until = <T>(what: string, check: () => Promise<T | undefined>) => untilWithin(what, check, WAIT_MS);

/** Each topic's partition leaders as the broker at `port` names them. */
async function leadersAt(port: number): Promise<Map<string, number[]>> {
  return ask(port, async (c) => {
    const res = await c.request(
      Metadata,
      'latest',
      { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
      { timeoutMs: REQUEST_TIMEOUT_MS },
    );
    return new Map(res.topics.map((t) => [t.name!, t.partitions.map((p) => p.leaderId)]));
  });
}

describe('metadata snapshots bound the metadata log, and nodes far behind or empty catch up through them', () => {
  let cluster: TestCluster;
  const portOf = (nodeId: number) => cluster.node(nodeId).clientPort!;
  const metadataDir = (nodeId: number) => path.join(cluster.node(nodeId).dataDir, METADATA_PARTITION_DIR);
  const files = async (nodeId: number) => (await readdir(metadataDir(nodeId))).sort();
  const snapshotEnds = async (nodeId: number) =>
    (await files(nodeId)).filter((f) => /^\d{20}-\d{10}\.checkpoint$/.test(f)).map((f) => Number(f.slice(0, 20)));
  const segmentBases = async (nodeId: number) =>
    (await files(nodeId)).filter((f) => /^\d{20}\.log$/.test(f)).map((f) => Number(f.slice(0, 20)));
  const topicNames = Array.from({ length: TOPICS }, (_, i) => `snapshotted-${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 4,
      controllers: 3,
      overrides: {
        'metadata.log.max.record.bytes.between.snapshots': '2000',
        'metadata.log.segment.ms': '200',
        'broker.session.timeout.ms': '3000',
        'broker.heartbeat.interval.ms': '500',
      },
    });
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stopAll();
  });

  it(
    'snapshots are taken and old segments deleted on the running nodes; the stopped ones install a snapshot on restart, know the new topics and lead partitions again',
    async () => {
      await cluster.stop(FAR_BEHIND);
      await cluster.stop(EMPTY);

      for (const name of topicNames) {
        expect(await createTopic(portOf(1), name, 1)).toBe('NONE');
        // Spread over a few metadata log segments (metadata.log.segment.ms).
        if (Number(name.slice(-3)) % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 250));
      }

      // The running voters snapshot and drop segments wholly below their latest snapshot.
      for (const nodeId of [1, 2]) {
        // Older snapshots go once a newer one is the log start: one remains.
        await until(`node ${nodeId} to snapshot and delete its first metadata segment`, async () => {
          const ends = await snapshotEnds(nodeId);
          const bases = await segmentBases(nodeId);
          return ends.length === 1 && bases.length > 0 && !bases.includes(0) ? true : undefined;
        });
      }
      // Their logs start past offset 0: an empty node can only catch up from a snapshot.
      for (const nodeId of [1, 2]) expect(Math.min(...(await segmentBases(nodeId)))).toBeGreaterThan(0);

      // Kafka's own decoder reads a live node's snapshot.
      const kafka = await prepareKafka(() => undefined);
      const [end] = await snapshotEnds(1);
      const checkpoint = (await files(1)).find(
        (f) => f.startsWith(String(end).padStart(20, '0')) && f.endsWith('.checkpoint'),
      )!;
      const dump = await run(
        'java',
        [
          '-Xmx256M',
          `-Dlog4j2.configurationFile=${kafka.toolsLog4j}`,
          '-cp',
          kafka.classpath,
          'kafka.tools.DumpLogSegments',
          '--cluster-metadata-decoder',
          '--files',
          path.join(metadataDir(1), checkpoint),
        ],
        { timeoutMs: 60_000 },
      );
      expect(dump).not.toMatch(/Exception|error|corrupt/i);
      expect(dump).toMatch(/SnapshotHeader/);
      expect(dump).toMatch(/SnapshotFooter/);
      expect(dump.match(/"type":"TOPIC_RECORD"/g)?.length ?? 0).toBeGreaterThan(10);
      expect(dump.match(/"type":"REGISTER_BROKER_RECORD"/g)?.length).toBe(4);

      // The broker-only node loses its metadata log entirely; the voter keeps its old one.
      await rm(metadataDir(EMPTY), { recursive: true, force: true });
      await Promise.all([cluster.restart(FAR_BEHIND), cluster.restart(EMPTY)]);

      for (const nodeId of [FAR_BEHIND, EMPTY]) {
        const output = cluster.node(nodeId).process!.output();
        expect(output, `node ${nodeId} installed the leader's snapshot`).toContain(
          'installed a snapshot from the quorum leader',
        );
        expect((await snapshotEnds(nodeId)).length).toBeGreaterThan(0);
        // It knows every topic created while it was away.
        await until(`node ${nodeId} to list every new topic with a leader`, async () => {
          const seen = await leadersAt(portOf(nodeId));
          return topicNames.every((t) => (seen.get(t)?.[0] ?? -1) >= 0) ? true : undefined;
        });
      }
      // And both serve partitions again: a topic created now has leaders on them, answering for it.
      expect(await createTopic(portOf(FAR_BEHIND), 'after-restart', 8)).toBe('NONE');
      const leaders = await until('every partition of after-restart to have a leader', async () => {
        const seen = (await leadersAt(portOf(EMPTY))).get('after-restart');
        return seen && seen.every((l) => l >= 0) ? seen : undefined;
      });
      for (const nodeId of [FAR_BEHIND, EMPTY]) {
        const partitions = leaders.flatMap((l, p) => (l === nodeId ? [p] : []));
        expect(partitions.length, `node ${nodeId} leads partitions of after-restart`).toBeGreaterThan(0);
        await until(`node ${nodeId} to serve its partitions of after-restart`, () =>
          ask(portOf(nodeId), async (c) => {
            const res = await c.request(
              ListOffsets,
              'latest',
              {
                replicaId: -1,
                isolationLevel: 0,
                topics: [
                  { name: 'after-restart', partitions: partitions.map((p) => ({ partitionIndex: p, timestamp: -1 })) },
                ],
                timeoutMs: REQUEST_TIMEOUT_MS,
              },
              { timeoutMs: REQUEST_TIMEOUT_MS },
            );
            return res.topics[0].partitions.every((p) => p.errorCode === ErrorCode.NONE) ? true : undefined;
          }),
        );
      }
    },
    TEST_TIMEOUT_MS,
  );
});
