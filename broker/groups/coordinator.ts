// The group coordinator for the classic consumer group protocol: membership, rebalances,
// session expiry, and committed offsets, all persisted to `__consumer_offsets` so a restart
// (or, later, a leadership change of an offsets partition) resumes where it left off.
//
// Stored state changes in one way only: an operation decides the records to write, `write`
// appends them, and only once the append succeeded are they replayed into the groups — by the
// same `replay` that loads the offsets partitions at start-up. A failed append changes nothing
// and is answered with COORDINATOR_NOT_AVAILABLE. Membership during a rebalance (who waits to
// join or sync) is not stored, as in Kafka: it lives in memory and on the members' timers.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock, Timer } from '../clock.js';
import type { GroupCoordinatorConfig } from '../config/broker-config.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { MetadataDelta, MetadataImage } from '../metadata/image.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import { Group, type GroupState, type JoinResult, type Member, type Protocol, type SyncResult } from './group.js';
import {
  OFFSETS_TOPIC,
  encodeOffsetsRecords,
  offsetsPartitionFor,
  replayOffsetsPartition,
  type GroupSnapshot,
  type MemberIdentity,
  type OffsetsRecord,
} from './offsets-topic.js';

const OFFSETS_TOPIC_SEGMENT_BYTES = '104857600';
/** Kafka's offsets.commit.timeout.ms default: how long a group write waits for the ISR. */
const OFFSETS_WRITE_TIMEOUT_MS = 5000;
const OFFSET_METADATA_MAX_BYTES = 4096;

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+ hands out a member id first (MEMBER_ID_REQUIRED), then expects a rejoin. */
  requireKnownMemberId: boolean;
}

export interface MemberRef {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
}

export interface FetchedOffset {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string;
  errorCode: number;
}

/** Creates an internal topic through the active controller. */
export type CreateTopic = (spec: {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  configs: { name: string; value: string | null }[];
}) => Promise<{ errorCode: number; errorMessage: string | null }>;

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** The `__consumer_offsets` partitions whose groups are loaded here. */
  private readonly loadedPartitions = new Set<number>();
  /** Records of `__consumer_offsets` passed over at load because they did not decode. */
  skippedRecords = 0;
  private expiryTimer: Timer | undefined;
  private readonly offsetsPartitions: number;
  /** The creation of `__consumer_offsets` under way, if any. */
  private creatingOffsetsTopic: Promise<{ errorCode: number; errorMessage: string | null }> | undefined;

  constructor(
    private readonly image: MetadataImage,
    private readonly nodeId: number,
    private readonly partitions: ReplicaManager,
    private readonly createTopic: CreateTopic,
    private readonly config: GroupCoordinatorConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.offsetsPartitions = config.offsetsTopicPartitions;
  }

  /** Loads the groups of the offsets partitions this broker leads, and starts offset expiry. */
  async start(): Promise<void> {
    const topic = this.image.topic(OFFSETS_TOPIC);
    for (let partition = 0; partition < (topic?.partitions.length ?? 0); partition++)
      await this.loadPartition(partition);
    this.expiryTimer = this.clock.every(
      this.config.offsetsRetentionCheckIntervalMs,
      () => void this.expireOffsets(this.clock.nowMs()),
    );
  }

  /** Follows leadership of `__consumer_offsets` partitions: load what this broker now leads, drop what it no longer does. */
  async applyDelta(delta: MetadataDelta): Promise<void> {
    for (const partition of delta.changedPartitions.get(OFFSETS_TOPIC) ?? []) {
      if (this.partitions.leader({ name: OFFSETS_TOPIC }, partition).ok) await this.loadPartition(partition);
      else this.unloadPartition(partition);
    }
  }

  private async loadPartition(partition: number): Promise<void> {
    if (this.loadedPartitions.has(partition)) return;
    const found = this.partitions.leader({ name: OFFSETS_TOPIC }, partition);
    if (!found.ok) return;
    this.loadedPartitions.add(partition);
    const counts = await replayOffsetsPartition(
      found.partition.log,
      (r) => this.replay(r),
      (offset, reason) =>
        this.logger.error(
          { topic: OFFSETS_TOPIC, partition, offset, reason },
          'skipping a record that is not group metadata or a committed offset',
        ),
    );
    this.skippedRecords += counts.skipped;
    let groups = 0;
    for (const g of this.groups.values())
      if (offsetsPartitionFor(g.id, this.offsetsPartitions) === partition) {
        this.resumeLoaded(g);
        groups++;
      }
    this.logger.info({ partition, groups, records: counts.records, skipped: counts.skipped }, 'groups loaded');
  }

  /** Another broker coordinates these groups now: forget them here (their state is in the log). */
  private unloadPartition(partition: number): void {
    if (!this.loadedPartitions.delete(partition)) return;
    for (const [id, g] of this.groups)
      if (offsetsPartitionFor(id, this.offsetsPartitions) === partition) {
        g.rebalanceTimer?.cancel();
        for (const m of g.members.values()) m.sessionTimer?.cancel();
        this.groups.delete(id);
      }
    this.logger.info({ partition }, 'groups unloaded: this broker no longer leads their offsets partition');
  }

  shutdown(): void {
    this.expiryTimer?.cancel();
    for (const g of this.groups.values()) {
      g.rebalanceTimer?.cancel();
      for (const m of g.members.values()) m.sessionTimer?.cancel();
    }
  }

  /**
   * Creates `__consumer_offsets` on first use, as Kafka does. The topic is in the metadata image
   * before its partitions' logs are open, so callers that come while it is being created wait
   * for the same creation: naming the coordinator earlier would let a group's first write find
   * no log (COORDINATOR_NOT_AVAILABLE for SyncGroup and OffsetCommit).
   */
  ensureOffsetsTopic(): Promise<{ errorCode: number; errorMessage: string | null }> {
    if (this.creatingOffsetsTopic) return this.creatingOffsetsTopic;
    if (this.image.topic(OFFSETS_TOPIC)) return Promise.resolve({ errorCode: ErrorCode.NONE, errorMessage: null });
    this.creatingOffsetsTopic = this.createOffsetsTopic().finally(() => (this.creatingOffsetsTopic = undefined));
    return this.creatingOffsetsTopic;
  }

  private async createOffsetsTopic(): Promise<{ errorCode: number; errorMessage: string | null }> {
    const replicationFactor = this.config.offsetsTopicReplicationFactor;
    const result = await this.createTopic({
      name: OFFSETS_TOPIC,
      numPartitions: this.offsetsPartitions,
      replicationFactor,
      configs: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'segment.bytes', value: OFFSETS_TOPIC_SEGMENT_BYTES },
      ],
    });
    if (result.errorCode === ErrorCode.NONE || result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS)
      return { errorCode: ErrorCode.NONE, errorMessage: null };
    const errorMessage = `cannot create ${OFFSETS_TOPIC}: ${result.errorMessage} (offsets.topic.replication.factor=${replicationFactor}; lower it or add brokers)`;
    this.logger.error({ reason: result.errorMessage }, errorMessage);
    return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage };
  }

  // ---- membership ----------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinResult> | JoinResult {
    const fail = (errorCode: number, memberId = req.memberId): JoinResult => ({
      errorCode,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      memberId,
      members: [],
    });
    if (!this.coordinates(req.groupId)) return fail(ErrorCode.NOT_COORDINATOR);
    if (
      req.sessionTimeoutMs < this.config.minSessionTimeoutMs ||
      req.sessionTimeoutMs > this.config.maxSessionTimeoutMs
    )
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);

    let group = this.groups.get(req.groupId);
    if (!group) {
      if (req.memberId !== '') return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      group = new Group(req.groupId, this.clock.nowMs());
      this.groups.set(req.groupId, group);
    }
    if (group.state === 'Dead') return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);

    const known = req.memberId !== '' && group.members.has(req.memberId);
    if (!known && !group.supportsProtocols(req.protocolType, req.protocols))
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    if (req.memberId === '') {
      const newMemberId = `${req.clientId}-${randomUUID()}`;
      if (req.groupInstanceId !== null) {
        const previous = group.staticMembers.get(req.groupInstanceId);
        if (previous !== undefined) return this.replaceStaticMember(group, previous, newMemberId, req);
        return this.addMemberAndRebalance(group, newMemberId, req);
      }
      if (req.requireKnownMemberId) {
        group.pendingMembers.add(newMemberId);
        return fail(ErrorCode.MEMBER_ID_REQUIRED, newMemberId);
      }
      return this.addMemberAndRebalance(group, newMemberId, req);
    }

    if (group.pendingMembers.has(req.memberId)) {
      group.pendingMembers.delete(req.memberId);
      return this.addMemberAndRebalance(group, req.memberId, req);
    }
    if (isFenced(group, req)) return fail(ErrorCode.FENCED_INSTANCE_ID);
    const member = group.members.get(req.memberId);
    if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);

    const unchanged = sameProtocols(member.protocols, req.protocols);
    if (
      (group.state === 'Stable' && unchanged && member.memberId !== group.leaderId) ||
      (group.state === 'CompletingRebalance' && unchanged)
    ) {
      this.touch(group, member);
      return this.joinResultFor(group, member);
    }
    return new Promise<JoinResult>((resolve) => {
      this.updateMember(member, req);
      member.awaitingJoin = resolve;
      if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
      else this.prepareRebalance(group, `member ${member.memberId} rejoined`);
    });
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinRequest): Promise<JoinResult> {
    return new Promise<JoinResult>((resolve) => {
      const member: Member = {
        memberId,
        groupInstanceId: req.groupInstanceId,
        clientId: req.clientId,
        clientHost: req.clientHost,
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        protocols: req.protocols,
        assignment: Buffer.alloc(0),
        awaitingJoin: resolve,
      };
      if (group.members.size === 0) group.protocolType = req.protocolType;
      group.members.set(memberId, member);
      if (req.groupInstanceId !== null) group.staticMembers.set(req.groupInstanceId, memberId);
      this.touch(group, member);
      if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
      else this.prepareRebalance(group, `member ${memberId} joined`);
    });
  }

  /** A static member restarted: it takes over its old member id's place, keeping its assignment. */
  private replaceStaticMember(
    group: Group,
    oldMemberId: string,
    newMemberId: string,
    req: JoinRequest,
  ): Promise<JoinResult> | JoinResult {
    const old = group.members.get(oldMemberId)!;
    old.sessionTimer?.cancel();
    old.awaitingJoin?.({ ...this.joinResultFor(group, old), errorCode: ErrorCode.FENCED_INSTANCE_ID, members: [] });
    old.awaitingSync?.({
      errorCode: ErrorCode.FENCED_INSTANCE_ID,
      protocolType: null,
      protocolName: null,
      assignment: Buffer.alloc(0),
    });
    group.members.delete(oldMemberId);
    const member: Member = {
      ...old,
      memberId: newMemberId,
      awaitingJoin: undefined,
      awaitingSync: undefined,
      sessionTimer: undefined,
    };
    group.members.set(newMemberId, member);
    group.staticMembers.set(req.groupInstanceId!, newMemberId);
    if (group.leaderId === oldMemberId) group.leaderId = newMemberId;
    this.touch(group, member);
    if (group.state === 'Stable' && sameProtocols(old.protocols, req.protocols)) {
      this.logger.info(
        { group: group.id, instance: req.groupInstanceId },
        'static member rejoined without a rebalance',
      );
      return { ...this.joinResultFor(group, member), members: [] };
    }
    return new Promise<JoinResult>((resolve) => {
      this.updateMember(member, req);
      member.awaitingJoin = resolve;
      if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
      else this.prepareRebalance(group, `static member ${req.groupInstanceId} rejoined with new metadata`);
    });
  }

  private updateMember(member: Member, req: JoinRequest): void {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
  }

  private joinResultFor(group: Group, member: Member): JoinResult {
    const isLeader = member.memberId === group.leaderId;
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generation,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: group.metadataFor(m, group.protocolName!),
          }))
        : [],
    };
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      for (const m of group.members.values()) {
        m.assignment = Buffer.alloc(0);
        m.awaitingSync?.({
          errorCode: ErrorCode.REBALANCE_IN_PROGRESS,
          protocolType: null,
          protocolName: null,
          assignment: Buffer.alloc(0),
        });
        m.awaitingSync = undefined;
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    this.logger.info({ group: group.id, generation: group.generation, reason }, 'preparing rebalance');
    group.rebalanceTimer?.cancel();
    const initialDelayMs = this.config.initialRebalanceDelayMs;
    if (wasEmpty && initialDelayMs > 0) {
      // Let more members of a starting application join before the first generation.
      const deadlineMs = this.clock.nowMs() + group.maxRebalanceTimeoutMs();
      group.inInitialDelay = true;
      group.rebalanceTimer = this.clock.after(Math.min(initialDelayMs, group.maxRebalanceTimeoutMs()), () =>
        this.onInitialDelay(group, deadlineMs),
      );
      return;
    }
    group.rebalanceTimer = this.clock.after(group.maxRebalanceTimeoutMs(), () => this.completeJoin(group));
    this.tryCompleteJoin(group);
  }

  private onInitialDelay(group: Group, deadlineMs: number): void {
    group.inInitialDelay = false;
    group.rebalanceTimer = undefined;
    if (group.allMembersJoined()) {
      this.completeJoin(group);
      return;
    }
    group.rebalanceTimer = this.clock.after(deadlineMs - this.clock.nowMs(), () => this.completeJoin(group));
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state === 'PreparingRebalance' && group.allMembersJoined() && !group.inInitialDelay)
      this.completeJoin(group);
  }

  /** Ends the join phase: members that did not rejoin are dropped, a new generation starts. */
  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    group.rebalanceTimer?.cancel();
    group.rebalanceTimer = undefined;
    group.inInitialDelay = false;
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) this.dropMember(group, m, 'did not rejoin before the rebalance timeout');
    }
    group.pendingMembers.clear();
    group.generation++;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.protocolName = null;
      group.leaderId = null;
      group.emptySinceMs = this.clock.nowMs();
      this.logger.info({ group: group.id, generation: group.generation }, 'group is empty');
      // As in Kafka, a failed write is only logged: the group stays Empty in memory, and after a
      // restart its stored members' sessions expire.
      this.write(group.id, [this.groupRecord(group)]).catch((err: unknown) =>
        this.logger.error({ err, group: group.id }, 'could not store group metadata'),
      );
      return;
    }
    group.protocolName = group.selectProtocol();
    if (!group.leaderId || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.state = 'CompletingRebalance';
    this.logger.info(
      {
        group: group.id,
        generation: group.generation,
        members: group.members.size,
        protocol: group.protocolName,
        leader: group.leaderId,
      },
      'join phase complete',
    );
    for (const m of group.members.values()) {
      const respond = m.awaitingJoin!;
      m.awaitingJoin = undefined;
      this.touch(group, m);
      respond(this.joinResultFor(group, m));
    }
  }

  sync(
    ref: MemberRef,
    protocolType: string | null,
    protocolName: string | null,
    assignments: Array<{ memberId: string; assignment: Buffer }>,
  ): Promise<SyncResult> | SyncResult {
    const fail = (errorCode: number): SyncResult => ({
      errorCode,
      protocolType: null,
      protocolName: null,
      assignment: Buffer.alloc(0),
    });
    if (!this.coordinates(ref.groupId)) return fail(ErrorCode.NOT_COORDINATOR);
    const group = this.groups.get(ref.groupId);
    const checked = this.checkMember(group, ref);
    if (checked !== ErrorCode.NONE) return fail(checked);
    const g = group!;
    const member = g.members.get(ref.memberId)!;
    if (
      (protocolType !== null && protocolType !== g.protocolType) ||
      (protocolName !== null && protocolName !== g.protocolName)
    ) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    this.touch(g, member);
    const result = (m: Member): SyncResult => ({
      errorCode: ErrorCode.NONE,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      assignment: m.assignment,
    });
    switch (g.state) {
      case 'PreparingRebalance':
        return fail(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        return result(member);
      case 'CompletingRebalance':
        return new Promise<SyncResult>((resolve) => {
          member.awaitingSync = resolve;
          if (ref.memberId !== g.leaderId) return;
          const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
          const generation = g.generation;
          this.write(g.id, [this.groupRecord(g, byMember)]).then(
            () => {
              if (g.state !== 'CompletingRebalance' || g.generation !== generation) return;
              for (const m of g.members.values()) m.assignment = byMember.get(m.memberId) ?? Buffer.alloc(0);
              g.state = 'Stable';
              this.logger.info({ group: g.id, generation }, 'group is stable');
              for (const m of g.members.values()) {
                m.awaitingSync?.(result(m));
                m.awaitingSync = undefined;
              }
            },
            (err: unknown) => {
              this.logger.error({ err, group: g.id }, 'could not store the group assignment');
              for (const m of g.members.values()) {
                m.awaitingSync?.(fail(ErrorCode.COORDINATOR_NOT_AVAILABLE));
                m.awaitingSync = undefined;
              }
              this.prepareRebalance(g, 'storing the assignment failed');
            },
          );
        });
      default:
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  heartbeat(ref: MemberRef): number {
    if (!this.coordinates(ref.groupId)) return ErrorCode.NOT_COORDINATOR;
    const group = this.groups.get(ref.groupId);
    const checked = this.checkMember(group, ref);
    if (checked !== ErrorCode.NONE) return checked;
    this.touch(group!, group!.members.get(ref.memberId)!);
    return group!.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Member and generation checks shared by SyncGroup and Heartbeat. */
  private checkMember(group: Group | undefined, ref: MemberRef): number {
    if (!group || group.state === 'Dead') return ErrorCode.UNKNOWN_MEMBER_ID;
    // A static member's old id is fenced, not unknown: its successor has taken over.
    if (isFenced(group, ref)) return ErrorCode.FENCED_INSTANCE_ID;
    if (!group.members.has(ref.memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (ref.generationId !== group.generation) return ErrorCode.ILLEGAL_GENERATION;
    return ErrorCode.NONE;
  }

  leave(
    groupId: string,
    leaving: Array<{ memberId: string; groupInstanceId: string | null }>,
  ): { errorCode: number; members: Array<{ memberId: string; groupInstanceId: string | null; errorCode: number }> } {
    if (!this.coordinates(groupId)) return { errorCode: ErrorCode.NOT_COORDINATOR, members: [] };
    const group = this.groups.get(groupId);
    if (!group)
      return {
        errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
        members: leaving.map((l) => ({ ...l, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
      };
    const members = leaving.map((l) => {
      if (group.pendingMembers.delete(l.memberId)) return { ...l, errorCode: ErrorCode.NONE };
      const memberId = l.groupInstanceId !== null ? group.staticMembers.get(l.groupInstanceId) : l.memberId;
      if (memberId === undefined) return { ...l, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      if (l.groupInstanceId !== null && l.memberId !== '' && l.memberId !== memberId)
        return { ...l, errorCode: ErrorCode.FENCED_INSTANCE_ID };
      const member = group.members.get(memberId);
      if (!member) return { ...l, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      this.removeMember(group, member, 'left the group');
      return { ...l, memberId, errorCode: ErrorCode.NONE };
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  /** Restarts a member's session timer: called on every request from it. */
  private touch(group: Group, member: Member): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = this.clock.after(member.sessionTimeoutMs, () => this.onSessionExpired(group, member));
  }

  private onSessionExpired(group: Group, member: Member): void {
    if (group.members.get(member.memberId) !== member) return;
    // A member waiting on a join or sync response is alive; its request keeps it.
    if (member.awaitingJoin || member.awaitingSync) {
      this.touch(group, member);
      return;
    }
    this.removeMember(group, member, `session timeout of ${member.sessionTimeoutMs} ms expired`);
  }

  private dropMember(group: Group, member: Member, reason: string): void {
    member.sessionTimer?.cancel();
    group.members.delete(member.memberId);
    if (member.groupInstanceId !== null && group.staticMembers.get(member.groupInstanceId) === member.memberId)
      group.staticMembers.delete(member.groupInstanceId);
    this.logger.info({ group: group.id, member: member.memberId, reason }, 'member removed');
  }

  private removeMember(group: Group, member: Member, reason: string): void {
    const fenced = { errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
    member.awaitingJoin?.({ ...this.joinResultFor(group, member), ...fenced, members: [] });
    member.awaitingSync?.({ ...fenced, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    member.awaitingJoin = undefined;
    member.awaitingSync = undefined;
    this.dropMember(group, member, reason);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(group, `member ${member.memberId} ${reason}`);
        break;
      case 'PreparingRebalance':
        if (group.members.size === 0) this.completeJoin(group);
        else this.tryCompleteJoin(group);
        break;
      default:
        break;
    }
  }

  // ---- offsets -------------------------------------------------------------------------

  async commitOffsets(ref: MemberRef, offsets: OffsetToCommit[]): Promise<number[]> {
    const all = (code: number) => offsets.map(() => code);
    if (!this.coordinates(ref.groupId)) return all(ErrorCode.NOT_COORDINATOR);
    let group = this.groups.get(ref.groupId);
    const simple = ref.generationId < 0 && ref.memberId === '' && ref.groupInstanceId === null;
    if (!group) {
      if (!simple) return all(ErrorCode.ILLEGAL_GENERATION);
      group = new Group(ref.groupId, this.clock.nowMs());
      this.groups.set(ref.groupId, group);
    }
    if (group.state === 'Dead') return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!simple) {
      if (isFenced(group, ref)) return all(ErrorCode.FENCED_INSTANCE_ID);
      if (!group.members.has(ref.memberId)) return all(ErrorCode.UNKNOWN_MEMBER_ID);
      if (ref.generationId !== group.generation) return all(ErrorCode.ILLEGAL_GENERATION);
      this.touch(group, group.members.get(ref.memberId)!);
    } else if (group.state !== 'Empty') {
      return all(ErrorCode.UNKNOWN_MEMBER_ID);
    }
    if (group.state === 'CompletingRebalance') return all(ErrorCode.REBALANCE_IN_PROGRESS);

    const now = this.clock.nowMs();
    const codes = offsets.map((o) => {
      const topic = this.image.topic(o.topic);
      if (!topic || !topic.partitions[o.partition]) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      if (o.metadata !== null && Buffer.byteLength(o.metadata) > OFFSET_METADATA_MAX_BYTES)
        return ErrorCode.OFFSET_METADATA_TOO_LARGE;
      return ErrorCode.NONE;
    });
    const accepted = offsets.filter((_, i) => codes[i] === ErrorCode.NONE);
    if (accepted.length === 0) return codes;
    const records: OffsetsRecord[] = accepted.map((o) => ({
      kind: 'offset',
      group: group.id,
      topic: o.topic,
      partition: o.partition,
      value: { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', commitTimestampMs: now },
    }));
    try {
      await this.write(group.id, records);
    } catch (err) {
      this.logger.error({ err, group: group.id }, 'could not store committed offsets');
      return codes.map((c) => (c === ErrorCode.NONE ? ErrorCode.COORDINATOR_NOT_AVAILABLE : c));
    }
    return codes;
  }

  fetchOffsets(groupId: string, wanted: Array<{ topic: string; partitions: number[] }> | null): FetchedOffset[] {
    const group = this.groups.get(groupId);
    if (wanted === null) {
      return [...(group?.offsets.values() ?? [])].map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        leaderEpoch: o.leaderEpoch,
        metadata: o.metadata,
        errorCode: ErrorCode.NONE,
      }));
    }
    return wanted.flatMap((t) =>
      t.partitions.map((partition) => {
        const o = group?.offsets.get(Group.offsetKey(t.topic, partition));
        return {
          topic: t.topic,
          partition,
          offset: o?.offset ?? -1,
          leaderEpoch: o?.leaderEpoch ?? -1,
          metadata: o?.metadata ?? '',
          errorCode: ErrorCode.NONE,
        };
      }),
    );
  }

  async deleteOffsets(
    groupId: string,
    partitions: Array<{ topic: string; partition: number }>,
  ): Promise<{ errorCode: number; codes: number[] }> {
    if (!this.coordinates(groupId)) return { errorCode: ErrorCode.NOT_COORDINATOR, codes: [] };
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, codes: [] };
    if (group.state !== 'Empty' && group.protocolType !== 'consumer' && group.protocolType !== null) {
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, codes: [] };
    }
    const subscribed = group.state === 'Empty' ? undefined : group.subscribedTopics();
    const codes = partitions.map((p) =>
      subscribed?.has(p.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE,
    );
    const records: OffsetsRecord[] = partitions
      .filter((p, i) => codes[i] === ErrorCode.NONE && group.offsets.has(Group.offsetKey(p.topic, p.partition)))
      .map((p) => ({ kind: 'offset', group: groupId, topic: p.topic, partition: p.partition, value: null }));
    if (records.length > 0) {
      try {
        await this.write(groupId, records);
      } catch (err) {
        this.logger.error({ err, group: groupId }, 'could not delete committed offsets');
        return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, codes: [] };
      }
    }
    return { errorCode: ErrorCode.NONE, codes };
  }

  // ---- admin ---------------------------------------------------------------------------

  listGroups(
    statesFilter: string[],
    typesFilter: string[],
  ): Array<{ groupId: string; protocolType: string; groupState: string; groupType: string }> {
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const types = new Set(typesFilter.map((t) => t.toLowerCase()));
    return [...this.groups.values()]
      .filter((g) => g.state !== 'Dead')
      .filter((g) => states.size === 0 || states.has(g.state.toLowerCase()))
      .filter(() => types.size === 0 || types.has('classic'))
      .map((g) => ({ groupId: g.id, protocolType: g.protocolType ?? '', groupState: g.state, groupType: 'classic' }));
  }

  describeGroup(groupId: string): {
    state: GroupState;
    protocolType: string;
    protocolName: string;
    members: Array<{
      memberId: string;
      groupInstanceId: string | null;
      clientId: string;
      clientHost: string;
      memberMetadata: Buffer;
      memberAssignment: Buffer;
    }>;
  } {
    const group = this.groups.get(groupId);
    if (!group) return { state: 'Dead', protocolType: '', protocolName: '', members: [] };
    const stable = group.state === 'Stable';
    return {
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: stable ? (group.protocolName ?? '') : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: stable ? group.metadataFor(m, group.protocolName!) : Buffer.alloc(0),
        memberAssignment: stable ? m.assignment : Buffer.alloc(0),
      })),
    };
  }

  async deleteGroup(groupId: string): Promise<number> {
    if (!this.coordinates(groupId)) return ErrorCode.NOT_COORDINATOR;
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP;
    const records: OffsetsRecord[] = [...group.offsets.values()].map((o) => ({
      kind: 'offset',
      group: groupId,
      topic: o.topic,
      partition: o.partition,
      value: null,
    }));
    records.push({ kind: 'group', group: groupId, value: null });
    try {
      await this.write(groupId, records);
    } catch (err) {
      this.logger.error({ err, group: groupId }, 'could not delete the group');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    this.logger.info({ group: groupId }, 'group deleted');
    return ErrorCode.NONE;
  }

  /** Removes offsets of groups that have been empty longer than offsets.retention.minutes. */
  async expireOffsets(nowMs: number): Promise<void> {
    const retentionMs = this.config.offsetsRetentionMs;
    for (const group of [...this.groups.values()]) {
      if (group.state !== 'Empty' || nowMs - group.emptySinceMs < retentionMs) continue;
      const expired = [...group.offsets.values()].filter((o) => nowMs - o.commitTimestampMs >= retentionMs);
      const records: OffsetsRecord[] = expired.map((o) => ({
        kind: 'offset',
        group: group.id,
        topic: o.topic,
        partition: o.partition,
        value: null,
      }));
      const emptied = expired.length === group.offsets.size;
      if (emptied) records.push({ kind: 'group', group: group.id, value: null });
      if (records.length === 0) continue;
      try {
        await this.write(group.id, records);
      } catch (err) {
        this.logger.error({ err, group: group.id }, 'could not expire offsets');
        continue;
      }
      this.logger.info(
        { group: group.id, offsets: expired.length, groupRemoved: emptied },
        'expired committed offsets',
      );
    }
  }

  // ---- persistence ---------------------------------------------------------------------

  /**
   * Whether this broker holds the group's offsets partition. Without it (before the first
   * FindCoordinator created `__consumer_offsets`) nothing about the group could be stored, so
   * the group is not started: the client looks its coordinator up again, as with Kafka.
   */
  private coordinates(groupId: string): boolean {
    return this.loadedPartitions.has(offsetsPartitionFor(groupId, this.offsetsPartitions));
  }

  /**
   * The broker coordinating the group: the leader of its `__consumer_offsets` partition, once
   * that broker can write it (here: the partition's groups are loaded); -1 while there is none.
   */
  coordinatorOf(groupId: string): number {
    const partition = offsetsPartitionFor(groupId, this.offsetsPartitions);
    const leader = this.image.topic(OFFSETS_TOPIC)?.partitions[partition]?.leader ?? -1;
    if (leader === this.nodeId && !this.loadedPartitions.has(partition)) return -1;
    return leader;
  }

  /** Appends the records to the group's offsets partition, then replays them; throws if the append fails. */
  private async write(groupId: string, records: OffsetsRecord[]): Promise<void> {
    const partition = offsetsPartitionFor(groupId, this.offsetsPartitions);
    const found = this.partitions.leader({ name: OFFSETS_TOPIC }, partition);
    if (!found.ok)
      throw new Error(`${OFFSETS_TOPIC} partition ${partition} is not available here (error ${found.errorCode})`);
    const { batch, batches } = encodeOffsetsRecords(records, this.clock.nowMs());
    const appended = await this.partitions.append(found.partition, batch, batches);
    // As Kafka's coordinator, at acks=-1: what a member is told is stored survives a failover.
    const replicated = await this.partitions.waitForReplication(found.partition, appended, OFFSETS_WRITE_TIMEOUT_MS);
    if (replicated !== ErrorCode.NONE)
      throw new Error(`${OFFSETS_TOPIC} partition ${partition} did not replicate the write (${errorName(replicated)})`);
    for (const r of records) this.replay(r);
  }

  /** The group's metadata record: members with their subscriptions and assignments (`assignments` if given). */
  private groupRecord(group: Group, assignments?: ReadonlyMap<string, Buffer>): OffsetsRecord {
    const value: GroupSnapshot = {
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      generation: group.generation,
      leaderId: group.leaderId,
      members: [...group.members.values()].map((m) => ({
        ...memberIdentity(m),
        subscription: group.metadataFor(m, group.protocolName ?? ''),
        assignment: assignments ? (assignments.get(m.memberId) ?? Buffer.alloc(0)) : m.assignment,
      })),
    };
    return { kind: 'group', group: group.id, value };
  }

  /** Applies one stored record: while loading a partition, and after every successful write. */
  private replay(r: OffsetsRecord): void {
    const group = this.groups.get(r.group);
    if (r.value === null && r.kind === 'group') {
      if (group) group.state = 'Dead';
      this.groups.delete(r.group);
      return;
    }
    if (r.kind === 'offset' && r.value === null) {
      group?.offsets.delete(Group.offsetKey(r.topic, r.partition));
      return;
    }
    const target = group ?? new Group(r.group, this.clock.nowMs());
    this.groups.set(r.group, target);
    if (r.kind === 'offset')
      target.offsets.set(Group.offsetKey(r.topic, r.partition), {
        ...r.value!,
        topic: r.topic,
        partition: r.partition,
      });
    else target.stored = r.value;
  }

  /** After loading: the stored members get a session to come back in; an empty group is Empty. */
  private resumeLoaded(group: Group): void {
    const s = group.stored;
    if (s) {
      group.protocolType = s.protocolType;
      group.protocolName = s.protocolName;
      group.generation = s.generation;
      group.leaderId = s.leaderId;
      for (const m of s.members) {
        group.members.set(m.memberId, {
          ...memberIdentity(m),
          protocols: [{ name: s.protocolName ?? '', metadata: m.subscription }],
          assignment: m.assignment,
        });
        if (m.groupInstanceId !== null) group.staticMembers.set(m.groupInstanceId, m.memberId);
      }
    }
    if (group.members.size === 0) {
      group.state = 'Empty';
      return;
    }
    group.state = 'Stable';
    for (const m of group.members.values()) this.touch(group, m);
  }
}

/** The fields a member keeps across a coordinator restart, apart from its protocol data. */
function memberIdentity(m: MemberIdentity): MemberIdentity {
  const { memberId, groupInstanceId, clientId, clientHost, sessionTimeoutMs, rebalanceTimeoutMs } = m;
  return { memberId, groupInstanceId, clientId, clientHost, sessionTimeoutMs, rebalanceTimeoutMs };
}

function isFenced(group: Group, ref: { memberId: string; groupInstanceId: string | null }): boolean {
  if (ref.groupInstanceId === null) return false;
  const current = group.staticMembers.get(ref.groupInstanceId);
  return current !== undefined && current !== ref.memberId;
}

function sameProtocols(a: Protocol[], b: Protocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i].name && p.metadata.equals(b[i].metadata));
}
