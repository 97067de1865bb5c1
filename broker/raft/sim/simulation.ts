// A deterministic simulation of a KRaft quorum: voters (and observers) running RaftQuorum over a
// fake network, fake disks and a fake clock, all driven by one seeded random source. A schedule
// has a fault phase (message loss, delay, reordering, duplication, symmetric and asymmetric
// partitions, crashes — also in the middle of performing a step's actions — and restarts that keep
// only what was fsynced, graceful resignations) and then a calm phase, in which a leader must be
// elected and a proposal committed and applied everywhere within a bound. Safety is checked after
// every step (invariants.ts); the first violation stops the run with the seed and the schedule.
//
// Snapshots: a node's state machine is the sequence of entries it applied ("epoch/record" keys);
// nodes snapshot it at random applied offsets and drop their log below (so a lagging node must
// catch up through FetchSnapshot), observers may lose their whole disk and start empty, and the
// leader snapshots at the start of the calm phase, so every node behind it installs a snapshot.

import { MemoryLog, type OffsetAndEpoch } from '../log.js';
import { isRequest } from '../messages.js';
import { RaftInvariantError, RaftQuorum } from '../quorum.js';
import { SeededRandom } from '../../random.js';
import type { ElectionState, RaftAction, RaftConfig, RaftEvent } from '../types.js';
import { entryKey, SafetyChecker, SafetyViolation } from './invariants.js';
import { CALM_NETWORK, FakeNetwork, type Envelope, type NetworkFaults } from './network.js';
import { EventQueue } from './queue.js';

export interface SimOptions {
  seed: number;
  voters: 1 | 3 | 5;
  observers: number;
  /** Steps (events handled) in the fault phase. */
  steps: number;
  preVote: boolean;
  network: NetworkFaults;
  /** Chance, per fault opportunity, of each fault. */
  crashRate: number;
  /** Chance that a node crashes part-way through performing one step's actions. */
  midStepCrashRate: number;
  partitionRate: number;
  resignRate: number;
  /** Chance, per fault opportunity, that a node snapshots its state machine and drops its log below. */
  snapshotRate: number;
  /** Chance, per fault opportunity, that an observer loses its whole disk and restarts empty. */
  wipeRate: number;
  /** How much simulated time the calm phase may take to elect a leader and commit. */
  livenessBoundMs: number;
  /** Keep the whole schedule (for --seed replays) instead of its tail. */
  fullTrace: boolean;
}

/** Timing scaled down from Kafka's defaults (1000/2000/1000/2000/20/500) so schedules are short. */
export const SIM_TIMING = {
  electionTimeoutMs: 150,
  fetchTimeoutMs: 300,
  electionBackoffMaxMs: 150,
  requestTimeoutMs: 200,
  retryBackoffMs: 5,
  fetchMaxWaitMs: 50,
  maxFetchEntries: 32,
  /** Small, so that snapshots travel in several chunks. */
  maxSnapshotChunkBytes: 256,
} as const;

const TICK_MS = 10;
const FAULT_INTERVAL_MS = 40;
const PROPOSE_INTERVAL_MS = 25;
const MAX_FLUSH_DELAY_MS = 20;
const TRACE_TAIL = 400;
const MAX_PENDING_ANSWERS = 4096;

export function defaultSimOptions(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  const r = new SeededRandom(seed ^ 0x5bd1e995);
  return {
    seed,
    voters: r.pick([3, 3, 5, 1] as const),
    observers: r.int(2),
    steps: 3000,
    preVote: r.chance(0.75),
    network: {
      lossRate: r.pick([0, 0.02, 0.1, 0.3]),
      duplicateRate: r.pick([0, 0.05, 0.2]),
      minDelayMs: 1,
      maxDelayMs: r.pick([5, 20, 80]),
    },
    crashRate: r.pick([0, 0.05, 0.15]),
    midStepCrashRate: r.pick([0, 0.002, 0.01]),
    partitionRate: r.pick([0, 0.05, 0.15]),
    resignRate: r.pick([0, 0.02]),
    snapshotRate: r.pick([0, 0.1, 0.3]),
    wipeRate: r.pick([0, 0.02]),
    livenessBoundMs: 6000,
    fullTrace: false,
    ...overrides,
  };
}

export interface SimResult {
  ok: boolean;
  seed: number;
  steps: number;
  simulatedMs: number;
  /** Epochs that had a leader, entries committed, and how long the calm phase took to commit again. */
  leaderEpochs: number;
  committed: number;
  /** Snapshots nodes wrote of their own state, and installed from a leader (FetchSnapshot). */
  snapshotsWritten: number;
  snapshotsInstalled: number;
  recoveryMs: number | null;
  violation?: string;
  trace: string[];
  replay: string;
}

type SimEvent =
  | { type: 'deliver'; env: Envelope }
  | { type: 'tick'; node: number }
  | { type: 'flush'; node: number }
  | { type: 'restart'; node: number }
  | { type: 'fault' }
  | { type: 'propose' };

interface SimNode {
  id: number;
  up: boolean;
  life: number;
  raft: RaftQuorum | null;
  /** The log: fsynced below durableEnd, in the page cache above. */
  log: MemoryLog;
  durableEnd: number;
  election: ElectionState | null;
  flushScheduled: boolean;
  /** Requests received this life, awaiting an answer: "from:correlationId" → the sender's life. */
  pendingAnswers: Map<string, number>;
  /** Data records applied this life. */
  appliedValues: Set<string>;
  /** The state machine: the key of every entry applied, from offset 0 (a snapshot's, then applied ones). */
  appliedKeys: string[];
  /** The latest snapshot written durably (the log takes it once deleteLogBefore or installSnapshot says so). */
  snapshot: { id: OffsetAndEpoch; data: Buffer } | null;
  /** Snapshots installed from a leader and written locally, for the run's summary. */
  snapshotsInstalled: number;
  snapshotsWritten: number;
}

class Stop extends Error {}

export class Simulation {
  private readonly random: SeededRandom;
  private readonly network: FakeNetwork;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly checker = new SafetyChecker();
  private readonly nodes: SimNode[] = [];
  private readonly trace: string[] = [];
  private readonly voterIds: number[];
  private nowMs = 0;
  private steps = 0;
  private calm = false;
  private proposals = 0;
  private calmMarker: string | null = null;

  constructor(private readonly options: SimOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new FakeNetwork(this.random.fork(), options.network);
    this.voterIds = Array.from({ length: options.voters }, (_, i) => i + 1);
    const ids = [...this.voterIds, ...Array.from({ length: options.observers }, (_, i) => 100 + i)];
    for (const id of ids) {
      this.nodes.push({
        id,
        up: false,
        life: 0,
        raft: null,
        log: new MemoryLog(),
        durableEnd: 0,
        election: null,
        flushScheduled: false,
        pendingAnswers: new Map(),
        appliedValues: new Set(),
        appliedKeys: [],
        snapshot: null,
        snapshotsInstalled: 0,
        snapshotsWritten: 0,
      });
    }
  }

  run(): SimResult {
    const o = this.options;
    let violation: string | undefined;
    let recoveryMs: number | null = null;
    try {
      for (const n of this.nodes) {
        this.start(n);
        this.queue.push(this.random.between(0, TICK_MS - 1), { type: 'tick', node: n.id });
      }
      this.queue.push(FAULT_INTERVAL_MS, { type: 'fault' });
      this.queue.push(PROPOSE_INTERVAL_MS, { type: 'propose' });
      while (this.steps < o.steps) this.step();
      recoveryMs = this.calmPhase();
    } catch (e) {
      if (e instanceof SafetyViolation || e instanceof RaftInvariantError || e instanceof Stop)
        violation = `${e.name}: ${e.message}`;
      else violation = `crash: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
      this.log(`VIOLATION ${violation}`);
    }
    return {
      ok: violation === undefined,
      seed: o.seed,
      steps: this.steps,
      simulatedMs: this.nowMs,
      leaderEpochs: this.countLeaderEpochs(),
      committed: this.checker.committedCount,
      snapshotsWritten: this.nodes.reduce((n, x) => n + x.snapshotsWritten, 0),
      snapshotsInstalled: this.nodes.reduce((n, x) => n + x.snapshotsInstalled, 0),
      recoveryMs,
      violation,
      trace: this.trace,
      replay: `npm run sim -- --seed ${o.seed} --steps ${o.steps}`,
    };
  }

  /** Faults stop, partitions heal, crashed nodes restart: a leader must commit a new entry on every node in time. */
  private calmPhase(): number {
    this.calm = true;
    this.network.heal();
    this.network.faults = CALM_NETWORK;
    const calmStart = this.nowMs;
    this.log('calm: faults stop, links heal, every node restarts');
    for (const n of this.nodes) if (!n.up) this.start(n);
    this.calmMarker = `calm-${this.options.seed}`;
    const marker = this.calmMarker;
    const describeStates = () =>
      this.nodes
        .map((n) => {
          const v = n.raft!.view();
          return `${n.id}:${v.state}@${v.epoch} hw=${v.highWatermark} start=${v.logStartOffset} end=${v.logEndOffset}`;
        })
        .join(', ');
    // First a leader must be elected and commit the marker: a majority of voters apply it in time.
    const commitDeadline = calmStart + this.options.livenessBoundMs;
    const votersApplied = () =>
      this.nodes.filter((n) => this.voterIds.includes(n.id) && n.appliedValues.has(marker)).length;
    while (votersApplied() < Math.floor(this.voterIds.length / 2) + 1) {
      if (this.nowMs > commitDeadline) {
        throw new Stop(
          `liveness: no leader committed a proposal within ${this.options.livenessBoundMs} ms of calm (${describeStates()})`,
        );
      }
      this.step();
    }
    const committedMs = this.nowMs - calmStart;
    // The leader snapshots what it applied and drops its log below: whoever is behind catches up from the snapshot.
    const leader = this.nodes.find((n) => n.raft!.stateName === 'leader');
    if (leader) this.takeSnapshot(leader, leader.raft!.view().appliedOffset);
    // Then every node catches up, in a time that grows with how far behind it is (no snapshots yet).
    const lag = Math.max(...this.nodes.map((n) => this.checker.committedCount - n.raft!.view().logEndOffset), 0);
    const catchUpMs = this.options.livenessBoundMs + Math.ceil(lag / SIM_TIMING.maxFetchEntries) * 50;
    const catchUpDeadline = this.nowMs + catchUpMs;
    while (!this.nodes.every((n) => n.appliedValues.has(marker))) {
      if (this.nowMs > catchUpDeadline) {
        throw new Stop(
          `liveness: the committed proposal was not applied on every node within ${catchUpMs} ms (lag ${lag}; ${describeStates()})`,
        );
      }
      this.step();
    }
    return committedMs;
  }

  private step(): void {
    const next = this.queue.pop();
    if (!next) throw new Stop('the agenda ran dry');
    this.nowMs = next.atMs;
    this.steps++;
    const ev = next.value;
    switch (ev.type) {
      case 'tick': {
        this.queue.push(this.nowMs + TICK_MS, ev);
        const n = this.node(ev.node);
        if (n.up) this.deliver(n, { kind: 'tick', nowMs: this.nowMs });
        break;
      }
      case 'deliver':
        this.onDeliver(ev.env);
        break;
      case 'flush': {
        const n = this.node(ev.node);
        n.flushScheduled = false;
        if (!n.up) break;
        n.durableEnd = n.log.endOffset();
        this.log(`n${n.id} fsync → ${n.durableEnd}`);
        this.deliver(n, { kind: 'persisted', nowMs: this.nowMs, endOffset: n.durableEnd });
        break;
      }
      case 'restart': {
        const n = this.node(ev.node);
        if (!n.up) this.start(n);
        break;
      }
      case 'fault':
        if (!this.calm) {
          this.injectFault();
          this.queue.push(this.nowMs + FAULT_INTERVAL_MS, ev);
        }
        break;
      case 'propose':
        this.propose();
        this.queue.push(this.nowMs + this.random.between(1, PROPOSE_INTERVAL_MS * 2), ev);
        break;
    }
    for (const n of this.nodes) {
      if (n.up) this.checker.afterStep(n.raft!.view(), (o) => this.keyAt(n, o), n.log.endOffset());
    }
  }

  /** The key of a node's entry at `offset`, from its snapshot below the log start. */
  private keyAt(n: SimNode, offset: number): string | undefined {
    if (offset < n.log.startOffset()) {
      const s = n.log.snapshotData();
      return s ? snapshotKeys(s.data)[offset] : undefined;
    }
    const e = n.log.entryAt(offset);
    return e ? entryKey(e) : undefined;
  }

  /** The node snapshots its state machine at `offset` (≤ what it applied) and tells its quorum. */
  private takeSnapshot(n: SimNode, offset: number): void {
    if (!n.up || offset <= n.log.startOffset() || offset > n.appliedKeys.length) return;
    const epoch = n.log.epochAt(offset - 1);
    if (epoch === undefined) return;
    const id = { offset, epoch };
    n.snapshot = { id, data: Buffer.from(JSON.stringify(n.appliedKeys.slice(0, offset))) };
    n.snapshotsWritten++;
    this.log(`n${n.id} snapshots at ${offset}@${epoch}`);
    this.deliver(n, { kind: 'snapshotWritten', nowMs: this.nowMs, snapshotId: id });
  }

  private onDeliver(env: Envelope): void {
    const n = this.node(env.to);
    if (!n.up || !this.network.canReach(env.from, env.to)) return;
    if (env.toLife !== null && env.toLife !== n.life) return; // an answer to a previous life
    if (isRequest(env.message)) {
      n.pendingAnswers.set(`${env.from}:${env.correlationId}`, env.fromLife);
      if (n.pendingAnswers.size > MAX_PENDING_ANSWERS) {
        for (const key of [...n.pendingAnswers.keys()].slice(0, MAX_PENDING_ANSWERS / 2)) n.pendingAnswers.delete(key);
      }
    }
    this.log(`n${env.from}→n${env.to} #${env.correlationId} ${describe(env.message)}`);
    this.deliver(n, {
      kind: 'receive',
      nowMs: this.nowMs,
      from: env.from,
      correlationId: env.correlationId,
      message: env.message,
    });
  }

  private propose(): void {
    const up = this.nodes.filter((n) => n.up);
    if (up.length === 0) return;
    const leaders = up.filter((n) => n.raft!.stateName === 'leader');
    const target = leaders.length > 0 && this.random.chance(0.85) ? this.random.pick(leaders) : this.random.pick(up);
    const records: string[] = [];
    if (this.calmMarker !== null && leaders.length > 0) records.push(this.calmMarker);
    else for (let i = this.random.between(1, 3); i > 0; i--) records.push(`v${++this.proposals}`);
    this.deliver(target, { kind: 'propose', nowMs: this.nowMs, records });
  }

  private injectFault(): void {
    const o = this.options;
    const r = this.random;
    const ids = this.nodes.map((n) => n.id);
    if (r.chance(o.crashRate)) {
      const n = r.pick(this.nodes);
      if (n.up) {
        this.crash(n, 'crash');
        this.queue.push(this.nowMs + r.between(20, 600), { type: 'restart', node: n.id });
      }
    }
    if (ids.length > 1 && r.chance(o.partitionRate)) {
      const kind = r.int(4);
      if (kind === 0) {
        const n = r.pick(ids);
        this.network.isolate(n, ids);
        this.log(`partition: n${n} isolated`);
      } else if (kind === 1) {
        const from = r.pick(ids);
        const to = r.pick(ids.filter((i) => i !== from));
        this.network.cutLink(from, to);
        this.log(`partition: n${from}→n${to} cut (one way)`);
      } else if (kind === 2) {
        const shuffled = [...ids].sort(() => r.next() - 0.5);
        const cut = r.between(1, Math.max(1, shuffled.length - 1));
        this.network.split(shuffled.slice(0, cut), shuffled.slice(cut));
        this.log(`partition: {${shuffled.slice(0, cut).join(',')}} | {${shuffled.slice(cut).join(',')}}`);
      } else {
        this.network.heal();
        this.log('partition: healed');
      }
    } else if (r.chance(0.1)) {
      this.network.heal();
      this.log('partition: healed');
    }
    if (r.chance(o.snapshotRate)) {
      const n = r.pick(this.nodes);
      if (n.up && n.appliedKeys.length > n.log.startOffset())
        this.takeSnapshot(n, r.between(n.log.startOffset() + 1, n.appliedKeys.length));
    }
    if (r.chance(o.wipeRate)) {
      const observers = this.nodes.filter((n) => !this.voterIds.includes(n.id));
      if (observers.length > 0) {
        const n = r.pick(observers);
        if (n.up) {
          this.crash(n, 'loses its disk');
          this.queue.push(this.nowMs + r.between(20, 600), { type: 'restart', node: n.id });
        }
        n.log = new MemoryLog();
        n.durableEnd = 0;
        n.election = null;
        n.snapshot = null;
        this.checker.forget(n.id);
      }
    }
    if (r.chance(o.resignRate)) {
      const leader = this.nodes.find((n) => n.up && n.raft!.stateName === 'leader');
      if (leader) {
        this.log(`n${leader.id} resigns`);
        this.deliver(leader, { kind: 'resign', nowMs: this.nowMs });
      }
    }
  }

  private start(n: SimNode): void {
    n.up = true;
    n.life++;
    n.pendingAnswers.clear();
    n.appliedValues.clear();
    // As the disk log loads: the latest snapshot, and the log after it when it continues it.
    const snap = n.snapshot;
    if (snap && snap.id.offset > n.log.startOffset()) {
      if (n.log.endOffset() >= snap.id.offset && n.log.epochAt(snap.id.offset - 1) === snap.id.epoch)
        n.log.snapshotAndDeleteBefore(snap.id, snap.data);
      else n.log.resetToSnapshot(snap.id, snap.data);
      n.durableEnd = Math.max(n.durableEnd, n.log.startOffset());
    }
    const loaded = n.log.snapshotData();
    n.appliedKeys = loaded ? [...snapshotKeys(loaded.data)] : [];
    for (const k of n.appliedKeys) addValue(n.appliedValues, k);
    const config: RaftConfig = {
      nodeId: n.id,
      voters: this.voterIds,
      clusterId: 'sim',
      preVote: this.options.preVote,
      ...SIM_TIMING,
    };
    this.checker.startLife(n.id, n.life, n.appliedKeys);
    n.raft = new RaftQuorum(config, n.log, n.election, this.random.fork(), this.nowMs);
    this.log(
      `n${n.id} starts (life ${n.life}, log ${n.log.startOffset()}..${n.log.endOffset()}, ${JSON.stringify(n.election)}) as ${n.raft.stateName}`,
    );
  }

  /** Kills the process: the page cache is lost except, maybe, part of it that reached the disk. */
  private crash(n: SimNode, why: string): void {
    const unflushed = n.log.endOffset() - n.durableEnd;
    const survives = unflushed > 0 && this.random.chance(0.5) ? this.random.int(unflushed + 1) : 0;
    const kept = n.durableEnd + survives;
    // A snapshot past what reached the disk of the log (a follower applies what it has not fsynced) stays.
    const snap = n.log.snapshotData();
    if (kept < n.log.startOffset() && snap) n.log.resetToSnapshot(snap.id, snap.data);
    else n.log.truncateTo(kept);
    n.durableEnd = n.log.endOffset();
    n.up = false;
    n.raft = null;
    n.flushScheduled = false;
    this.log(`n${n.id} ${why} (kept ${n.durableEnd} entries, lost ${unflushed - survives} unflushed)`);
  }

  private deliver(n: SimNode, event: RaftEvent): void {
    const actions = n.raft!.step(event);
    let perform = actions.length;
    let crashMidStep = false;
    if (!this.calm && actions.length > 0 && this.random.chance(this.options.midStepCrashRate)) {
      perform = this.random.int(actions.length);
      crashMidStep = true;
    }
    for (let i = 0; i < perform; i++) this.perform(n, actions[i]);
    if (crashMidStep) {
      this.crash(n, `crashes after ${perform} of ${actions.length} actions`);
      this.queue.push(this.nowMs + this.random.between(20, 600), { type: 'restart', node: n.id });
    }
  }

  private perform(n: SimNode, a: RaftAction): void {
    switch (a.kind) {
      case 'send': {
        if (a.message.type === 'VoteResponse') this.checker.onVoteResponseSent(n.id, a.to, a.message);
        let toLife: number | null = null;
        if (!isRequest(a.message)) {
          const key = `${a.to}:${a.correlationId}`;
          toLife = n.pendingAnswers.get(key) ?? null;
          if (toLife === null) throw new SafetyViolation(`n${n.id} answered a request it never received (${key})`);
        }
        for (const delay of this.network.deliveries(n.id, a.to)) {
          this.queue.push(this.nowMs + delay, {
            type: 'deliver',
            env: { from: n.id, fromLife: n.life, to: a.to, correlationId: a.correlationId, message: a.message, toLife },
          });
        }
        break;
      }
      case 'persistElectionState':
        this.checker.onPersistElection(n.id, a.state);
        n.election = { ...a.state };
        this.log(`n${n.id} persists ${JSON.stringify(a.state)}`);
        break;
      case 'append':
        this.checker.onAppend(n.id, a.entries, n.log.epochAt(a.entries[0].offset - 1) ?? 0);
        n.log.append(a.entries);
        if (!n.flushScheduled) {
          n.flushScheduled = true;
          this.queue.push(this.nowMs + this.random.between(0, MAX_FLUSH_DELAY_MS), { type: 'flush', node: n.id });
        }
        break;
      case 'truncate':
        this.checker.onTruncate(n.id, a.offset);
        n.log.truncateTo(a.offset);
        n.durableEnd = Math.min(n.durableEnd, a.offset);
        this.log(`n${n.id} truncates to ${a.offset}`);
        break;
      case 'apply':
        this.checker.onApply(n.id, a.entries);
        for (const e of a.entries) {
          if (e.offset !== n.appliedKeys.length)
            throw new SafetyViolation(`n${n.id} applied ${e.offset} with ${n.appliedKeys.length} applied`);
          n.appliedKeys.push(entryKey(e));
          if (e.record.type === 'data') n.appliedValues.add(String(e.record.value));
        }
        break;
      case 'deleteLogBefore': {
        const snap = n.snapshot;
        if (!snap || snap.id.offset !== a.snapshotId.offset || snap.id.epoch !== a.snapshotId.epoch)
          throw new SafetyViolation(`n${n.id} deletes its log below ${a.snapshotId.offset}, a snapshot it never wrote`);
        n.log.snapshotAndDeleteBefore(snap.id, snap.data);
        this.log(`n${n.id} log starts at ${a.snapshotId.offset}`);
        break;
      }
      case 'installSnapshot': {
        const keys = snapshotKeys(a.data);
        if (keys.length !== a.snapshotId.offset)
          throw new SafetyViolation(`n${n.id} got snapshot ${a.snapshotId.offset} holding ${keys.length} entries`);
        this.checker.onInstallSnapshot(n.id, keys);
        n.snapshot = { id: { ...a.snapshotId }, data: a.data };
        n.log.resetToSnapshot(a.snapshotId, a.data);
        n.durableEnd = a.snapshotId.offset;
        n.appliedKeys = [...keys];
        for (const k of keys) addValue(n.appliedValues, k);
        n.snapshotsInstalled++;
        this.log(`n${n.id} installs snapshot ${a.snapshotId.offset}@${a.snapshotId.epoch}`);
        break;
      }
      case 'stateChanged':
        this.log(`n${n.id} → ${a.state} epoch ${a.epoch}${a.leaderId >= 0 ? ` leader ${a.leaderId}` : ''}`);
        break;
      case 'proposed':
      case 'proposalRejected':
        break;
    }
  }

  private node(id: number): SimNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  private countLeaderEpochs(): number {
    return this.checker.leaderEpochCount;
  }

  private log(line: string): void {
    this.trace.push(`${String(this.nowMs).padStart(7)}ms ${line}`);
    if (!this.options.fullTrace && this.trace.length > TRACE_TAIL * 2)
      this.trace.splice(0, this.trace.length - TRACE_TAIL);
  }
}

/** A snapshot's keys, parsed once per snapshot (the checks read them after every step). */
const parsedSnapshots = new WeakMap<Buffer, string[]>();
function snapshotKeys(data: Buffer): string[] {
  let keys = parsedSnapshots.get(data);
  if (!keys) parsedSnapshots.set(data, (keys = JSON.parse(data.toString()) as string[]));
  return keys;
}

/** The data record's value of an "epoch/d:value" key. */
function addValue(values: Set<string>, key: string): void {
  const at = key.indexOf('/d:');
  if (at >= 0) values.add(key.slice(at + 3));
}

function describe(m: Envelope['message']): string {
  switch (m.type) {
    case 'VoteRequest':
      return `${m.preVote ? 'PreVote' : 'Vote'}(epoch ${m.candidateEpoch}, cand ${m.candidateId}, last ${m.lastOffset}@${m.lastOffsetEpoch})`;
    case 'VoteResponse':
      return `${m.preVote ? 'PreVote' : 'Vote'}Resp(${m.voteGranted ? 'granted' : 'refused'}, epoch ${m.leaderEpoch}, leader ${m.leaderId}, err ${m.errorCode})`;
    case 'BeginQuorumEpochRequest':
      return `BeginQuorumEpoch(epoch ${m.leaderEpoch}, leader ${m.leaderId})`;
    case 'BeginQuorumEpochResponse':
      return `BeginQuorumEpochResp(epoch ${m.leaderEpoch}, err ${m.errorCode})`;
    case 'EndQuorumEpochRequest':
      return `EndQuorumEpoch(epoch ${m.leaderEpoch}, successors ${m.preferredSuccessors.join(',')})`;
    case 'EndQuorumEpochResponse':
      return `EndQuorumEpochResp(epoch ${m.leaderEpoch}, err ${m.errorCode})`;
    case 'FetchRequest':
      return `Fetch(epoch ${m.currentLeaderEpoch}, offset ${m.fetchOffset}, last epoch ${m.lastFetchedEpoch})`;
    case 'FetchResponse': {
      const d = m.divergingEpoch ? ` diverging ${m.divergingEpoch.endOffset}@${m.divergingEpoch.epoch}` : '';
      const r = m.records.length ? ` records ${m.records[0].offset}..${m.records[m.records.length - 1].offset}` : '';
      const snap = m.snapshotId ? ` snapshot ${m.snapshotId.offset}@${m.snapshotId.epoch}` : '';
      return `FetchResp(err ${m.errorCode}, epoch ${m.currentLeader.leaderEpoch}, leader ${m.currentLeader.leaderId}, hw ${m.highWatermark}${d}${snap}${r})`;
    }
    case 'FetchSnapshotRequest':
      return `FetchSnapshot(epoch ${m.currentLeaderEpoch}, snapshot ${m.snapshotId.offset}@${m.snapshotId.epoch}, position ${m.position})`;
    case 'FetchSnapshotResponse':
      return `FetchSnapshotResp(err ${m.errorCode}, epoch ${m.currentLeader.leaderEpoch}, position ${m.position}, ${m.bytes.length} of ${m.size} bytes)`;
  }
}
