import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import {
  CreateTopics,
  DeleteGroups,
  DescribeGroups,
  FindCoordinator,
  Heartbeat,
  JoinGroup,
  LeaveGroup,
  ListGroups,
  OffsetCommit,
  OffsetFetch,
  SyncGroup,
} from '../protocol/messages/index.js';
import { startBroker, type BrokerProcess } from './broker-process.js';
import { RawConnection } from './raw-client.js';

const GROUP = 'raw-group';
const TOPIC = 'raw-group-topic';
const RANGE = { name: 'range', metadata: Buffer.from('subscription') };

describe('group coordinator protocol errors', () => {
  let broker: BrokerProcess;
  let conn: RawConnection;

  const join = (memberId: string, protocols = [RANGE], groupInstanceId: string | null = null) =>
    conn.request(JoinGroup, 5, {
      groupId: GROUP,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId,
      groupInstanceId,
      protocolType: 'consumer',
      protocols,
    });
  const heartbeat = (memberId: string, generationId: number, groupInstanceId: string | null = null) =>
    conn.request(Heartbeat, 3, { groupId: GROUP, generationId, memberId, groupInstanceId });
  const commit = (memberId: string, generationIdOrMemberEpoch: number) =>
    conn.request(OffsetCommit, 7, {
      groupId: GROUP,
      generationIdOrMemberEpoch,
      memberId,
      groupInstanceId: null,
      topics: [
        {
          name: TOPIC,
          partitions: [{ partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: 'm' }],
        },
      ],
    });

  beforeAll(async () => {
    broker = await startBroker();
    conn = await RawConnection.open(broker.port);
    const created = await conn.request(CreateTopics, 5, {
      topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE);
    const coordinator = await conn.request(FindCoordinator, 3, { key: GROUP, keyType: 0 });
    expect(coordinator.errorCode).toBe(ErrorCode.NONE);
  });
  afterAll(async () => {
    conn?.close();
    await broker?.stop();
  });

  let memberId = '';
  let generation = -1;

  it('asks a new member to rejoin with an assigned member id, then makes it leader of generation 1', async () => {
    const first = await join('');
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).not.toBe('');
    const second = await join(first.memberId);
    expect(second).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: 1,
      leader: first.memberId,
      memberId: first.memberId,
      protocolName: 'range',
    });
    expect(second.members.map((m) => m.memberId)).toEqual([first.memberId]);
    memberId = second.memberId;
    generation = second.generationId;
    const sync = await conn.request(SyncGroup, 3, {
      groupId: GROUP,
      generationId: generation,
      memberId,
      groupInstanceId: null,
      assignments: [{ memberId, assignment: Buffer.from('all of it') }],
    });
    expect(sync.errorCode).toBe(ErrorCode.NONE);
    expect(sync.assignment.toString()).toBe('all of it');
  });

  it('answers SyncGroup from an unknown member with UNKNOWN_MEMBER_ID', async () => {
    const sync = await conn.request(SyncGroup, 3, {
      groupId: GROUP,
      generationId: generation,
      memberId: 'nobody',
      groupInstanceId: null,
      assignments: [],
    });
    expect(sync.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('refuses a JoinGroup with no protocol in common, leaving the group undisturbed', async () => {
    const other = await join('', [{ name: 'roundrobin-only', metadata: Buffer.alloc(0) }]);
    expect(other.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await heartbeat(memberId, generation)).errorCode).toBe(ErrorCode.NONE);
    const described = await conn.request(DescribeGroups, 4, { groups: [GROUP], includeAuthorizedOperations: false });
    expect(described.groups[0]).toMatchObject({
      groupState: 'Stable',
      protocolType: 'consumer',
      protocolData: 'range',
    });
    expect(described.groups[0].members.map((m) => m.memberId)).toEqual([memberId]);
  });

  it('refuses an OffsetCommit with a stale generation and accepts the current one', async () => {
    const stale = await commit(memberId, generation - 1);
    expect(stale.topics[0].partitions[0].errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await heartbeat(memberId, generation + 1)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    const fetchedBefore = await conn.request(OffsetFetch, 5, {
      groupId: GROUP,
      topics: [{ name: TOPIC, partitionIndexes: [0] }],
      requireStable: false,
    });
    expect(fetchedBefore.topics[0].partitions[0].committedOffset).toBe(-1);

    const ok = await commit(memberId, generation);
    expect(ok.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
    const fetched = await conn.request(OffsetFetch, 5, {
      groupId: GROUP,
      topics: [{ name: TOPIC, partitionIndexes: [0] }],
      requireStable: false,
    });
    expect(fetched.topics[0].partitions[0]).toMatchObject({
      committedOffset: 42,
      metadata: 'm',
      errorCode: ErrorCode.NONE,
    });
  });

  it('keeps a restarted static member in place without a rebalance and fences its old member id', async () => {
    const staticConn = await RawConnection.open(broker.port);
    try {
      const staticJoin = (c: RawConnection) =>
        c.request(JoinGroup, 5, {
          groupId: GROUP,
          sessionTimeoutMs: 10_000,
          rebalanceTimeoutMs: 10_000,
          memberId: '',
          groupInstanceId: 'instance-1',
          protocolType: 'consumer',
          protocols: [RANGE],
        });
      const joining = staticJoin(staticConn);
      // The existing member learns of the rebalance from its heartbeat and rejoins.
      await expect
        .poll(async () => (await heartbeat(memberId, generation)).errorCode)
        .toBe(ErrorCode.REBALANCE_IN_PROGRESS);
      const rejoined = await join(memberId);
      const joined = await joining;
      expect(rejoined).toMatchObject({ errorCode: ErrorCode.NONE, generationId: generation + 1, leader: memberId });
      expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, generationId: generation + 1, leader: memberId });
      generation = rejoined.generationId;
      const followerSync = staticConn.request(SyncGroup, 3, {
        groupId: GROUP,
        generationId: generation,
        memberId: joined.memberId,
        groupInstanceId: 'instance-1',
        assignments: [],
      });
      const leaderSync = await conn.request(SyncGroup, 3, {
        groupId: GROUP,
        generationId: generation,
        memberId,
        groupInstanceId: null,
        assignments: [
          { memberId, assignment: Buffer.from('half') },
          { memberId: joined.memberId, assignment: Buffer.from('other half') },
        ],
      });
      expect(leaderSync.assignment.toString()).toBe('half');
      expect((await followerSync).assignment.toString()).toBe('other half');

      // The static member restarts: a new connection, no member id, same instance id.
      const restartedConn = await RawConnection.open(broker.port);
      const restarted = await staticJoin(restartedConn);
      restartedConn.close();
      expect(restarted).toMatchObject({ errorCode: ErrorCode.NONE, generationId: generation });
      expect(restarted.memberId).not.toBe(joined.memberId);
      expect((await heartbeat(joined.memberId, generation, 'instance-1')).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
      expect((await heartbeat(restarted.memberId, generation, 'instance-1')).errorCode).toBe(ErrorCode.NONE);
      expect((await heartbeat(memberId, generation)).errorCode).toBe(ErrorCode.NONE);
    } finally {
      staticConn.close();
    }
  });

  it('will not delete a group with members; deletes it once the members left', async () => {
    const list = await conn.request(ListGroups, 4, { statesFilter: [] });
    expect(list.groups.map((g) => g.groupId)).toContain(GROUP);
    const busy = await conn.request(DeleteGroups, 1, { groupsNames: [GROUP] });
    expect(busy.results[0].errorCode).toBe(ErrorCode.NON_EMPTY_GROUP);
    const described = await conn.request(DescribeGroups, 4, { groups: [GROUP], includeAuthorizedOperations: false });
    const left = await conn.request(LeaveGroup, 3, {
      groupId: GROUP,
      members: described.groups[0].members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })),
    });
    expect(left.members.every((m) => m.errorCode === ErrorCode.NONE)).toBe(true);
    const deleted = await conn.request(DeleteGroups, 1, { groupsNames: [GROUP] });
    expect(deleted.results[0].errorCode).toBe(ErrorCode.NONE);
    const again = await conn.request(DeleteGroups, 1, { groupsNames: [GROUP] });
    expect(again.results[0].errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });
});
