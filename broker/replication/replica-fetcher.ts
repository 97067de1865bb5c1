// Followers copy their leaders with Kafka's Fetch, as Kafka's replica fetcher threads do: one
// fetcher per source broker, carrying every partition this broker follows on it. Each round
// sends one Fetch naming this broker as the replica (replica id and broker epoch), the offset
// every partition's log ends at and the epoch of its last batch; the leader answers records,
// its high watermark, or where this log diverged from its own (then the log is truncated to
// that epoch boundary before it fetches again).

import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ReplicationConfig } from '../config/broker-config.js';
import { NonContiguousAppendError } from '../log/partition-log.js';
import type { NodeClients } from '../net/node-client.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import { Fetch } from '../protocol/messages/index.js';
import { type BatchInfo, copiedBatches } from '../protocol/record-batch.js';
import type { Partition } from './partition.js';
import type { ReplicationQuotas } from './quotas.js';

/** Fetch v12 brought lastFetchedEpoch and diverging epochs; Kafka 4 brokers speak v17 and up. */
const ISOLATION_READ_UNCOMMITTED = 0;
const NO_SESSION = 0;
const FINAL_EPOCH = -1;

export interface FetcherDeps {
  nodeId: number;
  config: ReplicationConfig;
  clients: NodeClients;
  /** Where a broker is reached, from the metadata; undefined when it is not registered. */
  address: (brokerId: number) => { host: string; port: number } | undefined;
  /** This broker's registration epoch (-1 before it registered). */
  brokerEpoch: () => number;
  quotas: Pick<ReplicationQuotas, 'followerThrottled' | 'recordFollower'>;
  clock: Clock;
  logger: Logger;
}

/** The fetchers of this broker, by the broker they fetch from. */
export class ReplicaFetchers {
  private readonly byLeader = new Map<number, ReplicaFetcher>();
  private closed = false;

  constructor(private readonly deps: FetcherDeps) {}

  /** Fetches `p` from its current leader (and from no other). */
  follow(p: Partition): void {
    this.unfollow(p);
    const leader = p.state.leader;
    if (this.closed || leader < 0 || leader === this.deps.nodeId) return;
    let fetcher = this.byLeader.get(leader);
    if (!fetcher) {
      fetcher = new ReplicaFetcher(leader, this.deps, () => this.byLeader.delete(leader));
      this.byLeader.set(leader, fetcher);
    }
    fetcher.add(p);
  }

  unfollow(p: Partition): void {
    for (const fetcher of this.byLeader.values()) fetcher.remove(p);
  }

  close(): void {
    this.closed = true;
    for (const f of this.byLeader.values()) f.stop();
    this.byLeader.clear();
  }
}

class ReplicaFetcher {
  private readonly partitions = new Map<string, Partition>();
  /**
   * Partitions the leader refused (it has not applied the metadata that makes it leader yet, or
   * this broker has not applied the newer one): when to ask again, unless the metadata moves them first.
   */
  private readonly backedOff = new Map<string, number>();
  private running = false;
  private stopped = false;
  private readonly logger: Logger;

  constructor(
    private readonly leader: number,
    private readonly deps: FetcherDeps,
    private readonly onIdle: () => void,
  ) {
    this.logger = deps.logger.child({ fetchingFrom: leader });
  }

  add(p: Partition): void {
    this.partitions.set(p.key, p);
    this.backedOff.delete(p.key);
    if (!this.running) void this.run();
  }

  remove(p: Partition): void {
    if (this.partitions.get(p.key) === p) this.partitions.delete(p.key);
    this.backedOff.delete(p.key);
  }

  stop(): void {
    this.stopped = true;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.partitions.size > 0) {
        const nowMs = this.deps.clock.nowMs();
        // A throttled partition (follower.replication.throttled.*) sits out rounds until the rate allows.
        const active = [...this.partitions.values()].filter(
          (p) => (this.backedOff.get(p.key) ?? 0) <= nowMs && p.log.isOpen && !this.deps.quotas.followerThrottled(p),
        );
        if (active.length === 0) {
          const next = Math.min(...this.backedOff.values(), nowMs + this.deps.config.fetchBackoffMs);
          await this.sleep(Math.max(1, next - nowMs));
          continue;
        }
        const ok = await this.fetchOnce(active);
        if (!ok) await this.sleep(this.deps.config.fetchBackoffMs);
      }
    } finally {
      this.running = false;
      if (this.partitions.size === 0) this.onIdle();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.deps.clock.after(ms, resolve));
  }

  /** One Fetch round; false when it failed as a whole (connection, protocol), to back off. */
  private async fetchOnce(active: Partition[]): Promise<boolean> {
    const { config, clients } = this.deps;
    const address = this.deps.address(this.leader);
    if (!address) return false;
    clients.setAddress(this.leader, address);
    const byTopic = new Map<string, Partition[]>();
    for (const p of active) byTopic.set(p.topic.id, [...(byTopic.get(p.topic.id) ?? []), p]);
    const body = {
      replicaId: this.deps.nodeId,
      replicaState: { replicaId: this.deps.nodeId, replicaEpoch: this.deps.brokerEpoch() },
      maxWaitMs: config.fetchWaitMaxMs,
      minBytes: config.fetchMinBytes,
      maxBytes: config.fetchResponseMaxBytes,
      isolationLevel: ISOLATION_READ_UNCOMMITTED,
      sessionId: NO_SESSION,
      sessionEpoch: FINAL_EPOCH,
      topics: [...byTopic.values()].map((ps) => ({
        topic: ps[0].topic.name,
        topicId: ps[0].topic.id,
        partitions: ps.map((p) => ({
          partition: p.state.partition,
          currentLeaderEpoch: p.state.leaderEpoch,
          fetchOffset: p.log.logEndOffset,
          lastFetchedEpoch: p.log.latestEpoch,
          logStartOffset: p.log.logStartOffset,
          partitionMaxBytes: config.fetchMaxBytes,
        })),
      })),
      forgottenTopicsData: [],
      rackId: '',
    };
    const sent = new Map(active.map((p) => [p.key, { epoch: p.state.leaderEpoch, fetchOffset: p.log.logEndOffset }]));
    let res;
    try {
      res = await clients.get(this.leader).request(Fetch, 'latest', body, {
        timeoutMs: config.fetchWaitMaxMs + config.socketTimeoutMs,
      });
    } catch (err) {
      this.logger.debug({ err }, 'replica fetch failed');
      return false;
    }
    if (res.errorCode !== ErrorCode.NONE) {
      this.logger.warn({ error: errorName(res.errorCode) }, 'replica fetch refused');
      return false;
    }
    for (const t of res.responses)
      for (const r of t.partitions) {
        const p = active.find((a) => a.topic.id === t.topicId && a.state.partition === r.partitionIndex);
        const asked = p && sent.get(p.key);
        // The partition moved while the fetch was out: this answer is for a state it left.
        if (!p || !asked || this.partitions.get(p.key) !== p || p.state.leaderEpoch !== asked.epoch) continue;
        if (p.log.logEndOffset !== asked.fetchOffset) continue;
        try {
          await this.handle(p, r, asked.fetchOffset);
        } catch (err) {
          // A stale answer, or the broker is stopping and closed the log under it.
          if (err instanceof NonContiguousAppendError || this.stopped) continue;
          this.logger.error(
            { err, topic: p.topic.name, partition: p.state.partition },
            'could not apply what the leader sent; retrying',
          );
        }
      }
    return true;
  }

  private async handle(
    p: Partition,
    r: {
      errorCode: number;
      highWatermark: number;
      logStartOffset: number;
      divergingEpoch: { epoch: number; endOffset: number };
      records: Buffer | null;
    },
    fetchOffset: number,
  ): Promise<void> {
    const log = p.log;
    const where = { topic: p.topic.name, partition: p.state.partition };
    if (r.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      // Behind the leader's log start: start over there. Ahead of its end (an unclean election
      // left the leader shorter): drop what was never committed here and ask again.
      const truncateAt = r.logStartOffset >= 0 && fetchOffset < r.logStartOffset ? r.logStartOffset : log.highWatermark;
      const fully = truncateAt === r.logStartOffset || truncateAt < log.logStartOffset;
      this.logger.warn(
        { ...where, fetchOffset, leaderLogStartOffset: r.logStartOffset, truncateAt },
        'fetch offset out of range at the leader',
      );
      await log.truncateTo(truncateAt, { fully });
      return;
    }
    if (r.errorCode !== ErrorCode.NONE) {
      this.logger.info(
        { ...where, error: errorName(r.errorCode), retryMs: this.deps.config.fetchBackoffMs },
        'the leader refused this partition; asking again after the backoff or new metadata',
      );
      this.backedOff.set(p.key, this.deps.clock.nowMs() + this.deps.config.fetchBackoffMs);
      return;
    }
    if (r.divergingEpoch.epoch >= 0 || r.divergingEpoch.endOffset >= 0) {
      const mine = log.endOffsetForEpoch(r.divergingEpoch.epoch);
      const truncateAt =
        r.divergingEpoch.epoch < 0 ? log.highWatermark : Math.min(r.divergingEpoch.endOffset, mine.endOffset);
      this.logger.info(
        { ...where, divergingEpoch: r.divergingEpoch, logEndOffset: log.logEndOffset, truncateAt },
        'log diverged from the leader; truncating to the epoch boundary',
      );
      await log.truncateTo(Math.max(truncateAt, 0));
      return;
    }
    const records = r.records;
    if (records && records.length > 0) {
      const batches = batchesFrom(records, fetchOffset);
      if (batches instanceof Error) {
        this.logger.error(
          { ...where, reason: batches.message },
          'the leader sent records that do not check out; retrying',
        );
        return;
      }
      if (batches.length > 0) await log.appendAsFollower(records, batches);
      this.deps.quotas.recordFollower(p, records.length);
    }
    log.advanceHighWatermark(Math.min(r.highWatermark, log.writtenEnd));
    if (r.logStartOffset > log.logStartOffset && r.logStartOffset <= log.highWatermark)
      await log.deleteRecordsBefore(r.logStartOffset);
  }
}

/** The fetched batches from `fetchOffset` on, checked; an Error says what does not check out. */
function batchesFrom(records: Buffer, fetchOffset: number): BatchInfo[] | Error {
  const copied = copiedBatches(records);
  if (copied instanceof Error) return copied;
  // The leader's first batch may start below the fetch offset (it holds the offset): skip what we have.
  const batches = copied.batches.filter((b) => b.baseOffset + b.lastOffsetDelta >= fetchOffset);
  if (batches.length > 0 && batches[0].baseOffset < fetchOffset)
    return new Error(`a batch spans the fetch offset ${fetchOffset} (base offset ${batches[0].baseOffset})`);
  return batches;
}
