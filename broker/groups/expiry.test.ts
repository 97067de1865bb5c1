import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../config/broker-config.js';
import { BrokerNode } from '../node.js';
import { ErrorCode } from '../protocol/errors.js';
import { CreateTopics, FindCoordinator, OffsetCommit, OffsetFetch, ListGroups } from '../protocol/messages/index.js';
import { newDataDir } from '../test/broker-process.js';
import { RawConnection } from '../test/raw-client.js';

const RETENTION_MINUTES = 60;

async function startInProcess(dataDir: string): Promise<BrokerNode> {
  const { config } = loadBrokerConfig({
    argv: [
      '--override',
      'listeners=PLAINTEXT://127.0.0.1:0',
      '--override',
      `log.dirs=${dataDir}`,
      '--override',
      'offsets.topic.replication.factor=1',
      '--override',
      `offsets.retention.minutes=${RETENTION_MINUTES}`,
      '--override',
      'offsets.topic.num.partitions=3',
    ],
    env: {},
    cwd: dataDir,
  });
  return BrokerNode.start(config, pino({ level: 'silent' }));
}

describe('committed offsets of empty groups', () => {
  let broker: BrokerNode | undefined;
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
  });

  it('expire after offsets.retention.minutes, and stay expired after a restart', async () => {
    const dataDir = await newDataDir();
    broker = await startInProcess(dataDir);
    const conn = await RawConnection.open(broker.ports[0]);
    await conn.request(CreateTopics, 5, {
      topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    expect((await conn.request(FindCoordinator, 3, { key: 'standalone', keyType: 0 })).errorCode).toBe(ErrorCode.NONE);
    // A standalone commit (generation -1, no member): the group exists, empty, with one offset.
    const commit = await conn.request(OffsetCommit, 7, {
      groupId: 'standalone',
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 7, committedMetadata: null }] }],
    });
    expect(commit.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
    const fetchOffset = async (c: RawConnection) =>
      (
        await c.request(OffsetFetch, 5, {
          groupId: 'standalone',
          topics: [{ name: 't', partitionIndexes: [0] }],
          requireStable: false,
        })
      ).topics[0].partitions[0].committedOffset;
    expect(await fetchOffset(conn)).toBe(7);

    await broker.groups.expireOffsets(Date.now() + (RETENTION_MINUTES - 1) * 60_000);
    expect(await fetchOffset(conn)).toBe(7);
    await broker.groups.expireOffsets(Date.now() + (RETENTION_MINUTES + 1) * 60_000);
    expect(await fetchOffset(conn)).toBe(-1);
    expect((await conn.request(ListGroups, 4, { statesFilter: [] })).groups).toEqual([]);
    conn.close();

    await broker.stop();
    broker = await startInProcess(dataDir);
    const again = await RawConnection.open(broker.ports[0]);
    expect(await fetchOffset(again)).toBe(-1);
    again.close();
  });
});
