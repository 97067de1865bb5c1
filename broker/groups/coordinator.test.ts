// The group coordinator on a manual clock: session and rebalance timeouts fire when time is
// advanced, never by sleeping; and a failed write to `__consumer_offsets` changes nothing and is
// answered with COORDINATOR_NOT_AVAILABLE. The logs are real partition logs in a temporary dir.

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { loadBrokerConfig } from '../config/broker-config.js';
import { LogManager } from '../log/log-manager.js';
import { localMetadata } from '../test/local-metadata.js';
import { ErrorCode } from '../protocol/errors.js';
import { newDataDir } from '../test/broker-process.js';
import { GroupCoordinator, type JoinRequest } from './coordinator.js';
import type { JoinResult, SyncResult } from './group.js';
import { OFFSETS_TOPIC, offsetsPartitionFor } from './offsets-topic.js';

const SESSION_MS = 10_000;
const REBALANCE_MS = 30_000;
const OFFSETS_PARTITIONS = 1;

let logs: LogManager | undefined;
let coordinator: GroupCoordinator | undefined;

afterEach(async () => {
  coordinator?.shutdown();
  await logs?.close();
  logs = undefined;
  coordinator = undefined;
});

async function setUp(initialRebalanceDelayMs = 0) {
  const dataDir = await newDataDir();
  const { config } = loadBrokerConfig({
    argv: [
      ...['--override', `log.dirs=${dataDir}`, '--override', 'offsets.topic.replication.factor=1'],
      ...[
        '--override',
        `offsets.topic.num.partitions=${OFFSETS_PARTITIONS}`,
        '--override',
        `group.initial.rebalance.delay.ms=${initialRebalanceDelayMs}`,
      ],
    ],
    env: {},
    cwd: dataDir,
  });
  const logger = pino({ level: 'silent' });
  const clock = new ManualClock(1_700_000_000_000);
  logs = new LogManager(config.logDirs, logger);
  const metadata = localMetadata(config, logs, clock, logger);
  await metadata.ready;
  const { topics, partitions, image, followers } = metadata;
  expect(
    (await topics.create({ name: 't', numPartitions: 1, replicationFactor: 1, configs: [] }, false)).errorCode,
  ).toBe(ErrorCode.NONE);
  coordinator = new GroupCoordinator(
    image,
    config.nodeId,
    partitions,
    (spec) => topics.create(spec, false, { internal: true }),
    config.groups,
    clock,
    logger,
  );
  const created = coordinator;
  followers.push((delta) => created.applyDelta(delta));
  await coordinator.start();
  expect((await coordinator.ensureOffsetsTopic()).errorCode).toBe(ErrorCode.NONE);
  return { clock, coordinator, logs };
}

function joinRequest(memberId: string, metadata = 'm'): JoinRequest {
  return {
    groupId: 'g',
    memberId,
    groupInstanceId: null,
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from(metadata) }],
    clientId: 'c',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
  };
}

/** Lets pending promise callbacks (and the log's file I/O) run. */
async function settle<T>(p: Promise<T> | T): Promise<T> {
  return await p;
}

async function stableGroupOfOne(c: GroupCoordinator): Promise<JoinResult> {
  const joined = await settle(c.join(joinRequest('')));
  expect(joined.errorCode).toBe(ErrorCode.NONE);
  const synced = await settle(
    c.sync(
      { groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null },
      null,
      null,
      [{ memberId: joined.memberId, assignment: Buffer.from('a1') }],
    ),
  );
  expect(synced.errorCode).toBe(ErrorCode.NONE);
  expect(c.describeGroup('g').state).toBe('Stable');
  return joined;
}

describe('group coordinator timeouts on a manual clock', () => {
  it('removes a member whose session expires, and not a moment before', async () => {
    const { clock, coordinator: c } = await setUp();
    const joined = await stableGroupOfOne(c);
    const ref = { groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null };

    clock.advance(SESSION_MS - 1);
    expect(c.heartbeat(ref)).toBe(ErrorCode.NONE);
    // The heartbeat restarted the session: it now ends SESSION_MS after it.
    clock.advance(SESSION_MS - 1);
    expect(c.describeGroup('g').members).toHaveLength(1);
    clock.advance(1);
    expect(c.describeGroup('g').members).toHaveLength(0);
    expect(c.describeGroup('g').state).toBe('Empty');
    expect(c.heartbeat(ref)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('completes a rebalance without a member that does not rejoin within the rebalance timeout', async () => {
    const initialDelayMs = 3_000;
    const { clock, coordinator: c } = await setUp(initialDelayMs);
    // A new group waits group.initial.rebalance.delay.ms for more members before its first generation.
    const first = c.join(joinRequest(''));
    const second = c.join(joinRequest(''));
    clock.advance(initialDelayMs);
    const [a, b] = await Promise.all([first, second]);
    expect(a.generationId).toBe(1);
    expect(a.generationId).toBe(b.generationId);
    const leader = a.leader === a.memberId ? a : b;
    const follower = leader === a ? b : a;
    const followerSync = c.sync(
      { groupId: 'g', generationId: follower.generationId, memberId: follower.memberId, groupInstanceId: null },
      null,
      null,
      [],
    );
    await settle(
      c.sync(
        { groupId: 'g', generationId: leader.generationId, memberId: leader.memberId, groupInstanceId: null },
        null,
        null,
        [],
      ),
    );
    expect((await followerSync).errorCode).toBe(ErrorCode.NONE);

    // The leader rejoins with new metadata; the follower keeps heartbeating but never rejoins.
    const rejoined = c.join(joinRequest(leader.memberId, 'changed'));
    const followerRef = {
      groupId: 'g',
      generationId: follower.generationId,
      memberId: follower.memberId,
      groupInstanceId: null,
    };
    let answered: JoinResult | undefined;
    void Promise.resolve(rejoined).then((r) => (answered = r));
    for (let waited = 0; waited + 3_000 < REBALANCE_MS; waited += 3_000) {
      clock.advance(3_000);
      expect(c.heartbeat(followerRef)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    await settle(undefined);
    expect(answered).toBeUndefined();
    clock.advance(REBALANCE_MS);
    const result = await rejoined;
    expect(result.errorCode).toBe(ErrorCode.NONE);
    expect(result.generationId).toBe(leader.generationId + 1);
    expect(result.members.map((m) => m.memberId)).toEqual([leader.memberId]);
    expect(c.heartbeat(followerRef)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

describe('a write to __consumer_offsets that fails', () => {
  it('changes nothing, answers COORDINATOR_NOT_AVAILABLE, and sends the group back to rebalancing', async () => {
    const { coordinator: c, logs: l } = await setUp();
    const joined = await stableGroupOfOne(c);
    const ref = { groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null };
    expect(
      await c.commitOffsets(ref, [{ topic: 't', partition: 0, offset: 5, leaderEpoch: -1, metadata: null }]),
    ).toEqual([ErrorCode.NONE]);

    // The offsets partition stops taking writes (as after a disk error).
    await l.get(OFFSETS_TOPIC, offsetsPartitionFor('g', OFFSETS_PARTITIONS))!.close();

    expect(
      await c.commitOffsets(ref, [{ topic: 't', partition: 0, offset: 9, leaderEpoch: -1, metadata: null }]),
    ).toEqual([ErrorCode.COORDINATOR_NOT_AVAILABLE]);
    expect(c.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0].offset).toBe(5);
    expect(await c.deleteOffsets('g', [{ topic: 't', partition: 0 }])).toEqual({
      errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
      codes: [],
    });
    expect(c.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0].offset).toBe(5);

    // A new generation whose assignment cannot be stored is not completed.
    const rejoined = await settle(c.join(joinRequest(joined.memberId, 'changed')));
    expect(rejoined.generationId).toBe(joined.generationId + 1);
    const synced: SyncResult = await settle(
      c.sync(
        { groupId: 'g', generationId: rejoined.generationId, memberId: rejoined.memberId, groupInstanceId: null },
        null,
        null,
        [{ memberId: rejoined.memberId, assignment: Buffer.from('a2') }],
      ),
    );
    expect(synced.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(c.describeGroup('g').state).toBe('PreparingRebalance');

    // The member leaves; storing the empty group fails too, and is only logged.
    expect(c.leave('g', [{ memberId: rejoined.memberId, groupInstanceId: null }]).members[0].errorCode).toBe(
      ErrorCode.NONE,
    );
    expect(c.describeGroup('g').state).toBe('Empty');
    expect(await c.deleteGroup('g')).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(c.describeGroup('g').state).toBe('Empty');
  });
});
