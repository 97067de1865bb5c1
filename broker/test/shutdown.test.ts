// Stopping the broker the way an operator does (SIGTERM), and refusing to start on a bad
// config key. A clean shutdown answers what it already read (a parked long-poll fetch gets its
// response, not a reset), keeps every record it acknowledged, and exits 0.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { ApiVersions, CreateTopics, Fetch, Produce } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../protocol/record-batch.js';
import { newDataDir, startBroker } from './broker-process.js';
import { ConnectionClosedError, RawConnection, batchesOf, fetchRequest, type RequestInputOf } from './raw-client.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/broker/main.js');
const TOPIC = 'shutdown';
/** Shorter than the long poll's 30 s: a fetch the shutdown forgets is cut off, not answered by its own timer. */
const OVERRIDES = { 'shutdown.timeout.ms': '10000' };

function produceRequest(partition: number, key: string): RequestInputOf<typeof Produce> {
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [
      {
        name: TOPIC,
        partitionData: [
          { index: partition, records: buildRecordBatch({ records: [{ key, value: `value of ${key}` }] }) },
        ],
      },
    ],
  };
}

/** Every key of a partition, by offset, read with Fetch v12 up to the high watermark. */
async function readPartition(c: RawConnection, partition: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset = 0;
  for (;;) {
    const res = await c.request(
      Fetch,
      12,
      fetchRequest({
        topic: TOPIC,
        partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 10 * 1024 * 1024 }],
      }),
    );
    const p = res.responses[0].partitions[0];
    expect(p.errorCode).toBe(ErrorCode.NONE);
    for (const b of batchesOf(p.records)) for (const r of b.records) out.set(r.offset, r.key!.toString());
    const next = Math.max(offset, ...out.keys()) + (out.size > 0 ? 1 : 0);
    if (next >= p.highWatermark) return out;
    offset = next;
  }
}

describe('SIGTERM', () => {
  it('answers a pending long-poll fetch, keeps every acknowledged record, exits 0 and logs a clean shutdown', async () => {
    const dataDir = await newDataDir();
    let broker = await startBroker({ dataDir, overrides: OVERRIDES });
    const admin = await RawConnection.open(broker.port);
    const created = await admin.request(CreateTopics, 7, {
      topics: [{ name: TOPIC, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE);

    /** Offset -> key of every record the broker acknowledged on partition 0. */
    const acked = new Map<number, string>();
    const producer = await RawConnection.open(broker.port);
    for (let i = 0; i < 5; i++) {
      const key = `before-${i}`;
      const res = await producer.request(Produce, 9, produceRequest(0, key));
      const p = res.responses[0].partitionResponses[0];
      expect(p.errorCode).toBe(ErrorCode.NONE);
      acked.set(p.baseOffset, key);
    }

    // A long poll on partition 1, which nothing is written to: only the shutdown can answer it.
    const fetcher = await RawConnection.open(broker.port);
    const pendingFetch = fetcher.request(
      Fetch,
      12,
      fetchRequest({ topic: TOPIC, partitions: [{ partition: 1, fetchOffset: 0 }], maxWaitMs: 30_000, minBytes: 1 }),
    );
    let fetchAnswered = false;
    void pendingFetch.finally(() => (fetchAnswered = true)).catch(() => {});
    await admin.request(ApiVersions, 3, { clientSoftwareName: 'runnel-raw', clientSoftwareVersion: '0' });
    expect(fetchAnswered).toBe(false);

    // A stream of produce requests, eight in flight at a time, still going when SIGTERM lands.
    const streamer = await RawConnection.open(broker.port);
    const problems: string[] = [];
    const settled: Array<Promise<void>> = [];
    let sent = 0;
    let exitCode: Promise<number | null> | undefined;
    let signalled!: () => void;
    const signalSent = new Promise<void>((resolve) => (signalled = resolve));
    const sendNext = () => {
      if (!streamer.open) return;
      const key = `stream-${sent++}`;
      const done = streamer.request(Produce, 9, produceRequest(0, key)).then(
        (res) => {
          const p = res.responses[0].partitionResponses[0];
          if (p.errorCode !== ErrorCode.NONE) problems.push(`${key}: error ${p.errorCode}`);
          else acked.set(p.baseOffset, key);
          if (acked.size >= 25 && !exitCode) {
            exitCode = broker.stop();
            signalled();
          }
          sendNext();
        },
        (err: unknown) => {
          // Requests the broker never read are not answered: the connection ends instead.
          if (!(err instanceof ConnectionClosedError)) problems.push(`${key}: ${String(err)}`);
        },
      );
      settled.push(done);
    };
    for (let i = 0; i < 8; i++) sendNext();

    await signalSent;
    const fetched = await pendingFetch;
    expect(fetched.responses[0].partitions[0]).toMatchObject({
      partitionIndex: 1,
      errorCode: ErrorCode.NONE,
      highWatermark: 0,
    });
    expect(batchesOf(fetched.responses[0].partitions[0].records)).toEqual([]);
    // The connection then ends with a FIN after the response, not a reset.
    const fetcherEnd = await fetcher.closed;
    expect(fetcherEnd).toEqual({ byPeer: true, error: null });
    expect(fetcher.endedByPeer).toBe(true);

    await streamer.closed;
    while (settled.length > 0) await Promise.all(settled.splice(0));
    expect(problems).toEqual([]);
    expect(await exitCode).toBe(0);
    expect(broker.output()).toMatch(/"msg":"shut down cleanly"/);
    expect(acked.size).toBeGreaterThanOrEqual(25);
    admin.close();
    producer.close();

    broker = await startBroker({ dataDir, port: broker.port, overrides: OVERRIDES });
    try {
      const reader = await RawConnection.open(broker.port);
      const stored = await readPartition(reader, 0);
      for (const [offset, key] of acked) expect(stored.get(offset), `offset ${offset}`).toBe(key);
      // Offsets are dense: nothing acknowledged was lost in the middle either.
      expect([...stored.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: stored.size }, (_, i) => i));
      expect(stored.size).toBeGreaterThanOrEqual(acked.size);
      expect(stored.size).toBeLessThanOrEqual(5 + sent);
      reader.close();
    } finally {
      expect(await broker.stop()).toBe(0);
    }
  });
});

describe('a bad config key', () => {
  it('stops start-up with a non-zero exit, naming the key and suggesting the right one', async () => {
    const dataDir = await newDataDir();
    const args = [
      MAIN,
      ...['node.id=1', 'listeners=PLAINTEXT://127.0.0.1:0', `log.dirs=${dataDir}`, 'log.retension.ms=5'].flatMap(
        (o) => ['--override', o],
      ),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toMatch(/"log\.retension\.ms"/);
    expect(stderr).toMatch(/did you mean "log\.retention\.ms"/);
    expect(stdout).not.toMatch(/"msg":"listening"/);
  }, 15_000);
});
