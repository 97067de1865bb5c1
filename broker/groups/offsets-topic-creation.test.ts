// `__consumer_offsets` is created on the first FindCoordinator. While its partitions' logs are
// being opened it is already in the metadata image; a second FindCoordinator arriving then
// must wait for the creation to finish instead of naming the coordinator at once, or the
// group's first write (SyncGroup, OffsetCommit) finds no log and fails with
// COORDINATOR_NOT_AVAILABLE. Seen with two consumer-group members starting together on a
// fresh broker (the compatibility matrix's balanced-group scenario).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { CreateTopics, FindCoordinator, OffsetCommit, OffsetFetch } from '../protocol/messages/index.js';
import { startBroker, type BrokerProcess } from '../test/broker-process.js';
import { RawConnection } from '../test/raw-client.js';
import { offsetsPartitionFor } from './offsets-topic.js';

const PARTITIONS = 50;
const TOPIC = 'offsets-race-topic';

/** A group id whose offsets live in the last partition, the last one whose log is opened. */
function groupInLastPartition(): string {
  for (let i = 0; ; i++) if (offsetsPartitionFor(`race-${i}`, PARTITIONS) === PARTITIONS - 1) return `race-${i}`;
}

describe('FindCoordinator while __consumer_offsets is being created', () => {
  let broker: BrokerProcess;
  const connections: RawConnection[] = [];

  beforeAll(async () => {
    broker = await startBroker({ overrides: { 'offsets.topic.num.partitions': String(PARTITIONS) } });
    for (let i = 0; i < 2; i++) connections.push(await RawConnection.open(broker.port));
    const created = await connections[0].request(CreateTopics, 5, {
      topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE);
  });
  afterAll(async () => {
    for (const c of connections) c.close();
    await broker?.stop();
  });

  it('names the coordinator only once the group can be written to', async () => {
    const [first, second] = connections as [RawConnection, RawConnection];
    const group = groupInLastPartition();
    let creating = true;
    const firstFind = first
      .request(FindCoordinator, 3, { key: 'someone-else', keyType: 0 })
      .finally(() => (creating = false));
    // Start asking once the topic is in the image: its first log has been opened.
    while (
      creating &&
      !/"topic":"__consumer_offsets","partition":0,[^\n]*"msg":"opened partition log"/.test(broker.output())
    )
      await new Promise((r) => setTimeout(r, 1));
    const commits: number[] = [];
    let offset = 0;
    // Ask again and again on another connection while the first request creates the topic;
    // every time a coordinator is named, a commit to it must succeed.
    do {
      const found = await second.request(FindCoordinator, 3, { key: group, keyType: 0 });
      expect(found.errorCode).toBe(ErrorCode.NONE);
      const res = await second.request(OffsetCommit, 7, {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [
          {
            name: TOPIC,
            partitions: [
              { partitionIndex: 0, committedOffset: ++offset, committedLeaderEpoch: -1, committedMetadata: null },
            ],
          },
        ],
      });
      commits.push(res.topics[0].partitions[0].errorCode);
    } while (creating);
    expect((await firstFind).errorCode).toBe(ErrorCode.NONE);
    expect(commits.filter((c) => c !== ErrorCode.NONE)).toEqual([]);
    const fetched = await second.request(OffsetFetch, 7, {
      groupId: group,
      topics: [{ name: TOPIC, partitionIndexes: [0] }],
      requireStable: false,
    });
    expect(fetched.topics[0].partitions[0].committedOffset).toBe(offset);
  });
});
