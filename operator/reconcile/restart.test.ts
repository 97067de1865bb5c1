import { describe, expect, it } from 'vitest';
import type { PartitionReplicas } from '../kafka/admin.js';
import { partitionState as p } from '../test/fakes.js';
import type { BrokerPod } from './brokers.js';
import { planRestart } from './restart.js';

const broker = (ordinal: number, revision: string, state: BrokerPod['state'] = 'Ready'): BrokerPod => ({
  name: `events-broker-${ordinal}`,
  ordinal,
  revision,
  state,
  node: undefined,
  rack: undefined,
});
const healthy = (controllerId: number, partitions: PartitionReplicas[] = []) => ({
  controllerId,
  partitions,
  replicasByBroker: new Map(),
});

describe('rolling restart', () => {
  it('does nothing when every broker runs the current revision', () => {
    expect(planRestart([broker(0, 'new'), broker(1, 'new')], 'new')).toEqual({ kind: 'upToDate' });
  });

  it('asks the brokers about their partitions before restarting a ready broker', () => {
    expect(planRestart([broker(0, 'old'), broker(1, 'old')], 'new')).toEqual({ kind: 'checkHealth' });
  });

  it('restarts brokers in ordinal order, the active controller last', () => {
    const brokers = [broker(0, 'old'), broker(1, 'old'), broker(2, 'old')];
    expect(planRestart(brokers, 'new', healthy(0))).toMatchObject({ kind: 'restart', pod: { ordinal: 1 } });
    expect(planRestart([broker(0, 'old'), broker(1, 'new'), broker(2, 'new')], 'new', healthy(0))).toMatchObject({
      kind: 'restart',
      pod: { ordinal: 0 },
      message: 'restarting broker 0, the active controller, last (1 of 3 to go)',
    });
  });

  it('takes the active controller last wherever it is, and says which broker it is', () => {
    const brokers = [broker(0, 'old'), broker(1, 'old'), broker(2, 'old'), broker(3, 'old')];
    const order: number[] = [];
    for (let i = 0; i < brokers.length; i++) {
      const plan = planRestart(brokers, 'new', healthy(2));
      if (plan.kind !== 'restart') throw new Error(`expected a restart, got ${plan.kind}`);
      order.push(plan.pod.ordinal);
      brokers[plan.pod.ordinal] = broker(plan.pod.ordinal, 'new');
    }
    expect(order).toEqual([0, 1, 3, 2]);
    expect(planRestart(brokers, 'new', healthy(2))).toEqual({ kind: 'upToDate' });
  });

  it('waits while the metadata quorum has no leader', () => {
    expect(planRestart([broker(0, 'old'), broker(1, 'old')], 'new', healthy(-1))).toEqual({
      kind: 'wait',
      message: 'waiting for the metadata quorum to elect a leader',
    });
  });

  it('restarts a broker while partitions are under-replicated, if none would fall below min.insync.replicas', () => {
    const plan = planRestart(
      [broker(0, 'new'), broker(1, 'old'), broker(2, 'old')],
      'new',
      healthy(2, [p('events-0', [0, 1, 2], [1, 2], 1), p('events-1', [1, 2, 0], [1, 2, 0], 2)]),
    );
    expect(plan).toMatchObject({ kind: 'restart', pod: { ordinal: 1 } });
  });

  it('waits for the next broker while it cannot roll, naming the partition, its ISR and min.insync.replicas', () => {
    const brokers = [broker(0, 'new'), broker(1, 'old'), broker(2, 'old')];
    const atMinimum = p('events-1', [1, 2, 0], [1, 2], 2);
    expect(planRestart(brokers, 'new', healthy(2, [atMinimum]))).toEqual({
      kind: 'wait',
      message:
        'waiting to restart broker 1: events-1 has 2 in-sync replicas [1,2] of 3, min.insync.replicas 2: restarting broker 1 would leave 1',
    });
    // Broker 0 rejoined the ISR: broker 1 can go.
    expect(planRestart(brokers, 'new', healthy(2, [p('events-1', [1, 2, 0], [1, 2, 0], 2)]))).toMatchObject({
      kind: 'restart',
      pod: { ordinal: 1 },
    });
  });

  it('does not take another broker while the next one cannot roll', () => {
    const brokers = [broker(0, 'old'), broker(1, 'old'), broker(2, 'old')];
    // Broker 0 is blocked; broker 1 could go, but the order holds.
    const plan = planRestart(brokers, 'new', healthy(2, [p('events-0', [0, 2, 1], [0, 2], 2)]));
    expect(plan.kind === 'wait' && plan.message).toMatch(/^waiting to restart broker 0: events-0 /);
  });

  it('checks the active controller too, when its turn comes last', () => {
    const brokers = [broker(0, 'new'), broker(1, 'new'), broker(2, 'old')];
    const plan = planRestart(brokers, 'new', healthy(2, [p('events-0', [0, 1, 2], [2], 2)]));
    expect(plan.kind === 'wait' && plan.message).toMatch(
      /^waiting to restart broker 2: events-0 has 1 in-sync replica /,
    );
  });

  it('waits for a restarted broker to come back before the next', () => {
    expect(planRestart([broker(0, 'new', 'NotReady'), broker(1, 'old')], 'new', healthy(1))).toMatchObject({
      kind: 'wait',
      message: 'waiting for broker 0 to become ready',
    });
    expect(planRestart([broker(0, 'old', 'Terminating'), broker(1, 'old')], 'new', healthy(1))).toMatchObject({
      kind: 'wait',
      message: 'waiting for broker 0 to stop',
    });
  });

  it('restarts a broker stuck on the old revision at once', () => {
    expect(planRestart([broker(0, 'old'), broker(1, 'old', 'NotReady')], 'new')).toMatchObject({
      kind: 'restart',
      pod: { ordinal: 1 },
    });
  });
});
