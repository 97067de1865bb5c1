import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { buildRecordBatch, validateProducedBatches } from '../protocol/record-batch.js';
import { LogManager } from '../log/log-manager.js';
import { DEFAULT_LOG_CONFIG } from '../log/partition-log.js';
import { silent } from '../test/log-fixtures.js';
import type { RequestContext } from './dispatch.js';
import { describeLogDirsHandler } from './describe-log-dirs.js';
import type { BrokerServices } from './services.js';

const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const roots: string[] = [];
const managers: LogManager[] = [];

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

interface Answer {
  errorCode: number;
  results: Array<{
    errorCode: number;
    logDir: string;
    totalBytes: number;
    usableBytes: number;
    topics: Array<{
      name: string;
      partitions: Array<{ partitionIndex: number; partitionSize: number; offsetLag: number; isFutureKey: boolean }>;
    }>;
  }>;
}

/** A broker with two log dirs holding orders-0, orders-1 and audit-0, and three records in orders-0. */
async function broker() {
  const root = await mkdtemp(path.join(os.tmpdir(), 'runnel-log-dirs-'));
  roots.push(root);
  const dirs = [path.join(root, 'a'), path.join(root, 'b')];
  const logs = new LogManager(dirs, silent);
  managers.push(logs);
  await logs.load(
    [
      ['orders', 0],
      ['orders', 1],
      ['audit', 0],
    ].map(([topic, partition]) => ({
      topic: topic as string,
      topicId: TOPIC_ID,
      partition: partition as number,
      config: DEFAULT_LOG_CONFIG,
    })),
  );
  const batch = buildRecordBatch({ records: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
  const checked = validateProducedBatches(batch);
  if (!checked.ok) throw new Error(checked.message);
  await logs.get('orders', 0)!.append(batch, checked.batches, 0);
  logs.get('orders', 0)!.advanceHighWatermark(3);
  const h = describeLogDirsHandler({ logs } as unknown as BrokerServices);
  const ctx = { header: { apiVersion: 4, clientId: 'test' }, logger: silent } as unknown as RequestContext;
  const ask = async (topics: Array<{ topic: string; partitions: number[] }> | null): Promise<Answer> => {
    const answer: unknown = await h.handle({ topics }, ctx);
    return answer as Answer;
  };
  return { dirs, logs, ask };
}

/** Each log dir's partitions as `<topic>-<partition>` → size. */
function held(answer: Answer): Map<string, Map<string, number>> {
  return new Map(
    answer.results.map((r) => [
      r.logDir,
      new Map(r.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}-${p.partitionIndex}`, p.partitionSize]))),
    ]),
  );
}

describe('DescribeLogDirs', () => {
  it('lists every log dir with its file system’s bytes and the partitions in it, each with its segments’ bytes', async () => {
    const { dirs, ask } = await broker();
    const answer = await ask(null);
    expect(answer.errorCode).toBe(ErrorCode.NONE);
    expect(answer.results.map((r) => r.logDir)).toEqual(dirs);
    for (const r of answer.results) {
      expect(r.errorCode).toBe(ErrorCode.NONE);
      expect(r.totalBytes).toBeGreaterThan(0);
      expect(r.usableBytes).toBeGreaterThan(0);
      expect(r.usableBytes).toBeLessThanOrEqual(r.totalBytes);
      for (const t of r.topics)
        for (const p of t.partitions) expect(p).toMatchObject({ offsetLag: 0, isFutureKey: false });
    }
    const byDir = held(answer);
    const everywhere = new Map([...byDir.values()].flatMap((m) => [...m]));
    expect([...everywhere.keys()].sort()).toEqual(['audit-0', 'orders-0', 'orders-1']);
    // Each partition is in the dir its files are in, and its size is its segment file's.
    for (const [dir, partitions] of byDir)
      for (const [key, size] of partitions) {
        const segment = path.join(dir, key, '00000000000000000000.log');
        expect(size).toBe((await stat(segment)).size);
      }
    expect(everywhere.get('orders-0')).toBeGreaterThan(0);
    expect(everywhere.get('orders-1')).toBe(0);
  });

  it('a topic filter yields only the partitions named; unknown topics and partitions just yield nothing', async () => {
    const { ask } = await broker();
    const answer = await ask([
      { topic: 'orders', partitions: [1, 7] },
      { topic: 'missing', partitions: [0] },
    ]);
    expect(answer.errorCode).toBe(ErrorCode.NONE);
    expect(answer.results).toHaveLength(2);
    const listed = answer.results.flatMap((r) =>
      r.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)]),
    );
    expect(listed).toEqual([['orders', [1]]]);
    expect((await ask([])).results.every((r) => r.topics.length === 0)).toBe(true);
  });

  it('a log dir whose file system cannot be read answers KAFKA_STORAGE_ERROR; the other dirs still answer', async () => {
    const { dirs, logs, ask } = await broker();
    await logs.close();
    managers.splice(managers.indexOf(logs), 1);
    await rm(dirs[1], { recursive: true, force: true });
    const answer = await ask(null);
    expect(answer.results.map((r) => [r.logDir, r.errorCode])).toEqual([
      [dirs[0], ErrorCode.NONE],
      [dirs[1], ErrorCode.KAFKA_STORAGE_ERROR],
    ]);
    expect(answer.results[1]).toMatchObject({ topics: [], totalBytes: -1, usableBytes: -1 });
  });
});
