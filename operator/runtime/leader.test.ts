import type { V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { silentLog } from '../test/fakes.js';
import { ManualClock, type Clock } from './clock.js';
import { LeaderElector, leaseDecision, observe, type LeaseApi, type LeaderOptions } from './leader.js';

const LEASE_S = 15;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_MS = 2_000;

/** One Lease in an in-memory API server, with optimistic concurrency on resourceVersion. */
class FakeLeaseServer {
  lease: V1Lease | undefined;
  private version = 0;

  /** A replica's view of the API: `mode` cuts it off (calls fail) or makes its calls hang. */
  client(): LeaseApi & { mode: 'up' | 'down' | 'hang' } {
    // A throw from fn inside the executor rejects the promise with it, as a failed API call would.
    const call = <T>(fn: () => T) =>
      new Promise<T>((resolve, reject) => {
        if (client.mode === 'hang') return;
        if (client.mode === 'down') return reject(new Error('connection refused'));
        resolve(fn());
      });
    const client = {
      mode: 'up' as 'up' | 'down' | 'hang',
      read: () => call(() => copy(this.lease)),
      create: (spec: V1LeaseSpec) =>
        call(() => {
          if (this.lease) throw new Error('HTTP 409: already exists');
          this.lease = {
            metadata: { name: 'runnel-operator', resourceVersion: String(++this.version) },
            spec: copy(spec),
          };
          return copy(this.lease);
        }),
      replace: (lease: V1Lease) =>
        call(() => {
          if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion)
            throw new Error('HTTP 409: conflict');
          this.lease = {
            ...copy(lease),
            metadata: { ...lease.metadata, resourceVersion: String(++this.version) },
          };
          return copy(this.lease);
        }),
    };
    return client;
  }
}

function copy<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

/** A replica whose clock reads `offsetMs` off the shared one (its timers run on the shared one). */
function skewed(clock: ManualClock, offsetMs: number): Clock {
  return {
    now: () => clock.now() + offsetMs,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (id) => clock.clearTimeout(id),
    sleep: (ms) => clock.sleep(ms),
  };
}

interface Replica {
  elector: LeaderElector;
  api: ReturnType<FakeLeaseServer['client']>;
  /** Shared-clock times at which it started and stopped leading. */
  ledAt?: number;
  lostAt?: number;
  acquired: Promise<boolean>;
}

function replica(server: FakeLeaseServer, clock: ManualClock, identity: string, own: Clock = clock): Replica {
  const api = server.client();
  const options: LeaderOptions = {
    lease: 'ns/runnel-operator',
    identity,
    leaseDurationSeconds: LEASE_S,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    clock: own,
    log: silentLog,
  };
  const r = { elector: new LeaderElector(api, options), api } as Replica;
  r.acquired = r.elector.acquire(() => (r.lostAt = clock.now()));
  void r.acquired.then((ok) => ok && (r.ledAt = clock.now()));
  return r;
}

/** Never two leaders at one moment: checked after every step of `ms`. */
async function runChecked(clock: ManualClock, replicas: Replica[], totalMs: number): Promise<void> {
  await clock.advanceInSteps(totalMs, 100, (now) => {
    const leaders = replicas.filter((r) => r.elector.isLeader);
    if (leaders.length > 1) throw new Error(`two leaders at ${now}`);
  });
}

describe('lease decision', () => {
  const spec = (holderIdentity: string | undefined, renewTime = new Date(0)): V1LeaseSpec => ({
    holderIdentity,
    renewTime,
    leaseDurationSeconds: LEASE_S,
  });

  it('creates a lease nobody holds yet, renews its own, takes over a released one at once', () => {
    expect(leaseDecision(undefined, 'a', 0, 0, LEASE_S)).toBe('create');
    expect(leaseDecision(spec('a'), 'a', 0, 0, LEASE_S)).toBe('renew');
    expect(leaseDecision(spec(undefined), 'a', 0, 0, LEASE_S)).toBe('takeOver');
  });

  it("waits a whole lease duration from when it saw the record change, whatever the holder's renewTime", () => {
    for (const renewTime of [new Date(0), new Date('2100-01-01T00:00:00Z')]) {
      expect(leaseDecision(spec('b', renewTime), 'a', 1_000, 1_000 + LEASE_S * 1000 - 1, LEASE_S)).toBe('wait');
      expect(leaseDecision(spec('b', renewTime), 'a', 1_000, 1_000 + LEASE_S * 1000, LEASE_S)).toBe('takeOver');
    }
  });

  it('restarts the wait when the record changes, and only then', () => {
    const first = observe(undefined, spec('b', new Date(1_000)), 5_000);
    expect(observe(first, spec('b', new Date(1_000)), 9_000)).toBe(first);
    expect(observe(first, spec('b', new Date(3_000)), 9_000).atMs).toBe(9_000);
    expect(observe(first, spec('c', new Date(1_000)), 9_000).atMs).toBe(9_000);
  });
});

describe('leader election', () => {
  it('elects one leader; the standby waits while the leader renews', async () => {
    const clock = new ManualClock();
    const server = new FakeLeaseServer();
    const a = replica(server, clock, 'a');
    await clock.advance(0);
    const b = replica(server, clock, 'b');
    await runChecked(clock, [a, b], 120_000);
    expect(a.elector.isLeader).toBe(true);
    expect(b.elector.isLeader).toBe(false);
    expect(server.lease?.spec?.holderIdentity).toBe('a');
    expect(server.lease?.spec?.leaseTransitions).toBe(0);
  });

  it('a cut-off leader stops at its renew deadline, and the standby takes over only a lease after it last saw a renewal', async () => {
    const clock = new ManualClock();
    const server = new FakeLeaseServer();
    const a = replica(server, clock, 'a');
    await clock.advance(0);
    const b = replica(server, clock, 'b');
    await runChecked(clock, [a, b], 30_000);
    const cutAt = clock.now();
    a.api.mode = 'down';
    await runChecked(clock, [a, b], 30_000);
    // a's last successful renewal started at most one retry period before the cut.
    expect(a.lostAt! - cutAt).toBeGreaterThan(RENEW_DEADLINE_MS - RETRY_MS);
    expect(a.lostAt! - cutAt).toBeLessThanOrEqual(RENEW_DEADLINE_MS);
    expect(b.ledAt! - a.lostAt!).toBeGreaterThanOrEqual(LEASE_S * 1000 - RENEW_DEADLINE_MS);
    expect(b.ledAt! - cutAt).toBeLessThanOrEqual(LEASE_S * 1000 + RETRY_MS);
    expect(server.lease?.spec?.holderIdentity).toBe('b');
    expect(server.lease?.spec?.leaseTransitions).toBe(1);
  });

  it('a leader whose renewal hangs stops at the renew deadline, without waiting for the call', async () => {
    const clock = new ManualClock();
    const server = new FakeLeaseServer();
    const a = replica(server, clock, 'a');
    await clock.advance(0);
    const b = replica(server, clock, 'b');
    await runChecked(clock, [a, b], 10_000);
    const lastRenewal = new Date(server.lease!.spec!.renewTime!).getTime();
    a.api.mode = 'hang';
    await runChecked(clock, [a, b], 30_000);
    expect(a.lostAt).toBe(lastRenewal + RENEW_DEADLINE_MS);
    expect(b.elector.isLeader).toBe(true);
  });

  it('a standby never takes over before the renew deadline has passed without a renewal', async () => {
    // Cut the leader off at every phase of its renewal cycle.
    for (let phaseMs = 0; phaseMs < RETRY_MS; phaseMs += 250) {
      const clock = new ManualClock();
      const server = new FakeLeaseServer();
      const a = replica(server, clock, 'a');
      await clock.advance(0);
      const b = replica(server, clock, 'b');
      await runChecked(clock, [a, b], 20_000 + phaseMs);
      const lastRenewal = new Date(server.lease!.spec!.renewTime!).getTime();
      a.api.mode = 'down';
      await runChecked(clock, [a, b], 40_000);
      expect(a.lostAt).toBe(lastRenewal + RENEW_DEADLINE_MS);
      expect(b.ledAt).toBeGreaterThanOrEqual(lastRenewal + LEASE_S * 1000);
    }
  });

  it("takes over at the same moment whatever the holder's clock wrote as renewTime", async () => {
    const HOUR = 3_600_000;
    const takeovers: number[] = [];
    for (const holderSkewMs of [0, -HOUR, +HOUR, -365 * 24 * HOUR]) {
      const clock = new ManualClock();
      const server = new FakeLeaseServer();
      const a = replica(server, clock, 'a', skewed(clock, holderSkewMs));
      await clock.advance(0);
      const b = replica(server, clock, 'b');
      await runChecked(clock, [a, b], 7_000);
      a.api.mode = 'down';
      await runChecked(clock, [a, b], 40_000);
      expect(b.elector.isLeader).toBe(true);
      takeovers.push(b.ledAt! - a.lostAt!);
    }
    expect(new Set(takeovers).size).toBe(1);
    expect(takeovers[0]).toBeGreaterThanOrEqual(LEASE_S * 1000 - RENEW_DEADLINE_MS);
  });

  it('a newly started standby waits a whole lease even when the renewTime it reads is long past', async () => {
    const clock = new ManualClock();
    const server = new FakeLeaseServer();
    const start = clock.now();
    server.lease = {
      metadata: { name: 'runnel-operator', resourceVersion: '1' },
      spec: {
        holderIdentity: 'gone',
        leaseDurationSeconds: LEASE_S,
        renewTime: new Date(start - 24 * 3_600_000),
        leaseTransitions: 3,
      },
    };
    const b = replica(server, clock, 'b');
    await clock.advance(LEASE_S * 1000 - 1);
    expect(b.elector.isLeader).toBe(false);
    await clock.advance(RETRY_MS);
    expect(b.elector.isLeader).toBe(true);
    expect(server.lease.spec?.leaseTransitions).toBe(4);
  });

  it('hands the lease over at once on release', async () => {
    const clock = new ManualClock();
    const server = new FakeLeaseServer();
    const a = replica(server, clock, 'a');
    await clock.advance(0);
    const b = replica(server, clock, 'b');
    await runChecked(clock, [a, b], 10_000);
    await a.elector.release();
    const releasedAt = clock.now();
    await runChecked(clock, [a, b], RETRY_MS);
    expect(b.ledAt! - releasedAt).toBeLessThanOrEqual(RETRY_MS);
    expect(a.lostAt).toBeUndefined();
  });

  it('a leader that finds another holder in the lease stops at once', async () => {
    const clock = new ManualClock();
    const server = new FakeLeaseServer();
    const a = replica(server, clock, 'a');
    await clock.advance(0);
    server.lease!.spec!.holderIdentity = 'intruder';
    server.lease!.metadata!.resourceVersion = '99';
    await clock.advance(RETRY_MS);
    expect(a.lostAt).toBe(clock.now());
    expect(a.elector.isLeader).toBe(false);
  });

  it('refuses a renew deadline that is not shorter than the lease', () => {
    const api = new FakeLeaseServer().client();
    const base = {
      lease: 'ns/l',
      identity: 'a',
      leaseDurationSeconds: 15,
      retryPeriodMs: 2_000,
      clock: new ManualClock(),
      log: silentLog,
    };
    expect(() => new LeaderElector(api, { ...base, renewDeadlineMs: 15_000 })).toThrow(
      'must be shorter than the lease',
    );
  });
});
