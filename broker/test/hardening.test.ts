// Inputs that once took the broker down — a crash, a hang, a broker that cannot start again —
// sent as the same bytes to a real broker process. Each test states what the broker must do
// instead: answer with Kafka's error, stay up, and keep every acknowledged change.

import { execFileSync } from 'node:child_process';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import {
  ApiVersions,
  CreateTopics,
  DeleteTopics,
  Fetch,
  FindCoordinator,
  JoinGroup,
  LeaveGroup,
  Metadata,
  OffsetCommit,
  OffsetFetch,
  Produce,
  SyncGroup,
} from '../protocol/messages/index.js';
import { batchSizeAt, buildRecordBatch, lastOffsetAt } from '../protocol/record-batch.js';
import { newDataDir, startBroker, type BrokerProcess, type ProcessLimits } from './broker-process.js';
import { RawConnection, batchesOf, fetchRequest, waitFor } from './raw-client.js';

const brokers: BrokerProcess[] = [];
const connections: RawConnection[] = [];

afterEach(async () => {
  for (const c of connections.splice(0)) c.close();
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

async function start(
  options: { dataDir?: string; port?: number; overrides?: Record<string, string>; limits?: ProcessLimits } = {},
): Promise<BrokerProcess> {
  const broker = await startBroker(options);
  brokers.push(broker);
  return broker;
}

async function connect(broker: BrokerProcess): Promise<RawConnection> {
  const c = await RawConnection.open(broker.port);
  connections.push(c);
  return c;
}

function alive(broker: BrokerProcess): boolean {
  try {
    process.kill(broker.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Answers an ApiVersions request on a fresh connection within `withinMs`. */
async function answersPromptly(broker: BrokerProcess, withinMs = 2_000): Promise<void> {
  const c = await connect(broker);
  const started = performance.now();
  const res = await c.request(ApiVersions, 3, { clientSoftwareName: 'watchdog', clientSoftwareVersion: '1' });
  expect(res.errorCode).toBe(ErrorCode.NONE);
  expect(performance.now() - started).toBeLessThan(withinMs);
  c.close();
}

/** CPU seconds the process has used (user + system), from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function createTopic(c: RawConnection, name: string, numPartitions: number) {
  const res = await c.request(CreateTopics, 5, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  return res.topics[0];
}

async function listedTopics(c: RawConnection): Promise<Map<string, number>> {
  const res = await c.request(Metadata, 9, {
    topics: null,
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  return new Map(res.topics.map((t) => [t.name!, t.partitions.length]));
}

describe('the group coordinator never crashes on a failed write', () => {
  it('answers a JoinGroup before __consumer_offsets exists with NOT_COORDINATOR, and stays up', async () => {
    const broker = await start();
    const c = await connect(broker);
    // JoinGroup v3, group "g", session and rebalance timeout 6 s, protocol "range".
    const frame = Buffer.from(
      '00000031000b000300000001000178000167000017700000177000000008636f6e73756d657200000001000572616e676500000000',
      'hex',
    );
    const answer = c.expect(JoinGroup, 3, 1);
    c.write(frame);
    expect((await answer).body.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    c.close();
    await answersPromptly(broker);
    expect(alive(broker)).toBe(true);
  });

  it('answers COORDINATOR_NOT_AVAILABLE when __consumer_offsets refuses writes, and survives the group emptying', async () => {
    // Every file is capped at 64 KiB: the group's offsets partition fills up like a full disk.
    const broker = await start({
      overrides: { 'offsets.topic.num.partitions': '1' },
      limits: { fileSizeBytes: 64 * 1024 },
    });
    const c = await connect(broker);
    expect((await createTopic(c, 't', 1)).errorCode).toBe(ErrorCode.NONE);
    expect((await c.request(FindCoordinator, 2, { key: 'g', keyType: 0 })).errorCode).toBe(ErrorCode.NONE);
    const joined = await c.request(JoinGroup, 3, {
      groupId: 'g',
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 30_000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    });
    expect(joined.errorCode).toBe(ErrorCode.NONE);
    const member = {
      groupId: 'g',
      generationId: joined.generationId,
      memberId: joined.memberId,
      groupInstanceId: null,
    };
    const synced = await c.request(SyncGroup, 3, {
      ...member,
      assignments: [{ memberId: joined.memberId, assignment: Buffer.from('a') }],
    });
    expect(synced.errorCode).toBe(ErrorCode.NONE);

    let refused = false;
    let lastCommitted = -1;
    for (let i = 0; i < 100 && !refused; i++) {
      const res = await c.request(OffsetCommit, 2, {
        ...member,
        generationIdOrMemberEpoch: joined.generationId,
        retentionTimeMs: -1,
        topics: [
          {
            name: 't',
            partitions: [
              { partitionIndex: 0, committedOffset: i, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(4000) },
            ],
          },
        ],
      });
      const code = res.topics[0].partitions[0].errorCode;
      if (code === ErrorCode.NONE) lastCommitted = i;
      else {
        expect(code).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        refused = true;
      }
    }
    expect(refused).toBe(true);
    expect(lastCommitted).toBeGreaterThan(0);
    const fetched = await c.request(OffsetFetch, 1, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] });
    expect(fetched.topics[0].partitions[0].committedOffset).toBe(lastCommitted);

    // The last member leaves: storing the now empty group fails too, and must not crash.
    const left = await c.request(LeaveGroup, 1, { groupId: 'g', memberId: joined.memberId });
    expect(left.errorCode).toBe(ErrorCode.NONE);
    await waitFor(
      () => broker.output().includes('could not store group metadata'),
      'the failed write of the empty group',
    );
    await answersPromptly(broker);
    expect(alive(broker)).toBe(true);
  });
});

describe('internal topics belong to the broker', () => {
  it('refuses produce to and deletion of __consumer_offsets, and skips undecodable records at load', async () => {
    const broker = await start({ overrides: { 'offsets.topic.num.partitions': '1' } });
    const c = await connect(broker);
    expect((await createTopic(c, 't', 1)).errorCode).toBe(ErrorCode.NONE);
    expect((await c.request(FindCoordinator, 2, { key: 'g', keyType: 0 })).errorCode).toBe(ErrorCode.NONE);
    const commit = await c.request(OffsetCommit, 2, {
      groupId: 'g',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [
        {
          name: 't',
          partitions: [{ partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: '' }],
        },
      ],
    });
    expect(commit.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);

    const junk = buildRecordBatch({ records: [{ key: 'not a group key', value: 'junk', timestampMs: Date.now() }] });
    const produced = await c.request(Produce, 7, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5_000,
      topicData: [{ name: '__consumer_offsets', partitionData: [{ index: 0, records: junk }] }],
    });
    expect(produced.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    const deleted = await c.request(DeleteTopics, 1, { topicNames: ['__consumer_offsets'], timeoutMs: 5_000 });
    expect(deleted.responses[0].errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect((await listedTopics(c)).get('__consumer_offsets')).toBe(1);
    c.close();
    expect(await broker.stop()).toBe(0);

    // Records that are not group metadata, however they got into the log, are skipped at load.
    const segment = path.join(broker.dataDir, '__consumer_offsets-0', '00000000000000000000.log');
    const stored = await readFile(segment);
    let next = 0;
    for (let at = 0; at < stored.length; at += batchSizeAt(stored, at)) next = lastOffsetAt(stored, at) + 1;
    const now = Date.now();
    await appendFile(
      segment,
      buildRecordBatch({
        baseOffset: next,
        records: [
          { key: 'not json', value: 'junk', timestampMs: now },
          { key: '["offset","g","t"]', value: '{}', timestampMs: now },
          { key: null, value: 'no key', timestampMs: now },
        ],
      }),
    );

    const restarted = await start({
      dataDir: broker.dataDir,
      port: broker.port,
      overrides: { 'offsets.topic.num.partitions': '1' },
    });
    const c2 = await connect(restarted);
    const fetched = await c2.request(OffsetFetch, 1, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] });
    expect(fetched.topics[0].partitions[0].committedOffset).toBe(7);
    // Groups load when the restarted broker leads the partition again; its log may reach us a moment after.
    await waitFor(
      () => restarted.output().includes('skipping a record that is not group metadata or a committed offset'),
      'the undecodable record to be reported at load',
    );
  });
});

describe('fetch', () => {
  it('parks a fetch with no partitions instead of spinning, while other clients are served', async () => {
    const broker = await start();
    const c = await connect(broker);
    // Fetch v4, no topics, min bytes 1, max wait 2^31-1 ms.
    c.write(Buffer.from('000000200001000400000001000178ffffffff7fffffff00000001001000000000000000', 'hex'));
    await answersPromptly(broker);
    const before = await cpuSeconds(broker.pid);
    const started = performance.now();
    await waitFor(() => performance.now() - started > 1_000, 'a second to pass', 5_000);
    const used = (await cpuSeconds(broker.pid)) - before;
    // A busy loop uses the whole second; a parked fetch almost none.
    expect(used).toBeLessThan(0.3);
    await answersPromptly(broker);
  });
});

describe('metadata survives a full disk', () => {
  it('acknowledges only topics that were stored whole, and starts again with exactly those', async () => {
    // Every file is capped at 24 KiB: the metadata log fills up after a few 50-partition topics.
    const broker = await start({ limits: { fileSizeBytes: 24 * 1024 } });
    const c = await connect(broker);
    const created: string[] = [];
    let failure: { errorCode: number; errorMessage: string | null } | undefined;
    for (let i = 0; i < 20 && !failure; i++) {
      const t = await createTopic(c, `topic-${i}`, 50);
      if (t.errorCode === ErrorCode.NONE) created.push(`topic-${i}`);
      else failure = t;
    }
    expect(created.length).toBeGreaterThan(0);
    expect(failure?.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(failure?.errorMessage).toContain('Nothing was changed');
    // A small topic still fits in what is left, and is not lost behind the failed write.
    expect((await createTopic(c, 'small', 1)).errorCode).toBe(ErrorCode.NONE);
    created.push('small');
    const expected = new Map(created.map((name) => [name, name === 'small' ? 1 : 50]));
    expect(await listedTopics(c)).toEqual(expected);
    c.close();
    await broker.stop();

    const restarted = await start({ dataDir: broker.dataDir });
    expect(await listedTopics(await connect(restarted))).toEqual(expected);
    const dirs = (await readdir(broker.dataDir)).filter((d) => d.startsWith('topic-') || d.startsWith('small-'));
    expect(dirs.length).toBe((created.length - 1) * 50 + 1);
  });
});

describe('running out of open files', () => {
  it('refuses a topic that would not fit in the open-file limit, naming the limit, and creates nothing', async () => {
    const broker = await start({ limits: { openFiles: 400 } });
    const c = await connect(broker);
    const refused = await createTopic(c, 'huge', 10_000);
    expect(refused.errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(refused.errorMessage).toContain('ulimit -n');
    expect((await listedTopics(c)).has('huge')).toBe(false);
    expect((await readdir(broker.dataDir)).some((d) => d.startsWith('huge-'))).toBe(false);
    expect((await createTopic(c, 'fits', 100)).errorCode).toBe(ErrorCode.NONE);
  });

  it('names the limit to raise when the partitions on disk do not fit, and starts once it is raised', async () => {
    const broker = await start();
    const c = await connect(broker);
    expect((await createTopic(c, 'many', 400)).errorCode).toBe(ErrorCode.NONE);
    c.close();
    await broker.stop();
    brokers.splice(brokers.indexOf(broker), 1);

    await expect(startBroker({ dataDir: broker.dataDir, limits: { openFiles: 300 } })).rejects.toThrow(
      /hosts 400 partitions.*ulimit -n/s,
    );
    const restarted = await start({ dataDir: broker.dataDir });
    expect((await listedTopics(await connect(restarted))).get('many')).toBe(400);
  });
});

/** Produces one batch of `count` records of `valueBytes` each to partition 0; the partition's answer. */
async function produceBatch(c: RawConnection, topic: string, tag: string, count: number, valueBytes: number) {
  const records = Array.from({ length: count }, (_, i) => ({
    key: `${tag}-${i}`,
    value: `${tag}-${i}-`.padEnd(valueBytes, '.'),
    timestampMs: Date.now(),
  }));
  const res = await c.request(Produce, 7, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5_000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch({ records }) }] }],
  });
  return res.responses[0].partitionResponses[0];
}

/** Every record key of partition 0 by offset, read with Fetch v11. */
async function keysByOffset(c: RawConnection, topic: string): Promise<Map<number, string>> {
  const keys = new Map<number, string>();
  for (let offset = 0; ;) {
    const res = await c.request(
      Fetch,
      11,
      fetchRequest({
        topic,
        partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 4 << 20 }],
        maxBytes: 8 << 20,
      }),
    );
    const batches = batchesOf(res.responses[0].partitions[0].records);
    if (batches.length === 0) return keys;
    for (const b of batches) for (const r of b.records) keys.set(r.offset, r.key!.toString());
    offset = batches.at(-1)!.lastOffset + 1;
  }
}

// A real full disk needs a small filesystem: a tmpfs, which only root may mount (CI runs as root).
describe.skipIf(process.getuid?.() !== 0)('a full disk', () => {
  it('refuses appends with KAFKA_STORAGE_ERROR while the disk is full, takes them again once space is freed, and loses nothing acknowledged', async () => {
    const dataDir = await newDataDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'runnel-test-full-disk', dataDir]);
    try {
      const broker = await start({ dataDir });
      const c = await connect(broker);
      expect((await createTopic(c, 't', 1)).errorCode).toBe(ErrorCode.NONE);
      // Leave about 1 MiB of room, then produce into it until the disk is full.
      const filler = path.join(dataDir, 'filler');
      await writeFile(filler, Buffer.alloc(7 * 1024 * 1024));
      const acknowledged = new Map<number, string>();
      let refused = 0;
      for (let i = 0; i < 100 && refused === 0; i++) {
        const res = await produceBatch(c, 't', `before-${i}`, 16, 4096);
        if (res.errorCode === ErrorCode.NONE)
          for (let r = 0; r < 16; r++) acknowledged.set(res.baseOffset + r, `before-${i}-${r}`);
        else {
          expect(res.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
          refused++;
        }
      }
      expect(refused).toBe(1);
      expect(acknowledged.size).toBeGreaterThan(0);
      await answersPromptly(broker);

      await rm(filler);
      const deadline = Date.now() + 30_000;
      let resumed = await produceBatch(c, 't', 'after', 4, 100);
      while (resumed.errorCode !== ErrorCode.NONE) {
        expect(resumed.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
        expect(Date.now(), 'appends resume after space was freed').toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 200));
        resumed = await produceBatch(c, 't', 'after', 4, 100);
      }
      for (let r = 0; r < 4; r++) acknowledged.set(resumed.baseOffset + r, `after-${r}`);
      const stored = await keysByOffset(c, 't');
      for (const [offset, key] of acknowledged) expect(stored.get(offset)).toBe(key);
      c.close();
      expect(await broker.stop()).toBe(0);
      brokers.splice(brokers.indexOf(broker), 1);

      const restarted = await start({ dataDir });
      const again = await keysByOffset(await connect(restarted), 't');
      for (const [offset, key] of acknowledged) expect(again.get(offset)).toBe(key);
      await restarted.stop();
      brokers.splice(brokers.indexOf(restarted), 1);
    } finally {
      execFileSync('umount', ['-l', dataDir]);
    }
  });
});

describe('fetch.max.bytes', () => {
  it('caps a Fetch response whatever the client asks for (the first batch is still returned whole)', async () => {
    const broker = await start({ overrides: { 'fetch.max.bytes': String(1024 * 1024) } });
    const c = await connect(broker);
    expect((await createTopic(c, 'big', 1)).errorCode).toBe(ErrorCode.NONE);
    for (let i = 0; i < 4; i++)
      expect((await produceBatch(c, 'big', `b${i}`, 6, 100_000)).errorCode).toBe(ErrorCode.NONE);
    const res = await c.request(
      Fetch,
      11,
      fetchRequest({
        topic: 'big',
        partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 0x7fffffff }],
        maxBytes: 0x7fffffff,
      }),
    );
    const batches = batchesOf(res.responses[0].partitions[0].records);
    const bytes = batches.reduce((sum, b) => sum + b.size, 0);
    // Each batch is ~600 KB: the first fits, the second would pass 1 MiB.
    expect(batches).toHaveLength(1);
    expect(bytes).toBeLessThanOrEqual(1024 * 1024);
  });
});

describe('topic names at the length limit', () => {
  it('deletes a topic with a 249-character name (its delete dir name once passed the file-name limit)', async () => {
    const broker = await start();
    const c = await connect(broker);
    const name = 'a'.repeat(249);
    expect((await createTopic(c, name, 2)).errorCode).toBe(ErrorCode.NONE);
    const deleted = await c.request(DeleteTopics, 1, { topicNames: [name], timeoutMs: 5_000 });
    expect(deleted.responses[0].errorCode).toBe(ErrorCode.NONE);
    expect((await listedTopics(c)).has(name)).toBe(false);
    expect((await readdir(broker.dataDir)).filter((d) => d.startsWith('aaaa'))).toEqual([]);
  });
});
