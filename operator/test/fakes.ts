// In-memory doubles of the Kubernetes API and of a Kafka cluster's admin API. Each records the
// writes it was asked for, so tests can check what a reconcile changed (and that it changed nothing).

import type { KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import type { ClusterHealth, KafkaAdmin } from '../kafka/admin.js';
import type { Identity, Kube, Lister, ObjectRef } from '../runtime/kube.js';
import type { ConfigChange, DesiredTopic, ObservedTopic } from '../topics/plan.js';

export const silentLog = pino({ level: 'silent' });

type Stored = KubernetesObject & { status?: object };

const keyOf = (kind: string, namespace: string | undefined, name: string | undefined) => `${kind} ${namespace}/${name}`;

export class FakeKube implements Kube {
  readonly objects = new Map<string, Stored>();
  readonly statuses = new Map<string, object>();
  readonly writes: string[] = [];
  /** Makes the next write of this kind fail, to exercise error paths. */
  failNext: { kind: string; error: Error } | undefined;

  put(obj: Stored): void {
    this.objects.set(keyOf(obj.kind!, obj.metadata?.namespace, obj.metadata?.name), obj);
  }

  async get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    return this.objects.get(keyOf(ref.kind, ref.namespace, ref.name)) as T | undefined;
  }

  async list<T extends KubernetesObject>(
    _apiVersion: string,
    kind: string,
    namespace: string,
    labelSelector: string,
  ): Promise<T[]> {
    const wanted = labelSelector.split(',').map((kv) => kv.split('='));
    return [...this.objects.values()].filter(
      (o) =>
        o.kind === kind &&
        o.metadata?.namespace === namespace &&
        wanted.every(([k, v]) => o.metadata?.labels?.[k] === v),
    ) as T[];
  }

  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    this.write('apply', obj.kind!, obj);
    const key = keyOf(obj.kind!, obj.metadata?.namespace, obj.metadata?.name);
    const stored = { ...obj, status: this.objects.get(key)?.status } as T;
    this.objects.set(key, stored);
    return stored;
  }

  async applyStatus(ref: ObjectRef, status: object): Promise<void> {
    this.write('applyStatus', ref.kind, { metadata: ref });
    this.statuses.set(keyOf(ref.kind, ref.namespace, ref.name), status);
  }

  async setFinalizers(obj: Identity, finalizers: string[]): Promise<void> {
    this.write('setFinalizers', obj.kind!, obj, finalizers.join(','));
  }

  async annotate(ref: ObjectRef, annotations: Record<string, string>): Promise<void> {
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
  }

  async delete(ref: ObjectRef): Promise<void> {
    this.write('delete', ref.kind, { metadata: ref });
    this.objects.delete(keyOf(ref.kind, ref.namespace, ref.name));
  }

  async event(regarding: Identity, type: string, reason: string): Promise<void> {
    this.write('event', regarding.kind!, regarding, `${type} ${reason}`);
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
  clusterHealth: ClusterHealth = { controllerId: 0, underReplicatedPartitions: 0, replicasByBroker: new Map() };
  private nextId = 1;

  async describeTopic(name: string): Promise<ObservedTopic | undefined> {
    return this.topics.get(name);
  }

  async createTopic(t: DesiredTopic): Promise<string> {
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
  }

  async createPartitions(name: string, totalCount: number): Promise<void> {
    this.writes.push(`createPartitions ${name} ${totalCount}`);
    this.topics.get(name)!.partitions = totalCount;
  }

  async alterTopicConfig(name: string, changes: readonly ConfigChange[]): Promise<void> {
    this.writes.push(
      `alterConfig ${name} ${changes.map((c) => (c.op === 'set' ? `${c.name}=${c.value}` : `-${c.name}`)).join(' ')}`,
    );
    const config = new Map(this.topics.get(name)!.config);
    for (const c of changes) c.op === 'set' ? config.set(c.name, c.value) : config.delete(c.name);
    this.topics.get(name)!.config = config;
  }

  async deleteTopic(name: string): Promise<void> {
    this.writes.push(`delete ${name}`);
    this.topics.delete(name);
  }

  async health(): Promise<ClusterHealth> {
    return this.clusterHealth;
  }
}

export function lister<T extends { metadata: { namespace: string; name: string } }>(
  items: () => readonly T[],
): Lister<T> {
  return {
    get: (namespace, name) => items().find((i) => i.metadata.namespace === namespace && i.metadata.name === name),
    list: (namespace) => items().filter((i) => i.metadata.namespace === namespace),
  };
}
