// The KRaft quorum core as a pure state machine (KIP-595, with KIP-996 pre-vote): events in, actions
// out, no sockets, files or timers inside. The host delivers events (a received message, the time,
// a proposal, a durable-write completion) and performs the returned actions in order before the
// next event; the state machine reads the log only through RaftLogReader.
//
// States, as in Kafka's QuorumState:
//   unattached   knows the epoch but no leader and has not voted in it
//   voted        voted for a candidate in this epoch (never changes its vote within the epoch)
//   prospective  KIP-996: asks voters whether they would vote, without bumping the epoch
//   candidate    voted for itself in a new epoch, collecting votes
//   leader       won; appends a LeaderChange entry, sends BeginQuorumEpoch, serves fetches
//   follower     knows the epoch's leader and fetches from it (pull replication)
//   resigned     a leader that stepped down (shutdown, lost quorum, restart) and waits for the next
//
// Durability contract with the host: persistElectionState and truncate are durable when the
// action completes; append is durable once a later 'persisted' event says so. A vote is answered
// only after it is persisted; a follower reports (fetches from) only durable offsets; the leader
// counts only its own durable offsets towards the high watermark.
//
// Snapshots: the host snapshots its state machine at an applied offset and reports it
// ('snapshotWritten'); the log then starts there (deleteLogBefore). A fetcher whose offset lies
// below the leader's log start, or whose log cannot be matched against the leader's above it, is
// answered with the leader's snapshot id, fetches the snapshot in chunks (FetchSnapshot) and
// installs it (installSnapshot: its log restarts empty at the snapshot's end offset).

import { ErrorCode } from '../protocol/errors.js';
import type { LogEntry, OffsetAndEpoch, RaftLogReader } from './log.js';
import type {
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  RaftMessage,
  VoteRequest,
  VoteResponse,
} from './messages.js';
import { NO_LEADER } from './messages.js';
import type { Random } from '../random.js';
import type { ElectionState, QuorumView, RaftAction, RaftConfig, RaftEvent, StateName } from './types.js';

/** A broken invariant inside the state machine: a bug, or a peer that broke the protocol. */
export class RaftInvariantError extends Error {
  override name = 'RaftInvariantError';
}

interface Inflight {
  correlationId: number;
  sentMs: number;
}

interface ElectionRound {
  granted: Set<number>;
  rejected: Set<number>;
  inflight: Map<number, Inflight>;
  electionDeadlineMs: number;
  /** Set once the round is lost or timed out: the next round starts at this time. */
  backoffUntilMs: number | null;
}

interface ReplicaState {
  endOffset: number;
  lastFetchMs: number;
  /** The high watermark this replica was last told (-1: nothing yet in this epoch). */
  highWatermarkSent: number;
}

interface ParkedFetch {
  from: number;
  correlationId: number;
  request: FetchRequest;
  deadlineMs: number;
  highWatermarkAtPark: number;
}

type State =
  | { name: 'unattached'; electionDeadlineMs: number }
  | { name: 'voted'; electionDeadlineMs: number }
  | ({ name: 'prospective'; retries: number } & ElectionRound)
  | ({ name: 'candidate'; retries: number } & ElectionRound)
  | {
      name: 'leader';
      epochStartOffset: number;
      /** -1 until a majority has replicated past the epoch start. */
      highWatermark: number;
      replicas: Map<number, ReplicaState>;
      checkQuorumDeadlineMs: number;
      fetchedSinceCheck: Set<number>;
      parked: Map<number, ParkedFetch>;
      beginEpochSent: Map<number, Inflight>;
    }
  | {
      name: 'follower';
      fetchDeadlineMs: number;
      retryAtMs: number;
      leaderResigned: boolean;
      /** Set while the leader's snapshot is being fetched, instead of entries. */
      snapshotFetch: SnapshotFetch | null;
    }
  | {
      name: 'resigned';
      electionDeadlineMs: number;
      preferredSuccessors: number[];
      unacked: Map<number, Inflight | null>;
    };

interface InflightFetch extends Inflight {
  to: number;
  fetchOffset: number;
  /** For a FetchSnapshot: the position asked for. */
  snapshotPosition?: number;
}

interface SnapshotFetch {
  id: OffsetAndEpoch;
  /** Bytes received so far, in order; their total is the next position to ask for. */
  chunks: Buffer[];
  position: number;
}

/** How a fetch offset and last fetched epoch compare with the leader's log (Kafka's ValidOffsetAndEpoch). */
type FetchValidation =
  | { kind: 'valid' }
  | { kind: 'diverging'; epoch: number; endOffset: number }
  | { kind: 'snapshot'; snapshotId: OffsetAndEpoch };

export class RaftQuorum {
  private readonly config: RaftConfig;
  private readonly voters: ReadonlySet<number>;
  private readonly majority: number;
  private election: ElectionState;
  private state: State;
  private out: RaftAction[] = [];
  /** Set once this step emitted append or truncate: the host has not applied it yet. */
  private wroteLog = false;
  private nowMs: number;
  private logEnd: number;
  private lastEpoch: number;
  private persistedEnd: number;
  private logStart: number;
  private highWatermark = 0;
  private applied = 0;
  private nextCorrelationId: number;
  private inflightFetch: InflightFetch | null = null;
  /** Observers: when to ask a voter who leads (discovery). */
  private discoveryAtMs = 0;

  constructor(
    config: RaftConfig,
    private readonly log: RaftLogReader,
    stored: ElectionState | null,
    private readonly random: Random,
    nowMs: number,
  ) {
    if (config.voters.length === 0) throw new Error('the quorum needs at least one voter');
    if (new Set(config.voters).size !== config.voters.length)
      throw new Error(`duplicate voters in ${config.voters.join(',')}`);
    this.config = config;
    this.voters = new Set(config.voters);
    this.majority = Math.floor(config.voters.length / 2) + 1;
    this.nowMs = nowMs;
    this.logEnd = log.endOffset();
    this.lastEpoch = log.lastEpoch();
    this.persistedEnd = this.logEnd; // what the host hands over at start is what is on disk
    // A snapshot holds only committed entries, and the host loaded it into its state machine.
    this.logStart = log.startOffset();
    this.highWatermark = this.logStart;
    this.applied = this.logStart;
    this.nextCorrelationId = Math.floor(random.next() * 2 ** 30);
    this.election = stored ?? { epoch: 0, leaderId: NO_LEADER, votedId: NO_LEADER };
    if (this.election.epoch < this.lastEpoch) {
      throw new RaftInvariantError(
        `stored epoch ${this.election.epoch} is behind the log's last epoch ${this.lastEpoch}`,
      );
    }
    const self = config.nodeId;
    if (this.election.leaderId === self) {
      // A leader that restarted cannot pick up its epoch: it resigns, and a new election follows.
      this.state = {
        name: 'resigned',
        electionDeadlineMs: nowMs + this.randomElectionTimeoutMs(),
        preferredSuccessors: [],
        unacked: new Map(),
      };
    } else if (this.election.leaderId !== NO_LEADER) {
      this.state = this.followerState();
    } else if (this.election.votedId === self && this.isVoter) {
      this.state = { name: 'candidate', retries: 1, ...this.newRound() };
    } else if (this.election.votedId !== NO_LEADER) {
      this.state = { name: 'voted', electionDeadlineMs: nowMs + this.randomElectionTimeoutMs() };
    } else {
      this.state = { name: 'unattached', electionDeadlineMs: nowMs + this.randomElectionTimeoutMs() };
    }
    // The only voter has nobody to wait for: it stands at the first event, as Kafka's does.
    if (this.majority === 1 && this.isVoter && 'electionDeadlineMs' in this.state)
      this.state.electionDeadlineMs = nowMs;
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  get isVoter(): boolean {
    return this.voters.has(this.config.nodeId);
  }

  get epoch(): number {
    return this.election.epoch;
  }

  get stateName(): StateName {
    return this.state.name;
  }

  view(): QuorumView {
    const s = this.state;
    return {
      nodeId: this.config.nodeId,
      state: s.name,
      epoch: this.election.epoch,
      leaderId: this.leaderId(),
      votedId: this.election.votedId,
      highWatermark: this.highWatermark,
      logEndOffset: this.logEnd,
      persistedEndOffset: this.persistedEnd,
      appliedOffset: this.applied,
      logStartOffset: this.logStart,
      replicas:
        s.name === 'leader'
          ? [...s.replicas].map(([replicaId, r]) => ({
              replicaId,
              logEndOffset: r.endOffset,
              lastFetchTimestamp: r.lastFetchMs,
              isVoter: this.voters.has(replicaId),
            }))
          : [],
    };
  }

  /** Handles one event and returns the actions to perform, in order. */
  step(event: RaftEvent): RaftAction[] {
    this.out = [];
    this.wroteLog = false;
    this.nowMs = Math.max(this.nowMs, event.nowMs);
    if (this.log.endOffset() !== this.logEnd) {
      throw new RaftInvariantError(
        `log end ${this.log.endOffset()} but the state machine expects ${this.logEnd}: the host skipped an action`,
      );
    }
    if (this.log.startOffset() !== this.logStart) {
      throw new RaftInvariantError(
        `log start ${this.log.startOffset()} but the state machine expects ${this.logStart}: the host moved it behind its back`,
      );
    }
    this.maybeApply();
    switch (event.kind) {
      case 'tick':
        break;
      case 'receive':
        this.onMessage(event.from, event.correlationId, event.message);
        break;
      case 'propose':
        this.onPropose(event.records);
        break;
      case 'persisted':
        this.onPersisted(event.endOffset);
        break;
      case 'resign':
        if (this.state.name === 'leader') this.toResigned(this.successorsByProgress());
        break;
      case 'snapshotWritten':
        this.onSnapshotWritten(event.snapshotId);
        break;
    }
    this.poll();
    this.maybeApply();
    return this.out;
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  private onPropose(records: unknown[]): void {
    if (this.state.name !== 'leader') {
      this.emit({
        kind: 'proposalRejected',
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        leaderId: this.leaderId(),
        epoch: this.epoch,
      });
      return;
    }
    if (records.length === 0) return;
    const baseOffset = this.logEnd;
    this.appendToLog(
      records.map((value, i) => ({
        offset: baseOffset + i,
        epoch: this.epoch,
        record: { type: 'data' as const, value },
      })),
    );
    this.emit({ kind: 'proposed', baseOffset, lastOffset: this.logEnd - 1, epoch: this.epoch });
  }

  private onPersisted(endOffset: number): void {
    const durable = Math.min(endOffset, this.logEnd);
    if (durable <= this.persistedEnd) return;
    this.persistedEnd = durable;
    if (this.state.name === 'leader') {
      this.maybeAdvanceLeaderHighWatermark();
      this.completeParkedFetches();
    }
  }

  /** The host snapshotted its state machine at `id`: the log may start there. */
  private onSnapshotWritten(id: OffsetAndEpoch): void {
    if (id.offset <= this.logStart) return; // an older snapshot than the log already starts at
    if (id.offset > this.applied) {
      throw new RaftInvariantError(
        `node ${this.nodeId}: snapshot at ${id.offset} is past the applied offset ${this.applied}`,
      );
    }
    const epoch = this.readLog().epochAt(id.offset - 1);
    if (epoch !== id.epoch) {
      throw new RaftInvariantError(
        `node ${this.nodeId}: snapshot ${id.offset}@${id.epoch}, but entry ${id.offset - 1} has epoch ${epoch}`,
      );
    }
    this.emit({ kind: 'deleteLogBefore', snapshotId: { ...id } });
    this.wroteLog = true;
    this.logStart = id.offset;
  }

  private onMessage(from: number, correlationId: number, m: RaftMessage): void {
    if ('clusterId' in m && m.clusterId !== this.config.clusterId) return; // another cluster's traffic
    switch (m.type) {
      case 'VoteRequest':
        return this.onVoteRequest(from, correlationId, m);
      case 'VoteResponse':
        return this.onVoteResponse(from, correlationId, m);
      case 'BeginQuorumEpochRequest':
        return this.onBeginQuorumEpoch(from, correlationId, m);
      case 'BeginQuorumEpochResponse':
        return this.onBeginQuorumEpochResponse(from, m);
      case 'EndQuorumEpochRequest':
        return this.onEndQuorumEpoch(from, correlationId, m);
      case 'EndQuorumEpochResponse':
        return this.onEndQuorumEpochResponse(from, m);
      case 'FetchRequest':
        return this.onFetchRequest(from, correlationId, m);
      case 'FetchResponse':
        return this.onFetchResponse(from, correlationId, m);
      case 'FetchSnapshotRequest':
        return this.onFetchSnapshotRequest(from, correlationId, m);
      case 'FetchSnapshotResponse':
        return this.onFetchSnapshotResponse(from, correlationId, m);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Vote (and pre-vote)

  private onVoteRequest(from: number, correlationId: number, req: VoteRequest): void {
    // A prospective voter gave up on its leader, and a resigned leader on itself: naming it would
    // send the candidate back to following a leader that is gone (after a crash both time out at
    // once; after a resignation the successor asks the resigning leader too).
    const respond = (voteGranted: boolean, errorCode: number = ErrorCode.NONE) =>
      this.send(from, correlationId, {
        type: 'VoteResponse',
        errorCode,
        leaderId: this.state.name === 'prospective' || this.state.name === 'resigned' ? NO_LEADER : this.leaderId(),
        leaderEpoch: this.epoch,
        voteGranted,
        preVote: req.preVote,
      });
    if (!this.isVoter || !this.voters.has(req.candidateId)) return respond(false, ErrorCode.INCONSISTENT_VOTER_SET);
    if (req.preVote) {
      // Grant only what a real vote would get, and only with no leader heard from lately. Nothing changes here.
      const granted =
        req.candidateEpoch > this.epoch &&
        this.candidateLogIsUpToDate(req) &&
        !this.hasLiveLeader() &&
        this.mayVoteIn(req.candidateEpoch, req.candidateId);
      return respond(granted);
    }
    if (req.candidateEpoch < this.epoch) return respond(false, ErrorCode.FENCED_LEADER_EPOCH);
    if (req.candidateEpoch > this.epoch) this.toUnattached(req.candidateEpoch);
    const s = this.state.name;
    let granted = false;
    if (this.election.votedId !== NO_LEADER) {
      // One vote per epoch: the same candidate asking again gets the same answer.
      granted = this.election.votedId === req.candidateId && (s === 'voted' || s === 'prospective');
    } else if ((s === 'unattached' || s === 'prospective') && this.candidateLogIsUpToDate(req)) {
      this.toVoted(req.candidateId);
      granted = true;
    }
    respond(granted);
  }

  /** Whether this node could still vote for `candidateId` in `epoch` (its vote is not spent). */
  private mayVoteIn(epoch: number, candidateId: number): boolean {
    return epoch > this.epoch || this.election.votedId === NO_LEADER || this.election.votedId === candidateId;
  }

  private candidateLogIsUpToDate(req: VoteRequest): boolean {
    return (
      req.lastOffsetEpoch > this.lastEpoch || (req.lastOffsetEpoch === this.lastEpoch && req.lastOffset >= this.logEnd)
    );
  }

  private onVoteResponse(from: number, correlationId: number, res: VoteResponse): void {
    // A prospective voter gave up on its leader. Another voter still naming that leader has only
    // not timed out yet: after a leader crash the followers time out moments apart, and going back
    // to the dead leader on each other's word made them take turns doing so without ever electing
    // (seen on processes: minutes). As Kafka's prospective keeps its leader until it hears from it,
    // only the leader's own answer brings it back; anyone else's counts as a refusal.
    const hearsay =
      this.state.name === 'prospective' &&
      res.leaderEpoch === this.epoch &&
      res.leaderId === this.election.leaderId &&
      from !== res.leaderId;
    if (!hearsay && this.learnEpochAndLeader(res.leaderEpoch, res.leaderId)) return;
    const s = this.state;
    if (s.name !== 'candidate' && s.name !== 'prospective') return;
    if (res.preVote !== (s.name === 'prospective')) return;
    const inflight = s.inflight.get(from);
    if (!inflight || inflight.correlationId !== correlationId) return;
    s.inflight.delete(from);
    if (s.name === 'candidate' && res.leaderEpoch !== this.epoch) return;
    if (res.voteGranted && res.errorCode === ErrorCode.NONE) s.granted.add(from);
    else s.rejected.add(from);
    if (s.granted.size >= this.majority) {
      if (s.name === 'candidate') this.toLeader();
      else this.toCandidate(s.retries);
    } else if (s.rejected.size > this.voters.size - this.majority && s.backoffUntilMs === null) {
      s.backoffUntilMs = this.nowMs + this.electionBackoffMs(s.retries);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // BeginQuorumEpoch / EndQuorumEpoch

  private onBeginQuorumEpoch(from: number, correlationId: number, req: BeginQuorumEpochRequest): void {
    if (req.leaderEpoch >= this.epoch) this.learnEpochAndLeader(req.leaderEpoch, req.leaderId);
    const errorCode = req.leaderEpoch < this.epoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.NONE;
    const res: BeginQuorumEpochResponse = {
      type: 'BeginQuorumEpochResponse',
      errorCode,
      leaderId: this.leaderId(),
      leaderEpoch: this.epoch,
    };
    this.send(from, correlationId, res);
  }

  private onBeginQuorumEpochResponse(from: number, res: BeginQuorumEpochResponse): void {
    if (this.learnEpochAndLeader(res.leaderEpoch, res.leaderId)) return;
    if (this.state.name === 'leader' && res.errorCode === ErrorCode.NONE) this.state.beginEpochSent.delete(from);
  }

  private onEndQuorumEpoch(from: number, correlationId: number, req: EndQuorumEpochRequest): void {
    if (req.leaderEpoch >= this.epoch && req.leaderId !== this.config.nodeId)
      this.learnEpochAndLeader(req.leaderEpoch, req.leaderId);
    const s = this.state;
    if (req.leaderEpoch === this.epoch && s.name === 'follower' && this.election.leaderId === req.leaderId) {
      // The leader resigned: stop waiting the full fetch timeout; its preferred successors go first.
      s.leaderResigned = true;
      s.fetchDeadlineMs = Math.min(s.fetchDeadlineMs, this.nowMs + this.endEpochBackoffMs(req.preferredSuccessors));
    }
    const errorCode = req.leaderEpoch < this.epoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.NONE;
    const res: EndQuorumEpochResponse = {
      type: 'EndQuorumEpochResponse',
      errorCode,
      leaderId: this.leaderId(),
      leaderEpoch: this.epoch,
    };
    this.send(from, correlationId, res);
  }

  private onEndQuorumEpochResponse(from: number, res: EndQuorumEpochResponse): void {
    if (this.learnEpochAndLeader(res.leaderEpoch, res.leaderId)) return;
    if (this.state.name === 'resigned') this.state.unacked.delete(from);
  }

  // ---------------------------------------------------------------------------------------------
  // Fetch: the leader's side

  private onFetchRequest(from: number, correlationId: number, req: FetchRequest): void {
    const s = this.state;
    const error = (errorCode: number) =>
      this.send(from, correlationId, {
        type: 'FetchResponse',
        errorCode,
        highWatermark: -1,
        divergingEpoch: null,
        currentLeader: { leaderId: this.leaderId(), leaderEpoch: this.epoch },
        snapshotId: null,
        records: [],
      });
    if (req.currentLeaderEpoch < this.epoch) return error(ErrorCode.FENCED_LEADER_EPOCH);
    if (req.currentLeaderEpoch > this.epoch) return error(ErrorCode.UNKNOWN_LEADER_EPOCH);
    if (s.name !== 'leader') return error(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (req.replicaId !== from || req.fetchOffset < 0 || (req.fetchOffset > 0 && req.lastFetchedEpoch <= 0))
      return error(ErrorCode.INVALID_REQUEST);
    if (this.voters.has(from)) s.fetchedSinceCheck.add(from);
    const validation = this.validateFetch(req.fetchOffset, req.lastFetchedEpoch);
    if (validation.kind === 'diverging') {
      const { epoch, endOffset } = validation;
      this.send(from, correlationId, this.fetchResponse(s.highWatermark, [], { epoch, endOffset }));
      return;
    }
    if (validation.kind === 'snapshot') {
      this.send(from, correlationId, this.fetchResponse(s.highWatermark, [], null, validation.snapshotId));
      return;
    }
    const replica = s.replicas.get(from) ?? { endOffset: 0, lastFetchMs: this.nowMs, highWatermarkSent: -1 };
    replica.endOffset = Math.max(replica.endOffset, req.fetchOffset);
    replica.lastFetchMs = this.nowMs;
    s.replicas.set(from, replica);
    s.beginEpochSent.delete(from);
    s.parked.delete(from);
    if (this.voters.has(from)) this.maybeAdvanceLeaderHighWatermark();
    // A fetcher that has not heard of the current high watermark is answered at once: parked, it
    // would learn of the commit only a whole MaxWaitMs later (what Fetch v18's HighWatermark field
    // tells Kafka's leader; here the leader remembers what it last sent each replica).
    const behind = replica.highWatermarkSent < s.highWatermark;
    if (req.fetchOffset < this.logEnd || req.maxWaitMs <= 0 || this.wroteLog || behind) {
      this.answerFetch(from, correlationId, req);
    } else {
      // Long poll: hold it until there is something new (data or a higher watermark) or it expires.
      s.parked.set(from, {
        from,
        correlationId,
        request: req,
        deadlineMs: this.nowMs + Math.min(req.maxWaitMs, this.config.fetchMaxWaitMs),
        highWatermarkAtPark: s.highWatermark,
      });
    }
    this.completeParkedFetches();
  }

  /**
   * Kafka's validateOffsetAndEpoch: does the fetcher's log end match ours at (offset, epoch)?
   * Below our log start, or where the match would have to be decided below it (a last fetched
   * epoch older than our snapshot's), the fetcher needs our snapshot.
   */
  private validateFetch(fetchOffset: number, lastFetchedEpoch: number): FetchValidation {
    const log = this.readLog();
    const snapshot = log.latestSnapshot();
    if (fetchOffset === 0 && this.logStart === 0) return { kind: 'valid' };
    if (snapshot && (fetchOffset < this.logStart || lastFetchedEpoch < snapshot.epoch))
      return { kind: 'snapshot', snapshotId: snapshot };
    if (snapshot && fetchOffset === this.logStart)
      return lastFetchedEpoch === snapshot.epoch ? { kind: 'valid' } : { kind: 'snapshot', snapshotId: snapshot };
    const end = log.endOffsetForEpoch(lastFetchedEpoch);
    if (end.epoch !== lastFetchedEpoch || end.offset < fetchOffset)
      return { kind: 'diverging', epoch: end.epoch, endOffset: end.offset };
    return { kind: 'valid' };
  }

  private answerFetch(to: number, correlationId: number, req: FetchRequest): void {
    const s = this.state;
    if (s.name !== 'leader') return;
    // A held fetch may have fallen below the log start since (a snapshot moved it).
    const snapshot = this.readLog().latestSnapshot();
    if (snapshot && req.fetchOffset < this.logStart) {
      this.send(to, correlationId, this.fetchResponse(s.highWatermark, [], null, snapshot));
      return;
    }
    const records =
      req.fetchOffset < this.logEnd ? this.readLog().read(req.fetchOffset, this.config.maxFetchEntries) : [];
    const replica = s.replicas.get(to);
    if (replica) replica.highWatermarkSent = s.highWatermark;
    this.send(to, correlationId, this.fetchResponse(s.highWatermark, records, null));
  }

  private fetchResponse(
    highWatermark: number,
    records: LogEntry[],
    divergingEpoch: FetchResponse['divergingEpoch'],
    snapshotId: OffsetAndEpoch | null = null,
  ): FetchResponse {
    return {
      type: 'FetchResponse',
      errorCode: ErrorCode.NONE,
      highWatermark,
      divergingEpoch,
      currentLeader: { leaderId: this.config.nodeId, leaderEpoch: this.epoch },
      snapshotId,
      logStartOffset: this.logStart,
      records,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // FetchSnapshot: the leader's side

  private onFetchSnapshotRequest(from: number, correlationId: number, req: FetchSnapshotRequest): void {
    const s = this.state;
    const answer = (errorCode: number, size = -1, bytes: Buffer = Buffer.alloc(0)) =>
      this.send(from, correlationId, {
        type: 'FetchSnapshotResponse',
        errorCode,
        snapshotId: { ...req.snapshotId },
        currentLeader: { leaderId: this.leaderId(), leaderEpoch: this.epoch },
        size,
        position: errorCode === ErrorCode.NONE ? req.position : -1,
        bytes,
      });
    if (req.currentLeaderEpoch < this.epoch) return answer(ErrorCode.FENCED_LEADER_EPOCH);
    if (req.currentLeaderEpoch > this.epoch) return answer(ErrorCode.UNKNOWN_LEADER_EPOCH);
    if (s.name !== 'leader') return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (req.replicaId !== from || req.position < 0) return answer(ErrorCode.INVALID_REQUEST);
    // Reading a snapshot counts as fetching (Kafka's check-quorum does the same).
    if (this.voters.has(from)) s.fetchedSinceCheck.add(from);
    const maxBytes = Math.max(1, Math.min(req.maxBytes, this.config.maxSnapshotChunkBytes));
    const chunk = this.readLog().readSnapshot(req.snapshotId, req.position, maxBytes);
    if (!chunk) return answer(ErrorCode.SNAPSHOT_NOT_FOUND);
    if (req.position >= chunk.size) return answer(ErrorCode.POSITION_OUT_OF_RANGE);
    answer(ErrorCode.NONE, chunk.size, chunk.bytes);
  }

  private completeParkedFetches(): void {
    const s = this.state;
    if (s.name !== 'leader' || this.wroteLog) return; // after a write, the next step answers them
    for (const [id, p] of s.parked) {
      if (
        this.nowMs >= p.deadlineMs ||
        this.logEnd > p.request.fetchOffset ||
        s.highWatermark !== p.highWatermarkAtPark
      ) {
        s.parked.delete(id);
        this.answerFetch(p.from, p.correlationId, p.request);
      }
    }
  }

  /** The largest offset a majority of voters hold durably, once it is past the epoch's start. */
  private maybeAdvanceLeaderHighWatermark(): void {
    const s = this.state;
    if (s.name !== 'leader') return;
    const ends = [...this.voters]
      .map((v) => (v === this.config.nodeId ? this.persistedEnd : (s.replicas.get(v)?.endOffset ?? 0)))
      .sort((a, b) => b - a);
    const majorityEnd = ends[this.majority - 1];
    if (majorityEnd <= s.epochStartOffset || majorityEnd <= s.highWatermark) return;
    if (majorityEnd < this.highWatermark) {
      throw new RaftInvariantError(
        `leader ${this.nodeId} epoch ${this.epoch} would move the high watermark back from ${this.highWatermark} to ${majorityEnd}`,
      );
    }
    s.highWatermark = majorityEnd;
    this.highWatermark = majorityEnd;
  }

  // ---------------------------------------------------------------------------------------------
  // Fetch: the follower's side

  private onFetchResponse(from: number, correlationId: number, res: FetchResponse): void {
    const inflight = this.inflightFetch;
    if (!inflight || inflight.to !== from || inflight.correlationId !== correlationId) return; // stale or duplicate
    this.inflightFetch = null;
    if (this.learnEpochAndLeader(res.currentLeader.leaderEpoch, res.currentLeader.leaderId)) return;
    const s = this.state;
    if (s.name !== 'follower' || from !== this.election.leaderId || res.currentLeader.leaderEpoch !== this.epoch)
      return;
    if (res.errorCode !== ErrorCode.NONE) {
      s.retryAtMs = this.nowMs + this.config.retryBackoffMs;
      return;
    }
    s.fetchDeadlineMs = this.nowMs + this.config.fetchTimeoutMs;
    s.leaderResigned = false;
    if (inflight.fetchOffset !== this.logEnd || inflight.snapshotPosition !== undefined) return; // our log moved since we asked
    if (res.snapshotId) {
      if (res.snapshotId.offset < this.highWatermark) {
        throw new RaftInvariantError(
          `node ${this.nodeId}: leader ${from} epoch ${this.epoch} sent snapshot ${res.snapshotId.offset}@${res.snapshotId.epoch}, below the high watermark ${this.highWatermark}`,
        );
      }
      s.snapshotFetch = { id: { ...res.snapshotId }, chunks: [], position: 0 };
      return; // poll sends the first FetchSnapshot
    }
    if (res.divergingEpoch) {
      const target = this.truncationOffset(res.divergingEpoch.epoch, res.divergingEpoch.endOffset);
      if (target < this.highWatermark) {
        throw new RaftInvariantError(
          `node ${this.nodeId}: leader ${from} epoch ${this.epoch} asks to truncate to ${target}, below the high watermark ${this.highWatermark}`,
        );
      }
      this.truncateLog(target);
      return;
    }
    if (res.records.length > 0) {
      res.records.forEach((e, i) => {
        if (
          e.offset !== this.logEnd + i ||
          e.epoch > this.epoch ||
          e.epoch < (i === 0 ? this.lastEpoch : res.records[i - 1].epoch)
        ) {
          throw new RaftInvariantError(
            `node ${this.nodeId}: leader ${from} sent entry ${e.offset}@${e.epoch} that does not continue the log at ${this.logEnd}@${this.lastEpoch}`,
          );
        }
      });
      this.appendToLog(res.records);
    }
    if (res.highWatermark >= 0)
      this.highWatermark = Math.max(this.highWatermark, Math.min(res.highWatermark, this.logEnd));
  }

  // ---------------------------------------------------------------------------------------------
  // FetchSnapshot: the follower's side

  private onFetchSnapshotResponse(from: number, correlationId: number, res: FetchSnapshotResponse): void {
    const inflight = this.inflightFetch;
    if (!inflight || inflight.to !== from || inflight.correlationId !== correlationId) return;
    if (inflight.snapshotPosition === undefined) return;
    this.inflightFetch = null;
    if (this.learnEpochAndLeader(res.currentLeader.leaderEpoch, res.currentLeader.leaderId)) return;
    const s = this.state;
    if (s.name !== 'follower' || from !== this.election.leaderId) return;
    const fetch = s.snapshotFetch;
    if (!fetch || inflight.snapshotPosition !== fetch.position) return;
    if (res.errorCode !== ErrorCode.NONE) {
      // SNAPSHOT_NOT_FOUND (the leader has a newer one) and the rest, also a top-level error that names
      // no leader (Kafka 4.1 answers a missing snapshot so): back to Fetch, which names the current one.
      s.snapshotFetch = null;
      s.retryAtMs = this.nowMs + this.config.retryBackoffMs;
      return;
    }
    if (res.currentLeader.leaderEpoch !== this.epoch) return;
    s.fetchDeadlineMs = this.nowMs + this.config.fetchTimeoutMs;
    s.leaderResigned = false;
    const sameSnapshot = res.snapshotId.offset === fetch.id.offset && res.snapshotId.epoch === fetch.id.epoch;
    if (!sameSnapshot || res.position !== fetch.position || res.bytes.length === 0 || res.size < 0) {
      s.snapshotFetch = null;
      s.retryAtMs = this.nowMs + this.config.retryBackoffMs;
      return;
    }
    fetch.chunks.push(res.bytes);
    fetch.position += res.bytes.length;
    if (fetch.position < res.size) return; // poll asks for the next chunk
    s.snapshotFetch = null;
    this.installSnapshot(fetch.id, Buffer.concat(fetch.chunks, res.size).subarray(0, res.size));
  }

  /** Replaces the log with the snapshot: everything below its end offset is committed, and applied from it. */
  private installSnapshot(id: OffsetAndEpoch, data: Buffer): void {
    if (id.offset < this.highWatermark || id.offset < this.applied) {
      throw new RaftInvariantError(
        `node ${this.nodeId}: installing snapshot ${id.offset}@${id.epoch} below the high watermark ${this.highWatermark}`,
      );
    }
    this.emit({ kind: 'installSnapshot', snapshotId: { ...id }, data });
    this.wroteLog = true;
    this.logStart = id.offset;
    this.logEnd = id.offset;
    this.lastEpoch = id.epoch;
    this.persistedEnd = id.offset;
    this.highWatermark = id.offset;
    this.applied = id.offset;
  }

  /** Kafka's truncateToEndOffset: where a follower's log stops matching the leader's. */
  private truncationOffset(leaderEpoch: number, leaderEndOffset: number): number {
    if (leaderEpoch === 0) return Math.min(leaderEndOffset, this.logEnd);
    const local: OffsetAndEpoch = this.readLog().endOffsetForEpoch(leaderEpoch);
    return local.epoch === leaderEpoch ? Math.min(local.offset, leaderEndOffset) : local.offset;
  }

  private maybeSendFetch(): void {
    const s = this.state;
    if (s.name !== 'follower') return;
    if (
      this.inflightFetch &&
      this.nowMs - this.inflightFetch.sentMs < this.config.requestTimeoutMs + this.config.fetchMaxWaitMs
    )
      return;
    if (this.nowMs < s.retryAtMs || this.persistedEnd < this.logEnd) return; // report only durable offsets
    const correlationId = this.correlationId();
    const leaderId = this.election.leaderId;
    if (s.snapshotFetch) {
      const { id, position } = s.snapshotFetch;
      this.inflightFetch = {
        to: leaderId,
        correlationId,
        sentMs: this.nowMs,
        fetchOffset: this.logEnd,
        snapshotPosition: position,
      };
      this.send(leaderId, correlationId, {
        type: 'FetchSnapshotRequest',
        clusterId: this.config.clusterId,
        replicaId: this.config.nodeId,
        currentLeaderEpoch: this.epoch,
        snapshotId: { ...id },
        position,
        maxBytes: this.config.maxSnapshotChunkBytes,
      });
      return;
    }
    this.inflightFetch = { to: leaderId, correlationId, sentMs: this.nowMs, fetchOffset: this.logEnd };
    this.send(leaderId, correlationId, {
      type: 'FetchRequest',
      clusterId: this.config.clusterId,
      replicaId: this.config.nodeId,
      maxWaitMs: this.config.fetchMaxWaitMs,
      currentLeaderEpoch: this.epoch,
      fetchOffset: this.logEnd,
      lastFetchedEpoch: this.lastEpoch,
    });
  }

  /** An observer with no leader asks a random voter; the answer names the leader. */
  private maybeDiscoverLeader(): void {
    if (this.isVoter || this.nowMs < this.discoveryAtMs) return;
    if (this.inflightFetch && this.nowMs - this.inflightFetch.sentMs < this.config.requestTimeoutMs) return;
    const voters = this.config.voters;
    const to = voters[Math.floor(this.random.next() * voters.length)];
    const correlationId = this.correlationId();
    this.inflightFetch = { to, correlationId, sentMs: this.nowMs, fetchOffset: this.logEnd };
    this.discoveryAtMs = this.nowMs + this.config.retryBackoffMs * 10;
    this.send(to, correlationId, {
      type: 'FetchRequest',
      clusterId: this.config.clusterId,
      replicaId: this.config.nodeId,
      maxWaitMs: 0,
      currentLeaderEpoch: this.epoch,
      fetchOffset: this.logEnd,
      lastFetchedEpoch: this.lastEpoch,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Timers: checked after every event

  private poll(): void {
    const s = this.state;
    const now = this.nowMs;
    switch (s.name) {
      case 'unattached':
      case 'voted':
        if (!this.isVoter) this.maybeDiscoverLeader();
        else if (now >= s.electionDeadlineMs) this.startElection();
        return;
      case 'follower':
        if (now >= s.fetchDeadlineMs) {
          if (this.isVoter) this.startElection();
          else this.toUnattached(this.epoch);
          return;
        }
        this.maybeSendFetch();
        return;
      case 'prospective':
      case 'candidate': {
        if (s.backoffUntilMs === null && now >= s.electionDeadlineMs)
          s.backoffUntilMs = now + this.electionBackoffMs(s.retries);
        if (s.backoffUntilMs !== null && now >= s.backoffUntilMs) {
          if (s.name === 'candidate') this.toCandidate(s.retries + 1);
          else this.toProspective(s.retries + 1);
          return;
        }
        this.requestVotes(s.name === 'prospective');
        return;
      }
      case 'leader': {
        if (s.fetchedSinceCheck.size + 1 >= this.majority) {
          s.fetchedSinceCheck.clear();
          s.checkQuorumDeadlineMs = now + this.checkQuorumTimeoutMs();
        } else if (now >= s.checkQuorumDeadlineMs) {
          // Check-quorum: a leader a majority no longer fetches from may be partitioned away.
          this.toResigned(this.successorsByProgress());
          return;
        }
        for (const v of this.voters) {
          if (v === this.config.nodeId || s.replicas.has(v)) continue;
          const sent = s.beginEpochSent.get(v);
          if (sent && now - sent.sentMs < this.config.requestTimeoutMs) continue;
          this.sendBeginQuorumEpoch(v);
        }
        this.completeParkedFetches();
        return;
      }
      case 'resigned':
        if (now >= s.electionDeadlineMs) {
          this.toCandidate(1);
          return;
        }
        this.sendEndQuorumEpochs();
        return;
    }
  }

  /** To every voter that has not acknowledged the resignation yet (again after the request timeout). */
  private sendEndQuorumEpochs(): void {
    const s = this.state;
    if (s.name !== 'resigned') return;
    for (const [v, sent] of s.unacked) {
      if (sent && this.nowMs - sent.sentMs < this.config.requestTimeoutMs) continue;
      const correlationId = this.correlationId();
      s.unacked.set(v, { correlationId, sentMs: this.nowMs });
      this.send(v, correlationId, {
        type: 'EndQuorumEpochRequest',
        clusterId: this.config.clusterId,
        leaderId: this.config.nodeId,
        leaderEpoch: this.epoch,
        preferredSuccessors: s.preferredSuccessors,
      });
    }
  }

  private startElection(): void {
    if (this.config.preVote) this.toProspective(1);
    else this.toCandidate(1);
  }

  private requestVotes(preVote: boolean): void {
    const s = this.state;
    if (s.name !== 'candidate' && s.name !== 'prospective') return;
    for (const v of this.voters) {
      if (v === this.config.nodeId || s.granted.has(v) || s.rejected.has(v)) continue;
      const sent = s.inflight.get(v);
      if (sent && this.nowMs - sent.sentMs < this.config.requestTimeoutMs) continue;
      const correlationId = this.correlationId();
      s.inflight.set(v, { correlationId, sentMs: this.nowMs });
      this.send(v, correlationId, {
        type: 'VoteRequest',
        clusterId: this.config.clusterId,
        voterId: v,
        candidateEpoch: preVote ? this.epoch + 1 : this.epoch,
        candidateId: this.config.nodeId,
        lastOffsetEpoch: this.lastEpoch,
        lastOffset: this.logEnd,
        preVote,
        replicaEpoch: preVote ? this.epoch : this.epoch - 1,
      });
    }
  }

  private sendBeginQuorumEpoch(v: number): void {
    const s = this.state;
    if (s.name !== 'leader') return;
    const correlationId = this.correlationId();
    s.beginEpochSent.set(v, { correlationId, sentMs: this.nowMs });
    this.send(v, correlationId, {
      type: 'BeginQuorumEpochRequest',
      clusterId: this.config.clusterId,
      voterId: v,
      leaderId: this.config.nodeId,
      leaderEpoch: this.epoch,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Transitions

  /**
   * What every message teaches: a higher epoch (with its leader, if named), or the leader of our
   * epoch. Returns true when this moved the node to another state.
   */
  private learnEpochAndLeader(epoch: number, leaderId: number): boolean {
    const self = this.config.nodeId;
    if (epoch > this.epoch) {
      if (leaderId === self)
        throw new RaftInvariantError(`node ${self} told it leads epoch ${epoch}, which it never reached`);
      if (leaderId !== NO_LEADER) this.toFollower(epoch, leaderId);
      else this.toUnattached(epoch);
      return true;
    }
    if (epoch < this.epoch || leaderId === NO_LEADER || leaderId === self) return false;
    const s = this.state.name;
    if (s === 'leader' || s === 'resigned') {
      throw new RaftInvariantError(`two leaders in epoch ${epoch}: node ${self} and node ${leaderId}`);
    }
    if (s === 'follower') {
      if (this.election.leaderId !== leaderId) {
        throw new RaftInvariantError(
          `two leaders in epoch ${epoch}: node ${this.election.leaderId} and node ${leaderId}`,
        );
      }
      return false;
    }
    this.toFollower(epoch, leaderId);
    return true;
  }

  private persistElection(next: ElectionState): void {
    const cur = this.election;
    if (cur.epoch === next.epoch && cur.leaderId === next.leaderId && cur.votedId === next.votedId) return;
    if (next.epoch < cur.epoch)
      throw new RaftInvariantError(`node ${this.nodeId}: epoch would go back from ${cur.epoch} to ${next.epoch}`);
    if (next.epoch === cur.epoch && cur.votedId !== NO_LEADER && next.votedId !== cur.votedId) {
      throw new RaftInvariantError(
        `node ${this.nodeId}: vote in epoch ${cur.epoch} would change from ${cur.votedId} to ${next.votedId}`,
      );
    }
    this.election = { ...next };
    this.emit({ kind: 'persistElectionState', state: { ...next } });
  }

  private enter(state: State): void {
    this.state = state;
    this.inflightFetch = null;
    this.emit({ kind: 'stateChanged', state: state.name, epoch: this.epoch, leaderId: this.leaderId() });
  }

  private toUnattached(epoch: number): void {
    const votedId = epoch === this.epoch ? this.election.votedId : NO_LEADER;
    this.persistElection({ epoch, leaderId: NO_LEADER, votedId });
    this.discoveryAtMs = this.nowMs;
    // As Kafka does, a node without a leader keeps its running election timer when the epoch
    // moves: otherwise a candidate with a stale log, bumping the epoch again and again, would keep
    // every other voter from ever timing out and standing (found by the simulator).
    const s = this.state;
    const leaderless =
      s.name === 'unattached' || s.name === 'voted' || s.name === 'candidate' || s.name === 'prospective';
    const electionDeadlineMs = leaderless ? s.electionDeadlineMs : this.nowMs + this.randomElectionTimeoutMs();
    this.enter(
      votedId === NO_LEADER ? { name: 'unattached', electionDeadlineMs } : { name: 'voted', electionDeadlineMs },
    );
  }

  private toVoted(candidateId: number): void {
    this.persistElection({ epoch: this.epoch, leaderId: NO_LEADER, votedId: candidateId });
    this.enter({ name: 'voted', electionDeadlineMs: this.nowMs + this.randomElectionTimeoutMs() });
  }

  private toFollower(epoch: number, leaderId: number): void {
    const votedId = epoch === this.epoch ? this.election.votedId : NO_LEADER;
    this.persistElection({ epoch, leaderId, votedId });
    this.enter(this.followerState());
    this.maybeSendFetch();
  }

  private followerState(): State {
    return {
      name: 'follower',
      fetchDeadlineMs: this.nowMs + this.config.fetchTimeoutMs,
      retryAtMs: 0,
      leaderResigned: false,
      snapshotFetch: null,
    };
  }

  private newRound(): ElectionRound {
    return {
      granted: new Set([this.config.nodeId]),
      rejected: new Set(),
      inflight: new Map(),
      electionDeadlineMs: this.nowMs + this.randomElectionTimeoutMs(),
      backoffUntilMs: null,
    };
  }

  private toProspective(retries: number): void {
    this.enter({ name: 'prospective', retries, ...this.newRound() });
    if (this.majority === 1) return this.toCandidate(retries);
    this.requestVotes(true);
  }

  private toCandidate(retries: number): void {
    if (!this.isVoter) throw new RaftInvariantError(`observer ${this.nodeId} cannot be a candidate`);
    const self = this.config.nodeId;
    this.persistElection({ epoch: this.epoch + 1, leaderId: NO_LEADER, votedId: self });
    this.enter({ name: 'candidate', retries, ...this.newRound() });
    if (this.majority === 1) return this.toLeader();
    this.requestVotes(false);
  }

  private toLeader(): void {
    const s = this.state;
    if (s.name !== 'candidate' || s.granted.size < this.majority)
      throw new RaftInvariantError(`node ${this.nodeId} became leader without a majority`);
    const self = this.config.nodeId;
    const granting = [...s.granted].sort((a, b) => a - b);
    this.persistElection({ epoch: this.epoch, leaderId: self, votedId: self });
    const epochStartOffset = this.logEnd;
    this.enter({
      name: 'leader',
      epochStartOffset,
      highWatermark: -1,
      replicas: new Map(),
      checkQuorumDeadlineMs: this.nowMs + this.checkQuorumTimeoutMs(),
      fetchedSinceCheck: new Set(),
      parked: new Map(),
      beginEpochSent: new Map(),
    });
    // Kafka's LeaderChangeMessage: committing it commits every earlier entry (Raft's rule that a
    // leader commits only entries of its own epoch).
    this.appendToLog([
      {
        offset: epochStartOffset,
        epoch: this.epoch,
        record: { type: 'leaderChange', leaderId: self, voters: [...this.config.voters], grantingVoters: granting },
      },
    ]);
    for (const v of this.voters) if (v !== self) this.sendBeginQuorumEpoch(v);
  }

  private toResigned(preferredSuccessors: number[]): void {
    const unacked = new Map<number, Inflight | null>();
    for (const v of this.voters) if (v !== this.config.nodeId) unacked.set(v, null);
    this.enter({
      name: 'resigned',
      electionDeadlineMs: this.nowMs + this.randomElectionTimeoutMs(),
      preferredSuccessors,
      unacked,
    });
    this.sendEndQuorumEpochs();
  }

  /** Voters other than this one, most caught up first: the best successors after a resignation. */
  private successorsByProgress(): number[] {
    const s = this.state;
    const end = (v: number) => (s.name === 'leader' ? (s.replicas.get(v)?.endOffset ?? -1) : -1);
    return [...this.voters].filter((v) => v !== this.config.nodeId).sort((a, b) => end(b) - end(a) || a - b);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private leaderId(): number {
    const s = this.state.name;
    return s === 'leader' || s === 'follower' || s === 'resigned' ? this.election.leaderId : NO_LEADER;
  }

  private hasLiveLeader(): boolean {
    const s = this.state;
    if (s.name === 'leader') return true;
    return s.name === 'follower' && !s.leaderResigned && this.nowMs < s.fetchDeadlineMs;
  }

  private randomElectionTimeoutMs(): number {
    return this.config.electionTimeoutMs + Math.floor(this.random.next() * this.config.electionTimeoutMs);
  }

  /** Randomized binary exponential backoff, capped by quorum.election.backoff.max.ms. */
  private electionBackoffMs(retries: number): number {
    const cap = Math.min(this.config.electionBackoffMaxMs, this.config.retryBackoffMs * 2 ** Math.min(retries, 20));
    return Math.floor(this.random.next() * cap) + 1;
  }

  private endEpochBackoffMs(preferredSuccessors: number[]): number {
    const position = preferredSuccessors.indexOf(this.config.nodeId);
    if (position < 0) return this.randomElectionTimeoutMs();
    if (position === 0) return 0;
    return Math.min(this.config.electionBackoffMaxMs, this.config.retryBackoffMs * 2 ** position);
  }

  private checkQuorumTimeoutMs(): number {
    return Math.floor(this.config.fetchTimeoutMs * 1.5);
  }

  private correlationId(): number {
    this.nextCorrelationId = (this.nextCorrelationId + 1) % 2 ** 31;
    return this.nextCorrelationId;
  }

  private send(to: number, correlationId: number, message: RaftMessage): void {
    this.emit({ kind: 'send', to, correlationId, message });
  }

  private emit(action: RaftAction): void {
    this.out.push(action);
  }

  /** The log, for reading; after this step wrote to it, the host has not applied the write yet. */
  private readLog(): RaftLogReader {
    if (this.wroteLog) throw new RaftInvariantError('the log was read after a write in the same step');
    return this.log;
  }

  private appendToLog(entries: LogEntry[]): void {
    this.emit({ kind: 'append', entries });
    this.wroteLog = true;
    this.logEnd += entries.length;
    this.lastEpoch = entries[entries.length - 1].epoch;
  }

  private truncateLog(offset: number): void {
    if (offset < this.logStart)
      throw new RaftInvariantError(
        `node ${this.nodeId}: truncation to ${offset}, below the log start ${this.logStart}`,
      );
    const epochBefore = offset > 0 ? this.readLog().epochAt(offset - 1)! : 0;
    this.emit({ kind: 'truncate', offset });
    this.wroteLog = true;
    this.logEnd = offset;
    this.lastEpoch = epochBefore;
    this.persistedEnd = Math.min(this.persistedEnd, offset);
  }

  private maybeApply(): void {
    if (this.wroteLog || this.highWatermark <= this.applied) return;
    const entries = this.log.read(this.applied, this.highWatermark - this.applied);
    if (entries.length !== this.highWatermark - this.applied) {
      throw new RaftInvariantError(
        `node ${this.nodeId}: high watermark ${this.highWatermark} is past the log end ${this.logEnd}`,
      );
    }
    this.applied = this.highWatermark;
    this.emit({ kind: 'apply', entries, highWatermark: this.highWatermark });
  }
}
