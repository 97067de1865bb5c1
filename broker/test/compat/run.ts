// The client compatibility matrix: runs the same scenarios with each client (Java
// kafka-clients, kcat, confluent-kafka for Python, kafkajs, @platformatic/kafka), each client's
// steps in their own processes, against a Runnel broker process per client, and writes
// docs/compat/matrix.md. Exits 1 when a cell fails that is not listed as a known failure.
//
//   npm run build && node dist/broker/test/compat/run.js [options]
//     --clients java,kcat,python,kafkajs,platformatic   (default: all)
//     --scenarios produce,idempotent,gzip,snappy,lz4,zstd,group,admin   (default: all)
//     --jobs N          clients run side by side (default 1)
//     --timeout-ms MS   limit for each client process (default 90000)
//     --out FILE        where the markdown goes (default docs/compat/matrix.md, written only
//                       when every client and scenario ran)   --no-write: print only
//     --logs DIR        keep every task, driver output and broker log there (default: a temp dir)
//
// First run installs what it needs outside the repository: the Java client's jars through
// Maven (~/.m2), the compiled Java driver and a Python venv with confluent-kafka
// (~/.cache/runnel/compat, or RUNNEL_COMPAT_CACHE). kcat must be on the PATH.

import { spawn, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CLIENTS, ROOT, type Client } from './clients.js';
import { renderMarkdown, renderText, withReadmeTable, type Cell, type Row, type RunInfo } from './report.js';
import { SCENARIOS, type Scenario, type ScenarioContext } from './scenarios.js';
import { startSingleBroker, type Target } from './target.js';
import type { VersionResult } from './tasks.js';

const SCENARIO_TIMEOUT_MS = 4 * 60_000;

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string' },
    scenarios: { type: 'string' },
    jobs: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '90000' },
    out: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    logs: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write(
    'usage: node dist/broker/test/compat/run.js [--clients a,b] [--scenarios x,y] [--jobs N] [--timeout-ms MS] [--out FILE | --no-write] [--logs DIR]\n',
  );
  process.exit(message ? 2 : 0);
}

if (opts.help) usage();

function pick<T extends { id: string }>(all: readonly T[], list: string | undefined, what: string): T[] {
  if (!list) return [...all];
  const ids = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = ids.filter((id) => !all.some((x) => x.id === id));
  if (unknown.length > 0) usage(`unknown ${what}: ${unknown.join(', ')} (known: ${all.map((x) => x.id).join(', ')})`);
  return all.filter((x) => ids.includes(x.id));
}

const clients = pick(CLIENTS, opts.clients, 'client');
const scenarios = pick(SCENARIOS, opts.scenarios, 'scenario');
const jobs = Math.max(1, Number(opts.jobs) || 1);
const driverTimeoutMs = Number(opts['timeout-ms']);
if (!Number.isFinite(driverTimeoutMs) || driverTimeoutMs <= 0) usage('--timeout-ms needs a positive number');
const complete = clients.length === CLIENTS.length && scenarios.length === SCENARIOS.length;
const outFile = opts['no-write']
  ? undefined
  : (opts.out ?? (complete ? path.join(ROOT, 'docs/compat/matrix.md') : undefined));

const logsDir = opts.logs ? path.resolve(opts.logs) : await mkdtemp(path.join(os.tmpdir(), 'runnel-compat-'));
await mkdir(logsDir, { recursive: true });

const started = Date.now();
const log = (client: string, line: string) =>
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${client.padEnd(12)} ${line}\n`);

// ---- driver processes --------------------------------------------------------------------------

let sequence = 0;

interface DriverRun {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function spawnDriver(
  client: Client,
  op: string,
  taskFile: string,
  onEvent?: (event: Record<string, unknown>) => void,
): Promise<DriverRun> {
  const { cmd, args, env } = client.command(op, taskFile);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, driverTimeoutMs);
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!onEvent) return;
      pending += d.toString();
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.startsWith('{"event"')) continue;
        try {
          onEvent(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not an event line after all
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

function lastJsonLine(stdout: string): Record<string, unknown> | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (!line) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** A driver's JSON lines: events ({"event":…}) while it runs, then its result. */
function lastJsonResult(stdout: string): Record<string, unknown> | undefined {
  return lastJsonLine(
    stdout
      .split('\n')
      .filter((l) => !l.startsWith('{"event"'))
      .join('\n'),
  );
}

async function drive<R>(
  client: Client,
  label: string,
  op: string,
  task: object,
  onEvent?: (event: Record<string, unknown>) => void,
): Promise<R> {
  const base = path.join(logsDir, `${client.id}-${String(++sequence).padStart(3, '0')}-${label}-${op}`);
  const taskFile = `${base}.task.json`;
  await writeFile(taskFile, JSON.stringify(task, null, 1));
  const r = await spawnDriver(client, op, taskFile, onEvent);
  await writeFile(`${base}.stdout`, r.stdout);
  await writeFile(`${base}.stderr`, r.stderr);
  const result = lastJsonResult(r.stdout);
  const tail = r.stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 600);
  if (r.timedOut)
    throw new Error(
      `${op}: the ${client.id} process did not finish within ${driverTimeoutMs / 1000} s${tail ? ` (stderr: ${tail})` : ''}`,
    );
  if (!result)
    throw new Error(
      `${op}: the ${client.id} process exited with ${r.code} without a result${tail ? ` (stderr: ${tail})` : ''}`,
    );
  if (typeof result.error === 'string') throw new Error(`${op}: ${result.error}`);
  if (r.code !== 0)
    throw new Error(`${op}: the ${client.id} process exited with ${r.code}${tail ? ` (stderr: ${tail})` : ''}`);
  return result as R;
}

// ---- one client --------------------------------------------------------------------------------

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

async function runClient(client: Client): Promise<Row> {
  const t0 = Date.now();
  const row: Row = { client: client.id, name: client.id, version: '?', cells: new Map(), notes: [], seconds: 0 };
  const fail = (reason: string) => {
    for (const s of scenarios)
      row.cells.set(
        s.id,
        client.notApplicable[s.id] ? { status: 'n/a', reason: client.notApplicable[s.id] } : { status: 'fail', reason },
      );
  };
  try {
    await client.prepare((line) => log(client.id, line));
    const v = await drive<VersionResult>(client, 'setup', 'version', {});
    row.name = v.name;
    row.version = v.version;
    row.runtime = v.runtime;
  } catch (e) {
    const reason = `setup failed: ${(e as Error).message}`;
    log(client.id, reason);
    fail(reason);
    row.notes.push(reason);
    row.seconds = (Date.now() - t0) / 1000;
    return row;
  }
  log(client.id, `${row.name} ${row.version}${row.runtime ? ` (${row.runtime})` : ''}`);

  let target: Target;
  try {
    target = await startSingleBroker();
    running.add(target);
  } catch (e) {
    const reason = `the broker did not start: ${(e as Error).message.split('\n')[0]}`;
    fail(reason);
    row.notes.push(reason);
    return row;
  }
  for (const scenario of scenarios) {
    const na = client.notApplicable[scenario.id];
    if (na) {
      row.cells.set(scenario.id, { status: 'n/a', reason: na });
      continue;
    }
    row.cells.set(scenario.id, await runScenario(client, scenario, target));
  }
  running.delete(target);
  const problems = await target.stop();
  await writeFile(path.join(logsDir, `${client.id}-broker.log`), target.output());
  for (const p of problems) {
    log(client.id, `broker: ${p}`);
    row.notes.push(`broker: ${p}`);
  }
  row.seconds = (Date.now() - t0) / 1000;
  return row;
}

async function runScenario(client: Client, scenario: Scenario, target: Target): Promise<Cell> {
  const t = Date.now();
  const ctx: ScenarioContext = {
    client,
    target,
    drive: (op, task, onEvent) => drive(client, scenario.id, op, task, onEvent),
    tempFile: (name) => path.join(logsDir, `${client.id}-${scenario.id}-${name}`),
    step: (what) => log(client.id, `${scenario.id}: ${what}`),
  };
  let cell: Cell;
  try {
    await withTimeout(scenario.run(ctx), SCENARIO_TIMEOUT_MS, `scenario ${scenario.id}`);
    cell = { status: 'pass' };
  } catch (e) {
    const reason = (e as Error).message;
    const known = client.known[scenario.id];
    cell = known ? { status: 'known', reason: `${known} (this run: ${reason})` } : { status: 'fail', reason };
  }
  cell.seconds = (Date.now() - t) / 1000;
  if (cell.status === 'pass' && client.known[scenario.id]) {
    cell.reason = `listed as a known failure but passed: remove it from known in clients.ts`;
  }
  log(
    client.id,
    `${scenario.id}: ${cell.status.toUpperCase()} (${cell.seconds.toFixed(1)} s)${cell.reason ? ` ${cell.reason}` : ''}`,
  );
  if (cell.status === 'fail') {
    const brokerTail = target.output().trim().split('\n').slice(-5).join('\n');
    process.stderr.write(`  last broker log lines:\n${brokerTail.replace(/^/gm, '    ')}\n`);
  }
  return cell;
}

// ---- all clients -----------------------------------------------------------------------------------

/** Brokers of clients still running, stopped if the run itself is interrupted. */
const running = new Set<Target>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log('runner', `${signal}: stopping ${running.size} broker(s)`);
    void Promise.allSettled([...running].map((t) => t.stop())).then(() => process.exit(130));
  });
}

// ---- run -----------------------------------------------------------------------------------

log('runner', `${clients.length} client(s) × ${scenarios.length} scenario(s), ${jobs} at a time; logs in ${logsDir}`);
const rows = new Array<Row>(clients.length);
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(jobs, clients.length) }, async () => {
    while (next < clients.length) {
      const i = next++;
      rows[i] = await runClient(clients[i]);
    }
  }),
);

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

const info: RunInfo = {
  date: new Date().toISOString().slice(0, 10),
  target: 'Runnel, 1 broker',
  commit: git(['describe', '--always', '--dirty']),
  node: process.versions.node,
  platform: `${os.type()} ${os.arch()}, ${os.cpus().length} CPU`,
  totalSeconds: (Date.now() - started) / 1000,
  command: 'npm run compat',
};

process.stdout.write(`\n${renderText(rows, scenarios)}\n`);
if (outFile) {
  await mkdir(path.dirname(outFile), { recursive: true });
  await writeFile(outFile, renderMarkdown(rows, scenarios, info));
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), outFile) || outFile}\n`);
  if (complete && !opts.out) {
    const readme = path.join(ROOT, 'README.md');
    await writeFile(readme, withReadmeTable(await readFile(readme, 'utf8'), rows, scenarios, info));
    process.stdout.write('updated the table in README.md\n');
  }
}
const failed = rows.flatMap((r) =>
  [...r.cells].filter(([, c]) => c.status === 'fail').map(([s]) => `${r.client}/${s}`),
);
const brokerProblems = rows.filter((r) => r.notes.some((n) => n.startsWith('broker:')));
process.stdout.write(`logs: ${logsDir}\n`);
if (failed.length > 0 || brokerProblems.length > 0) {
  process.stdout.write(
    `\n${failed.length} cell(s) failed${failed.length ? `: ${failed.join(', ')}` : ''}${brokerProblems.length ? `; broker problems with ${brokerProblems.map((r) => r.client).join(', ')}` : ''}\n`,
  );
  process.exit(1);
}
process.stdout.write(`\nall cells pass or are known/n/a (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
process.exit(0);
