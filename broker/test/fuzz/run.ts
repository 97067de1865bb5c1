// `npm run fuzz -- [--requests N] [--seed S] [--connections C] [--replay i,j,...]`
// Runs the structure-aware fuzzer against a freshly started broker (see campaign.ts), with
// every class of mutation enabled, and exits non-zero when it finds anything.

import { runCampaign } from './campaign.js';
import { formatResult } from './report.js';

interface Args {
  requests: number;
  seed: number;
  connections: number;
  replay: number[] | undefined;
  rssMib: number;
  settleMs: number | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    requests: 100_000,
    seed: Math.floor(Math.random() * 2 ** 31),
    connections: 4,
    replay: undefined,
    rssMib: 1024,
    settleMs: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const num = () => {
      const n = Number(value);
      if (value === undefined || !Number.isFinite(n)) throw new Error(`${flag} needs a number`);
      i++;
      return n;
    };
    switch (flag) {
      case '--requests':
        args.requests = num();
        break;
      case '--seed':
        args.seed = num() >>> 0;
        break;
      case '--connections':
        args.connections = num();
        break;
      case '--rss-mib':
        args.rssMib = num();
        break;
      case '--settle-ms':
        args.settleMs = num();
        break;
      case '--replay':
        if (!value) throw new Error('--replay needs case indices, e.g. --replay 12,40');
        args.replay = value.split(',').map(Number);
        i++;
        break;
      case '--help':
        process.stdout.write(
          'npm run fuzz -- [--requests N=100000] [--seed S] [--connections C=4] [--replay i,j,...] [--rss-mib M=1024] [--settle-ms MS]\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${flag} (try --help)`);
    }
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const log = (line: string) => process.stdout.write(`${line}\n`);
log(
  `fuzzing with seed ${args.seed}${args.replay ? `, replaying cases ${args.replay.join(',')}` : `, ${args.requests} requests over ${args.connections} connections`}`,
);
const result = await runCampaign({
  runSeed: args.seed,
  requests: args.requests,
  connections: args.connections,
  replay: args.replay,
  rssLimitBytes: args.rssMib * 2 ** 20,
  // A replay watches longer: some failures come seconds after their request (session timeouts).
  settleMs: args.settleMs ?? (args.replay ? 12_000 : 5_000),
  log,
});
log(formatResult(result));
process.exit(result.findings.length > 0 ? 1 : 0);
