// KafkaTopic reconcile: make the Kafka topic match the resource through the admin protocol, and
// delete it (through a finalizer) when the resource goes. A pass over an unchanged topic only
// reads: no write to the API server, none to the brokers.

import type { Logger } from 'pino';
import { findCondition, mergeConditions, sameStatus } from '../api/conditions.js';
import {
  TOPIC_FINALIZER,
  configStrings,
  topicNameOf,
  type KafkaCluster,
  type KafkaTopic,
  type KafkaTopicStatus,
} from '../api/types.js';
import type { KafkaAdmin } from '../kafka/admin.js';
import type { Kube, Lister } from '../runtime/kube.js';
import { olderClaimant } from '../topics/claims.js';
import { planTopic, type DesiredTopic } from '../topics/plan.js';
import { advanceRebalance } from '../rebalance/executor.js';
import { describeError } from './errors.js';
import { rebalanceTarget } from './scaling.js';
import type { ReconcileResult } from './steps.js';

const CLUSTER_NOT_FOUND_RECHECK_MS = 30_000;
const CLUSTER_NOT_READY_RECHECK_MS = 15_000;
const CONFLICT_RECHECK_MS = 60_000;
const REPLICATION_FACTOR_RECHECK_MS = 5_000;
/** The Ready reason while replicas are added or removed; the next pass goes on with it. */
const CHANGING_REPLICATION_FACTOR = 'ChangingReplicationFactor';

export interface TopicDeps {
  kube: Kube;
  clusters: Lister<KafkaCluster>;
  topics: Lister<KafkaTopic>;
  admin(cluster: KafkaCluster): KafkaAdmin;
  now(): Date;
  log: Logger;
}

/** How a pass ended, as the Ready condition will say it. */
interface TopicOutcome {
  ready: boolean;
  reason: string;
  message: string;
  topicId?: string;
  requeueAfterMs?: number;
}

export async function reconcileTopic(topic: KafkaTopic, deps: TopicDeps): Promise<ReconcileResult> {
  if (topic.metadata.deletionTimestamp) {
    await finalize(topic, deps);
    return {};
  }
  await ensureFinalizer(topic, deps);
  let outcome: TopicOutcome;
  try {
    outcome = await syncTopic(topic, deps);
  } catch (err) {
    const message = describeError(err);
    await writeStatus(topic, { ready: false, reason: 'KafkaError', message }, deps);
    throw new Error(message, { cause: err });
  }
  await writeStatus(topic, outcome, deps);
  return { requeueAfterMs: outcome.requeueAfterMs };
}

async function ensureFinalizer(topic: KafkaTopic, deps: TopicDeps): Promise<void> {
  const finalizers = topic.metadata.finalizers ?? [];
  if (!finalizers.includes(TOPIC_FINALIZER)) await deps.kube.setFinalizers(topic, [...finalizers, TOPIC_FINALIZER]);
}

/**
 * Deletes the topic, then releases the finalizer. A topic that is already gone counts as deleted;
 * a cluster that is gone or going takes its topics with it, so nothing is left to wait for.
 */
async function finalize(topic: KafkaTopic, deps: TopicDeps): Promise<void> {
  const finalizers = topic.metadata.finalizers ?? [];
  if (!finalizers.includes(TOPIC_FINALIZER)) return;
  const cluster = deps.clusters.get(topic.metadata.namespace, topic.spec.cluster);
  const owned = !olderClaimant(topic, deps.topics.list(topic.metadata.namespace));
  if (cluster && !cluster.metadata.deletionTimestamp && owned) {
    await deps.admin(cluster).deleteTopic(topicNameOf(topic));
    deps.log.info({ topic: topicNameOf(topic) }, 'topic deleted');
  }
  await deps.kube.setFinalizers(
    topic,
    finalizers.filter((f) => f !== TOPIC_FINALIZER),
  );
}

async function syncTopic(topic: KafkaTopic, deps: TopicDeps): Promise<TopicOutcome> {
  const { namespace } = topic.metadata;
  const name = topicNameOf(topic);
  const cluster = deps.clusters.get(namespace, topic.spec.cluster);
  if (!cluster) {
    return {
      ready: false,
      reason: 'ClusterNotFound',
      message: `KafkaCluster "${topic.spec.cluster}" does not exist in namespace ${namespace}`,
      requeueAfterMs: CLUSTER_NOT_FOUND_RECHECK_MS,
    };
  }
  const owner = olderClaimant(topic, deps.topics.list(namespace));
  if (owner) {
    return {
      ready: false,
      reason: 'ResourceConflict',
      message: `topic "${name}" is managed by the older KafkaTopic "${owner.metadata.name}"`,
      requeueAfterMs: CONFLICT_RECHECK_MS,
    };
  }
  if (!cluster.status?.readyReplicas) {
    return {
      ready: false,
      reason: 'ClusterNotReady',
      message: `KafkaCluster "${cluster.metadata.name}" has no ready broker yet`,
      requeueAfterMs: CLUSTER_NOT_READY_RECHECK_MS,
    };
  }

  const admin = deps.admin(cluster);
  const desired: DesiredTopic = {
    name,
    partitions: topic.spec.partitions,
    replicationFactor: topic.spec.replicationFactor,
    config: configStrings(topic.spec.config),
  };
  const observed = await admin.describeTopic(name);
  const plan = planTopic(desired, observed);
  const log = deps.log.child({ topic: name });
  switch (plan.action) {
    case 'notSupported':
      return { ready: false, reason: 'NotSupported', message: plan.message, topicId: observed?.id };
    case 'create': {
      const topicId = await admin.createTopic(plan.topic);
      log.info({ partitions: desired.partitions, replicationFactor: desired.replicationFactor }, 'topic created');
      await deps.kube.event(
        topic,
        'Normal',
        'TopicCreated',
        `created topic "${name}" with ${desired.partitions} partitions`,
      );
      return { ready: true, reason: 'Ready', message: '', topicId };
    }
    case 'update':
      if (plan.partitions !== undefined) {
        await admin.createPartitions(name, plan.partitions);
        log.info({ partitions: plan.partitions }, 'partitions added');
      }
      if (plan.configChanges.length > 0) {
        await admin.alterTopicConfig(name, plan.configChanges);
        log.info({ changes: plan.configChanges }, 'topic config changed');
      }
      // Until every partition has its new replicas (partition 0 may get there first), each pass goes on.
      if (
        plan.replicationFactor !== undefined ||
        findCondition(topic.status?.conditions, 'Ready')?.reason === CHANGING_REPLICATION_FACTOR
      )
        return changeReplicationFactor(topic, cluster, admin, log, observed!.id);
      return { ready: true, reason: 'Ready', message: '', topicId: observed!.id };
  }
}

/** Adds or removes replicas of the topic's partitions with the scaling planner, balanced over the cluster's brokers. */
async function changeReplicationFactor(
  topic: KafkaTopic,
  cluster: KafkaCluster,
  admin: KafkaAdmin,
  log: Logger,
  topicId: string,
): Promise<TopicOutcome> {
  const name = topicNameOf(topic);
  const want = topic.spec.replicationFactor;
  const target = rebalanceTarget(cluster, cluster.spec.replicas);
  if (want > target.brokers.length)
    return {
      ready: false,
      reason: 'NotSupported',
      message: `spec.replicationFactor ${want} exceeds the ${target.brokers.length} brokers of KafkaCluster "${cluster.metadata.name}": lower it, or add brokers first`,
      topicId,
    };
  const step = await advanceRebalance(
    admin,
    { ...target, topics: new Set([name]), replicationFactors: new Map([[name, want]]) },
    undefined,
  );
  if (step.kind === 'balanced') {
    log.info({ replicationFactor: want }, 'replication factor changed');
    return { ready: true, reason: 'Ready', message: '', topicId };
  }
  return {
    ready: false,
    reason: CHANGING_REPLICATION_FACTOR,
    message: `changing the replication factor to ${want}: ${step.message}`,
    topicId,
    requeueAfterMs: REPLICATION_FACTOR_RECHECK_MS,
  };
}

async function writeStatus(topic: KafkaTopic, outcome: TopicOutcome, deps: TopicDeps): Promise<void> {
  const status: KafkaTopicStatus = {
    observedGeneration: topic.metadata.generation,
    topicName: topicNameOf(topic),
    topicId: outcome.topicId ?? topic.status?.topicId,
    conditions: mergeConditions(
      topic.status?.conditions,
      [
        {
          type: 'Ready',
          status: outcome.ready ? 'True' : 'False',
          reason: outcome.reason,
          message: outcome.message,
          observedGeneration: topic.metadata.generation,
        },
      ],
      deps.now(),
    ),
  };
  if (sameStatus(topic.status, status)) return;
  await deps.kube.applyStatus(
    { apiVersion: topic.apiVersion, kind: topic.kind, namespace: topic.metadata.namespace, name: topic.metadata.name },
    status,
  );
  const before = findCondition(topic.status?.conditions, 'Ready');
  if (!outcome.ready && (before?.status !== 'False' || before.reason !== outcome.reason)) {
    const type = outcome.reason === CHANGING_REPLICATION_FACTOR ? 'Normal' : 'Warning';
    await deps.kube.event(topic, type, outcome.reason, outcome.message);
  }
}
