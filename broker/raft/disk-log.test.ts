import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { METADATA_VERSION_LEVEL } from '../metadata/records.js';
import { encodeSnapshot } from '../metadata/snapshot.js';
import { DiskRaftLog, METADATA_PARTITION_DIR } from './disk-log.js';
import type { LogEntry } from './log.js';

const logger = pino({ level: 'silent' });
/** Kafka's floor for metadata.log.segment.bytes is 8 MiB; tiny segments here make several. */
const SEGMENT_BYTES = 1024;

function topicEntries(from: number, count: number, epoch: number): LogEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    offset: from + i,
    epoch,
    record: {
      type: 'data' as const,
      value: {
        type: 'TopicRecord',
        name: `topic-${from + i}`,
        topicId: Buffer.alloc(16, (from + i) % 256).toString('base64url'),
      },
    },
  }));
}

const SNAPSHOT = encodeSnapshot(
  [{ type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL }],
  1,
  0,
);

let dir: string;
const clock = new ManualClock(1_700_000_000_000);
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'runnel-raft-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the metadata log on disk, with snapshots', () => {
  it('starts at its latest snapshot after a restart: segments wholly below are gone, the entries after it are read back', async () => {
    const log = await DiskRaftLog.open(dir, SEGMENT_BYTES, logger, clock);
    for (let i = 0; i < 200; i += 20) await log.append(topicEntries(i, 20, 1));
    await log.flush();
    await log.writeSnapshot({ offset: 150, epoch: 1 }, SNAPSHOT);
    await log.deleteBefore({ offset: 150, epoch: 1 });
    expect(log.startOffset()).toBe(150);
    expect(log.epochAt(149)).toBe(1);
    await log.close();

    const files = await readdir(path.join(dir, METADATA_PARTITION_DIR));
    expect(files).toContain('00000000000000000150-0000000001.checkpoint');
    const segments = files.filter((f) => f.endsWith('.log')).map((f) => Number(f.slice(0, 20)));
    expect(Math.min(...segments)).toBeGreaterThan(0);
    expect(Math.min(...segments)).toBeLessThanOrEqual(150);

    const reopened = await DiskRaftLog.open(dir, SEGMENT_BYTES, logger, clock);
    expect(reopened.startOffset()).toBe(150);
    expect(reopened.endOffset()).toBe(200);
    expect(reopened.latestSnapshot()).toEqual({ offset: 150, epoch: 1 });
    expect(reopened.read(150, 1)[0].offset).toBe(150);
    expect(reopened.snapshotRecords()).toEqual([
      { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: 27 },
    ]);
    await reopened.close();
  });

  it('installing a snapshot from the leader empties the log and starts it at the snapshot end, also after a restart', async () => {
    const log = await DiskRaftLog.open(dir, SEGMENT_BYTES, logger, clock);
    await log.append(topicEntries(0, 10, 1));
    await log.flush();
    await log.installSnapshot({ offset: 500, epoch: 3 }, SNAPSHOT);
    expect([log.startOffset(), log.endOffset(), log.lastEpoch()]).toEqual([500, 500, 3]);
    await log.append(topicEntries(500, 5, 3));
    await log.flush();
    await log.close();
    const reopened = await DiskRaftLog.open(dir, SEGMENT_BYTES, logger, clock);
    expect([reopened.startOffset(), reopened.endOffset(), reopened.lastEpoch()]).toEqual([500, 505, 3]);
    await reopened.close();
  });

  it('a snapshot newer than the log (installed, then a crash before the log was emptied) wins at start-up', async () => {
    const log = await DiskRaftLog.open(dir, SEGMENT_BYTES, logger, clock);
    await log.append(topicEntries(0, 10, 1));
    await log.flush();
    await log.writeSnapshot({ offset: 40, epoch: 2 }, SNAPSHOT); // as if fetched: written, log not yet emptied
    await log.close();
    const reopened = await DiskRaftLog.open(dir, SEGMENT_BYTES, logger, clock);
    expect([reopened.startOffset(), reopened.endOffset(), reopened.lastEpoch()]).toEqual([40, 40, 2]);
    await reopened.close();
  });
});
