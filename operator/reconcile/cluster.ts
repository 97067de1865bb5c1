// KafkaCluster reconcile: the whole lifecycle is the list CLUSTER_STEPS below. Every pass ends by
// writing status (only if it changed), also when a step failed.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubernetesObject, V1Node, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { sameStatus, findCondition } from '../api/conditions.js';
import type { KafkaCluster } from '../api/types.js';
import { configHash, configMap } from '../desired/config.js';
import { CLUSTER_ID_ANNOTATION, RACK_ANNOTATION, labelSelector, names, type BuildOptions } from '../desired/names.js';
import { podDisruptionBudget, serviceAccount } from '../desired/policy.js';
import { brokerRole, brokerRoleBinding } from '../desired/rack.js';
import { bootstrapAddress, bootstrapService, headlessService } from '../desired/services.js';
import { statefulSet } from '../desired/statefulset.js';
import type { KafkaAdmin } from '../kafka/admin.js';
import type { Kube } from '../runtime/kube.js';
import type { OperatorMetrics } from '../runtime/metrics.js';
import { brokerPod, type BrokerPod } from './brokers.js';
import { describeError } from './errors.js';
import { clusterStatus, type ClusterOutcome } from './cluster-status.js';
import { planRestart } from './restart.js';
import { expandStorage } from './storage.js';
import { decideBrokerCount, rebalance, removeBrokers, scalingEvent, type ScalingContext } from './scaling.js';
import { StepError, done, requeue, runSteps, type ReconcileResult, type Step, type StepResult } from './steps.js';

const BROKERS_STARTING_RECHECK_MS = 10_000;
const RESTART_RECHECK_MS = 5_000;
const RACK_LABEL_RECHECK_MS = 30_000;

export interface ClusterDeps {
  kube: Kube;
  metrics?: OperatorMetrics;
  admin(cluster: KafkaCluster): KafkaAdmin;
  options: BuildOptions;
  now(): Date;
  log: Logger;
}

interface ClusterContext extends ScalingContext {
  readonly cluster: KafkaCluster;
  readonly deps: ClusterDeps;
  clusterId?: string;
  configHash?: string;
  statefulSet?: V1StatefulSet;
  pods?: BrokerPod[];
  /** The claim size the StatefulSet's template carries (the old one while volumes cannot grow). */
  claimSize?: string;
}

const CLUSTER_STEPS: readonly Step<ClusterContext>[] = [
  { name: 'clusterId', run: ensureClusterId },
  { name: 'brokerCount', run: decideBrokerCount },
  { name: 'serviceAccount', run: (c) => apply(c, serviceAccount(c.cluster)) },
  { name: 'brokerRole', run: applyBrokerRole },
  { name: 'configMap', run: applyConfigMap },
  { name: 'services', run: applyServices },
  { name: 'podDisruptionBudget', run: (c) => apply(c, podDisruptionBudget(c.cluster)) },
  { name: 'expandStorage', run: expandStorage },
  { name: 'statefulSet', run: applyStatefulSet },
  { name: 'rackLabels', run: copyRackLabels },
  { name: 'rollingRestart', run: rollingRestart },
  { name: 'brokersReady', run: (c) => Promise.resolve(brokersReady(c)) },
  { name: 'rebalance', run: rebalance },
  { name: 'removeBrokers', run: removeBrokers },
];

export async function reconcileCluster(cluster: KafkaCluster, deps: ClusterDeps): Promise<ReconcileResult> {
  const ctx: ClusterContext = { cluster, deps };
  let outcome: ClusterOutcome;
  let failure: StepError | undefined;
  let result: ReconcileResult = {};
  try {
    const end = await runSteps(CLUSTER_STEPS, ctx, describeError);
    if (end.kind === 'requeue') {
      outcome = { kind: 'progressing', reason: end.reason, message: end.message };
      result = { requeueAfterMs: end.afterMs };
    } else {
      outcome = { kind: 'reconciled' };
    }
  } catch (err) {
    if (!(err instanceof StepError)) throw err;
    failure = err;
    outcome = { kind: 'failed', message: err.message };
  }
  await writeStatus(ctx, outcome);
  if (failure) throw failure;
  return result;
}

/** Kafka's cluster id format: a UUID's 16 bytes, base64url without padding. */
function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Stored in status before any broker can see it, so it never changes. A new cluster gets a new id,
 * unless volumes kept from an earlier cluster of the same name (deleteClaim: false) are waiting to
 * be reused: their brokers would refuse another cluster's id, so the cluster adopts theirs.
 */
async function ensureClusterId(ctx: ClusterContext) {
  const { cluster, deps } = ctx;
  ctx.clusterId = cluster.status?.clusterId;
  if (ctx.clusterId) return done;
  const claims = await deps.kube.list<V1PersistentVolumeClaim>(
    'v1',
    'PersistentVolumeClaim',
    cluster.metadata.namespace,
    labelSelector(cluster),
  );
  const kept = new Map<string, string[]>();
  for (const claim of claims) {
    const id = claim.metadata?.annotations?.[CLUSTER_ID_ANNOTATION];
    if (id) kept.set(id, [...(kept.get(id) ?? []), claim.metadata!.name!]);
  }
  if (kept.size > 1) {
    const owners = [...kept].map(([id, names]) => `${names.sort().join(', ')} of cluster ${id}`).join('; ');
    throw new Error(
      `the kept broker volumes belong to different clusters (${owners}): delete the claims whose data you do not want, then the cluster starts`,
    );
  }
  const [adopted] = kept;
  ctx.clusterId = adopted ? adopted[0] : newClusterId();
  await deps.kube.applyStatus(ref(cluster), { clusterId: ctx.clusterId });
  if (adopted) {
    const message = `adopted cluster id ${ctx.clusterId} from the kept volumes ${adopted[1].sort().join(', ')}`;
    deps.log.info({ clusterId: ctx.clusterId }, message);
    await deps.kube.event(cluster, 'Normal', 'ClusterIdAdopted', message);
  } else {
    deps.log.info({ clusterId: ctx.clusterId }, 'cluster id generated');
  }
  return done;
}

async function apply(ctx: ClusterContext, obj: KubernetesObject) {
  await ctx.deps.kube.apply(obj);
  return done;
}

/** Only the rack init container calls the API; without spec.rack its Role goes. */
async function applyBrokerRole(ctx: ClusterContext) {
  const role = brokerRole(ctx.cluster);
  const binding = brokerRoleBinding(ctx.cluster);
  if (ctx.cluster.spec.rack) {
    await ctx.deps.kube.apply(role);
    return apply(ctx, binding);
  }
  for (const obj of [binding, role]) {
    const ref = {
      apiVersion: obj.apiVersion!,
      kind: obj.kind!,
      namespace: ctx.cluster.metadata.namespace,
      name: obj.metadata!.name!,
    };
    if (await ctx.deps.kube.get(ref)) await ctx.deps.kube.delete(ref);
  }
  return done;
}

async function applyConfigMap(ctx: ClusterContext) {
  const cm = configMap(ctx.cluster, ctx.clusterId!, ctx.deps.options);
  ctx.configHash = configHash(cm);
  return apply(ctx, cm);
}

async function applyServices(ctx: ClusterContext) {
  await ctx.deps.kube.apply(headlessService(ctx.cluster));
  return apply(ctx, bootstrapService(ctx.cluster));
}

async function applyStatefulSet(ctx: ClusterContext) {
  const cluster = { ...ctx.cluster, spec: { ...ctx.cluster.spec, replicas: ctx.brokerCount! } };
  ctx.statefulSet = await ctx.deps.kube.apply(
    statefulSet(cluster, ctx.clusterId!, ctx.configHash!, ctx.deps.options, ctx.claimSize),
  );
  return done;
}

/** Each scheduled broker pod gets its node's topology label, which its rack init container waits for. */
async function copyRackLabels(ctx: ClusterContext) {
  const topologyKey = ctx.cluster.spec.rack?.topologyKey;
  if (!topologyKey) return done;
  const unlabelled: string[] = [];
  for (const broker of await brokerPods(ctx)) {
    if (broker.rack !== undefined || broker.node === undefined || broker.state === 'Terminating') continue;
    const node = await ctx.deps.kube.get<V1Node>({ apiVersion: 'v1', kind: 'Node', namespace: '', name: broker.node });
    const rack = node?.metadata?.labels?.[topologyKey];
    if (rack === undefined) {
      unlabelled.push(broker.node);
      continue;
    }
    await ctx.deps.kube.annotate(
      { apiVersion: 'v1', kind: 'Pod', namespace: ctx.cluster.metadata.namespace, name: broker.name },
      { [RACK_ANNOTATION]: rack },
    );
    broker.rack = rack;
    ctx.deps.log.info({ broker: broker.ordinal, node: broker.node, rack }, 'broker rack set from its node');
  }
  if (unlabelled.length === 0) return done;
  const nodes = [...new Set(unlabelled)].sort();
  return requeue(
    RACK_LABEL_RECHECK_MS,
    'NodeLabelMissing',
    `node${nodes.length > 1 ? 's' : ''} ${nodes.join(', ')} ha${nodes.length > 1 ? 've' : 's'} no label ${topologyKey}, so the broker${unlabelled.length > 1 ? 's' : ''} there cannot start: label the node (kubectl label node <node> ${topologyKey}=<rack>) or change spec.rack.topologyKey`,
  );
}

async function rollingRestart(ctx: ClusterContext) {
  const revision = ctx.statefulSet?.status?.updateRevision;
  if (!revision) return done;
  const brokers = await brokerPods(ctx);
  let plan = planRestart(brokers, revision);
  if (plan.kind === 'checkHealth') plan = planRestart(brokers, revision, await ctx.deps.admin(ctx.cluster).health());
  switch (plan.kind) {
    case 'upToDate':
      return done;
    case 'wait':
      return requeue(RESTART_RECHECK_MS, 'RollingRestart', plan.message);
    case 'restart':
      ctx.deps.log.info({ broker: plan.pod.ordinal, pod: plan.pod.name }, plan.message);
      await ctx.deps.kube.delete({
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: ctx.cluster.metadata.namespace,
        name: plan.pod.name,
      });
      await ctx.deps.kube.event(ctx.cluster, 'Normal', 'RollingRestart', plan.message);
      return requeue(RESTART_RECHECK_MS, 'RollingRestart', plan.message);
    case 'checkHealth':
      throw new Error('broker health was asked for twice');
  }
}

function brokersReady(ctx: ClusterContext): StepResult {
  const status = ctx.statefulSet?.status;
  const ready = status?.readyReplicas ?? 0;
  const want = ctx.brokerCount!;
  const running = status?.replicas ?? 0;
  if (
    (status?.observedGeneration ?? 0) >= (ctx.statefulSet?.metadata?.generation ?? 1) &&
    ready >= want &&
    running === want
  )
    return done;
  if (running > want) {
    const leaving = Array.from({ length: running - want }, (_, i) => want + i).join(', ');
    return requeue(
      BROKERS_STARTING_RECHECK_MS,
      'ScalingDown',
      `${running} brokers running, ${want} wanted: stopping broker${running - want > 1 ? 's' : ''} ${leaving}`,
    );
  }
  return requeue(BROKERS_STARTING_RECHECK_MS, 'BrokersStarting', `${ready}/${want} brokers ready`);
}

async function brokerPods(ctx: ClusterContext): Promise<BrokerPod[]> {
  ctx.pods ??= (
    await ctx.deps.kube.list<V1Pod>('v1', 'Pod', ctx.cluster.metadata.namespace, labelSelector(ctx.cluster))
  ).map(brokerPod);
  return ctx.pods;
}

function statefulSetRef(cluster: KafkaCluster) {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    namespace: cluster.metadata.namespace,
    name: names(cluster).statefulSet,
  };
}

function ref(cluster: KafkaCluster) {
  return {
    apiVersion: cluster.apiVersion,
    kind: cluster.kind,
    namespace: cluster.metadata.namespace,
    name: cluster.metadata.name,
  };
}

async function writeStatus(ctx: ClusterContext, outcome: ClusterOutcome): Promise<void> {
  const { cluster, deps } = ctx;
  const sts = ctx.statefulSet ?? (await deps.kube.get<V1StatefulSet>(statefulSetRef(cluster)));
  const status = clusterStatus(
    cluster,
    {
      clusterId: ctx.clusterId ?? cluster.status?.clusterId,
      bootstrap: bootstrapAddress(cluster, deps.options),
      labelSelector: labelSelector(cluster),
      replicas: sts?.status?.replicas ?? 0,
      readyReplicas: sts?.status?.readyReplicas ?? 0,
      brokers: await brokerPods(ctx),
      scaling: ctx.scaling ?? cluster.status?.scaling,
    },
    outcome,
    deps.now(),
  );
  if (status.scaling) deps.metrics?.recordScaling(cluster.metadata.namespace, cluster.metadata.name, status.scaling);
  if (sameStatus(cluster.status, status)) return;
  await deps.kube.applyStatus(ref(cluster), status);
  const scaled = scalingEvent(cluster.status?.scaling, status.scaling);
  if (scaled) await deps.kube.event(cluster, scaled.type, scaled.reason, scaled.message);
  const wasReady = findCondition(cluster.status?.conditions, 'Ready')?.status === 'True';
  const ready = findCondition(status.conditions, 'Ready')!;
  if (wasReady !== (ready.status === 'True')) {
    await deps.kube.event(
      cluster,
      ready.status === 'True' ? 'Normal' : 'Warning',
      ready.reason,
      ready.message || ready.reason,
    );
  }
}
