// The partitions this broker holds, as request handlers and the group coordinator use them:
// find a partition and check, once for every API, that this broker leads it at the leader
// epoch the client knows; append to it and wake the fetches waiting on it, whoever appended
// (a producer or the group coordinator); park a fetch until data arrives. Replication grows
// here: a partition will know whether it leads or follows, its ISR and its high watermark.

import type { Logger } from 'pino';
import type { LogManager } from '../log/log-manager.js';
import { isOutOfFiles, outOfFilesMessage, refuseNewPartitions } from '../log/open-files.js';
import { partitionKey } from '../log/log-manager.js';
import type { AppendResult, PartitionLog } from '../log/partition-log.js';
import type { MetadataDelta, MetadataImage, PartitionState, TopicState } from '../metadata/image.js';
import type { TopicConfigs } from '../metadata/topic-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import type { BatchInfo } from '../protocol/record-batch.js';
import type { FetchWaiters } from './fetch-waiters.js';

/** A partition this broker leads. */
export interface LeaderPartition {
  topic: TopicState;
  state: PartitionState;
  log: PartitionLog;
  /** `<topic>-<partition>`: what fetches wait on. */
  key: string;
}

export type Lookup = { ok: true; partition: LeaderPartition } | { ok: false; errorCode: number };

/** A topic as a request names it: by name (older versions) or by id. */
export type TopicRef = { name: string } | { id: string };

const ACKS_ALL = -1;

export class ReplicaManager {
  constructor(
    private readonly topics: TopicConfigs,
    private readonly logs: LogManager,
    private readonly nodeId: number,
    private readonly waiters: FetchWaiters,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens the log of every partition the image places on this broker (start-up), removing
   * directories no partition claims, or explains which limit keeps them from fitting.
   */
  async loadHostedLogs(image: MetadataImage): Promise<void> {
    const wanted = [];
    for (const t of image.topics()) {
      const config = this.topics.logConfig(t);
      for (const p of t.partitions)
        if (p.replicas.includes(this.nodeId))
          wanted.push({ topic: t.name, topicId: t.id, partition: p.partition, config });
    }
    const refused = await refuseNewPartitions(wanted.length);
    if (refused) throw new Error(`this broker hosts ${wanted.length} partitions and cannot open them all: ${refused}`);
    try {
      await this.logs.load(wanted);
    } catch (err) {
      if (isOutOfFiles(err)) throw new Error(await outOfFilesMessage(`loading ${wanted.length} partitions`));
      throw err;
    }
  }

  /** Follows the metadata: opens the logs of partitions placed here, removes those of deleted topics. */
  async applyDelta(delta: MetadataDelta, image: MetadataImage): Promise<void> {
    for (const removed of delta.removedTopics)
      for (let p = 0; p < removed.partitions.length; p++)
        if (this.logs.get(removed.name, p))
          await this.logs
            .remove(removed.name, p)
            .catch((err: unknown) =>
              this.logger.error(
                { err, topic: removed.name, partition: p },
                "could not remove a deleted partition's log; start-up removes it",
              ),
            );
    for (const [name, partitions] of delta.changedPartitions) {
      const topic = image.topic(name);
      if (!topic) continue;
      for (const partition of partitions) {
        const state = topic.partitions[partition];
        if (!state?.replicas.includes(this.nodeId) || this.logs.get(name, partition)) continue;
        await this.logs
          .open(name, topic.id, partition, this.topics.logConfig(topic))
          .catch((err: unknown) =>
            this.logger.error(
              { err, topic: name, partition },
              'could not open the log of a partition placed on this broker',
            ),
          );
      }
    }
    for (const name of delta.changedConfigs) {
      const topic = image.topic(name);
      if (topic) this.logs.updateConfig(name, topic.partitions.length, this.topics.logConfig(topic));
    }
  }

  /**
   * The partition, if this broker leads it; else the error Kafka answers: an unknown topic or
   * partition, NOT_LEADER_OR_FOLLOWER, or a leader epoch the client has wrong (-1: not checked).
   */
  leader(ref: TopicRef, partition: number, currentLeaderEpoch = -1): Lookup {
    const image = this.topics.image;
    const topic = 'id' in ref ? image.topicById(ref.id) : image.topic(ref.name);
    if (!topic)
      return { ok: false, errorCode: 'id' in ref ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    const state = topic.partitions[partition];
    if (!state) return { ok: false, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    // A log not open yet (the metadata just arrived, or opening it failed) is retried by clients too.
    const log = state.leader === this.nodeId ? this.logs.get(topic.name, partition) : undefined;
    if (!log) return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch !== state.leaderEpoch) {
      return {
        ok: false,
        errorCode:
          currentLeaderEpoch > state.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH,
      };
    }
    return { ok: true, partition: { topic, state, log, key: partitionKey(topic.name, partition) } };
  }

  /**
   * Whether the image already names this broker the partition's leader while its log is not open
   * yet: the metadata arrived a moment ago and the broker is still acting on it.
   */
  becomingLeader(ref: TopicRef, partition: number): boolean {
    const image = this.topics.image;
    const topic = 'id' in ref ? image.topicById(ref.id) : image.topic(ref.name);
    return topic?.partitions[partition]?.leader === this.nodeId && !this.logs.get(topic.name, partition);
  }

  /** NOT_ENOUGH_REPLICAS when acks=-1 and the ISR is below min.insync.replicas (checked before appending, as Kafka does). */
  checkAcks(p: LeaderPartition, acks: number): number {
    if (acks === ACKS_ALL && p.state.isr.length < Number(this.topics.configValue(p.topic, 'min.insync.replicas')))
      return ErrorCode.NOT_ENOUGH_REPLICAS;
    return ErrorCode.NONE;
  }

  /** Appends validated batches at the partition's leader epoch, then wakes the fetches waiting on it. */
  async append(p: LeaderPartition, records: Buffer, batches: readonly BatchInfo[]): Promise<AppendResult> {
    const appended = await p.log.append(records, batches, p.state.leaderEpoch);
    this.waiters.notify(p.key);
    return appended;
  }

  /** Resolves when any of the partitions (keys) gets data, after `timeoutMs`, or at shutdown. */
  waitForData(keys: readonly string[], timeoutMs: number): Promise<void> {
    return this.waiters.wait(keys, timeoutMs);
  }

  get shuttingDown(): boolean {
    return this.waiters.isShuttingDown;
  }
}
