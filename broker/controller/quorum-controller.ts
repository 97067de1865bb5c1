// The active controller: the quorum leader, once it has applied every entry up to its own
// epoch's LeaderChange record, decides every change of cluster metadata — topics, broker
// registrations and fencing, leader elections, producer-id blocks — as records it commits
// through the quorum. Decisions are serialized, and each waits until its records are applied,
// so the next one decides on an image that already holds it. Brokers only apply what the
// metadata log says.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock, Timer } from '../clock.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { MetadataImage } from '../metadata/image.js';
import type { MetadataPublisher } from '../metadata/publisher.js';
import { METADATA_VERSION_LEVEL, type MetadataRecord } from '../metadata/records.js';
import type { TopicConfigs } from '../metadata/topic-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import { AlterPartition } from '../protocol/messages/index.js';
import { NotLeaderError, type RaftNode } from '../raft/raft-node.js';
import type { StateName } from '../raft/types.js';
import {
  alterPartitionFailed,
  alterPartitionResponse,
  planAlterPartition,
  type AlterPartitionRequest,
  type AlterPartitionResponse,
} from './alter-partition.js';
import {
  ElectionType,
  electLeaders,
  electOfflineLeaders,
  failedElections,
  leadershipsOf,
  removeFromIsrs,
  type ElectLeadersResult,
  type UncleanElection,
} from './leaders.js';
import { PeriodicElections } from './periodic-elections.js';
import { completion, listReassignments, reassign } from './reassignments.js';
import { NotControllerError, TopicController } from './topics.js';

export const PRODUCER_ID_BLOCK_SIZE = 1000;
/** Producer id 0 is never handed out (see producer-ids.ts). */
const FIRST_PRODUCER_ID = 1;
const SESSION_CHECK_MS = 250;

export interface RegistrationRequest {
  brokerId: number;
  clusterId: string;
  incarnationId: string;
  listeners: { name: string; host: string; port: number; securityProtocol: number }[];
  /** The feature levels the broker supports (metadata.version). */
  features: { name: string; minSupportedVersion: number; maxSupportedVersion: number }[];
  rack: string | null;
}

export interface HeartbeatRequest {
  brokerId: number;
  brokerEpoch: number;
  currentMetadataOffset: number;
  wantFence: boolean;
  wantShutDown: boolean;
}

export interface HeartbeatResult {
  errorCode: number;
  isCaughtUp: boolean;
  isFenced: boolean;
  shouldShutDown: boolean;
}

export class QuorumController {
  readonly topics: TopicController;
  private activeEpoch = -1;
  private serial: Promise<unknown> = Promise.resolve();
  /** When each broker last heartbeated, on this controller's clock (reset on activation). */
  private readonly lastHeartbeatMs = new Map<number, number>();
  private sessionTimer: Timer | undefined;
  /** Rejecters of commits whose records are proposed but not yet applied here. */
  private readonly uncommitted = new Set<() => void>();
  private readonly periodicElections: PeriodicElections;
  /** unclean.leader.election.enable for a topic: its own setting, else this controller's default. */
  private readonly unclean: UncleanElection = (topic) =>
    this.configs.configValue(topic, 'unclean.leader.election.enable') === 'true';

  constructor(
    private readonly raft: RaftNode,
    private readonly publisher: MetadataPublisher,
    private readonly configs: TopicConfigs,
    private readonly clusterId: string,
    private readonly config: BrokerConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.topics = new TopicController(
      publisher.image,
      configs,
      config,
      (r) => this.commit(r),
      (fn) => this.decide(fn),
      logger,
    );
    this.periodicElections = new PeriodicElections(
      config.leaderElection,
      () => this.image,
      this.unclean,
      (fn) => this.decide(fn),
      (r) => this.commit(r),
      clock,
      logger,
    );
    publisher.onLeaderChange((change) => {
      if (change.leaderId === config.nodeId && change.epoch === raft.view().epoch) this.activate(change.epoch);
    });
  }

  private get image(): MetadataImage {
    return this.publisher.image;
  }

  get isActive(): boolean {
    return this.activeEpoch >= 0;
  }

  /** The quorum's state moved: a controller that is no longer leader stops deciding at once. */
  stateChanged(state: StateName, epoch: number): void {
    if (this.activeEpoch >= 0 && (state !== 'leader' || epoch !== this.activeEpoch)) {
      this.logger.info({ epoch: this.activeEpoch }, 'no longer the active controller');
      this.deactivate();
    }
  }

  private activate(epoch: number): void {
    this.activeEpoch = epoch;
    const now = this.clock.nowMs();
    // Sessions are measured from when this controller took over: it never saw earlier heartbeats.
    // Not this node's own broker: its earlier incarnation is the process this one replaced, so
    // its registration after a crash is not a duplicate to wait out.
    this.lastHeartbeatMs.clear();
    for (const b of this.image.brokers()) if (b.id !== this.config.nodeId) this.lastHeartbeatMs.set(b.id, now);
    this.sessionTimer?.cancel();
    this.sessionTimer = this.clock.every(SESSION_CHECK_MS, () => void this.fenceExpiredSessions());
    this.periodicElections.start();
    this.logger.info({ epoch }, 'this node is the active controller');
    if (this.image.metadataVersion === 0) {
      void this.decide(async () => {
        await this.commit([
          { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL },
        ]);
        this.logger.info({ clusterId: this.clusterId }, 'bootstrapped the metadata of a new cluster');
      }).catch((err: unknown) => this.logger.warn({ err }, 'could not bootstrap the cluster metadata'));
    }
  }

  stop(): void {
    this.deactivate();
  }

  /** Runs decisions one at a time. */
  decide<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  /** Appends the records through the quorum and waits until this node applied them. */
  async commit(records: MetadataRecord[]): Promise<void> {
    if (!this.isActive) throw new NotControllerError(this.notActiveMessage());
    let offsets;
    try {
      offsets = await this.raft.propose(records);
    } catch (err) {
      if (err instanceof NotLeaderError) throw new NotControllerError(this.notActiveMessage());
      throw err;
    }
    // Entries of a leader that lost its epoch may never commit: give up when the epoch ends.
    await new Promise<void>((resolve, reject) => {
      const abandon = () => reject(new NotControllerError(this.notActiveMessage()));
      this.uncommitted.add(abandon);
      void this.publisher.applied(offsets.lastOffset + 1).then(() => {
        this.uncommitted.delete(abandon);
        resolve();
      });
    });
  }

  /** This controller's term ended: commits still waiting for their records are given up. */
  private deactivate(): void {
    this.activeEpoch = -1;
    this.sessionTimer?.cancel();
    this.periodicElections.stop();
    for (const abandon of this.uncommitted) abandon();
    this.uncommitted.clear();
  }

  private notActiveMessage(): string {
    const leader = this.raft.view().leaderId;
    const self = this.config.nodeId;
    if (leader === self) return `node ${self} leads the quorum but has not taken over as controller yet`;
    return `node ${self} is not the active controller${leader >= 0 ? `; node ${leader} is` : ''}`;
  }

  /** A decision that may write nothing still answers only while this node is the active controller. */
  private requireActive(): void {
    if (!this.isActive) throw new NotControllerError(this.notActiveMessage());
  }

  /** Runs a broker-facing decision; one that finds this node no longer active answers NOT_CONTROLLER. */
  private async answer<T>(fn: () => Promise<T>, notController: T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof NotControllerError) return notController;
      throw err;
    }
  }

  // ---- brokers -------------------------------------------------------------------------------

  registerBroker(req: RegistrationRequest): Promise<{ errorCode: number; brokerEpoch: number; message?: string }> {
    const notController = { errorCode: ErrorCode.NOT_CONTROLLER, brokerEpoch: -1 };
    return this.answer(() => this.registration(req), notController);
  }

  private registration(
    req: RegistrationRequest,
  ): Promise<{ errorCode: number; brokerEpoch: number; message?: string }> {
    return this.decide(async () => {
      if (req.clusterId !== this.clusterId)
        return {
          errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID,
          brokerEpoch: -1,
          message: `broker ${req.brokerId} belongs to cluster ${req.clusterId}, this is ${this.clusterId}`,
        };
      const supported = req.features.find((f) => f.name === 'metadata.version');
      const level = this.image.metadataVersion;
      if (supported && (level < supported.minSupportedVersion || level > supported.maxSupportedVersion))
        return {
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
          brokerEpoch: -1,
          message: `broker ${req.brokerId} supports metadata.version ${supported.minSupportedVersion}-${supported.maxSupportedVersion}, the cluster runs ${level}`,
        };
      const existing = this.image.broker(req.brokerId);
      if (existing && existing.incarnationId === req.incarnationId)
        return { errorCode: ErrorCode.NONE, brokerEpoch: existing.epoch };
      const last = this.lastHeartbeatMs.get(req.brokerId);
      if (
        existing &&
        !existing.fenced &&
        last !== undefined &&
        this.clock.nowMs() - last < this.config.brokerSessionTimeoutMs
      )
        return {
          errorCode: ErrorCode.DUPLICATE_BROKER_REGISTRATION,
          brokerEpoch: -1,
          message: `another broker with node.id ${req.brokerId} is registered and alive; every broker needs its own node.id`,
        };
      const brokerEpoch = this.raft.view().logEndOffset;
      const records: MetadataRecord[] = [];
      // The old incarnation's leaderships and ISR places cannot stay with a process that is gone.
      if (existing && !existing.fenced) records.push(...removeFromIsrs(this.image, req.brokerId, this.unclean));
      records.unshift({
        type: 'RegisterBrokerRecord',
        brokerId: req.brokerId,
        isMigratingZkBroker: false,
        incarnationId: req.incarnationId,
        brokerEpoch,
        endPoints: req.listeners,
        features: req.features,
        rack: req.rack,
        fenced: true,
        inControlledShutdown: false,
        logDirs: [],
      });
      await this.commit(records);
      this.lastHeartbeatMs.set(req.brokerId, this.clock.nowMs());
      this.logger.info({ brokerId: req.brokerId, brokerEpoch, rack: req.rack }, 'broker registered');
      return { errorCode: ErrorCode.NONE, brokerEpoch };
    });
  }

  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResult> {
    const notController = {
      errorCode: ErrorCode.NOT_CONTROLLER,
      isCaughtUp: false,
      isFenced: true,
      shouldShutDown: false,
    };
    return this.answer(() => this.heartbeatDecision(req), notController);
  }

  private async heartbeatDecision(req: HeartbeatRequest): Promise<HeartbeatResult> {
    const broker = this.image.broker(req.brokerId);
    const stale = { errorCode: ErrorCode.STALE_BROKER_EPOCH, isCaughtUp: false, isFenced: true, shouldShutDown: false };
    if (!broker || broker.epoch !== req.brokerEpoch) return stale;
    this.lastHeartbeatMs.set(req.brokerId, this.clock.nowMs());
    const isCaughtUp = req.currentMetadataOffset >= broker.epoch;
    const answer = (): HeartbeatResult => {
      const b = this.image.broker(req.brokerId);
      const fenced = !b || b.fenced;
      return {
        errorCode: ErrorCode.NONE,
        isCaughtUp,
        isFenced: fenced,
        shouldShutDown: req.wantShutDown && (fenced || leadershipsOf(this.image, req.brokerId) === 0),
      };
    };
    if (req.wantShutDown) {
      if (!broker.fenced) await this.decide(() => this.controlledShutdown(req.brokerId, req.brokerEpoch));
      return answer();
    }
    if (broker.fenced && isCaughtUp && !req.wantFence)
      await this.decide(async () => {
        const b = this.image.broker(req.brokerId);
        if (!b || !b.fenced || b.epoch !== req.brokerEpoch) return;
        await this.commit([
          { type: 'UnfenceBrokerRecord', id: req.brokerId, epoch: req.brokerEpoch },
          ...electOfflineLeaders(this.image, this.unclean, req.brokerId),
        ]);
        this.logger.info({ brokerId: req.brokerId }, 'broker unfenced');
      });
    return answer();
  }

  /**
   * Removes a stopped broker's registration (kafka-cluster.sh unregister). A running one is
   * refused: any client on a broker listener may send this, and taking a live broker's
   * leaderships away would make its partitions unavailable until it registered again.
   */
  unregisterBroker(brokerId: number): Promise<{ errorCode: number; errorMessage: string | null }> {
    const notController = { errorCode: ErrorCode.NOT_CONTROLLER as number, errorMessage: this.notActiveMessage() };
    return this.answer<{ errorCode: number; errorMessage: string | null }>(
      () =>
        this.decide(async () => {
          const b = this.image.broker(brokerId);
          if (!b)
            return {
              errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED,
              errorMessage: `Broker ID ${brokerId} is not currently registered`,
            };
          if (!b.fenced)
            return {
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `Broker ${brokerId} is running (registered and unfenced): stop it before unregistering it.`,
            };
          // Unregistering is for good: a replica left on it would be lost with it.
          const held = [...this.image.topics()].flatMap((t) =>
            t.partitions.filter((p) => p.replicas.includes(brokerId)).map((p) => `${t.name}-${p.partition}`),
          );
          if (held.length > 0)
            return {
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `Broker ${brokerId} still holds replicas of ${held.length} partition(s) (${held.slice(0, 5).join(', ')}${held.length > 5 ? ', …' : ''}): move them to other brokers (kafka-reassign-partitions.sh) before unregistering it.`,
            };
          await this.commit([
            ...removeFromIsrs(this.image, brokerId, this.unclean),
            { type: 'UnregisterBrokerRecord', brokerId, brokerEpoch: b.epoch },
          ]);
          this.lastHeartbeatMs.delete(brokerId);
          this.logger.info({ brokerId }, 'broker unregistered');
          return { errorCode: ErrorCode.NONE, errorMessage: null };
        }),
      notController,
    );
  }

  /** Takes a stopping broker out of every ISR and moves its leaderships away, then fences it. */
  private async controlledShutdown(brokerId: number, brokerEpoch: number): Promise<void> {
    const b = this.image.broker(brokerId);
    if (!b || b.fenced || b.epoch !== brokerEpoch) return;
    const records: MetadataRecord[] = [];
    if (!b.inControlledShutdown)
      records.push({
        type: 'BrokerRegistrationChangeRecord',
        brokerId,
        brokerEpoch,
        fenced: 0,
        inControlledShutdown: 1,
        logDirs: null,
      });
    records.push(...removeFromIsrs(this.image, brokerId, this.unclean));
    records.push({ type: 'FenceBrokerRecord', id: brokerId, epoch: brokerEpoch });
    await this.commit(records);
    this.logger.info({ brokerId }, 'broker shut down in a controlled way: its leaderships moved and it is fenced');
  }

  private async fenceExpiredSessions(): Promise<void> {
    if (!this.isActive) return;
    const now = this.clock.nowMs();
    for (const b of this.image.brokers()) {
      if (b.fenced) continue;
      const last = this.lastHeartbeatMs.get(b.id) ?? now;
      if (now - last < this.config.brokerSessionTimeoutMs) continue;
      await this.decide(async () => {
        const current = this.image.broker(b.id);
        if (!current || current.fenced || current.epoch !== b.epoch) return;
        await this.commit([
          { type: 'FenceBrokerRecord', id: b.id, epoch: b.epoch },
          ...removeFromIsrs(this.image, b.id, this.unclean),
        ]);
        this.logger.warn(
          { brokerId: b.id, sessionTimeoutMs: this.config.brokerSessionTimeoutMs },
          'fenced a broker that stopped heartbeating',
        );
      }).catch((err: unknown) => this.logger.warn({ err, brokerId: b.id }, 'could not fence a broker'));
    }
  }

  // ---- partitions ----------------------------------------------------------------------------

  /**
   * A partition leader's AlterPartition (its ISR shrank or grew), decided as Kafka does (see
   * alter-partition.ts). `version` is the request's: from v3 the ISR is `newIsrWithEpochs`, before
   * `newIsr`; a broker calling this directly sends the latest.
   */
  alterPartition(req: AlterPartitionRequest, version = AlterPartition.maxVersion): Promise<AlterPartitionResponse> {
    return this.answer(
      () =>
        this.decide(async () => {
          this.requireActive();
          const plan = planAlterPartition(this.image, req, version, this.unclean);
          if (plan.records.length > 0) {
            await this.commit(plan.records);
            await this.completeReassignments(plan.records);
            const changes = plan.records.flatMap((r) =>
              r.type === 'PartitionChangeRecord' && r.isr
                ? [`${this.image.topicById(r.topicId)?.name}-${r.partitionId}: ${r.isr.join(',')}`]
                : [],
            );
            this.logger.info({ brokerId: req.brokerId, isr: changes }, 'ISR changed at the leader’s request');
          }
          return alterPartitionResponse(plan, this.image);
        }),
      alterPartitionFailed(ErrorCode.NOT_CONTROLLER),
    );
  }

  /**
   * ElectLeaders: preferred (0) or unclean (1) elections for the partitions named, or for every
   * partition when `topicPartitions` is null (see leaders.ts).
   */
  electLeaders(
    electionType: number,
    topicPartitions: readonly { topic: string; partitions: readonly number[] }[] | null,
  ): Promise<{ errorCode: number; results: ElectLeadersResult['results'] }> {
    const failed = (errorCode: number, message: string | null) => ({
      errorCode,
      results: failedElections(topicPartitions, errorCode, message),
    });
    if (electionType !== ElectionType.PREFERRED && electionType !== ElectionType.UNCLEAN)
      return Promise.resolve(failed(ErrorCode.INVALID_REQUEST, `Unknown election type ${electionType}`));
    // Nothing named: nothing to do (null, not empty, means every partition).
    if (topicPartitions !== null && topicPartitions.length === 0)
      return Promise.resolve({ errorCode: ErrorCode.NONE, results: [] });
    return this.answer(
      () =>
        this.decide(async () => {
          this.requireActive();
          const { results, records } = electLeaders(this.image, electionType, topicPartitions);
          if (records.length > 0) {
            await this.commit(records);
            this.logger.info(
              {
                electionType: electionType === ElectionType.PREFERRED ? 'preferred' : 'unclean',
                elections: records.length,
              },
              'leaders elected (ElectLeaders)',
            );
          }
          return { errorCode: ErrorCode.NONE, results };
        }),
      failed(ErrorCode.NOT_CONTROLLER, this.notActiveMessage()),
    );
  }

  // ---- reassignments --------------------------------------------------------------------------

  /**
   * AlterPartitionReassignments (kafka-reassign-partitions.sh --execute / --cancel): starts,
   * replaces or cancels each partition's reassignment; see reassignments.ts.
   */
  alterPartitionReassignments(
    topics: readonly { name: string; partitions: readonly { partitionIndex: number; replicas: number[] | null }[] }[],
    allowReplicationFactorChange: boolean,
  ): Promise<{
    errorCode: number;
    errorMessage: string | null;
    responses: {
      name: string;
      partitions: { partitionIndex: number; errorCode: number; errorMessage: string | null }[];
    }[];
  }> {
    const failed = (errorCode: number, errorMessage: string | null) => ({
      errorCode,
      errorMessage,
      responses: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage })),
      })),
    });
    return this.answer(
      () =>
        this.decide(async () => {
          this.requireActive();
          const responses = [];
          for (const t of topics) {
            const partitions = [];
            for (const req of t.partitions) {
              const topic = this.image.topic(t.name);
              const p = topic?.partitions[req.partitionIndex];
              if (!topic || !p) {
                partitions.push({
                  partitionIndex: req.partitionIndex,
                  errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                  errorMessage: 'This server does not host this topic-partition.',
                });
                continue;
              }
              const outcome = reassign(this.image, topic, p, req.replicas, allowReplicationFactorChange);
              if (outcome.records.length > 0) {
                await this.commit(outcome.records);
                await this.completeReassignments(outcome.records);
                this.logger.info(
                  {
                    topic: t.name,
                    partition: req.partitionIndex,
                    target: req.replicas,
                    replicas: outcome.records[0].replicas,
                  },
                  req.replicas === null ? 'reassignment cancelled' : 'reassignment started',
                );
              }
              partitions.push({
                partitionIndex: req.partitionIndex,
                errorCode: outcome.errorCode,
                errorMessage: outcome.errorMessage,
              });
            }
            responses.push({ name: t.name, partitions });
          }
          return { errorCode: ErrorCode.NONE, errorMessage: null, responses };
        }),
      failed(ErrorCode.NOT_CONTROLLER, this.notActiveMessage()),
    );
  }

  listPartitionReassignments(
    topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
  ): ReturnType<typeof listReassignments> {
    return listReassignments(this.image, topics);
  }

  /** Completes the reassignments the just-applied changes left with every target replica in the ISR. */
  private async completeReassignments(changed: readonly MetadataRecord[]): Promise<void> {
    const done: MetadataRecord[] = [];
    for (const r of changed) {
      if (r.type !== 'PartitionChangeRecord') continue;
      const topic = this.image.topicById(r.topicId);
      const p = topic?.partitions[r.partitionId];
      const record = topic && p && completion(this.image, topic, p);
      if (record) done.push(record);
    }
    if (done.length === 0) return;
    await this.commit(done);
    for (const r of done)
      if (r.type === 'PartitionChangeRecord')
        this.logger.info(
          { topic: this.image.topicById(r.topicId)?.name, partition: r.partitionId, replicas: r.replicas },
          'reassignment completed',
        );
  }

  // ---- producer ids --------------------------------------------------------------------------

  allocateProducerIds(
    brokerId: number,
    brokerEpoch: number,
  ): Promise<{ errorCode: number; start: number; length: number }> {
    return this.answer(() => this.producerIdBlock(brokerId, brokerEpoch), {
      errorCode: ErrorCode.NOT_CONTROLLER,
      start: -1,
      length: 0,
    });
  }

  private producerIdBlock(
    brokerId: number,
    brokerEpoch: number,
  ): Promise<{ errorCode: number; start: number; length: number }> {
    return this.decide(async () => {
      const b = this.image.broker(brokerId);
      if (!b || b.epoch !== brokerEpoch) return { errorCode: ErrorCode.STALE_BROKER_EPOCH, start: -1, length: 0 };
      const start = Math.max(FIRST_PRODUCER_ID, this.image.nextProducerId);
      await this.commit([
        { type: 'ProducerIdsRecord', brokerId, brokerEpoch, nextProducerId: start + PRODUCER_ID_BLOCK_SIZE },
      ]);
      return { errorCode: ErrorCode.NONE, start, length: PRODUCER_ID_BLOCK_SIZE };
    });
  }
}

export function newIncarnationId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}
