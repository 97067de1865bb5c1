// Changing the broker count, as three steps of the cluster reconcile. Where a change stands lives in
// the cluster itself (the assignment and the reassignments in flight, which the executor re-reads
// every pass) and in status.scaling (the target, the phase, the first plan), so a restarted operator
// resumes it, and a spec.replicas changed mid-way starts a new one from what the brokers hold.
//
// Growing: the StatefulSet grows first; once the new brokers are registered, replicas move to them.
// Shrinking: the StatefulSet keeps its size until every replica has moved off the leaving brokers
// (the highest ordinals), then shrinks; the stopped brokers are then unregistered.

import type { V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { quantityBytes } from '../api/quantity.js';
import type { KafkaCluster, ScalingPhase, ScalingStatus } from '../api/types.js';
import { names } from '../desired/names.js';
import type { KafkaAdmin } from '../kafka/admin.js';
import {
  advanceRebalance,
  reassignmentTarget,
  type RebalanceStep,
  type RebalanceTarget,
} from '../rebalance/executor.js';
import { shrinkBlockers } from '../rebalance/shrink.js';
import type { Kube } from '../runtime/kube.js';
import { done, requeue, type StepResult } from './steps.js';

const MOVING_RECHECK_MS = 5_000;
const WAITING_FOR_BROKERS_RECHECK_MS = 10_000;
const BLOCKED_RECHECK_MS = 30_000;
/** Straight on to shrinking the StatefulSet once the status saying so is written. */
const REMOVE_BROKERS_NEXT_MS = 1_000;

export interface ScalingContext {
  readonly cluster: KafkaCluster;
  readonly deps: { kube: Kube; admin(cluster: KafkaCluster): KafkaAdmin; now(): Date; log: Logger };
  /** The StatefulSet's replicas for this pass. */
  brokerCount?: number;
  /** status.scaling as this pass leaves it. */
  scaling?: ScalingStatus;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Where a cluster's replicas go (brokers 0..count-1, node.id = ordinal) and how fast they may move. */
export function rebalanceTarget(cluster: KafkaCluster, brokerCount: number): RebalanceTarget {
  return {
    brokers: range(brokerCount),
    throttleBytesPerSecond: cluster.spec.rebalance.throttleBytesPerSecond,
    maxPartitionMovements: cluster.spec.rebalance.maxPartitionMovements,
  };
}
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Before the StatefulSet is applied: starts a scaling when spec.replicas differs from the last
 * target, and says how many brokers the StatefulSet runs now (on a shrink, all of them until drained).
 */
export async function decideBrokerCount(ctx: ScalingContext): Promise<StepResult> {
  const { cluster, deps } = ctx;
  const want = cluster.spec.replicas;
  const sts = await deps.kube.get<V1StatefulSet>({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    namespace: cluster.metadata.namespace,
    name: names(cluster).statefulSet,
  });
  const running = sts?.spec?.replicas;
  let scaling = cluster.status?.scaling;
  if (running === undefined || (!scaling && running === want)) {
    ctx.brokerCount = want;
    ctx.scaling = scaling;
    return done;
  }
  if (!scaling || scaling.toBrokers !== want) {
    scaling = {
      phase: want > running ? 'AddingBrokers' : 'MovingReplicas',
      fromBrokers: running,
      toBrokers: want,
      startTime: deps.now().toISOString(),
    };
    deps.log.info({ from: running, to: want }, 'scaling started');
  }
  ctx.scaling = scaling;
  ctx.brokerCount = Math.max(want, running);
  if (want < running && scaling.phase === 'RemovingBrokers') {
    // Never remove a broker that still holds replicas, whatever the status says.
    const { partitions } = await deps.admin(cluster).health();
    const holding = new Set(partitions.flatMap((p) => p.replicas).filter((id) => id >= want));
    if (holding.size === 0) ctx.brokerCount = want;
    else ctx.scaling = { ...scaling, phase: 'MovingReplicas' };
  }
  return done;
}

/** After the brokers are ready: moves replicas towards balance over the brokers that stay. */
export async function rebalance(ctx: ScalingContext): Promise<StepResult> {
  const { cluster, deps } = ctx;
  const scaling = ctx.scaling;
  if (!scaling || scaling.phase === 'Balanced' || scaling.phase === 'RemovingBrokers') return done;
  const admin = deps.admin(cluster);
  const shrinking = scaling.toBrokers < scaling.fromBrokers;
  if (shrinking && !scaling.plan) {
    const blockers = await blockersOf(ctx, admin, scaling);
    if (blockers.length > 0) {
      const message = `cannot go from ${scaling.fromBrokers} to ${scaling.toBrokers} brokers: ${blockers.join('; ')}; set spec.replicas back to ${scaling.fromBrokers}`;
      ctx.scaling = { ...scaling, phase: 'Blocked', message };
      return requeue(BLOCKED_RECHECK_MS, 'ScaleDownBlocked', message);
    }
  }
  const step = await advanceRebalance(admin, rebalanceTarget(cluster, scaling.toBrokers), scaling.plan);
  const next = afterStep(scaling, step, shrinking, deps.now());
  ctx.scaling = next;
  if (step.kind === 'moving' && step.submitted > 0)
    deps.log.info({ submitted: step.submitted, ...step.progress }, 'partition moves submitted');
  switch (next.phase) {
    case 'Balanced':
      return done;
    case 'RemovingBrokers':
      return requeue(REMOVE_BROKERS_NEXT_MS, 'RemovingBrokers', next.message ?? '');
    case 'AddingBrokers':
      return requeue(WAITING_FOR_BROKERS_RECHECK_MS, 'AddingBrokers', next.message ?? '');
    default:
      return requeue(MOVING_RECHECK_MS, next.phase, next.message ?? '');
  }
}

function afterStep(scaling: ScalingStatus, step: RebalanceStep, shrinking: boolean, now: Date): ScalingStatus {
  if (step.kind === 'waitingForBrokers') return { ...scaling, phase: 'AddingBrokers', message: step.message };
  const phase: ScalingPhase =
    step.kind === 'moving'
      ? 'MovingReplicas'
      : step.kind === 'electing'
        ? 'ElectingLeaders'
        : shrinking
          ? 'RemovingBrokers'
          : 'Balanced';
  const leaving = range(scaling.fromBrokers).slice(scaling.toBrokers);
  const message =
    phase === 'RemovingBrokers'
      ? `${step.message}; stopping broker${leaving.length > 1 ? 's' : ''} ${leaving.join(', ')}`
      : step.message;
  return {
    ...scaling,
    phase,
    message,
    plan: step.plan,
    progress: step.progress,
    ...(phase === 'Balanced' ? { completionTime: now.toISOString() } : {}),
  };
}

async function blockersOf(ctx: ScalingContext, admin: KafkaAdmin, scaling: ScalingStatus): Promise<string[]> {
  const { partitions: current } = await admin.health();
  // A partition in the middle of a move lists its leaving replicas too: count what it will have.
  const moving = await admin.listReassignments();
  const partitions = current.map((p) => {
    const r = moving.find((m) => m.topic === p.topic && m.partition === p.partition);
    return r ? { ...p, replicas: reassignmentTarget(r) } : p;
  });
  const live = (await admin.brokers()).map((b) => b.id);
  return shrinkBlockers({
    from: scaling.fromBrokers,
    to: scaling.toBrokers,
    controllerVoters: ctx.cluster.spec.controllerVoters,
    partitions,
    usage: await admin.logDirUsage(live),
    volumeBytes: quantityBytes(ctx.cluster.spec.storage.size),
  });
}

/**
 * After the StatefulSet has shrunk and its pods are gone: unregisters the removed brokers, so the
 * cluster metadata forgets them (a stopped broker stays registered, fenced, until then).
 */
export async function removeBrokers(ctx: ScalingContext): Promise<StepResult> {
  const { cluster, deps } = ctx;
  const scaling = ctx.scaling;
  if (scaling?.phase !== 'RemovingBrokers' || ctx.brokerCount !== scaling.toBrokers) return done;
  const admin = deps.admin(cluster);
  const removed = range(scaling.fromBrokers).slice(scaling.toBrokers);
  for (const id of removed) await admin.unregisterBroker(id);
  ctx.scaling = {
    ...scaling,
    phase: 'Balanced',
    message: `${scaling.message?.replace(/; stopping .*$/, '') ?? ''}; unregistered broker${removed.length > 1 ? 's' : ''} ${removed.join(', ')}`,
    completionTime: deps.now().toISOString(),
  };
  deps.log.info({ removed }, 'brokers removed');
  return done;
}

/** The event a change of phase is announced with, if the phase changed. */
export function scalingEvent(
  before: ScalingStatus | undefined,
  after: ScalingStatus | undefined,
): { type: 'Normal' | 'Warning'; reason: string; message: string } | undefined {
  if (!after || (before?.phase === after.phase && before.toBrokers === after.toBrokers)) return undefined;
  const head = `scaling from ${plural(after.fromBrokers, 'broker')} to ${after.toBrokers}`;
  const reason: Record<ScalingPhase, string> = {
    AddingBrokers: 'ScalingUp',
    MovingReplicas: 'MovingReplicas',
    ElectingLeaders: 'ElectingLeaders',
    RemovingBrokers: 'RemovingBrokers',
    Blocked: 'ScaleDownBlocked',
    Balanced: 'ScalingDone',
  };
  return {
    type: after.phase === 'Blocked' ? 'Warning' : 'Normal',
    reason: reason[after.phase],
    message: after.message ? `${head}: ${after.message}` : head,
  };
}
