import { describe, expect, it } from 'vitest';
import { defaultSimOptions, Simulation, type SimResult } from './simulation.js';

function failure(r: SimResult): string {
  return `seed ${r.seed}: ${r.violation}\n${r.trace.slice(-60).join('\n')}\nreplay: ${r.replay}`;
}

describe('raft simulation', () => {
  it('500 seeded schedules with loss, reordering, duplication, partitions, crashes and restarts keep every safety property and recover when calm', () => {
    let committed = 0;
    let epochs = 0;
    let snapshotsWritten = 0;
    let snapshotsInstalled = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const r = new Simulation(defaultSimOptions(seed, { steps: 2000 })).run();
      if (!r.ok) expect.fail(failure(r));
      committed += r.committed;
      epochs += r.leaderEpochs;
      snapshotsWritten += r.snapshotsWritten;
      snapshotsInstalled += r.snapshotsInstalled;
    }
    // The schedules are not vacuous: leaders come and go, entries commit, nodes snapshot and drop
    // their logs, and nodes far behind (or wiped) catch up by installing the leader's snapshot.
    expect(epochs).toBeGreaterThan(500);
    expect(committed).toBeGreaterThan(500 * 20);
    expect(snapshotsWritten).toBeGreaterThan(500);
    expect(snapshotsInstalled).toBeGreaterThan(50);
  });

  it.each([1, 3, 5] as const)(
    '%i voters with observers, pre-vote off and on, under heavy faults and frequent snapshots',
    (voters) => {
      for (let seed = 1000; seed < 1040; seed++) {
        const r = new Simulation(
          defaultSimOptions(seed, {
            voters,
            observers: 2,
            preVote: seed % 2 === 0,
            steps: 2000,
            network: { lossRate: 0.2, duplicateRate: 0.2, minDelayMs: 1, maxDelayMs: 60 },
            crashRate: 0.15,
            midStepCrashRate: 0.01,
            partitionRate: 0.15,
            resignRate: 0.02,
            snapshotRate: 0.3,
            wipeRate: 0.05,
          }),
        ).run();
        if (!r.ok) expect.fail(failure(r));
      }
    },
  );

  it('one seed replays one schedule exactly', () => {
    const run = () => new Simulation(defaultSimOptions(42, { steps: 800, fullTrace: true })).run();
    const a = run();
    const b = run();
    expect(a.ok).toBe(true);
    expect(a.trace).toEqual(b.trace);
    expect(a.trace.length).toBeGreaterThan(100);
  });
});
