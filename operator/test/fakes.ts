// In-memory doubles of the Kubernetes API and of a Kafka cluster's admin API. Each records the
// writes it was asked for, so tests can check what a reconcile changed (and that it changed nothing).

import type { KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import type {
  BrokerNode,
  ClusterHealth,
  KafkaAdmin,
  LogDirUsage,
  PartitionReplicas,
  ReassignmentInFlight,
  ReassignmentOutcome,
  ReassignmentRequest,
  ReplicationThrottle,
} from '../kafka/admin.js';
import type { Identity, Kube, Lister, ObjectRef } from '../runtime/kube.js';
import type { ConfigChange, DesiredTopic, ObservedTopic } from '../topics/plan.js';

export const silentLog = pino({ level: 'silent' });

type Stored = KubernetesObject & { status?: object };

/**
 * Answers the way an async API does: the body runs now, and a throw becomes a rejected promise
 * (what an `async` method would do), so callers see failures where a real client reports them.
 */
function answer<T>(body: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(body()));
}

const keyOf = (kind: string, namespace: string | undefined, name: string | undefined) => `${kind} ${namespace}/${name}`;

/** RFC 7386: objects merge, null removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKube implements Kube {
  readonly objects = new Map<string, Stored>();
  readonly statuses = new Map<string, object>();
  readonly writes: string[] = [];
  /** Makes the next write of this kind fail, to exercise error paths. */
  failNext: { kind: string; error: Error } | undefined;

  put(obj: Stored): void {
    this.objects.set(keyOf(obj.kind!, obj.metadata?.namespace, obj.metadata?.name), obj);
  }

  get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    return answer(() => this.objects.get(keyOf(ref.kind, ref.namespace, ref.name)) as T | undefined);
  }

  list<T extends KubernetesObject>(
    _apiVersion: string,
    kind: string,
    namespace: string,
    labelSelector: string,
  ): Promise<T[]> {
    return answer(() => {
      const wanted = labelSelector.split(',').map((kv) => kv.split('='));
      return [...this.objects.values()].filter(
        (o) =>
          o.kind === kind &&
          o.metadata?.namespace === namespace &&
          wanted.every(([k, v]) => o.metadata?.labels?.[k] === v),
      ) as T[];
    });
  }

  apply<T extends KubernetesObject>(obj: T): Promise<T> {
    return answer(() => {
      this.write('apply', obj.kind!, obj);
      const key = keyOf(obj.kind!, obj.metadata?.namespace, obj.metadata?.name);
      const stored = { ...obj, status: this.objects.get(key)?.status } as T;
      this.objects.set(key, stored);
      return stored;
    });
  }

  applyStatus(ref: ObjectRef, status: object): Promise<void> {
    return answer(() => {
      this.write('applyStatus', ref.kind, { metadata: ref });
      this.statuses.set(keyOf(ref.kind, ref.namespace, ref.name), status);
    });
  }

  setFinalizers(obj: Identity, finalizers: string[]): Promise<void> {
    return answer(() => this.write('setFinalizers', obj.kind!, obj, finalizers.join(',')));
  }

  annotate(ref: ObjectRef, annotations: Record<string, string>): Promise<void> {
    return answer(() => {
      this.write(
        'annotate',
        ref.kind,
        { metadata: ref },
        Object.entries(annotations)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      );
      const obj = this.objects.get(keyOf(ref.kind, ref.namespace, ref.name));
      if (!obj) throw new Error(`${ref.kind} ${ref.namespace}/${ref.name} not found`);
      obj.metadata = { ...obj.metadata, annotations: { ...obj.metadata?.annotations, ...annotations } };
    });
  }

  mergePatch(ref: ObjectRef, patch: object): Promise<void> {
    return answer(() => {
      this.write('mergePatch', ref.kind, { metadata: ref }, JSON.stringify(patch));
      const key = keyOf(ref.kind, ref.namespace, ref.name);
      const obj = this.objects.get(key);
      if (obj) this.objects.set(key, mergePatch(obj, patch) as Stored);
    });
  }

  delete(ref: ObjectRef, options?: { propagationPolicy?: string }): Promise<void> {
    return answer(() => {
      this.write('delete', ref.kind, { metadata: ref }, options?.propagationPolicy);
      this.objects.delete(keyOf(ref.kind, ref.namespace, ref.name));
    });
  }

  event(regarding: Identity, type: string, reason: string): Promise<void> {
    return answer(() => this.write('event', regarding.kind!, regarding, `${type} ${reason}`));
  }

  status<T>(kind: string, namespace: string, name: string): T | undefined {
    return this.statuses.get(keyOf(kind, namespace, name)) as T | undefined;
  }

  private write(verb: string, kind: string, obj: Identity, detail?: string): void {
    if (this.failNext?.kind === kind) {
      const { error } = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.writes.push(
      [verb, keyOf(kind, obj.metadata?.namespace, obj.metadata?.name), detail].filter(Boolean).join(' '),
    );
  }
}

export class FakeAdmin implements KafkaAdmin {
  readonly topics = new Map<string, ObservedTopic>();
  readonly writes: string[] = [];
  clusterHealth: ClusterHealth = { controllerId: 0, partitions: [], replicasByBroker: new Map() };
  private nextId = 1;

  describeTopic(name: string): Promise<ObservedTopic | undefined> {
    return answer(() => this.topics.get(name));
  }

  createTopic(t: DesiredTopic): Promise<string> {
    return answer(() => {
      this.writes.push(`create ${t.name}`);
      const id = `topic-id-${this.nextId++}`;
      this.topics.set(t.name, {
        name: t.name,
        id,
        partitions: t.partitions,
        replicationFactor: t.replicationFactor,
        config: new Map(t.config),
      });
      return id;
    });
  }

  createPartitions(name: string, totalCount: number): Promise<void> {
    return answer(() => {
      this.writes.push(`createPartitions ${name} ${totalCount}`);
      this.topics.get(name)!.partitions = totalCount;
    });
  }

  alterTopicConfig(name: string, changes: readonly ConfigChange[]): Promise<void> {
    return answer(() => {
      this.writes.push(
        `alterConfig ${name} ${changes.map((c) => (c.op === 'set' ? `${c.name}=${c.value}` : `-${c.name}`)).join(' ')}`,
      );
      const config = new Map(this.topics.get(name)!.config);
      for (const c of changes) {
        if (c.op === 'set') config.set(c.name, c.value);
        else config.delete(c.name);
      }
      this.topics.get(name)!.config = config;
    });
  }

  deleteTopic(name: string): Promise<void> {
    return answer(() => {
      this.writes.push(`delete ${name}`);
      this.topics.delete(name);
    });
  }

  health(): Promise<ClusterHealth> {
    return answer(() => this.clusterHealth);
  }

  /** The live brokers brokers() answers. */
  liveBrokers: BrokerNode[] = [];
  /** Reassignments in flight; alterReassignments adds and cancels them, tests complete them. */
  reassignments: ReassignmentInFlight[] = [];
  /** What logDirUsage answers for each broker (an empty usage for others). */
  readonly logDirs = new Map<number, LogDirUsage>();
  /** The throttle rate set on each broker. */
  readonly throttledBrokers = new Map<number, number>();
  /** Each topic's throttled replicas. */
  readonly throttledTopics = new Map<string, { leader: string[]; follower: string[] }>();

  brokers(): Promise<BrokerNode[]> {
    return answer(() => [...this.liveBrokers].sort((a, b) => a.id - b.id));
  }

  listReassignments(): Promise<ReassignmentInFlight[]> {
    return answer(() => [...this.reassignments]);
  }

  alterReassignments(requests: readonly ReassignmentRequest[]): Promise<ReassignmentOutcome[]> {
    return answer(() =>
      requests.map(({ topic, partition, replicas }) => {
        this.writes.push(`reassign ${topic}-${partition} ${replicas ? replicas.join(',') : 'cancel'}`);
        const at = this.reassignments.findIndex((r) => r.topic === topic && r.partition === partition);
        if (replicas === null) {
          if (at < 0) return { topic, partition, error: 'NO_REASSIGNMENT_IN_PROGRESS' };
          this.reassignments.splice(at, 1);
          return { topic, partition };
        }
        const current =
          this.clusterHealth.partitions.find((p) => p.topic === topic && p.partition === partition)?.replicas ?? [];
        const moving = {
          topic,
          partition,
          replicas: [...new Set([...replicas, ...current])],
          adding: replicas.filter((r) => !current.includes(r)),
          removing: current.filter((r) => !replicas.includes(r)),
        };
        if (at < 0) this.reassignments.push(moving);
        else this.reassignments[at] = moving;
        return { topic, partition };
      }),
    );
  }

  logDirUsage(brokerIds: readonly number[]): Promise<LogDirUsage[]> {
    return answer(() =>
      brokerIds.map(
        (broker) => this.logDirs.get(broker) ?? { broker, replicaBytes: new Map(), totalBytes: -1, usableBytes: -1 },
      ),
    );
  }

  electPreferredLeaders(partitions: readonly { topic: string; partition: number }[]): Promise<ReassignmentOutcome[]> {
    return answer(() =>
      partitions.map(({ topic, partition }) => {
        this.writes.push(`elect ${topic}-${partition}`);
        const p = this.clusterHealth.partitions.find((q) => q.topic === topic && q.partition === partition);
        if (!p) return { topic, partition, error: 'UNKNOWN_TOPIC_OR_PARTITION' };
        p.leader = p.replicas[0] ?? -1;
        return { topic, partition };
      }),
    );
  }

  unregisterBroker(id: number): Promise<void> {
    return answer(() => {
      this.writes.push(`unregister ${id}`);
      this.liveBrokers = this.liveBrokers.filter((b) => b.id !== id);
    });
  }

  setReplicationThrottle(throttle: ReplicationThrottle): Promise<void> {
    return answer(() => {
      this.writes.push(`throttle ${throttle.rateBytesPerSecond} ${throttle.brokers.join(',')}`);
      for (const id of throttle.brokers) this.throttledBrokers.set(id, throttle.rateBytesPerSecond);
      for (const topic of new Set([...throttle.leaderReplicas.keys(), ...throttle.followerReplicas.keys()]))
        this.throttledTopics.set(topic, {
          leader: throttle.leaderReplicas.get(topic) ?? [],
          follower: throttle.followerReplicas.get(topic) ?? [],
        });
    });
  }

  clearReplicationThrottle(brokers: readonly number[], topics: readonly string[]): Promise<void> {
    return answer(() => {
      this.writes.push(`clearThrottle ${brokers.join(',')} ${topics.join(',')}`);
      for (const id of brokers) this.throttledBrokers.delete(id);
      for (const topic of topics) this.throttledTopics.delete(topic);
    });
  }
}

/**
 * A partition as a cluster's health reports it: `events-0` with its replicas, ISR and
 * min.insync.replicas; its leader the first in-sync replica unless given.
 */
export function partitionState(
  name: string,
  replicas: number[],
  isr: number[],
  minInsyncReplicas = 1,
  internal = false,
  leader = replicas.find((r) => isr.includes(r)) ?? -1,
): PartitionReplicas {
  const at = name.lastIndexOf('-');
  return {
    topic: name.slice(0, at),
    partition: Number(name.slice(at + 1)),
    internal,
    replicas,
    isr,
    leader,
    minInsyncReplicas,
  };
}

export function lister<T extends { metadata: { namespace: string; name: string } }>(
  items: () => readonly T[],
): Lister<T> {
  return {
    get: (namespace, name) => items().find((i) => i.metadata.namespace === namespace && i.metadata.name === name),
    list: (namespace) => items().filter((i) => i.metadata.namespace === namespace),
  };
}
