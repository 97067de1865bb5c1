// Topic lifecycle on this broker: create, delete, add partitions, change configs. Each change
// is validated, written to the metadata store as records, then reflected in the logs.
// Changes are serialized so two concurrent requests for one topic cannot both succeed.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { toLogConfig, type BrokerConfig } from '../config/broker-config.js';
import { TOPIC_KEYS_BY_NAME, checkValue, suggestKey } from '../config/keys.js';
import type { MetadataRecord, TopicState } from '../metadata/image.js';
import type { MetadataStore } from '../metadata/store.js';
import { ErrorCode } from '../protocol/errors.js';
import type { LogConfig } from '../log/partition-log.js';
import type { LogManager } from '../log/log-manager.js';
import { isOutOfFiles, outOfFilesMessage, refuseNewPartitions } from '../log/open-files.js';

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

export type ConfigSource = 'topic' | 'broker-static' | 'default';

export type AlterOp = 'set' | 'delete' | 'append' | 'subtract';

export class TopicManager {
  private serial: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: MetadataStore,
    private readonly logs: LogManager,
    private readonly config: BrokerConfig,
    private readonly brokerCount: () => number,
    private readonly logger: Logger,
  ) {}

  get image() {
    return this.store.image;
  }

  /** Effective value of a topic key: the topic's override, else the broker's default. */
  configValue(topic: TopicState | undefined, name: string): string {
    return topic?.configs.get(name) ?? this.config.topicDefaults.get(name)!;
  }

  configSource(topic: TopicState, name: string): ConfigSource {
    if (topic.configs.has(name)) return 'topic';
    const synonym = TOPIC_KEYS_BY_NAME.get(name)!.brokerSynonym;
    return this.config.explicit.has(synonym) ? 'broker-static' : 'default';
  }

  logConfig(topic: TopicState | undefined, overrides?: ReadonlyMap<string, string>): LogConfig {
    return toLogConfig((name) => overrides?.get(name) ?? this.configValue(topic, name));
  }

  /** Opens the logs of every partition in the image (start-up). */
  async loadLogs(): Promise<void> {
    const wanted = [];
    for (const t of this.image.topics()) {
      const config = this.logConfig(t);
      for (const p of t.partitions) wanted.push({ topic: t.name, topicId: t.id, partition: p.partition, config });
    }
    await this.logs.load(wanted);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  async create(
    spec: { name: string; numPartitions: number; replicationFactor: number; configs: ConfigEntry[] },
    validateOnly: boolean,
    { internal = false }: { internal?: boolean } = {},
  ): Promise<
    Outcome & { topic?: TopicState; numPartitions: number; replicationFactor: number; configs: Map<string, string> }
  > {
    const numPartitions = spec.numPartitions === -1 ? this.config.numPartitions : spec.numPartitions;
    const replicationFactor =
      spec.replicationFactor === -1 ? this.config.defaultReplicationFactor : spec.replicationFactor;
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
      if (replicationFactor < 1 || replicationFactor > this.brokerCount()) {
        return result(
          fail(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            `Replication factor: ${replicationFactor} larger than available brokers: ${this.brokerCount()}.`,
          ),
        );
      }
      for (const c of spec.configs) {
        const problem = checkTopicConfig(c.name, c.value);
        if (problem) return result(fail(ErrorCode.INVALID_CONFIG, problem));
        if (c.value !== null) configs.set(c.name, c.value);
      }
      const tooMany = await refuseNewPartitions(numPartitions);
      if (tooMany) return result(fail(ErrorCode.INVALID_PARTITIONS, tooMany));
      if (validateOnly) return result(OK);

      const topicId = randomBytes(16).toString('base64url');
      const records: MetadataRecord[] = [{ type: 'topic', name: spec.name, topicId }];
      for (const [name, value] of configs) records.push({ type: 'config', topic: spec.name, name, value });
      for (let p = 0; p < numPartitions; p++) records.push(this.partitionRecord(topicId, p));
      const opened = await this.openNewLogs(spec.name, topicId, 0, numPartitions, this.logConfig(undefined, configs));
      if (opened) return result(opened);
      const stored = await this.storeOrUndo(records, spec.name, 0, numPartitions);
      if (stored) return result(stored);
      const topic = this.image.topic(spec.name)!;
      this.logger.info(
        { topic: spec.name, topicId, partitions: numPartitions, configs: Object.fromEntries(configs) },
        'topic created',
      );
      return result(OK, topic);
    });
  }

  /**
   * Opens the logs of new partitions [from, to) before their metadata is stored, so a topic is
   * never listed without its logs; on failure the ones opened are removed again (and a crash in
   * between leaves directories that start-up removes, as no topic claims them).
   */
  private async openNewLogs(
    topic: string,
    topicId: string,
    from: number,
    to: number,
    config: LogConfig,
  ): Promise<Outcome | undefined> {
    for (let p = from; p < to; p++) {
      try {
        await this.logs.open(topic, topicId, p, config);
      } catch (err) {
        await this.removeLogs(topic, from, p);
        return this.storageFailure(err, `opening partition ${p} of ${topic}`);
      }
    }
    return undefined;
  }

  /** Stores the records of new partitions [from, to), removing their logs if that fails. */
  private async storeOrUndo(
    records: MetadataRecord[],
    topic: string,
    from: number,
    to: number,
  ): Promise<Outcome | undefined> {
    try {
      await this.store.append(records);
      return undefined;
    } catch (err) {
      await this.removeLogs(topic, from, to);
      return this.storageFailure(err, `storing the metadata of ${topic}`);
    }
  }

  private async removeLogs(topic: string, from: number, to: number): Promise<void> {
    for (let p = from; p < to; p++) {
      await this.logs
        .remove(topic, p)
        .catch((err: unknown) =>
          this.logger.error(
            { err, topic, partition: p },
            'could not remove the log of a partition; start-up removes it',
          ),
        );
    }
  }

  private async storageFailure(err: unknown, doing: string): Promise<Outcome> {
    const message = isOutOfFiles(err)
      ? await outOfFilesMessage(doing)
      : `failed while ${doing}: ${err instanceof Error ? err.message : String(err)}`;
    this.logger.error({ err }, message);
    return fail(ErrorCode.KAFKA_STORAGE_ERROR, `Nothing was changed: the broker ${message}.`);
  }

  private partitionRecord(topicId: string, partition: number): MetadataRecord {
    const self = this.config.nodeId;
    return { type: 'partition', topicId, partition, leader: self, leaderEpoch: 0, replicas: [self], isr: [self] };
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
      await this.store.append([{ type: 'remove-topic', topicId: topic.id }]);
      // The topic is gone once its removal is stored; a directory left behind is removed at start-up.
      await this.removeLogs(name, 0, topic.partitions.length);
      this.logger.info({ topic: name, topicId: topic.id }, 'topic deleted');
      return { ...OK, topicId: topic.id };
    });
  }

  async createPartitions(name: string, count: number, validateOnly: boolean): Promise<Outcome> {
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
      const tooMany = await refuseNewPartitions(count - current);
      if (tooMany) return fail(ErrorCode.INVALID_PARTITIONS, tooMany);
      if (validateOnly) return OK;
      const records: MetadataRecord[] = [];
      for (let p = current; p < count; p++) records.push(this.partitionRecord(topic.id, p));
      const failed =
        (await this.openNewLogs(name, topic.id, current, count, this.logConfig(topic))) ??
        (await this.storeOrUndo(records, name, current, count));
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
              this.configValue(topic, c.name)
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
        if (value !== (topic.configs.get(k) ?? null)) records.push({ type: 'config', topic: name, name: k, value });
      }
      if (records.length === 0) return OK;
      await this.store.append(records);
      this.logs.updateConfig(name, topic.partitions.length, this.logConfig(topic));
      this.logger.info({ topic: name, configs: Object.fromEntries(topic.configs) }, 'topic configs changed');
      return OK;
    });
  }
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
