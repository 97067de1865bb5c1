// The running operator's composition root: watches that enqueue keys, and one controller per
// custom resource, wired to its reconcile. It sits above runtime/ and reconcile/ (runtime/ never
// imports reconcile/).

import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, type KafkaCluster, type KafkaTopic } from './api/types.js';
import { CLUSTER_LABEL, type BuildOptions } from './desired/names.js';
import { brokerAddresses } from './desired/services.js';
import { AdminPool, type KafkaAdmin } from './kafka/admin.js';
import { reconcileCluster } from './reconcile/cluster.js';
import { describeError } from './reconcile/errors.js';
import { reconcileTopic } from './reconcile/topic.js';
import { realClock, type Clock } from './runtime/clock.js';
import type { OperatorConfig } from './runtime/config.js';
import { Controller } from './runtime/controller.js';
import { ClientKube } from './runtime/kube.js';
import type { OperatorMetrics } from './runtime/metrics.js';
import { watch } from './runtime/watch.js';

/** Objects the operator creates carry this label, so their watches see nothing else. */
const OWNED_SELECTOR = 'app.kubernetes.io/managed-by=runnel-operator';
/** [apiVersion, kind, plural] of every kind a KafkaCluster owns, and of its pods. */
const OWNED_KINDS = [
  ['apps/v1', 'StatefulSet', 'statefulsets'],
  ['v1', 'Pod', 'pods'],
  ['v1', 'ConfigMap', 'configmaps'],
  ['v1', 'Service', 'services'],
  ['v1', 'ServiceAccount', 'serviceaccounts'],
  ['policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'],
  ['rbac.authorization.k8s.io/v1', 'Role', 'roles'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings'],
] as const;

export interface ControllerOptions {
  config: OperatorConfig;
  kubeConfig: KubeConfig;
  log: Logger;
  metrics: OperatorMetrics;
  /** How to reach a cluster's brokers; by default their stable DNS names through a pooled client. */
  admin?: (cluster: KafkaCluster) => KafkaAdmin;
  /** Time for retries, resyncs, watch restarts and timestamps; the process's clock by default. */
  clock?: Clock;
}

export interface RunningControllers {
  /** True once every watch cache has been filled. */
  synced(): boolean;
  stop(): Promise<void>;
}

export function startControllers({
  config,
  kubeConfig,
  log,
  metrics,
  admin,
  clock = realClock,
}: ControllerOptions): RunningControllers {
  const kube = new ClientKube(kubeConfig, config.identity, clock);
  const pool = new AdminPool();
  const options: BuildOptions = {
    defaultImage: config.brokerImage,
    operatorImage: config.operatorImage,
    clusterDomain: config.clusterDomain,
  };
  const adminFor =
    admin ?? ((c: KafkaCluster) => pool.get(`${c.metadata.namespace}/${c.metadata.name}`, brokerAddresses(c, options)));
  const now = () => new Date(clock.now());
  const namespaces = config.watchNamespaces;
  const controllerOptions = { workers: config.workers, metrics, log, clock, describeError };

  const clusterController = new Controller(
    'kafkacluster',
    async (namespace, name) => {
      const cluster = clusters.get(namespace, name);
      if (!cluster) {
        await pool.release(`${namespace}/${name}`);
        return {};
      }
      // Owner references make the garbage collector delete what the cluster owned.
      if (cluster.metadata.deletionTimestamp) return {};
      return reconcileCluster(cluster, {
        kube,
        metrics,
        admin: adminFor,
        options,
        now,
        log: log.child({ cluster: `${namespace}/${name}` }),
      });
    },
    controllerOptions,
  );
  const topicController = new Controller(
    'kafkatopic',
    async (namespace, name) => {
      const topic = topics.get(namespace, name);
      if (!topic) return {};
      return reconcileTopic(topic, {
        kube,
        clusters,
        topics,
        admin: adminFor,
        now,
        log: log.child({ kafkaTopic: `${namespace}/${name}` }),
      });
    },
    controllerOptions,
  );

  const enqueueCluster = (c: KafkaCluster) => {
    clusterController.enqueue(c.metadata.namespace, c.metadata.name);
    // Topics waiting for their cluster (to exist, to be ready, to go) move on with it.
    for (const t of topics.list(c.metadata.namespace))
      if (t.spec.cluster === c.metadata.name) topicController.enqueue(t.metadata.namespace, t.metadata.name);
  };
  const enqueueOwner = (o: KubernetesObject) =>
    clusterController.enqueue(o.metadata?.namespace, o.metadata?.labels?.[CLUSTER_LABEL]);

  const clusters = watch<KafkaCluster>(
    kubeConfig,
    { apiVersion: API_VERSION, kind: 'KafkaCluster', plural: 'kafkaclusters' },
    namespaces,
    enqueueCluster,
    log,
    clock,
  );
  const topics = watch<KafkaTopic>(
    kubeConfig,
    { apiVersion: API_VERSION, kind: 'KafkaTopic', plural: 'kafkatopics' },
    namespaces,
    // Only once the clusters are listed: before that, a topic's cluster would look missing.
    (t) => void clusters.synced.then(() => topicController.enqueue(t.metadata.namespace, t.metadata.name)),
    log,
    clock,
  );
  // A change to anything a cluster owns (or to its pods) brings its reconcile back at once, so a
  // deleted or edited object is repaired without waiting for the resync.
  const owned = OWNED_KINDS.map(([apiVersion, kind, plural]) =>
    watch<KubernetesObject>(
      kubeConfig,
      { apiVersion, kind, plural, labelSelector: OWNED_SELECTOR },
      namespaces,
      enqueueOwner,
      log,
      clock,
    ),
  );
  const watches = [clusters, topics, ...owned];
  let synced = false;
  void Promise.all(watches.map((w) => w.synced)).then(() => {
    synced = true;
    log.info('watch caches synced');
  });

  // Level-triggered: every object is reconciled now and then, even without a change, which
  // repairs drift that no watch reports (a topic changed on the brokers).
  let resync = 0;
  const scheduleResync = () => {
    resync = clock.setTimeout(() => {
      for (const c of clusters.all()) enqueueCluster(c);
      scheduleResync();
    }, config.resyncSeconds * 1000);
  };
  scheduleResync();

  return {
    synced: () => synced,
    async stop() {
      clock.clearTimeout(resync);
      await Promise.all(watches.map((w) => w.stop()));
      await Promise.all([clusterController.shutdown(), topicController.shutdown()]);
      await pool.closeAll();
    },
  };
}
