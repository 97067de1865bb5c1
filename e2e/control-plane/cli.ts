// The control-plane CLI (run by cluster.sh, or `node dist/e2e/control-plane/cli.js` after
// `npm run build`):
//   run  [--run-dir DIR] [--no-setup]   foreground; Ctrl-C (SIGINT) or SIGTERM tears everything down
//   up   [--run-dir DIR] [--no-setup]   background; prints `export KUBECONFIG=…` (eval it)
//   down [--run-dir DIR]                stops what `up` started (default: e2e/.runs/latest)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startCluster } from './cluster.js';
import { defaultBinDir, ensureBuilt, newRunDir, repoRoot } from './paths.js';
import { sleep } from './probes.js';
import { killGroup, processesUnder, readOr } from './processes.js';

function parseArgs(argv: string[]): { cmd: string; runDir?: string; setup: boolean } {
  const [cmd = 'help', ...rest] = argv;
  let runDir: string | undefined;
  let setup = true;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--run-dir') runDir = rest[++i];
    else if (a.startsWith('--run-dir=')) runDir = a.slice('--run-dir='.length);
    else if (a === '--no-setup') setup = false;
    else throw new Error(`unknown argument ${a}`);
  }
  return { cmd, runDir, setup };
}

async function cli(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const latest = () => path.join(repoRoot(), 'e2e', '.runs', 'latest');
  switch (a.cmd) {
    case 'run': {
      const binDir = a.setup ? ensureBuilt() : defaultBinDir();
      const cluster = await startCluster({ binDir, runDir: a.runDir });
      fs.writeFileSync(path.join(cluster.runDir, 'owner.pid'), `${process.pid}\n`);
      fs.writeFileSync(path.join(cluster.runDir, 'env.sh'), cluster.exports() + '\n');
      fs.writeFileSync(path.join(cluster.runDir, 'ready'), cluster.server + '\n');
      process.stdout.write(cluster.exports() + '\n');
      process.stderr.write('[control-plane] running; Ctrl-C (SIGINT) or SIGTERM tears it down\n');
      // If a component dies, tear the rest down too rather than leave a half-working plane.
      await Promise.race(cluster.components.map((c) => c.exitPromise));
      if (cluster.stopRequested) {
        // A signal handler is tearing down and will exit.
        await cluster.stop();
        return 0;
      }
      process.stderr.write('[control-plane] a component exited; tearing down\n');
      await cluster.stop();
      return 1;
    }
    case 'up': {
      if (a.setup) ensureBuilt();
      const runDir = path.resolve(a.runDir ?? newRunDir());
      fs.mkdirSync(runDir, { recursive: true });
      const self = fileURLToPath(import.meta.url);
      const out = fs.openSync(path.join(runDir, 'cluster.log'), 'a');
      const child = spawn(process.execPath, [...process.execArgv, self, 'run', '--no-setup', '--run-dir', runDir], {
        detached: true,
        stdio: ['ignore', out, out],
      });
      fs.closeSync(out);
      let exited = false;
      child.once('exit', () => (exited = true));
      const deadline = Date.now() + 180_000;
      while (!fs.existsSync(path.join(runDir, 'ready'))) {
        if (exited || Date.now() > deadline) {
          if (!exited) killGroup(child.pid!, 'SIGTERM');
          process.stderr.write(readOr(path.join(runDir, 'cluster.log')));
          process.stderr.write(`control plane did not start; see ${runDir}\n`);
          return 1;
        }
        await sleep(200);
      }
      child.unref();
      process.stdout.write(readOr(path.join(runDir, 'env.sh')));
      process.stderr.write(
        `[control-plane] up (pid ${child.pid}); stop with: e2e/control-plane/cluster.sh down --run-dir ${runDir}\n`,
      );
      return 0;
    }
    case 'down': {
      const runDir = fs.realpathSync(a.runDir ?? latest());
      const pidText = readOr(path.join(runDir, 'owner.pid')).trim();
      if (!pidText) {
        process.stderr.write(`no owner.pid in ${runDir}: nothing to stop\n`);
        return 0;
      }
      const pid = Number(pidText);
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && processesUnder(runDir).length > 0) await sleep(200);
      const left = processesUnder(runDir);
      fs.rmSync(path.join(runDir, 'owner.pid'), { force: true });
      fs.rmSync(path.join(runDir, 'ready'), { force: true });
      if (left.length) {
        process.stderr.write(`still running: ${left.map((p) => `${p.pid} ${p.cmd}`).join('\n')}\n`);
        return 1;
      }
      process.stderr.write(`[control-plane] down; logs in ${path.join(runDir, 'logs')}\n`);
      return 0;
    }
    default:
      process.stderr.write(
        'usage: cli.js run|up|down [--run-dir DIR] [--no-setup]\n' +
          '  run   start in the foreground; SIGINT/SIGTERM tears everything down\n' +
          '  up    start in the background, print `export KUBECONFIG=...` lines\n' +
          '  down  stop what `up` started (default run dir: e2e/.runs/latest)\n',
      );
      return a.cmd === 'help' ? 0 : 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
