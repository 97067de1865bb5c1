// Starts the real broker (the built dist/broker/main.js) as a separate process for tests and
// benchmarks, on a free loopback port, and stops it the way an operator would.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// This file runs from source under vitest and compiled (dist/broker/test) in benchmarks.
const MAIN = HERE.split(path.sep).includes('dist')
  ? path.resolve(HERE, '../main.js')
  : path.resolve(HERE, '../../dist/broker/main.js');
const START_TIMEOUT_MS = 20_000;

export interface BrokerProcess {
  readonly pid: number;
  readonly port: number;
  readonly dataDir: string;
  readonly bootstrap: string;
  /** Port of /healthz, /readyz and /metrics when runnel.http.listener is set. */
  readonly httpPort: number | undefined;
  /** Everything the broker printed so far (JSON log lines and stderr). */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no flush, no clean shutdown marker. */
  kill9(): Promise<void>;
}

export async function newDataDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'runnel-test-'));
}

/**
 * Starts a broker. With `port` set it reuses that port (restarts keep the address clients
 * know); otherwise the OS picks a free one.
 */
export interface ProcessLimits {
  /** `ulimit -n`: open files (soft and hard, so Node cannot raise it). */
  openFiles?: number;
  /** `ulimit -f`, in bytes (rounded down to 1 KiB blocks): larger writes to any file fail as on a full disk. */
  fileSizeBytes?: number;
}

export async function startBroker(
  options: {
    dataDir?: string;
    port?: number;
    overrides?: Record<string, string>;
    nodeArgs?: string[];
    limits?: ProcessLimits;
  } = {},
): Promise<BrokerProcess> {
  const dataDir = options.dataDir ?? (await newDataDir());
  const port = options.port ?? 0;
  const overrides: Record<string, string> = {
    'node.id': '1',
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'log.dirs': dataDir,
    'offsets.topic.replication.factor': '1',
    // Tests start their group members together; waiting for stragglers only slows them.
    'group.initial.rebalance.delay.ms': '0',
    ...options.overrides,
  };
  const args = [
    ...(options.nodeArgs ?? []),
    MAIN,
    ...Object.entries(overrides).flatMap(([k, v]) => ['--override', `${k}=${v}`]),
  ];
  const child = spawnWithLimits([process.execPath, ...args], options.limits ?? {});
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const boundPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`broker did not start within ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    );
    // Started: ready for clients (a broker registered and unfenced). The port returned is its
    // client listener's; a controller-only node's is its controller listener's.
    const check = () => {
      if (!output.includes('"msg":"node started"')) return;
      const listening = [...output.matchAll(/"listener":"(\w+)"[^\n]*"port":(\d+)[^\n]*"msg":"listening"/g)];
      const chosen = listening.find((m) => m[1] !== 'CONTROLLER') ?? listening[0];
      if (!chosen) return;
      clearTimeout(timer);
      resolve(Number(chosen[2]));
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening:\n${output}`));
    });
  });
  // With port 0 the advertised port is resolved by the broker itself.
  return handle(child, exited, boundPort, dataDir, () => output);
}

/** Starts the command under the given resource limits (set by a shell that then execs it: same pid). */
function spawnWithLimits(command: string[], limits: ProcessLimits): ChildProcess {
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const ulimits = [
    ...(limits.openFiles !== undefined ? [`ulimit -n ${limits.openFiles}`] : []),
    ...(limits.fileSizeBytes !== undefined ? [`ulimit -f ${Math.floor(limits.fileSizeBytes / 1024)}`] : []),
  ];
  if (ulimits.length === 0) return spawn(command[0], command.slice(1), { stdio });
  return spawn('/bin/sh', ['-c', `${ulimits.join(' && ')} && exec "$@"`, 'sh', ...command], { stdio });
}

function handle(
  child: ChildProcess,
  exited: Promise<number | null>,
  port: number,
  dataDir: string,
  output: () => string,
): BrokerProcess {
  const http = /"port":(\d+)[^\n]*"msg":"http endpoint listening"/.exec(output());
  return {
    pid: child.pid!,
    port,
    httpPort: http ? Number(http[1]) : undefined,
    dataDir,
    bootstrap: `127.0.0.1:${port}`,
    output,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
