// Replication throttles, as Kafka's ReplicationQuotaManager applies them during reassignments:
// `leader.replication.throttled.rate` / `follower.replication.throttled.rate` (dynamic broker
// configs, bytes/s) cap the bytes a leader sends to, and a follower fetches for, the replicas
// that the topic configs `leader.replication.throttled.replicas` /
// `follower.replication.throttled.replicas` name (`<partition>:<broker>,…` or `*`) — only while
// those replicas are out of the ISR, so in-sync replication is never slowed. The rate is measured
// as Kafka measures it: bytes over 11 one-second samples, the elapsed time counted as at least
// 10 s, so a move may start with a burst of up to 10 s worth.

import type { Clock } from '../clock.js';
import type { TopicConfigs } from '../metadata/topic-configs.js';
import type { Partition } from './partition.js';

const SAMPLE_MS = 1000;
const SAMPLES = 11;
const UNLIMITED = Number.MAX_SAFE_INTEGER;

/** Bytes per second over a sliding window of one-second samples. */
export class ByteRate {
  private readonly samples: { startMs: number; bytes: number }[] = [];

  constructor(private readonly clock: Clock) {}

  record(bytes: number): void {
    const now = this.clock.nowMs();
    const last = this.samples.at(-1);
    if (last && now - last.startMs < SAMPLE_MS) last.bytes += bytes;
    else this.samples.push({ startMs: now, bytes });
    while (this.samples.length > SAMPLES) this.samples.shift();
  }

  perSecond(): number {
    const now = this.clock.nowMs();
    const live = this.samples.filter((s) => now - s.startMs < SAMPLES * SAMPLE_MS);
    if (live.length === 0) return 0;
    const elapsedMs = Math.max(now - live[0].startMs, (SAMPLES - 1) * SAMPLE_MS);
    return (live.reduce((n, s) => n + s.bytes, 0) * 1000) / elapsedMs;
  }
}

/** Whether `config` (a *.replication.throttled.replicas value) names partition `partition` on `brokerId`. */
export function namesReplica(config: string, partition: number, brokerId: number): boolean {
  const value = config.trim();
  if (value === '*') return true;
  return value
    .split(',')
    .map((e) => e.trim())
    .some((e) => e === `${partition}:${brokerId}`);
}

export class ReplicationQuotas {
  private readonly leaderRate: ByteRate;
  private readonly followerRate: ByteRate;

  constructor(
    private readonly configs: TopicConfigs,
    private readonly nodeId: number,
    clock: Clock,
  ) {
    this.leaderRate = new ByteRate(clock);
    this.followerRate = new ByteRate(clock);
  }

  /** As leader: hold back what `replicaId` fetches of `p` now? */
  leaderThrottled(p: Partition, replicaId: number): boolean {
    if (p.state.isr.includes(replicaId)) return false;
    if (!this.names(p, 'leader.replication.throttled.replicas')) return false;
    return this.exceeded(this.leaderRate, 'leader.replication.throttled.rate');
  }

  recordLeader(p: Partition, replicaId: number, bytes: number): void {
    if (bytes > 0 && !p.state.isr.includes(replicaId) && this.names(p, 'leader.replication.throttled.replicas'))
      this.leaderRate.record(bytes);
  }

  /** As follower: leave `p` out of the next fetch? */
  followerThrottled(p: Partition): boolean {
    if (p.state.isr.includes(this.nodeId)) return false;
    if (!this.names(p, 'follower.replication.throttled.replicas')) return false;
    return this.exceeded(this.followerRate, 'follower.replication.throttled.rate');
  }

  recordFollower(p: Partition, bytes: number): void {
    if (bytes > 0 && !p.state.isr.includes(this.nodeId) && this.names(p, 'follower.replication.throttled.replicas'))
      this.followerRate.record(bytes);
  }

  private names(p: Partition, key: string): boolean {
    return namesReplica(this.configs.configValue(p.topic, key), p.state.partition, this.nodeId);
  }

  private exceeded(rate: ByteRate, key: string): boolean {
    const limit = Number(this.configs.brokerValue(key) ?? UNLIMITED);
    return limit < UNLIMITED && rate.perSecond() > limit;
  }
}
