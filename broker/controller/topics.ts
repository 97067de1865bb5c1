// The active controller's topic decisions: create, delete, add partitions, change configs. Each
// change is validated against the committed image and becomes metadata records, which the quorum
// commits; brokers then open or remove their logs as they apply them. Changes are serialized, and
// each waits for its records to be applied, so the next one decides on an image that holds it.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.js';
import { TOPIC_KEYS_BY_NAME, checkValue, suggestKey } from '../config/keys.js';
import { checkBrokerResourceName, planBrokerConfigChanges } from '../config/dynamic-broker-configs.js';
import { brokersThatCanLead } from './leaders.js';
import { ConfigResourceType, NO_LEADER, type MetadataImage, type TopicState } from '../metadata/image.js';
import type { MetadataRecord } from '../metadata/records.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TopicConfigs } from '../metadata/topic-configs.js';
import { refuseNewPartitions } from '../log/open-files.js';
import { placeReplicas, type PlacementBroker } from './placement.js';

export interface Outcome {
  errorCode: number;
  errorMessage: string | null;
}

const OK: Outcome = { errorCode: ErrorCode.NONE, errorMessage: null };
const MAX_TOPIC_NAME_LENGTH = 249;
/** Topics the broker creates and manages itself. */
export const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);
const MAX_PARTITIONS = 10_000;

function fail(errorCode: number, errorMessage: string): Outcome {
  return { errorCode, errorMessage };
}

export interface ConfigEntry {
  name: string;
  value: string | null;
}

export type AlterOp = 'set' | 'delete' | 'append' | 'subtract';

/** Appends records through the quorum; resolves once they are committed and applied to the image. */
export type Commit = (records: MetadataRecord[]) => Promise<void>;

/** Runs one decision at a time (the controller's queue). */
export type Decide = <T>(fn: () => Promise<T>) => Promise<T>;

export class TopicController {
  /** Where the next topic's placement ring starts, so partition 0s do not pile up on one broker. */
  private placementStart = 0;

  constructor(
    private readonly image: MetadataImage,
    private readonly configs: TopicConfigs,
    private readonly config: BrokerConfig,
    private readonly commit: Commit,
    private readonly exclusive: Decide,
    private readonly logger: Logger,
  ) {}

  private placementBrokers(): PlacementBroker[] {
    return this.image.unfencedBrokers().map((b) => ({ id: b.id, rack: b.rack }));
  }

  async create(
    spec: {
      name: string;
      numPartitions: number;
      replicationFactor: number;
      configs: ConfigEntry[];
      /** Explicit replica lists, one per partition (then numPartitions and replicationFactor are -1). */
      assignments?: number[][];
    },
    validateOnly: boolean,
    { internal = false }: { internal?: boolean } = {},
  ): Promise<
    Outcome & { topic?: TopicState; numPartitions: number; replicationFactor: number; configs: Map<string, string> }
  > {
    const numPartitions =
      spec.assignments?.length ?? (spec.numPartitions === -1 ? this.config.numPartitions : spec.numPartitions);
    const replicationFactor =
      spec.assignments?.[0]?.length ??
      (spec.replicationFactor === -1 ? this.config.defaultReplicationFactor : spec.replicationFactor);
    const configs = new Map<string, string>();
    const result = (o: Outcome, topic?: TopicState) => ({ ...o, topic, numPartitions, replicationFactor, configs });
    return this.exclusive(async () => {
      const nameProblem = validateTopicName(spec.name);
      if (nameProblem) return result(fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem));
      if (!internal && INTERNAL_TOPICS.has(spec.name))
        return result(fail(ErrorCode.INVALID_REQUEST, `Creation of internal topic ${spec.name} is prohibited.`));
      if (this.image.topic(spec.name))
        return result(fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${spec.name}' already exists.`));
      const collision = [...this.image.topics()].find((t) => collisionKey(t.name) === collisionKey(spec.name));
      if (collision) {
        return result(
          fail(
            ErrorCode.INVALID_TOPIC_EXCEPTION,
            `Topic '${spec.name}' collides with existing topic '${collision.name}': '.' and '_' are interchangeable in metric names.`,
          ),
        );
      }
      if (numPartitions < 1 || numPartitions > MAX_PARTITIONS) {
        return result(
          fail(
            ErrorCode.INVALID_PARTITIONS,
            `Number of partitions must be between 1 and ${MAX_PARTITIONS}, got ${numPartitions}.`,
          ),
        );
      }
      const brokers = this.placementBrokers();
      if (!spec.assignments && (replicationFactor < 1 || replicationFactor > brokers.length)) {
        return result(
          fail(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            `Replication factor: ${replicationFactor} larger than available brokers: ${brokers.length}.`,
          ),
        );
      }
      const assignmentProblem = spec.assignments && this.checkAssignments(spec.assignments);
      if (assignmentProblem) return result(fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, assignmentProblem));
      for (const c of spec.configs) {
        const problem = checkTopicConfig(c.name, c.value);
        if (problem) return result(fail(ErrorCode.INVALID_CONFIG, problem));
        if (c.value !== null) configs.set(c.name, c.value);
      }
      const replicas = spec.assignments ?? this.place(brokers, 0, numPartitions, replicationFactor);
      const noIsr = this.withoutLiveReplica(replicas, 0, spec.assignments !== undefined, replicationFactor);
      if (noIsr) return result(noIsr);
      const tooMany = await this.refuseBeyondOwnFileLimit(replicas);
      if (tooMany) return result(fail(ErrorCode.INVALID_PARTITIONS, tooMany));
      if (validateOnly) return result(OK);

      const topicId = randomBytes(16).toString('base64url');
      const records: MetadataRecord[] = [{ type: 'TopicRecord', name: spec.name, topicId }];
      for (const [name, value] of configs) records.push(topicConfigRecord(spec.name, name, value));
      replicas.forEach((r, p) => records.push(this.partitionRecord(topicId, p, r)));
      const stored = await this.store(records, `storing the metadata of ${spec.name}`);
      if (stored) return result(stored);
      const topic = this.image.topic(spec.name)!;
      this.logger.info(
        { topic: spec.name, topicId, partitions: numPartitions, configs: Object.fromEntries(configs) },
        'topic created',
      );
      return result(OK, topic);
    });
  }

  /** A new partition: its ISR the replicas that can lead now, the first of them its leader (as Kafka). */
  private partitionRecord(topicId: string, partitionId: number, replicas: number[]): MetadataRecord {
    return newPartitionRecord(topicId, partitionId, replicas, replicas.filter(brokersThatCanLead(this.image)));
  }

  /** Kafka refuses a new partition none of whose replicas is live (unfenced, not shutting down). */
  private withoutLiveReplica(
    replicas: number[][],
    firstPartition: number,
    assigned: boolean,
    replicationFactor: number,
  ): Outcome | undefined {
    const canLead = brokersThatCanLead(this.image);
    const i = replicas.findIndex((r) => !r.some(canLead));
    if (i < 0) return undefined;
    return assigned
      ? fail(
          ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          `All brokers specified in the manual partition assignment for partition ${firstPartition + i} are fenced or in controlled shutdown.`,
        )
      : fail(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `Unable to replicate the partition ${replicationFactor} time(s): All brokers are currently fenced or in controlled shutdown.`,
        );
  }

  private place(brokers: PlacementBroker[], from: number, count: number, replicationFactor: number): number[][] {
    const placed = placeReplicas(brokers, from, count, replicationFactor, this.placementStart);
    this.placementStart = (this.placementStart + 1) % Math.max(brokers.length, 1);
    return placed;
  }

  private checkAssignments(assignments: number[][]): string | undefined {
    const size = assignments[0]?.length ?? 0;
    for (const [p, r] of assignments.entries()) {
      if (r.length === 0 || r.length !== size)
        return `Partition ${p} has ${r.length} replicas where the first has ${size}: every partition needs the same, non-zero number of replicas.`;
      if (new Set(r).size !== r.length) return `Partition ${p} lists a broker twice: ${r.join(',')}.`;
      const unknown = r.find((id) => !this.image.broker(id));
      if (unknown !== undefined) return `Replica assignment names broker ${unknown}, which is not in the cluster.`;
    }
    return undefined;
  }

  /**
   * The open-file budget is a per-process limit: it can be checked here only for the partitions
   * placed on this node; other brokers refuse nothing and retry opening what does not fit.
   */
  private refuseBeyondOwnFileLimit(replicas: number[][]): Promise<string | undefined> {
    const own = replicas.filter((r) => r.includes(this.config.nodeId)).length;
    return own === 0 ? Promise.resolve(undefined) : refuseNewPartitions(own);
  }

  /** Commits the records; a failure to commit (a full disk, a lost leadership) changes nothing. */
  private async store(records: MetadataRecord[], doing: string): Promise<Outcome | undefined> {
    try {
      await this.commit(records);
      return undefined;
    } catch (err) {
      const message = `failed while ${doing}: ${err instanceof Error ? err.message : String(err)}`;
      this.logger.error({ err }, message);
      if (err instanceof NotControllerError) return fail(ErrorCode.NOT_CONTROLLER, err.message);
      return fail(ErrorCode.KAFKA_STORAGE_ERROR, `Nothing was changed: the controller ${message}.`);
    }
  }

  async delete(name: string): Promise<Outcome & { topicId?: string }> {
    return this.exclusive(async () => {
      if (!this.config.deleteTopicEnable)
        return fail(ErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled (delete.topic.enable=false).');
      const topic = this.image.topic(name);
      if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic: ${name}`);
      if (INTERNAL_TOPICS.has(name))
        return fail(
          ErrorCode.INVALID_REQUEST,
          `Topic ${name} is internal to the broker (consumer groups keep their offsets there) and cannot be deleted.`,
        );
      const stored = await this.store([{ type: 'RemoveTopicRecord', topicId: topic.id }], `deleting ${name}`);
      if (stored) return stored;
      this.logger.info({ topic: name, topicId: topic.id }, 'topic deleted');
      return { ...OK, topicId: topic.id };
    });
  }

  /** Adds partitions up to `count`; `assignments`, when given, lists the new partitions' replicas. */
  async createPartitions(
    name: string,
    count: number,
    validateOnly: boolean,
    assignments: number[][] | null = null,
  ): Promise<Outcome> {
    return this.exclusive(async () => {
      const topic = this.image.topic(name);
      if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
      const current = topic.partitions.length;
      if (count < current)
        return fail(
          ErrorCode.INVALID_PARTITIONS,
          `Topic currently has ${current} partitions, which is higher than the requested ${count}.`,
        );
      if (count === current) return fail(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partitions.`);
      if (count > MAX_PARTITIONS)
        return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be at most ${MAX_PARTITIONS}.`);
      const brokers = this.placementBrokers();
      const replicationFactor = topic.partitions[0].replicas.length;
      if (assignments) {
        if (assignments.length !== count - current)
          return fail(
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            `Increasing the number of partitions by ${count - current} but ${assignments.length} assignments provided.`,
          );
        const problem =
          this.checkAssignments(assignments) ??
          (assignments[0].length !== replicationFactor
            ? `The new partitions have ${assignments[0].length} replicas, the topic's have ${replicationFactor}.`
            : undefined);
        if (problem) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
      } else if (replicationFactor > brokers.length)
        return fail(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `Replication factor: ${replicationFactor} larger than available brokers: ${brokers.length}.`,
        );
      const replicas = assignments ?? this.place(brokers, current, count - current, replicationFactor);
      const noIsr = this.withoutLiveReplica(replicas, current, assignments !== null, replicationFactor);
      if (noIsr) return noIsr;
      const tooMany = await this.refuseBeyondOwnFileLimit(replicas);
      if (tooMany) return fail(ErrorCode.INVALID_PARTITIONS, tooMany);
      if (validateOnly) return OK;
      const records = replicas.map((r, i) => this.partitionRecord(topic.id, current + i, r));
      const failed = await this.store(records, `adding partitions to ${name}`);
      if (failed) return failed;
      this.logger.info({ topic: name, from: current, to: count }, 'partitions added');
      return OK;
    });
  }

  /**
   * Changes topic configs. `replaceAll` is the legacy AlterConfigs semantics: keys not listed
   * return to their defaults. Every change is validated before any is applied.
   */
  async alterConfigs(
    name: string,
    changes: Array<{ name: string; op: AlterOp; value: string | null }>,
    validateOnly: boolean,
    replaceAll: boolean,
  ): Promise<Outcome> {
    return this.exclusive(async () => {
      const topic = this.image.topic(name);
      if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist.`);
      const next = new Map(replaceAll ? [] : topic.configs);
      for (const c of changes) {
        const key = TOPIC_KEYS_BY_NAME.get(c.name);
        if (!key) return fail(ErrorCode.INVALID_CONFIG, unknownTopicKey(c.name));
        switch (c.op) {
          case 'set':
            if (c.value === null)
              return fail(ErrorCode.INVALID_CONFIG, `Null value not supported for topic config ${c.name}.`);
            next.set(c.name, c.value);
            break;
          case 'delete':
            next.delete(c.name);
            break;
          case 'append':
          case 'subtract': {
            if (key.type !== 'list')
              return fail(
                ErrorCode.INVALID_CONFIG,
                `Config ${c.name} is not a list; ${c.op.toUpperCase()} needs a list config.`,
              );
            const current = new Set(
              this.configs
                .configValue(topic, c.name)
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean),
            );
            for (const item of (c.value ?? '')
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)) {
              if (c.op === 'append') current.add(item);
              else current.delete(item);
            }
            next.set(c.name, [...current].join(','));
            break;
          }
        }
        const value = next.get(c.name);
        if (value !== undefined) {
          const problem = checkTopicConfig(c.name, value);
          if (problem) return fail(ErrorCode.INVALID_CONFIG, problem);
        }
      }
      if (validateOnly) return OK;
      const records: MetadataRecord[] = [];
      for (const k of new Set([...topic.configs.keys(), ...next.keys()])) {
        const value = next.get(k) ?? null;
        if (value !== (topic.configs.get(k) ?? null)) records.push(topicConfigRecord(name, k, value));
      }
      if (records.length === 0) return OK;
      const stored = await this.store(records, `changing the configs of ${name}`);
      if (stored) return stored;
      this.logger.info({ topic: name, configs: Object.fromEntries(topic.configs) }, 'topic configs changed');
      return OK;
    });
  }

  /**
   * Changes the dynamic configs of a BROKER resource: one broker (its node id) or the cluster-wide
   * default (""). Only keys keys.ts marks dynamic are accepted; every broker applies the committed
   * ConfigRecords from the image without a restart.
   */
  async alterBrokerConfigs(
    resourceName: string,
    changes: Array<{ name: string; op: AlterOp; value: string | null }>,
    validateOnly: boolean,
    replaceAll: boolean,
  ): Promise<Outcome> {
    return this.exclusive(async () => {
      const badName = checkBrokerResourceName(resourceName);
      if (badName) return fail(ErrorCode.INVALID_REQUEST, badName);
      const plan = planBrokerConfigChanges(this.image.brokerConfigs(resourceName), changes, replaceAll);
      if (!plan.ok) return fail(ErrorCode.INVALID_CONFIG, plan.problem);
      if (validateOnly || plan.changes.size === 0) return OK;
      const records: MetadataRecord[] = [...plan.changes].map(([name, value]) => ({
        type: 'ConfigRecord',
        resourceType: ConfigResourceType.BROKER,
        resourceName,
        name,
        value,
      }));
      const broker = resourceName === '' ? 'the cluster default' : `broker ${resourceName}`;
      const stored = await this.store(records, `changing the dynamic configs of ${broker}`);
      if (stored) return stored;
      this.logger.info({ broker: resourceName, configs: Object.fromEntries(plan.changes) }, 'broker configs changed');
      return OK;
    });
  }
}

/** Raised by a commit on a node that is not (or no longer) the active controller. */
export class NotControllerError extends Error {}

/** A new partition: in sync from the start (it is empty), led by the first of its ISR. */
function newPartitionRecord(topicId: string, partitionId: number, replicas: number[], isr: number[]): MetadataRecord {
  return {
    type: 'PartitionRecord',
    partitionId,
    topicId,
    replicas,
    isr,
    removingReplicas: [],
    addingReplicas: [],
    leader: isr[0] ?? NO_LEADER,
    leaderRecoveryState: 0,
    leaderEpoch: 0,
    partitionEpoch: 0,
    directories: [],
  };
}

function topicConfigRecord(topic: string, name: string, value: string | null): MetadataRecord {
  return { type: 'ConfigRecord', resourceType: ConfigResourceType.TOPIC, resourceName: topic, name, value };
}

function unknownTopicKey(name: string): string {
  const hint = suggestKey(name, TOPIC_KEYS_BY_NAME.keys());
  return `Unknown topic config name: ${name}${hint ? ` (did you mean ${hint}?)` : ''}`;
}

function checkTopicConfig(name: string, value: string | null): string | undefined {
  const key = TOPIC_KEYS_BY_NAME.get(name);
  if (!key) return unknownTopicKey(name);
  if (value === null) return undefined;
  const problem = checkValue(key, value);
  return problem ? `Invalid value ${value} for configuration ${name}: ${problem}` : undefined;
}

export function validateTopicName(name: string): string | undefined {
  if (name.length === 0) return "Topic name is illegal, it can't be empty";
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > MAX_TOPIC_NAME_LENGTH)
    return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters, topic name: ${name}`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name))
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  return undefined;
}

function collisionKey(name: string): string {
  return name.replaceAll('.', '_');
}
