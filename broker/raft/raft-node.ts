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

import type { Logger } from 'pino';
import type { Clock, Timer } from '../clock.js';
import { SeededRandom } from '../random.js';
import type { DiskRaftLog } from './disk-log.js';
import type { LogEntry } from './log.js';
import { isRequest, type RaftRequest, type RaftResponse } from './messages.js';
import { RaftQuorum } from './quorum.js';
import { readQuorumState, writeQuorumState } from './quorum-state.js';
import type { ElectionState, QuorumView, RaftAction, RaftConfig, RaftEvent, StateName } from './types.js';

/** How often time is brought to the state machine; its timeouts are hundreds of ms. */
const TICK_MS = 50;

export interface RaftTransport {
  /** Sends a request to a peer; resolves with its answer, rejects when there is none. */
  request(to: number, message: RaftRequest): Promise<RaftResponse>;
}

export interface RaftListener {
  /** Committed entries, in order, each once; `highWatermark` is the commit point. */
  apply(entries: readonly LogEntry[], highWatermark: number): void;
  stateChanged(state: StateName, epoch: number, leaderId: number): void;
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
  /** Bumped by every truncation: a flush begun before one must not report offsets durable. */
  private logGeneration = 0;
  private flushing = false;
  private flushAgain = false;
  /** Entries below it reached the listener already (in this or an earlier state machine). */
  private appliedOffset = 0;

  private constructor(
    private readonly config: RaftConfig,
    private readonly log: DiskRaftLog,
    private readonly stateDir: string,
    stored: ElectionState | null,
    private readonly transport: RaftTransport,
    private readonly listener: RaftListener,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.quorum = this.newQuorum(stored);
  }

  static async start(
    config: RaftConfig,
    log: DiskRaftLog,
    transport: RaftTransport,
    listener: RaftListener,
    clock: Clock,
    logger: Logger,
  ): Promise<RaftNode> {
    const stored = await readQuorumState(log.dir);
    const node = new RaftNode(config, log, log.dir, stored, transport, listener, clock, logger);
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
        case 'send':
          this.send(a.to, a.correlationId, a.message);
          break;
        case 'apply': {
          const fresh = a.entries.filter((e) => e.offset >= this.appliedOffset);
          if (fresh.length > 0) {
            this.appliedOffset = fresh[fresh.length - 1].offset + 1;
            this.listener.apply(fresh, a.highWatermark);
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
    this.transport.request(to, message).then(
      (response) =>
        this.enqueue(() => ({
          kind: 'receive',
          nowMs: this.clock.nowMs(),
          from: to,
          correlationId,
          message: response,
        })),
      (err: unknown) => this.logger.debug({ err, to, request: message.type }, 'quorum request failed'),
    );
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
