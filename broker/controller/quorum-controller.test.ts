// The active controller's replication decisions end to end, on a quorum of one whose proposals
// are applied at once and a clock that moves only when told: brokers register, heartbeat, shut
// down and come back; leaders ask for ISR changes; the balancer runs on the clock.

import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { loadBrokerConfig } from '../config/broker-config.js';
import type { PartitionState } from '../metadata/image.js';
import { MetadataPublisher } from '../metadata/publisher.js';
import { TopicConfigs } from '../metadata/topic-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import type { RaftNode } from '../raft/raft-node.js';
import { ElectionType } from './leaders.js';
import { QuorumController } from './quorum-controller.js';

const CLUSTER_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';
const BROKERS = [1, 2, 3];
const HEARTBEAT_MS = 1000;

async function activeController(overrides: Record<string, string> = {}) {
  const clock = new ManualClock(1_000_000);
  const argv = Object.entries({ 'node.id': '1', 'log.dirs': '/nonexistent', ...overrides }).flatMap(([k, v]) => [
    '--override',
    `${k}=${v}`,
  ]);
  const { config } = loadBrokerConfig({ argv, env: {}, cwd: '/' });
  const publisher = new MetadataPublisher();
  let end = 0;
  const append = (records: unknown[], type: 'data' | 'leaderChange' = 'data') => {
    const base = end;
    end += records.length;
    publisher.apply(
      records.map((value, i) => ({
        offset: base + i,
        epoch: 1,
        record:
          type === 'data'
            ? { type: 'data' as const, value }
            : { type: 'leaderChange' as const, leaderId: 1, voters: [1], grantingVoters: [1] },
      })),
      end,
    );
    return { baseOffset: base, lastOffset: end - 1 };
  };
  const raft = {
    view: () => ({ state: 'leader', epoch: 1, leaderId: 1, logEndOffset: end }),
    propose: (records: unknown[]) => Promise.resolve(append(records)),
  } as unknown as RaftNode;
  const controller = new QuorumController(
    raft,
    publisher,
    new TopicConfigs(publisher.image, config),
    CLUSTER_ID,
    config,
    clock,
    pino({ level: 'silent' }),
  );
  append([{}], 'leaderChange');
  await settle();

  const epochs = new Map<number, number>();
  const incarnations = new Map<number, number>();
  const register = async (brokerId: number) => {
    const n = (incarnations.get(brokerId) ?? 0) + 1;
    incarnations.set(brokerId, n);
    const r = await controller.registerBroker({
      brokerId,
      clusterId: CLUSTER_ID,
      incarnationId: `incarnation-${brokerId}-${n}`,
      listeners: [],
      features: [{ name: 'metadata.version', minSupportedVersion: 7, maxSupportedVersion: 27 }],
      rack: null,
    });
    expect(r.errorCode).toBe(ErrorCode.NONE);
    epochs.set(brokerId, r.brokerEpoch);
    await heartbeat(brokerId);
  };
  const heartbeat = (brokerId: number, wantShutDown = false) =>
    controller.heartbeat({
      brokerId,
      brokerEpoch: epochs.get(brokerId)!,
      currentMetadataOffset: end,
      wantFence: false,
      wantShutDown,
    });
  const stopped = new Set<number>();
  /** Time passes; the running brokers heartbeat every second. */
  const pass = async (ms: number) => {
    for (let t = 0; t < ms; t += HEARTBEAT_MS) {
      for (const id of epochs.keys()) if (!stopped.has(id)) await heartbeat(id);
      clock.advance(HEARTBEAT_MS);
      await settle();
    }
  };
  const shutDown = async (brokerId: number) => {
    stopped.add(brokerId);
    expect((await heartbeat(brokerId, true)).shouldShutDown).toBe(true);
  };
  /** The broker's process is gone: no more heartbeats. */
  const crash = (brokerId: number) => void stopped.add(brokerId);
  const restart = async (brokerId: number) => {
    stopped.delete(brokerId);
    await register(brokerId);
  };
  const image = publisher.image;
  const partitions = (topic = 't'): PartitionState[] => image.topic(topic)!.partitions;
  /** The partition's leader asks for `isr`, as the broker's data path will. */
  const alterIsr = (p: PartitionState, isr: number[]) =>
    controller.alterPartition({
      brokerId: p.leader,
      brokerEpoch: epochs.get(p.leader)!,
      topics: [
        {
          topicId: image.topic('t')!.id,
          partitions: [
            {
              partitionIndex: p.partition,
              leaderEpoch: p.leaderEpoch,
              newIsr: isr,
              newIsrWithEpochs: isr.map((id) => ({ brokerId: id, brokerEpoch: epochs.get(id)! })),
              leaderRecoveryState: 0,
              partitionEpoch: p.partitionEpoch,
            },
          ],
        },
      ],
    });

  for (const id of BROKERS) await register(id);
  const created = await controller.topics.create(
    { name: 't', numPartitions: 3, replicationFactor: 3, configs: [] },
    false,
  );
  expect(created.errorCode).toBe(ErrorCode.NONE);
  return { controller, clock, image, partitions, pass, shutDown, crash, restart, alterIsr, epochs };
}

/** Lets every resolved promise run (decisions chain a few). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

const leaders = (ps: PartitionState[]) => ps.map((p) => p.leader);
const preferred = (ps: PartitionState[]) => ps.map((p) => p.replicas[0]);

describe('the active controller and replication', () => {
  it('a new topic’s partitions are in sync on every replica, each led by its first', async () => {
    const { partitions } = await activeController();
    for (const p of partitions()) {
      expect(p.isr).toEqual(p.replicas);
      expect(p.leader).toBe(p.replicas[0]);
    }
    expect(new Set(leaders(partitions()))).toEqual(new Set(BROKERS));
  });

  it('a partition none of whose replicas can lead is refused, as Kafka refuses it', async () => {
    const { controller, shutDown } = await activeController();
    await shutDown(3);
    const r = await controller.topics.create(
      { name: 'u', numPartitions: -1, replicationFactor: -1, configs: [], assignments: [[3]] },
      false,
    );
    expect(r).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage:
        'All brokers specified in the manual partition assignment for partition 0 are fenced or in controlled shutdown.',
    });
  });

  it('controlled shutdown takes the broker out of every ISR and its leaderships away; it rejoins through its leaders’ AlterPartition', async () => {
    const { partitions, shutDown, restart, alterIsr } = await activeController();
    await shutDown(2);
    for (const p of partitions()) {
      expect(p.isr).not.toContain(2);
      expect(p.leader).not.toBe(2);
    }
    await restart(2);
    for (const p of partitions()) expect(p.isr).not.toContain(2);
    for (const p of partitions()) {
      const answer = await alterIsr(p, [...p.isr, 2]);
      expect(answer.errorCode).toBe(ErrorCode.NONE);
      const after = partitions()[p.partition];
      expect(answer.topics[0].partitions[0]).toEqual({
        partitionIndex: p.partition,
        errorCode: ErrorCode.NONE,
        leaderId: p.leader,
        leaderEpoch: p.leaderEpoch,
        isr: after.isr,
        leaderRecoveryState: 0,
        partitionEpoch: p.partitionEpoch + 1,
      });
      expect(after.isr).toContain(2);
    }
  });

  it('a broker that stops heartbeating is fenced after the session timeout and leaves every ISR', async () => {
    const { partitions, pass, crash, image } = await activeController();
    expect(partitions().every((p) => p.isr.includes(3))).toBe(true);
    crash(3);
    await pass(8000);
    expect(image.broker(3)!.fenced).toBe(false);
    await pass(2000);
    expect(image.broker(3)!.fenced).toBe(true);
    for (const p of partitions()) {
      expect(p.isr).not.toContain(3);
      expect(p.leader).not.toBe(3);
    }
  });

  it('the balancer restores preferred leaders every leader.imbalance.check.interval.seconds, once they are back in the ISR', async () => {
    const { partitions, pass, shutDown, restart, alterIsr } = await activeController({
      'leader.imbalance.check.interval.seconds': '5',
    });
    await shutDown(1);
    await restart(1);
    for (const p of partitions()) if (!p.isr.includes(1)) await alterIsr(p, [...p.isr, 1]);
    expect(leaders(partitions())).not.toEqual(preferred(partitions()));
    await pass(3000);
    expect(leaders(partitions())).not.toEqual(preferred(partitions()));
    await pass(3000);
    expect(leaders(partitions())).toEqual(preferred(partitions()));
  });

  it('with auto.leader.rebalance.enable=false leaderships stay where they are', async () => {
    const { partitions, pass, shutDown, restart, alterIsr } = await activeController({
      'leader.imbalance.check.interval.seconds': '5',
      'auto.leader.rebalance.enable': 'false',
    });
    await shutDown(1);
    await restart(1);
    for (const p of partitions()) if (!p.isr.includes(1)) await alterIsr(p, [...p.isr, 1]);
    const moved = leaders(partitions());
    await pass(10_000);
    expect(leaders(partitions())).toEqual(moved);
  });

  it('ElectLeaders (preferred, every partition) restores preferred leaders at once and answers only the partitions it elected', async () => {
    const { controller, partitions, shutDown, restart, alterIsr } = await activeController();
    await shutDown(1);
    await restart(1);
    const away = partitions().filter((p) => p.replicas[0] === 1);
    const before = await controller.electLeaders(ElectionType.PREFERRED, null);
    expect(before.results.find((r) => r.topic === 't')!.partitionResult).toEqual(
      away.map((p) => ({
        partitionId: p.partition,
        errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
        errorMessage: 'The preferred leader was not available.',
      })),
    );
    for (const p of partitions()) if (!p.isr.includes(1)) await alterIsr(p, [...p.isr, 1]);
    const after = await controller.electLeaders(ElectionType.PREFERRED, null);
    expect(after.results.find((r) => r.topic === 't')!.partitionResult).toEqual(
      away.map((p) => ({ partitionId: p.partition, errorCode: ErrorCode.NONE, errorMessage: null })),
    );
    expect(leaders(partitions())).toEqual(preferred(partitions()));
  });

  it('a controller that is no longer active answers NOT_CONTROLLER', async () => {
    const { controller, partitions, alterIsr } = await activeController();
    controller.stateChanged('follower', 2);
    const p = partitions()[0];
    expect((await alterIsr(p, p.isr)).errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const elections = await controller.electLeaders(ElectionType.PREFERRED, [{ topic: 't', partitions: [0] }]);
    expect(elections.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    expect(elections.results[0].partitionResult[0].errorCode).toBe(ErrorCode.NOT_CONTROLLER);
  });
});
