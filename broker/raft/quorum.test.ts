import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { MemoryLog, type LogEntry } from './log.js';
import type { FetchRequest, FetchResponse, RaftMessage, VoteRequest, VoteResponse } from './messages.js';
import { RaftQuorum } from './quorum.js';
import { SeededRandom } from '../random.js';
import type { ElectionState, RaftAction, RaftConfig, RaftEvent } from './types.js';

const TIMING = {
  electionTimeoutMs: 1000,
  fetchTimeoutMs: 2000,
  electionBackoffMaxMs: 1000,
  requestTimeoutMs: 2000,
  retryBackoffMs: 20,
  fetchMaxWaitMs: 500,
  maxFetchEntries: 100,
  maxSnapshotChunkBytes: 1024,
};

/** A log with `count` data entries per epoch, in order: [[1, 3], [2, 2]] is 3 entries of epoch 1, then 2 of epoch 2. */
function entries(spec: [epoch: number, count: number][], tag = 'x'): LogEntry[] {
  const out: LogEntry[] = [];
  for (const [epoch, count] of spec) {
    for (let i = 0; i < count; i++)
      out.push({ offset: out.length, epoch, record: { type: 'data', value: `${tag}${out.length}` } });
  }
  return out;
}

/** One node and a host that performs its actions the way the broker will: log, election state, outbox. */
class Node {
  readonly log: MemoryLog;
  election: ElectionState | null;
  raft: RaftQuorum;
  now = 0;
  outbox: { to: number; correlationId: number; message: RaftMessage }[] = [];
  actions: RaftAction[] = [];
  applied: LogEntry[] = [];
  /** What the host's state machine snapshots to (deleteLogBefore takes it). */
  snapshotData = Buffer.alloc(0);

  constructor(
    readonly config: RaftConfig,
    log: LogEntry[] = [],
    election: ElectionState | null = null,
    readonly seed = 1,
  ) {
    this.log = new MemoryLog(log);
    this.election = election;
    this.raft = new RaftQuorum(config, this.log, election, new SeededRandom(seed), 0);
  }

  static make(
    nodeId: number,
    voters: number[],
    opts: { log?: LogEntry[]; election?: ElectionState; preVote?: boolean; seed?: number } = {},
  ): Node {
    return new Node(
      { nodeId, voters, clusterId: 'c', preVote: opts.preVote ?? false, ...TIMING },
      opts.log,
      opts.election ?? null,
      opts.seed,
    );
  }

  /** A restart: the same log (all of it durable here) and election state, a new process. */
  restart(): void {
    this.raft = new RaftQuorum(this.config, this.log, this.election, new SeededRandom(this.seed + 1), this.now);
    this.applied = [];
  }

  step(event: RaftEvent): RaftAction[] {
    const actions = this.raft.step(event);
    this.actions = actions;
    for (const a of actions) {
      if (a.kind === 'send') this.outbox.push(a);
      else if (a.kind === 'append') this.log.append(a.entries);
      else if (a.kind === 'truncate') this.log.truncateTo(a.offset);
      else if (a.kind === 'persistElectionState') this.election = a.state;
      else if (a.kind === 'apply') this.applied.push(...a.entries);
      else if (a.kind === 'deleteLogBefore') this.log.snapshotAndDeleteBefore(a.snapshotId, this.snapshotData);
      else if (a.kind === 'installSnapshot') this.log.resetToSnapshot(a.snapshotId, a.data);
    }
    return actions;
  }

  at(ms: number): RaftAction[] {
    this.now = ms;
    return this.step({ kind: 'tick', nowMs: ms });
  }

  receive(from: number, message: RaftMessage, correlationId = 7): RaftAction[] {
    return this.step({ kind: 'receive', nowMs: this.now, from, correlationId, message });
  }

  persistAll(): RaftAction[] {
    return this.step({ kind: 'persisted', nowMs: this.now, endOffset: this.log.endOffset() });
  }

  /** Takes the messages sent since the last call. */
  drain(): { to: number; correlationId: number; message: RaftMessage }[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  sent<T extends RaftMessage['type']>(
    type: T,
  ): (Extract<RaftMessage, { type: T }> & { to: number; correlationId: number })[] {
    return this.drain()
      .filter((s) => s.message.type === type)
      .map((s) => ({ ...(s.message as Extract<RaftMessage, { type: T }>), to: s.to, correlationId: s.correlationId }));
  }
}

function vote(
  candidateId: number,
  candidateEpoch: number,
  lastOffsetEpoch: number,
  lastOffset: number,
  preVote = false,
): VoteRequest {
  return {
    type: 'VoteRequest',
    clusterId: 'c',
    voterId: 0,
    candidateEpoch,
    candidateId,
    lastOffsetEpoch,
    lastOffset,
    preVote,
    replicaEpoch: preVote ? candidateEpoch - 1 : candidateEpoch,
  };
}

function fetch(replicaId: number, epoch: number, fetchOffset: number, lastFetchedEpoch: number): FetchRequest {
  return {
    type: 'FetchRequest',
    clusterId: 'c',
    replicaId,
    maxWaitMs: 0,
    currentLeaderEpoch: epoch,
    fetchOffset,
    lastFetchedEpoch,
  };
}

/** Makes node 1 of voters 1,2,3 the leader of the next epoch: it times out, stands, and node 2 votes for it. */
function electNode1(n: Node): void {
  n.at(2000); // past any election timeout in [1000, 2000)
  const [req] = n.sent('VoteRequest');
  const granted: VoteResponse = {
    type: 'VoteResponse',
    errorCode: 0,
    leaderId: -1,
    leaderEpoch: req.candidateEpoch,
    voteGranted: true,
    preVote: false,
  };
  n.receive(2, granted, req.correlationId);
  expect(n.raft.stateName).toBe('leader');
}

describe('RaftQuorum', () => {
  it('a single voter elects itself, writes the leader change entry, and commits a proposal once it is durable', () => {
    const n = Node.make(1, [1]);
    n.at(2000);
    expect(n.raft.stateName).toBe('leader');
    expect(n.raft.epoch).toBe(1);
    expect(n.log.entryAt(0)!.record).toMatchObject({ type: 'leaderChange', leaderId: 1 });
    expect(n.election).toEqual({ epoch: 1, leaderId: 1, votedId: 1 });
    n.step({ kind: 'propose', nowMs: 2001, records: ['a', 'b'] });
    expect(n.actions).toContainEqual({ kind: 'proposed', baseOffset: 1, lastOffset: 2, epoch: 1 });
    expect(n.raft.view().highWatermark).toBe(0); // nothing is durable yet
    n.persistAll();
    expect(n.raft.view().highWatermark).toBe(3);
    expect(n.applied.map((e) => e.offset)).toEqual([0, 1, 2]);
  });

  it('a candidate asks every other voter with its last epoch and end offset', () => {
    const n = Node.make(1, [1, 2, 3], {
      log: entries([
        [1, 2],
        [3, 4],
      ]),
      election: { epoch: 3, leaderId: 2, votedId: -1 },
    });
    n.at(2000); // the follower's fetch timeout
    expect(n.raft.stateName).toBe('candidate');
    expect(n.election).toEqual({ epoch: 4, leaderId: -1, votedId: 1 });
    const reqs = n.sent('VoteRequest');
    expect(reqs.map((r) => r.to).sort()).toEqual([2, 3]);
    expect(reqs[0]).toMatchObject({
      candidateEpoch: 4,
      candidateId: 1,
      lastOffsetEpoch: 3,
      lastOffset: 6,
      preVote: false,
    });
  });

  it('a candidate with a shorter log is refused a vote', () => {
    const n = Node.make(2, [1, 2, 3], { log: entries([[1, 5]]), election: { epoch: 1, leaderId: -1, votedId: -1 } });
    n.receive(1, vote(1, 2, 1, 4));
    const [res] = n.sent('VoteResponse');
    expect(res).toMatchObject({ voteGranted: false, leaderEpoch: 2 });
    expect(n.election).toEqual({ epoch: 2, leaderId: -1, votedId: -1 }); // the epoch moved on, the vote is still free
    n.receive(3, vote(3, 2, 1, 5));
    expect(n.sent('VoteResponse')[0]).toMatchObject({ voteGranted: true });
  });

  it('a longer log from an older epoch loses to a shorter log from a newer epoch', () => {
    const n = Node.make(2, [1, 2, 3], {
      log: entries([
        [1, 2],
        [2, 1],
      ]),
      election: { epoch: 2, leaderId: -1, votedId: -1 },
    });
    n.receive(1, vote(1, 3, 1, 50));
    expect(n.sent('VoteResponse')[0].voteGranted).toBe(false);
    n.receive(3, vote(3, 3, 2, 3));
    expect(n.sent('VoteResponse')[0].voteGranted).toBe(true);
  });

  it('one vote per epoch: persisted before the answer, the same again to the same candidate, refused to another, kept across a restart', () => {
    const n = Node.make(2, [1, 2, 3]);
    const actions = n.receive(1, vote(1, 1, 0, 0));
    const persistAt = actions.findIndex((a) => a.kind === 'persistElectionState' && a.state.votedId === 1);
    const answerAt = actions.findIndex((a) => a.kind === 'send');
    expect(persistAt).toBeGreaterThanOrEqual(0);
    expect(persistAt).toBeLessThan(answerAt);
    expect(n.sent('VoteResponse')[0].voteGranted).toBe(true);
    n.receive(1, vote(1, 1, 0, 0));
    expect(n.sent('VoteResponse')[0].voteGranted).toBe(true);
    n.receive(3, vote(3, 1, 0, 0));
    expect(n.sent('VoteResponse')[0].voteGranted).toBe(false);
    n.restart();
    expect(n.raft.stateName).toBe('voted');
    n.receive(3, vote(3, 1, 0, 0));
    expect(n.sent('VoteResponse')[0].voteGranted).toBe(false);
    n.receive(3, vote(3, 2, 0, 0)); // a new epoch, a new vote
    expect(n.sent('VoteResponse')[0].voteGranted).toBe(true);
  });

  it('a stale candidate is refused with the current epoch, and learns it', () => {
    const n = Node.make(2, [1, 2, 3], { election: { epoch: 5, leaderId: 3, votedId: -1 } });
    n.receive(1, vote(1, 4, 0, 0));
    expect(n.sent('VoteResponse')[0]).toMatchObject({
      voteGranted: false,
      leaderEpoch: 5,
      leaderId: 3,
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
    });
  });

  it('a new leader appends a leader change entry at the start of its epoch and sends BeginQuorumEpoch', () => {
    const n = Node.make(1, [1, 2, 3], { log: entries([[1, 3]]), election: { epoch: 1, leaderId: -1, votedId: -1 } });
    electNode1(n);
    expect(n.log.entryAt(3)).toEqual({
      offset: 3,
      epoch: 2,
      record: { type: 'leaderChange', leaderId: 1, voters: [1, 2, 3], grantingVoters: [1, 2] },
    });
    expect(n.sent('BeginQuorumEpochRequest').map((r) => [r.to, r.leaderEpoch, r.leaderId])).toEqual([
      [2, 2, 1],
      [3, 2, 1],
    ]);
  });

  it("the leader answers a diverged fetch with the end offset of the follower's last epoch, and a follower truncates to it", () => {
    // Leader 1: epoch 1 ends at 3, then epochs 3 and 4. Follower 2 wrote two entries of epoch 2 that no one else has.
    const leader = Node.make(1, [1, 2, 3], {
      log: entries([
        [1, 3],
        [3, 2],
      ]),
      election: { epoch: 3, leaderId: -1, votedId: -1 },
    });
    electNode1(leader);
    leader.persistAll();
    leader.drain();
    leader.receive(2, fetch(2, 4, 5, 2), 40);
    const [res] = leader.sent('FetchResponse');
    expect(res.divergingEpoch).toEqual({ epoch: 1, endOffset: 3 });
    expect(res.records).toEqual([]);

    const follower = Node.make(2, [1, 2, 3], {
      log: entries([
        [1, 3],
        [2, 2],
      ]),
      election: { epoch: 4, leaderId: 1, votedId: -1 },
    });
    follower.at(10);
    const [req] = follower.sent('FetchRequest');
    expect(req).toMatchObject({ fetchOffset: 5, lastFetchedEpoch: 2, currentLeaderEpoch: 4 });
    follower.receive(1, res, req.correlationId);
    expect(follower.actions).toContainEqual({ kind: 'truncate', offset: 3 });
    expect(follower.log.endOffset()).toBe(3);
    // It fetches again from the epoch boundary at once and gets the leader's entries.
    const [again] = follower.sent('FetchRequest');
    expect(again).toMatchObject({ fetchOffset: 3, lastFetchedEpoch: 1 });
    leader.receive(2, again, again.correlationId);
    const [records] = leader.sent('FetchResponse');
    expect(records.divergingEpoch).toBeNull();
    follower.receive(1, records, again.correlationId);
    expect(follower.log.all().map((e) => e.epoch)).toEqual([1, 1, 1, 3, 3, 4]);
  });

  it("a follower whose log runs past the leader's in the same epoch truncates to the leader's end", () => {
    const follower = Node.make(2, [1, 2, 3], {
      log: entries([[1, 6]]),
      election: { epoch: 2, leaderId: 1, votedId: -1 },
    });
    follower.at(10);
    const [req] = follower.sent('FetchRequest');
    const res: FetchResponse = {
      type: 'FetchResponse',
      errorCode: 0,
      highWatermark: -1,
      divergingEpoch: { epoch: 1, endOffset: 4 },
      currentLeader: { leaderId: 1, leaderEpoch: 2 },
      snapshotId: null,
      records: [],
    };
    follower.receive(1, res, req.correlationId);
    expect(follower.log.endOffset()).toBe(4);
  });

  it("a fetcher below the leader's log start gets the snapshot id, fetches the snapshot in chunks, installs it and fetches on from its end", () => {
    const leader = Node.make(1, [1, 2, 3], {
      log: entries([[1, 8]]),
      election: { epoch: 1, leaderId: -1, votedId: -1 },
    });
    electNode1(leader); // epoch 2: the leader change entry at 8
    leader.persistAll();
    leader.receive(2, fetch(2, 2, 9, 2), 40);
    expect(leader.raft.view().highWatermark).toBe(9);
    // The host snapshots what it applied; the log then starts there.
    leader.snapshotData = Buffer.from('the state after 9 entries');
    leader.step({ kind: 'snapshotWritten', nowMs: leader.now, snapshotId: { offset: 9, epoch: 2 } });
    expect(leader.actions).toContainEqual({ kind: 'deleteLogBefore', snapshotId: { offset: 9, epoch: 2 } });
    expect(leader.raft.view().logStartOffset).toBe(9);
    expect(leader.log.epochAt(8)).toBe(2);
    leader.drain();

    const follower = new Node(
      { nodeId: 3, voters: [1, 2, 3], clusterId: 'c', preVote: false, ...TIMING, maxSnapshotChunkBytes: 10 },
      [],
      { epoch: 2, leaderId: 1, votedId: -1 },
    );
    follower.at(10);
    const [req] = follower.sent('FetchRequest');
    expect(req).toMatchObject({ fetchOffset: 0, lastFetchedEpoch: 0 });
    leader.receive(3, req, req.correlationId);
    const [res] = leader.sent('FetchResponse');
    expect(res).toMatchObject({ snapshotId: { offset: 9, epoch: 2 }, records: [] });
    follower.receive(1, res, req.correlationId);
    const positions: number[] = [];
    for (let i = 0; i < 5 && follower.log.startOffset() === 0; i++) {
      const [chunkReq] = follower.sent('FetchSnapshotRequest');
      positions.push(chunkReq.position);
      leader.receive(3, chunkReq, chunkReq.correlationId);
      const [chunk] = leader.sent('FetchSnapshotResponse');
      expect(chunk).toMatchObject({ errorCode: 0, size: 25, position: chunkReq.position });
      follower.receive(1, chunk, chunkReq.correlationId);
    }
    expect(positions).toEqual([0, 10, 20]);
    expect(follower.actions).toContainEqual({
      kind: 'installSnapshot',
      snapshotId: { offset: 9, epoch: 2 },
      data: leader.snapshotData,
    });
    expect(follower.raft.view()).toMatchObject({
      logStartOffset: 9,
      logEndOffset: 9,
      highWatermark: 9,
      appliedOffset: 9,
    });
    // It goes on fetching from the snapshot's end, which the leader's log continues.
    const [next] = follower.sent('FetchRequest');
    expect(next).toMatchObject({ fetchOffset: 9, lastFetchedEpoch: 2 });
    leader.step({ kind: 'propose', nowMs: leader.now, records: ['after'] });
    leader.receive(3, next, next.correlationId);
    const [more] = leader.sent('FetchResponse');
    expect(more).toMatchObject({ snapshotId: null, divergingEpoch: null });
    follower.receive(1, more, next.correlationId);
    expect(follower.log.entryAt(9)?.record).toEqual({ type: 'data', value: 'after' });
  });

  it("a fetcher whose last epoch is older than the leader's snapshot gets the snapshot, since the logs can only be matched below it", () => {
    const leader = Node.make(1, [1, 2, 3], {
      log: entries([[1, 8]]),
      election: { epoch: 1, leaderId: -1, votedId: -1 },
    });
    electNode1(leader);
    leader.persistAll();
    leader.receive(2, fetch(2, 2, 9, 2), 40);
    leader.step({ kind: 'snapshotWritten', nowMs: leader.now, snapshotId: { offset: 9, epoch: 2 } });
    leader.drain();
    leader.receive(3, fetch(3, 2, 12, 1), 41); // 12 entries of epoch 1: 8 shared, the rest never committed
    const [res] = leader.sent('FetchResponse');
    expect(res).toMatchObject({ snapshotId: { offset: 9, epoch: 2 }, divergingEpoch: null });
  });

  it('a FetchSnapshot answered with an error, even one naming no leader, sends the follower back to Fetch', () => {
    const follower = Node.make(3, [1, 2, 3], { election: { epoch: 2, leaderId: 1, votedId: -1 } });
    follower.at(10);
    const [req] = follower.sent('FetchRequest');
    follower.receive(
      1,
      {
        type: 'FetchResponse',
        errorCode: 0,
        highWatermark: 9,
        divergingEpoch: null,
        currentLeader: { leaderId: 1, leaderEpoch: 2 },
        snapshotId: { offset: 9, epoch: 2 },
        records: [],
      },
      req.correlationId,
    );
    const [snapReq] = follower.sent('FetchSnapshotRequest');
    follower.receive(
      1,
      {
        type: 'FetchSnapshotResponse',
        errorCode: -1,
        snapshotId: { offset: 9, epoch: 2 },
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        size: -1,
        position: -1,
        bytes: Buffer.alloc(0),
      },
      snapReq.correlationId,
    );
    follower.at(100);
    expect(follower.sent('FetchRequest')).toMatchObject([{ fetchOffset: 0 }]);
  });

  it('a node restarting from a snapshot starts with its high watermark and applied offset at the snapshot end', () => {
    const n = Node.make(2, [1, 2, 3], { log: entries([[1, 6]]), election: { epoch: 1, leaderId: 1, votedId: -1 } });
    n.log.snapshotAndDeleteBefore({ offset: 4, epoch: 1 }, Buffer.from('state'));
    n.restart();
    expect(n.raft.view()).toMatchObject({ logStartOffset: 4, highWatermark: 4, appliedOffset: 4, logEndOffset: 6 });
    n.at(10);
    const [req] = n.sent('FetchRequest');
    n.receive(
      1,
      {
        type: 'FetchResponse',
        errorCode: 0,
        highWatermark: 6,
        divergingEpoch: null,
        currentLeader: { leaderId: 1, leaderEpoch: 1 },
        snapshotId: null,
        records: [],
      },
      req.correlationId,
    );
    expect(n.applied.map((e) => e.offset)).toEqual([4, 5]);
  });

  it('the leader advances the high watermark to what a majority holds, only once it is in its own epoch', () => {
    const n = Node.make(1, [1, 2, 3, 4, 5], {
      log: entries([[1, 4]]),
      election: { epoch: 1, leaderId: -1, votedId: -1 },
    });
    n.at(2000);
    for (const r of n.sent('VoteRequest').filter((r) => r.to === 2 || r.to === 3)) {
      n.receive(
        r.to,
        { type: 'VoteResponse', errorCode: 0, leaderId: -1, leaderEpoch: 2, voteGranted: true, preVote: false },
        r.correlationId,
      );
    }
    expect(n.raft.stateName).toBe('leader'); // epoch 2 starts at offset 4 with the leader change entry
    n.persistAll();
    n.step({ kind: 'propose', nowMs: n.now, records: ['p', 'q'] });
    n.persistAll(); // leader's durable end: 7
    n.receive(2, fetch(2, 2, 4, 1)); // 2 has the old entries only: nothing of epoch 2 is on a majority
    n.receive(3, fetch(3, 2, 4, 1));
    expect(n.raft.view().highWatermark).toBe(0);
    n.receive(2, fetch(2, 2, 6, 2));
    expect(n.raft.view().highWatermark).toBe(0); // leader 7, node 2 at 6: two of five
    n.receive(3, fetch(3, 2, 5, 2));
    expect(n.raft.view().highWatermark).toBe(5); // 7, 6, 5: three of five hold offsets below 5
    const [res] = n.sent('FetchResponse').slice(-1);
    expect(res.highWatermark).toBe(5);
    expect(n.applied.map((e) => e.offset)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a follower learns the high watermark from fetch responses, never beyond its own log, and applies committed entries', () => {
    const f = Node.make(2, [1, 2, 3], { election: { epoch: 1, leaderId: 1, votedId: -1 } });
    f.at(1);
    const [req] = f.sent('FetchRequest');
    const log = entries([[1, 5]]);
    f.receive(
      1,
      {
        type: 'FetchResponse',
        errorCode: 0,
        highWatermark: 9,
        divergingEpoch: null,
        currentLeader: { leaderId: 1, leaderEpoch: 1 },
        snapshotId: null,
        records: log.slice(0, 3),
      },
      req.correlationId,
    );
    expect(f.raft.view().highWatermark).toBe(3);
    expect(f.sent('FetchRequest')).toEqual([]); // not before the entries are durable
    f.persistAll();
    expect(f.applied.map((e) => e.offset)).toEqual([0, 1, 2]);
    const [next] = f.sent('FetchRequest');
    expect(next).toMatchObject({ fetchOffset: 3, lastFetchedEpoch: 1 });
    f.receive(
      1,
      {
        type: 'FetchResponse',
        errorCode: 0,
        highWatermark: -1,
        divergingEpoch: null,
        currentLeader: { leaderId: 1, leaderEpoch: 1 },
        snapshotId: null,
        records: log.slice(3),
      },
      next.correlationId,
    );
    expect(f.raft.view().highWatermark).toBe(3); // -1: the leader has no high watermark yet; keep ours
  });

  it('a response that does not answer the fetch in flight is ignored (duplicates, stale answers)', () => {
    const f = Node.make(2, [1, 2, 3], { election: { epoch: 1, leaderId: 1, votedId: -1 } });
    f.at(1);
    const [req] = f.sent('FetchRequest');
    const res: FetchResponse = {
      type: 'FetchResponse',
      errorCode: 0,
      highWatermark: 1,
      divergingEpoch: null,
      currentLeader: { leaderId: 1, leaderEpoch: 1 },
      snapshotId: null,
      records: entries([[1, 1]]),
    };
    f.receive(1, res, req.correlationId + 1);
    expect(f.log.endOffset()).toBe(0);
    f.receive(1, res, req.correlationId);
    f.receive(1, res, req.correlationId);
    expect(f.log.endOffset()).toBe(1);
  });

  it('a follower that hears nothing from its leader within the fetch timeout stands for election', () => {
    const f = Node.make(2, [1, 2, 3], { election: { epoch: 3, leaderId: 1, votedId: -1 } });
    f.at(1999);
    expect(f.raft.stateName).toBe('follower');
    f.at(2000);
    expect(f.raft.stateName).toBe('candidate');
    expect(f.raft.epoch).toBe(4);
  });

  it('with pre-vote, a timed-out follower asks first and does not bump the epoch until a majority would vote', () => {
    const f = Node.make(2, [1, 2, 3], { preVote: true, election: { epoch: 3, leaderId: 1, votedId: -1 } });
    f.at(2000);
    expect(f.raft.stateName).toBe('prospective');
    expect(f.raft.epoch).toBe(3);
    const reqs = f.sent('VoteRequest');
    expect(reqs.every((r) => r.preVote && r.candidateEpoch === 4)).toBe(true);
    const r3 = reqs.find((r) => r.to === 3)!;
    f.receive(
      3,
      { type: 'VoteResponse', errorCode: 0, leaderId: -1, leaderEpoch: 3, voteGranted: true, preVote: true },
      r3.correlationId,
    );
    expect(f.raft.stateName).toBe('candidate');
    expect(f.raft.epoch).toBe(4);
  });

  it('a pre-vote is refused while the voter still hears from its leader, and changes nothing', () => {
    const v = Node.make(3, [1, 2, 3], { preVote: true, election: { epoch: 3, leaderId: 1, votedId: -1 } });
    v.at(100);
    v.receive(2, vote(2, 4, 0, 0, true));
    expect(v.sent('VoteResponse')[0]).toMatchObject({ voteGranted: false, leaderId: 1, leaderEpoch: 3, preVote: true });
    expect(v.raft.epoch).toBe(3);
    v.at(2100); // the leader went quiet: now it would vote
    v.receive(2, vote(2, 4, 0, 0, true));
    expect(v.sent('VoteResponse')[0].voteGranted).toBe(true);
    expect(v.election).toMatchObject({ epoch: 3 }); // a pre-vote is never persisted
  });

  it('a prospective refused by its leader itself goes back to following it', () => {
    const f = Node.make(2, [1, 2, 3], { preVote: true, election: { epoch: 3, leaderId: 1, votedId: -1 } });
    f.at(2000);
    const r1 = f.sent('VoteRequest').find((r) => r.to === 1)!;
    f.receive(
      1,
      { type: 'VoteResponse', errorCode: 0, leaderId: 1, leaderEpoch: 3, voteGranted: false, preVote: true },
      r1.correlationId,
    );
    expect(f.raft.stateName).toBe('follower');
    expect(f.raft.epoch).toBe(3);
  });

  it('a prospective does not go back to the leader it gave up on because a voter that has not timed out yet names it', () => {
    // After a leader crash: node 3 still follows node 1 for a few ms when node 2 asks it.
    const f = Node.make(2, [1, 2, 3], { preVote: true, election: { epoch: 3, leaderId: 1, votedId: -1 } });
    f.at(2000);
    const r3 = f.sent('VoteRequest').find((r) => r.to === 3)!;
    f.receive(
      3,
      { type: 'VoteResponse', errorCode: 0, leaderId: 1, leaderEpoch: 3, voteGranted: false, preVote: true },
      r3.correlationId,
    );
    expect(f.raft.stateName).toBe('prospective');
    // After its election timeout and backoff it asks again; node 3 has timed out too by then,
    // grants, and node 2 stands.
    let again: ReturnType<typeof f.sent<'VoteRequest'>>[number] | undefined;
    for (let t = 2100; !again && t <= 2000 + 4 * TIMING.electionTimeoutMs; t += 100) {
      f.at(t);
      again = f.sent('VoteRequest').find((r) => r.to === 3);
    }
    expect(again).toMatchObject({ preVote: true, candidateEpoch: 4 });
    expect(f.raft.stateName).toBe('prospective');
    f.receive(
      3,
      { type: 'VoteResponse', errorCode: 0, leaderId: -1, leaderEpoch: 3, voteGranted: true, preVote: true },
      again!.correlationId,
    );
    expect(f.raft.stateName).toBe('candidate');
    expect(f.raft.epoch).toBe(4);
  });

  it('a leader without fetches from a majority resigns (check-quorum)', () => {
    const n = Node.make(1, [1, 2, 3]);
    electNode1(n);
    const t0 = n.now;
    n.persistAll();
    n.at(t0 + 2900);
    expect(n.raft.stateName).toBe('leader');
    n.receive(2, fetch(2, n.raft.epoch, 0, 0)); // a majority (2 of 3) fetched: the 1.5 × 2000 ms timer restarts
    n.at(t0 + 2900 + 2999);
    expect(n.raft.stateName).toBe('leader');
    n.at(t0 + 2900 + 3000);
    expect(n.raft.stateName).toBe('resigned');
    const ends = n.sent('EndQuorumEpochRequest');
    expect(ends.map((e) => e.to).sort()).toEqual([2, 3]);
    expect(ends[0].preferredSuccessors).toEqual([2, 3]); // 2 fetched, so it is the most caught up
    n.step({ kind: 'propose', nowMs: n.now, records: ['x'] });
    expect(n.actions[0]).toMatchObject({ kind: 'proposalRejected', errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
  });

  it('on EndQuorumEpoch the first preferred successor stands at once, the others wait', () => {
    const first = Node.make(2, [1, 2, 3], { election: { epoch: 3, leaderId: 1, votedId: -1 } });
    const second = Node.make(3, [1, 2, 3], { election: { epoch: 3, leaderId: 1, votedId: -1 } });
    for (const n of [first, second]) {
      n.at(10);
      n.receive(1, {
        type: 'EndQuorumEpochRequest',
        clusterId: 'c',
        leaderId: 1,
        leaderEpoch: 3,
        preferredSuccessors: [2, 3],
      });
      n.at(11);
    }
    expect(first.raft.stateName).toBe('candidate');
    expect(second.raft.stateName).toBe('follower');
    second.at(200);
    expect(second.raft.stateName).toBe('candidate');
  });

  it('a leader that restarts resigns, and a voter that restarts keeps following its leader', () => {
    const n = Node.make(1, [1, 2, 3]);
    electNode1(n);
    n.restart();
    expect(n.raft.stateName).toBe('resigned');
    const f = Node.make(2, [1, 2, 3], { election: { epoch: 2, leaderId: 1, votedId: 1 } });
    expect(f.raft.stateName).toBe('follower');
  });

  it('BeginQuorumEpoch makes a voter of that epoch a follower, and a stale one is fenced', () => {
    const v = Node.make(3, [1, 2, 3], { election: { epoch: 2, leaderId: -1, votedId: 1 } });
    v.receive(1, { type: 'BeginQuorumEpochRequest', clusterId: 'c', voterId: 3, leaderId: 1, leaderEpoch: 2 });
    expect(v.raft.stateName).toBe('follower');
    expect(v.election).toEqual({ epoch: 2, leaderId: 1, votedId: 1 }); // the vote stays recorded
    v.receive(2, { type: 'BeginQuorumEpochRequest', clusterId: 'c', voterId: 3, leaderId: 2, leaderEpoch: 1 });
    expect(v.sent('BeginQuorumEpochResponse').pop()).toMatchObject({
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
      leaderEpoch: 2,
      leaderId: 1,
    });
  });

  it('a fetch from an older epoch is fenced and tells the fetcher who leads now', () => {
    const n = Node.make(1, [1, 2, 3]);
    electNode1(n);
    n.drain();
    n.receive(2, fetch(2, 0, 0, 0));
    expect(n.sent('FetchResponse')[0]).toMatchObject({
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
      currentLeader: { leaderId: 1, leaderEpoch: 1 },
    });
  });

  it('an observer asks a voter who leads, then follows without ever voting or standing', () => {
    const o = Node.make(100, [1, 2, 3]);
    o.at(5000);
    const [ask] = o.sent('FetchRequest');
    expect([1, 2, 3]).toContain(ask.to);
    o.receive(
      ask.to,
      {
        type: 'FetchResponse',
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        highWatermark: -1,
        divergingEpoch: null,
        currentLeader: { leaderId: 2, leaderEpoch: 4 },
        snapshotId: null,
        records: [],
      },
      ask.correlationId,
    );
    expect(o.raft.stateName).toBe('follower');
    expect(o.sent('FetchRequest')[0]).toMatchObject({ to: 2, currentLeaderEpoch: 4 });
    o.receive(1, vote(1, 5, 0, 0));
    expect(o.sent('VoteResponse')[0]).toMatchObject({
      voteGranted: false,
      errorCode: ErrorCode.INCONSISTENT_VOTER_SET,
    });
    o.at(20_000);
    expect(o.raft.stateName).toBe('unattached');
  });

  it('election timeouts come from the injected random source: one seed, one schedule', () => {
    const firstElection = (seed: number) => {
      const n = Node.make(1, [1, 2, 3], { seed });
      for (let t = 0; t <= 2000; t += 1) {
        n.at(t);
        if (n.raft.stateName === 'candidate') return t;
      }
      return -1;
    };
    expect(firstElection(7)).toBe(firstElection(7));
    const times = new Set([1, 2, 3, 4, 5, 6, 7, 8].map(firstElection));
    expect(times.size).toBeGreaterThan(1);
    for (const t of times) expect(t).toBeGreaterThanOrEqual(1000);
  });
});
