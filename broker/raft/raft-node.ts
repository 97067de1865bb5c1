// The host of the quorum state machine (quorum.ts) on a real node: it feeds events to `step` one
// at a time — clock ticks, requests from peers (through the API handlers), responses to its own
// requests, fsync completions, proposals from the active controller — and performs the returned
// actions in order before the next event: election state to the quorum-state file, appends and
// truncations to the metadata log on disk, messages over the network, committed entries to the
// metadata publisher.
//
// A failed disk write is handled like a crash of the quorum: pending proposals fail, the log is
// reopened (recovery drops a torn tail) and a new state machine starts from what is on disk and
// the stored election state, which the simulator proves safe. Entries applied before are not
// applied again (`appliedOffset`).
//
// Snapshots: once `maxRecordBytesBetweenSnapshots` bytes of records were applied since the last
// snapshot, or `maxSnapshotIntervalMs` passed with new records, the host asks the listener for
// its state as of the last applied entry, writes it as `<offset>-<epoch>.checkpoint` (durably)
// and reports it to the state machine, which moves the log start there (deleteLogBefore). A
// snapshot fetched from the leader (installSnapshot) replaces the log and the listener's state.

import type { Logger } from 'pino';
import type { Clock, Timer } from '../clock.js';
import { SeededRandom } from '../random.js';
import type { DiskRaftLog } from './disk-log.js';
import type { LogEntry, OffsetAndEpoch } from './log.js';
import { isRequest, type RaftRequest, type RaftResponse } from './messages.js';
import { RaftQuorum } from './quorum.js';
import { readQuorumState, writeQuorumState } from './quorum-state.js';
import type { ElectionState, QuorumView, RaftAction, RaftConfig, RaftEvent, StateName } from './types.js';

/** How often time is brought to the state machine; its timeouts are hundreds of ms. */
const TICK_MS = 50;
const SHUTDOWN_POLL_MS = 10;

export interface RaftTransport {
  /** Sends a request to a peer; resolves with its answer, rejects when there is none. */
  request(to: number, message: RaftRequest): Promise<RaftResponse>;
}

export interface RaftListener {
  /** Committed entries, in order, each once; `highWatermark` is the commit point. */
  apply(entries: readonly LogEntry[], highWatermark: number): void;
  stateChanged(state: StateName, epoch: number, leaderId: number): void;
  /** The state as of the last entry applied, as snapshot bytes whose batches carry `epoch`. */
  snapshot(epoch: number): Buffer;
  /** Replaces the state with a snapshot's (fetched from the leader), as of its end offset. */
  loadSnapshot(data: Buffer, snapshotId: OffsetAndEpoch): void;
}

/** When to snapshot (metadata.log.max.record.bytes.between.snapshots, metadata.log.max.snapshot.interval.ms). */
export interface SnapshotPolicy {
  maxRecordBytesBetweenSnapshots: number;
  /** 0: never by time. */
  maxSnapshotIntervalMs: number;
  /** The size an entry takes in the log, counted towards maxRecordBytesBetweenSnapshots. */
  entryBytes(entry: LogEntry): number;
}

export class NotLeaderError extends Error {
  constructor(readonly leaderId: number) {
    super(leaderId >= 0 ? `not the quorum leader; node ${leaderId} is` : 'the quorum has no leader at the moment');
  }
}

interface PendingProposal {
  resolve: (offsets: { baseOffset: number; lastOffset: number }) => void;
  reject: (err: Error) => void;
}

interface PendingAnswer {
  resolve: (r: RaftResponse) => void;
  timer: Timer;
}

export class RaftNode {
  private quorum: RaftQuorum;
  private loop: Promise<void> = Promise.resolve();
  private tickQueued = false;
  private ticker: Timer | undefined;
  private stopped = false;
  /** Proposals handed to the state machine, answered in order by `proposed` / `proposalRejected`. */
  private readonly proposals: PendingProposal[] = [];
  private readonly answers = new Map<string, PendingAnswer>();
  private nextInboundId = 1;
  /** This node's requests to peers not answered (or failed) yet. */
  private requestsInFlight = 0;
  /** Bumped by every truncation: a flush begun before one must not report offsets durable. */
  private logGeneration = 0;
  private flushing = false;
  private flushAgain = false;
  /** Entries below it reached the listener already (in this or an earlier state machine). */
  private appliedOffset: number;
  /** Bytes of records applied since the last snapshot, and when that was. */
  private bytesSinceSnapshot = 0;
  private lastSnapshotMs: number;
  private snapshotting = false;

  private constructor(
    private readonly config: RaftConfig,
    private readonly log: DiskRaftLog,
    private readonly stateDir: string,
    stored: ElectionState | null,
    private readonly transport: RaftTransport,
    private readonly listener: RaftListener,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly snapshots: SnapshotPolicy | null,
  ) {
    this.appliedOffset = log.startOffset(); // the listener loaded the snapshot the log starts at
    this.lastSnapshotMs = clock.nowMs();
    this.quorum = this.newQuorum(stored);
  }

  static async start(
    config: RaftConfig,
    log: DiskRaftLog,
    transport: RaftTransport,
    listener: RaftListener,
    clock: Clock,
    logger: Logger,
    snapshots: SnapshotPolicy | null = null,
  ): Promise<RaftNode> {
    const stored = await readQuorumState(log.dir);
    const node = new RaftNode(config, log, log.dir, stored, transport, listener, clock, logger, snapshots);
    node.ticker = clock.every(TICK_MS, () => node.tick());
    node.tick();
    return node;
  }

  private newQuorum(stored: ElectionState | null): RaftQuorum {
    const seed = (this.config.nodeId * 7919 + this.clock.nowMs()) >>> 0;
    return new RaftQuorum(this.config, this.log, stored, new SeededRandom(seed), this.clock.nowMs());
  }

  view(): QuorumView {
    return this.quorum.view();
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  get voters(): readonly number[] {
    return this.config.voters;
  }

  /** Appends records on the leader; resolves with their offsets once appended (not yet committed). */
  propose(records: unknown[]): Promise<{ baseOffset: number; lastOffset: number }> {
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(new NotLeaderError(-1));
      this.enqueue(() => {
        this.proposals.push({ resolve, reject });
        return { kind: 'propose', nowMs: this.clock.nowMs(), records };
      });
    });
  }

  /** Answers a request from a peer, as the state machine does (a Fetch may be held, long poll). */
  handle(from: number, message: RaftRequest, timeoutMs: number): Promise<RaftResponse | null> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve(null);
      const correlationId = this.nextInboundId++;
      const key = `${from}:${correlationId}`;
      const timer = this.clock.after(timeoutMs, () => {
        this.answers.delete(key);
        resolve(null);
      });
      this.answers.set(key, { resolve, timer });
      this.enqueue(() => ({
        kind: 'receive',
        nowMs: this.clock.nowMs(),
        from,
        correlationId: -correlationId,
        message,
      }));
    });
  }

  /** Graceful shutdown of a leader: hand over with EndQuorumEpoch before going. */
  resign(): Promise<void> {
    this.enqueue(() => ({ kind: 'resign', nowMs: this.clock.nowMs() }));
    return this.loop;
  }

  /**
   * Graceful shutdown of a voter: a leader resigns, and the node stops taking part once its
   * EndQuorumEpoch requests were answered (or `waitMs` passed) — so the others elect at once
   * instead of after a fetch timeout, and a resigned node cannot win an election on its way out.
   */
  async leave(waitMs: number): Promise<void> {
    await this.resign();
    const deadline = this.clock.nowMs() + waitMs;
    while (this.requestsInFlight > 0 && this.clock.nowMs() < deadline)
      await new Promise<void>((resolve) => this.clock.after(SHUTDOWN_POLL_MS, resolve));
    await this.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker?.cancel();
    await this.loop;
    for (const p of this.proposals.splice(0)) p.reject(new NotLeaderError(-1));
    for (const [key, a] of this.answers) {
      a.timer.cancel();
      a.resolve(null as unknown as RaftResponse);
      this.answers.delete(key);
    }
  }

  private tick(): void {
    if (this.tickQueued || this.stopped) return;
    this.tickQueued = true;
    this.enqueue(() => {
      this.tickQueued = false;
      return { kind: 'tick', nowMs: this.clock.nowMs() };
    });
    this.maybeSnapshot();
  }

  /** Writes a snapshot when enough was applied since the last one, or long enough ago with something new. */
  private maybeSnapshot(): void {
    const policy = this.snapshots;
    if (!policy || this.snapshotting || this.stopped) return;
    const bySize = this.bytesSinceSnapshot >= policy.maxRecordBytesBetweenSnapshots;
    const byTime =
      policy.maxSnapshotIntervalMs > 0 &&
      this.bytesSinceSnapshot > 0 &&
      this.clock.nowMs() - this.lastSnapshotMs >= policy.maxSnapshotIntervalMs;
    if (!bySize && !byTime) return;
    this.snapshotting = true;
    this.loop = this.loop.then(async () => {
      try {
        await this.writeSnapshot();
      } catch (err) {
        // Not again at every tick: the next try comes after as many bytes (or as long) again.
        this.bytesSinceSnapshot = 0;
        this.lastSnapshotMs = this.clock.nowMs();
        this.logger.error({ err }, 'could not write a metadata snapshot');
      } finally {
        this.snapshotting = false;
      }
    });
  }

  /** Runs in the event loop: the listener's state is exactly the entries below appliedOffset. */
  private async writeSnapshot(): Promise<void> {
    const offset = this.appliedOffset;
    // Only what this state machine applied (after a restart from disk it applies again from the log start).
    if (this.stopped || offset <= this.log.startOffset() || offset > this.quorum.view().appliedOffset) return;
    const epoch = this.log.epochAt(offset - 1);
    if (epoch === undefined) return;
    const snapshotId = { offset, epoch };
    const startedMs = this.clock.nowMs();
    const data = this.listener.snapshot(epoch);
    await this.log.writeSnapshot(snapshotId, data);
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotMs = this.clock.nowMs();
    this.logger.info(
      { offset, epoch, bytes: data.length, durationMs: this.clock.nowMs() - startedMs },
      'wrote a metadata snapshot',
    );
    try {
      await this.perform(this.quorum.step({ kind: 'snapshotWritten', nowMs: this.clock.nowMs(), snapshotId }));
    } catch (err) {
      await this.restartAfterFailure(err);
    }
  }

  /** Events are built when their turn comes, so they carry the time they are delivered at. */
  private enqueue(event: () => RaftEvent): void {
    this.loop = this.loop.then(async () => {
      if (this.stopped && this.proposals.length === 0 && this.answers.size === 0) return;
      const e = event();
      try {
        await this.perform(this.quorum.step(e));
      } catch (err) {
        await this.restartAfterFailure(err);
      }
    });
  }

  private async perform(actions: RaftAction[]): Promise<void> {
    for (const a of actions) {
      switch (a.kind) {
        case 'persistElectionState':
          await writeQuorumState(this.stateDir, a.state, this.config.voters);
          break;
        case 'append':
          await this.log.append(a.entries);
          this.scheduleFlush();
          break;
        case 'truncate':
          this.logGeneration++;
          await this.log.truncate(a.offset);
          break;
        case 'deleteLogBefore':
          await this.log.deleteBefore(a.snapshotId);
          break;
        case 'installSnapshot':
          this.logGeneration++;
          await this.log.installSnapshot(a.snapshotId, a.data);
          this.listener.loadSnapshot(a.data, a.snapshotId);
          this.appliedOffset = a.snapshotId.offset;
          this.bytesSinceSnapshot = 0;
          this.lastSnapshotMs = this.clock.nowMs();
          break;
        case 'send':
          this.send(a.to, a.correlationId, a.message);
          break;
        case 'apply': {
          const fresh = a.entries.filter((e) => e.offset >= this.appliedOffset);
          if (fresh.length > 0) {
            this.appliedOffset = fresh[fresh.length - 1].offset + 1;
            this.listener.apply(fresh, a.highWatermark);
            if (this.snapshots) for (const e of fresh) this.bytesSinceSnapshot += this.snapshots.entryBytes(e);
          }
          break;
        }
        case 'stateChanged':
          this.logger.info({ state: a.state, epoch: a.epoch, leaderId: a.leaderId }, 'quorum state changed');
          this.listener.stateChanged(a.state, a.epoch, a.leaderId);
          break;
        case 'proposed':
          this.proposals.shift()?.resolve({ baseOffset: a.baseOffset, lastOffset: a.lastOffset });
          break;
        case 'proposalRejected':
          this.proposals.shift()?.reject(new NotLeaderError(a.leaderId));
          break;
      }
    }
  }

  private send(to: number, correlationId: number, message: RaftRequest | RaftResponse): void {
    if (!isRequest(message)) {
      const key = `${to}:${-correlationId}`;
      const pending = this.answers.get(key);
      if (pending) {
        this.answers.delete(key);
        pending.timer.cancel();
        pending.resolve(message);
      }
      return;
    }
    this.requestsInFlight++;
    this.transport
      .request(to, message)
      .then(
        (response) =>
          this.enqueue(() => ({
            kind: 'receive',
            nowMs: this.clock.nowMs(),
            from: to,
            correlationId,
            message: response,
          })),
        (err: unknown) => this.logger.debug({ err, to, request: message.type }, 'quorum request failed'),
      )
      .finally(() => this.requestsInFlight--);
  }

  /** Fsyncs in the background, one flush at a time, and reports what became durable. */
  private scheduleFlush(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    const generation = this.logGeneration;
    this.log.flush().then(
      (endOffset) => {
        this.flushing = false;
        if (generation === this.logGeneration)
          this.enqueue(() => ({ kind: 'persisted', nowMs: this.clock.nowMs(), endOffset }));
        if (this.flushAgain) {
          this.flushAgain = false;
          this.scheduleFlush();
        }
      },
      (err: unknown) => {
        this.flushing = false;
        this.loop = this.loop.then(() => this.restartAfterFailure(err));
      },
    );
  }

  private async restartAfterFailure(err: unknown): Promise<void> {
    this.logger.error({ err }, 'the metadata log failed; restarting the quorum from what is on disk');
    const failure = new Error(
      `the metadata log could not be written: ${err instanceof Error ? err.message : String(err)}`,
    );
    // Whoever relied on this node leading learns it does not before anyone hears of the failure.
    this.listener.stateChanged('unattached', this.quorum.epoch, -1);
    for (const p of this.proposals.splice(0)) p.reject(failure);
    this.logGeneration++;
    await this.log.recover();
    this.quorum = this.newQuorum(await readQuorumState(this.stateDir));
    const view = this.quorum.view();
    this.listener.stateChanged(view.state, view.epoch, view.leaderId);
  }
}
