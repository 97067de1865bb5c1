// What to do to a Kafka topic so that it matches its KafkaTopic: a pure function of the desired
// topic and the one observed through the admin API. Nothing is changed unless everything asked
// for can be done, so an unsupported request leaves the topic exactly as it was.

export interface DesiredTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  config: ReadonlyMap<string, string>;
}

export interface ObservedTopic {
  name: string;
  id: string;
  partitions: number;
  replicationFactor: number;
  /** Keys set on the topic itself (not broker defaults): what a KafkaTopic owns. */
  config: ReadonlyMap<string, string>;
}

export type ConfigChange = { name: string; op: 'set'; value: string } | { name: string; op: 'delete' };

export type TopicPlan =
  | { action: 'create'; topic: DesiredTopic }
  | {
      action: 'update';
      /** New partition count, when it grows. */
      partitions?: number;
      /** New replication factor, when it changes: replicas are added or removed by reassignment. */
      replicationFactor?: number;
      configChanges: ConfigChange[];
    }
  | { action: 'notSupported'; message: string };

export function planTopic(desired: DesiredTopic, observed: ObservedTopic | undefined): TopicPlan {
  if (!observed) return { action: 'create', topic: desired };
  if (desired.partitions < observed.partitions) {
    return {
      action: 'notSupported',
      message: `spec.partitions ${desired.partitions} is below the topic's ${observed.partitions} partitions; Kafka cannot remove partitions (set it back to ${observed.partitions} or more, or create a new topic)`,
    };
  }
  return {
    action: 'update',
    partitions: desired.partitions > observed.partitions ? desired.partitions : undefined,
    replicationFactor: desired.replicationFactor !== observed.replicationFactor ? desired.replicationFactor : undefined,
    configChanges: configChanges(desired.config, observed.config),
  };
}

/** Incremental changes from the observed topic config to the desired one; keys set outside the CR are removed. */
export function configChanges(
  desired: ReadonlyMap<string, string>,
  observed: ReadonlyMap<string, string>,
): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const [name, value] of desired) if (observed.get(name) !== value) changes.push({ name, op: 'set', value });
  for (const name of observed.keys()) if (!desired.has(name)) changes.push({ name, op: 'delete' });
  return changes;
}

export function isInSync(plan: TopicPlan): boolean {
  return (
    plan.action === 'update' &&
    plan.partitions === undefined &&
    plan.replicationFactor === undefined &&
    plan.configChanges.length === 0
  );
}
