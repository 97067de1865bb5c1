// `npm run sim -- [--seeds N] [--steps M] [--seed S] [--voters 1|3|5] [--trace]`
// Runs N seeded schedules (from a random start seed, or exactly --seed S with its full schedule
// printed on failure, or always with --trace) and exits non-zero on the first safety or liveness
// violation, printing the seed, the schedule's tail and the command that replays it.

import { defaultSimOptions, Simulation, type SimOptions } from './simulation.js';

interface Args {
  seeds: number;
  steps: number;
  seed: number | undefined;
  voters: SimOptions['voters'] | undefined;
  trace: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 100, steps: 5000, seed: undefined, voters: undefined, trace: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const num = () => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n)) throw new Error(`${flag} needs a number`);
      return n;
    };
    switch (flag) {
      case '--seeds':
        args.seeds = num();
        break;
      case '--steps':
        args.steps = num();
        break;
      case '--seed':
        args.seed = num() >>> 0;
        break;
      case '--voters': {
        const v = num();
        if (v !== 1 && v !== 3 && v !== 5) throw new Error('--voters is 1, 3 or 5');
        args.voters = v;
        break;
      }
      case '--trace':
        args.trace = true;
        break;
      default:
        throw new Error(
          `unknown flag ${flag}; usage: npm run sim -- [--seeds N] [--steps M] [--seed S] [--voters 1|3|5] [--trace]`,
        );
    }
  }
  return args;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const single = args.seed !== undefined;
  const first = args.seed ?? Math.floor(Math.random() * 2 ** 31) >>> 0;
  const count = single ? 1 : args.seeds;
  const started = Date.now();
  let steps = 0;
  let epochs = 0;
  let committed = 0;
  let snapshotsWritten = 0;
  let snapshotsInstalled = 0;
  let worstRecoveryMs = 0;
  for (let i = 0; i < count; i++) {
    const seed = (first + i) >>> 0;
    const overrides: Partial<SimOptions> = { steps: args.steps, fullTrace: single };
    if (args.voters !== undefined) overrides.voters = args.voters;
    const options = defaultSimOptions(seed, overrides);
    const result = new Simulation(options).run();
    steps += result.steps;
    epochs += result.leaderEpochs;
    committed += result.committed;
    snapshotsWritten += result.snapshotsWritten;
    snapshotsInstalled += result.snapshotsInstalled;
    worstRecoveryMs = Math.max(worstRecoveryMs, result.recoveryMs ?? 0);
    if (args.trace) console.log(result.trace.join('\n'));
    if (!result.ok) {
      if (!args.trace) console.log(result.trace.join('\n'));
      console.log(
        `\nseed ${seed} FAILED after ${result.steps} steps (${result.simulatedMs} simulated ms): ${result.violation}`,
      );
      console.log(`options: ${JSON.stringify(options)}`);
      console.log(`replay:  ${result.replay}${args.voters !== undefined ? ` --voters ${args.voters}` : ''}`);
      return 1;
    }
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `${count} seeds from ${first} passed: ${steps} steps, ${epochs} leader epochs, ${committed} entries committed, ${snapshotsWritten} snapshots written, ${snapshotsInstalled} installed from a leader, slowest calm recovery ${worstRecoveryMs} ms (${secs}s)`,
  );
  return 0;
}

process.exitCode = main();
