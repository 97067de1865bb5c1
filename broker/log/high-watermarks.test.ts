import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildRecordBatch, validateProducedBatches } from '../protocol/record-batch.js';
import { silent } from '../test/log-fixtures.js';
import { LogManager } from './log-manager.js';
import { HIGH_WATERMARK_CHECKPOINT } from './offset-checkpoint.js';
import { DEFAULT_LOG_CONFIG } from './partition-log.js';

const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const roots: string[] = [];

afterEach(async () => {
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

async function logDir(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'runnel-hw-'));
  roots.push(root);
  return root;
}

const wanted = [{ topic: 'my-topic', topicId: TOPIC_ID, partition: 2, config: DEFAULT_LOG_CONFIG }];

describe("the log dir's replication-offset-checkpoint", () => {
  it('keeps each partition high watermark across a restart, in Kafka’s format', async () => {
    const dir = await logDir();
    const logs = new LogManager([dir], silent);
    await logs.load(wanted);
    const log = logs.get('my-topic', 2)!;
    const batch = buildRecordBatch({ records: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    const checked = validateProducedBatches(batch);
    if (!checked.ok) throw new Error(checked.message);
    await log.append(batch, checked.batches, 0);
    // A replicated log: nothing is visible until its leader moves the high watermark.
    expect(log.highWatermark).toBe(0);
    log.advanceHighWatermark(2);
    await logs.close();
    expect(await readFile(path.join(dir, HIGH_WATERMARK_CHECKPOINT), 'utf8')).toBe('0\n1\nmy-topic 2 2\n');

    const again = new LogManager([dir], silent);
    await again.load(wanted);
    expect(again.get('my-topic', 2)!.highWatermark).toBe(2);
    await again.close();
  });

  it('starts high watermarks at 0 when the file cannot be read (they catch up from the leaders)', async () => {
    const dir = await logDir();
    await writeFile(path.join(dir, HIGH_WATERMARK_CHECKPOINT), '0\n7\nmy-topic 2 5\n');
    const logs = new LogManager([dir], silent);
    await logs.load(wanted);
    expect(logs.get('my-topic', 2)!.highWatermark).toBe(0);
    await logs.close();
  });
});
