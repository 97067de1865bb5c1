// The partitions this broker holds replicas of, as request handlers and the group coordinator
// use them: find a partition and check, once for every API, that this broker leads it at the
// leader epoch the client knows; append to it (acks=-1 waits for the high watermark) and wake
// the fetches waiting on it; serve followers' fetches and move the high watermark and the ISR
// from them. Follows the metadata: a partition placed here gets its log, leads or follows (the
// replica fetchers copy it from its leader), and stops when it leaves.

import type { Logger } from 'pino';
import type { Clock, Timer } from '../clock.js';
import type { LogManager } from '../log/log-manager.js';
import { isOutOfFiles, outOfFilesMessage, refuseNewPartitions } from '../log/open-files.js';
import { partitionKey } from '../log/log-manager.js';
import type { AppendResult } from '../log/partition-log.js';
import type { MetadataDelta, MetadataImage, TopicState } from '../metadata/image.js';
import type { TopicConfigs } from '../metadata/topic-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import type { BatchInfo } from '../protocol/record-batch.js';
import type { FetchWaiters } from './fetch-waiters.js';
import type { IsrUpdates } from './isr-updates.js';
import { Partition } from './partition.js';
import type { ReplicaFetchers } from './replica-fetcher.js';
import type { ReplicationQuotas } from './quotas.js';

export type Lookup = { ok: true; partition: Partition } | { ok: false; errorCode: number };

/** A topic as a request names it: by name (older versions) or by id. */
export type TopicRef = { name: string } | { id: string };

const ACKS_ALL = -1;

export interface ReplicationDeps {
  fetchers: ReplicaFetchers;
  isrUpdates: IsrUpdates;
  clock: Clock;
  /** replica.lag.time.max.ms */
  lagTimeMaxMs: number;
  quotas: ReplicationQuotas;
}

export class ReplicaManager {
  private readonly hosted = new Map<string, Partition>();
  private isrTimer: Timer | undefined;

  constructor(
    private readonly topics: TopicConfigs,
    private readonly logs: LogManager,
    private readonly nodeId: number,
    private readonly waiters: FetchWaiters,
    private readonly replication: ReplicationDeps,
    private readonly logger: Logger,
  ) {
    logs.onReopened = (name, partition) => {
      const topic = topics.image.topic(name);
      if (topic) this.takeRole(topic, partition);
    };
  }

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
    for (const t of image.topics()) for (const p of t.partitions) this.takeRole(t, p.partition);
    // Kafka checks every half lag time, so a stuck follower leaves the ISR within 1.5 lag times.
    this.isrTimer = this.replication.clock.every(Math.max(1, this.replication.lagTimeMaxMs / 2), () =>
      this.shrinkIsrs(),
    );
  }

  /** Follows the metadata: opens the logs of partitions placed here, removes those of deleted topics. */
  async applyDelta(delta: MetadataDelta, image: MetadataImage): Promise<void> {
    for (const removed of delta.removedTopics)
      for (let p = 0; p < removed.partitions.length; p++) {
        this.stopHosting(partitionKey(removed.name, p));
        if (this.logs.get(removed.name, p))
          await this.logs
            .remove(removed.name, p)
            .catch((err: unknown) =>
              this.logger.error(
                { err, topic: removed.name, partition: p },
                "could not remove a deleted partition's log; start-up removes it",
              ),
            );
      }
    for (const [name, partitions] of delta.changedPartitions) {
      const topic = image.topic(name);
      if (!topic) continue;
      for (const partition of partitions) {
        const state = topic.partitions[partition];
        const placedHere = state?.replicas.includes(this.nodeId) ?? false;
        if (placedHere && !this.logs.get(name, partition))
          await this.logs
            .open(name, topic.id, partition, this.topics.logConfig(topic))
            .catch((err: unknown) =>
              this.logger.error(
                { err, topic: name, partition },
                'could not open the log of a partition placed on this broker',
              ),
            );
        this.takeRole(topic, partition);
        // Reassigned away: the replica is gone from the metadata, so its data goes too.
        if (!placedHere && this.logs.get(name, partition)) {
          await this.logs
            .remove(name, partition)
            .catch((err: unknown) =>
              this.logger.error(
                { err, topic: name, partition },
                'could not remove the log of a partition moved off this broker; start-up removes it',
              ),
            );
          this.logger.info({ topic: name, partition }, 'removed the replica of a partition moved off this broker');
        }
      }
    }
    for (const name of delta.changedConfigs) {
      const topic = image.topic(name);
      if (topic) this.logs.updateConfig(name, topic.partitions.length, this.topics.logConfig(topic));
    }
  }

  /**
   * Brings the replica of one partition in line with the image: leads it, follows its leader
   * (fetching from it), or stops hosting it when it is no longer placed here.
   */
  private takeRole(topic: TopicState, index: number): void {
    const key = partitionKey(topic.name, index);
    const state = topic.partitions[index];
    const log = this.logs.get(topic.name, index);
    if (!state || !state.replicas.includes(this.nodeId) || !log) {
      this.stopHosting(key);
      return;
    }
    const nowMs = this.replication.clock.nowMs();
    let p = this.hosted.get(key);
    if (!p || p.log !== log) {
      if (p) this.stopHosting(key);
      p = new Partition(topic, state, log, key, this.nodeId, nowMs, () =>
        Number(this.topics.configValue(p!.topic, 'min.insync.replicas')),
      );
      this.hosted.set(key, p);
    } else if (p.state !== state || p.topic !== topic) {
      // An AlterPartition answer may already have taken this change in.
      if (state.partitionEpoch >= p.state.partitionEpoch || state.leaderEpoch !== p.state.leaderEpoch)
        p.update(topic, state, nowMs);
      else p.topic = topic;
    }
    if (p.role === 'leader') {
      this.replication.fetchers.unfollow(p);
      this.advanceHighWatermark(p);
    } else this.replication.fetchers.follow(p);
  }

  private stopHosting(key: string): void {
    const p = this.hosted.get(key);
    if (!p) return;
    this.hosted.delete(key);
    this.replication.fetchers.unfollow(p);
    p.close();
  }

  /** Leaders ask the controller to drop followers that have not caught up for replica.lag.time.max.ms. */
  private shrinkIsrs(): void {
    const nowMs = this.replication.clock.nowMs();
    for (const p of this.hosted.values()) {
      if (p.role !== 'leader' || p.pendingIsr) continue;
      const out = p.outOfSyncReplicas(nowMs, this.replication.lagTimeMaxMs);
      if (out.length === 0) continue;
      this.logger.info(
        {
          topic: p.topic.name,
          partition: p.state.partition,
          outOfSync: out,
          lagTimeMaxMs: this.replication.lagTimeMaxMs,
        },
        'followers fell out of sync; shrinking the ISR',
      );
      this.replication.isrUpdates.propose(
        p,
        p.state.isr.filter((id) => !out.includes(id)),
      );
    }
  }

  /** Moves the high watermark where the ISR allows, waking the fetches that can now read more. */
  advanceHighWatermark(p: Partition): void {
    if (p.maybeAdvanceHighWatermark()) this.waiters.notify(p.key);
  }

  /**
   * A follower fetched `p` from `fetchOffset`: its progress may move the high watermark, and a
   * follower out of the ISR that caught up is proposed back into it (if its broker is alive).
   */
  followerFetched(p: Partition, replicaId: number, fetchOffset: number): void {
    const canJoin = p.recordFollowerFetch(replicaId, fetchOffset, this.replication.clock.nowMs());
    this.advanceHighWatermark(p);
    const broker = this.topics.image.broker(replicaId);
    if (canJoin && !p.pendingIsr && broker && !broker.fenced && !broker.inControlledShutdown) {
      this.logger.info(
        { topic: p.topic.name, partition: p.state.partition, replicaId },
        'follower caught up; expanding the ISR',
      );
      this.replication.isrUpdates.propose(p, [...p.state.isr, replicaId]);
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
    const key = partitionKey(topic.name, partition);
    const log = this.logs.get(topic.name, partition);
    let p = this.hosted.get(key);
    // The metadata made this broker leader a moment ago and the change is still being acted on:
    // with the log open, taking the lead now is what acting on it would do.
    if (state.leader === this.nodeId && log && (p?.role !== 'leader' || p.log !== log)) {
      this.takeRole(topic, partition);
      p = this.hosted.get(key);
    }
    // A log not open yet (the metadata just arrived, or opening it failed) is retried by clients too.
    if (!p || p.role !== 'leader' || state.leader !== this.nodeId || p.log !== log)
      return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch !== state.leaderEpoch) {
      return {
        ok: false,
        errorCode:
          currentLeaderEpoch > state.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH,
      };
    }
    return { ok: true, partition: p };
  }

  /**
   * Whether the image already names this broker the partition's leader while its log is not open
   * yet: the metadata arrived a moment ago and the broker is still acting on it.
   */
  becomingLeader(ref: TopicRef, partition: number): boolean {
    const image = this.topics.image;
    const topic = 'id' in ref ? image.topicById(ref.id) : image.topic(ref.name);
    if (topic?.partitions[partition]?.leader !== this.nodeId) return false;
    return !this.logs.get(topic.name, partition);
  }

  /** NOT_ENOUGH_REPLICAS when acks=-1 and the ISR is below min.insync.replicas (checked before appending, as Kafka does). */
  checkAcks(p: Partition, acks: number): number {
    if (acks === ACKS_ALL && p.state.isr.length < Number(this.topics.configValue(p.topic, 'min.insync.replicas')))
      return ErrorCode.NOT_ENOUGH_REPLICAS;
    return ErrorCode.NONE;
  }

  /**
   * Appends validated batches at the partition's leader epoch (acks=1: resolved once written),
   * then wakes the fetches waiting on it: followers read it at once, consumers once the high
   * watermark passes it.
   */
  async append(p: Partition, records: Buffer, batches: readonly BatchInfo[]): Promise<AppendResult> {
    const appended = await p.log.append(records, batches, p.state.leaderEpoch);
    p.maybeAdvanceHighWatermark();
    this.waiters.notify(p.key);
    return appended;
  }

  /**
   * acks=-1: after the append, waits until the high watermark passes the batches (every ISR
   * member holds them). Resolves with the error code to answer: NONE,
   * NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_LEADER_OR_FOLLOWER or REQUEST_TIMED_OUT.
   */
  waitForReplication(p: Partition, appended: AppendResult, timeoutMs: number): Promise<number> {
    return p.waitForHighWatermark(appended.lastOffset + 1, (onTimeout) => {
      const timer = this.replication.clock.after(timeoutMs, onTimeout);
      return () => timer.cancel();
    });
  }

  /** Replication throttles, which the leader applies to followers' fetches. */
  get quotas(): ReplicationQuotas {
    return this.replication.quotas;
  }

  /** The hosted replica of a partition, leader or follower. */
  hostedReplica(ref: TopicRef, partition: number): Partition | undefined {
    const image = this.topics.image;
    const topic = 'id' in ref ? image.topicById(ref.id) : image.topic(ref.name);
    return topic && this.hosted.get(partitionKey(topic.name, partition));
  }

  /** Stops the ISR checks and the produces waiting for replication (shutdown). */
  stop(): void {
    this.isrTimer?.cancel();
    for (const key of [...this.hosted.keys()]) this.stopHosting(key);
  }

  /** Resolves when any of the partitions (keys) gets data, after `timeoutMs`, or at shutdown. */
  waitForData(keys: readonly string[], timeoutMs: number): Promise<void> {
    return this.waiters.wait(keys, timeoutMs);
  }

  get shuttingDown(): boolean {
    return this.waiters.isShuttingDown;
  }
}
