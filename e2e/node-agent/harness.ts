/**
 * Starts the node agent (dist/e2e/node-agent/main.js, built by `npm run build`) for a control plane
 * started by cluster.ts with `advertiseAddress: NODE_IP`, and offers what tests need to act like a
 * user on that node: a command run with the cluster's DNS names resolvable (`hostExec`).
 *
 *   const cluster = await startCluster({ advertiseAddress: NODE_IP });
 *   const node = await startNode(cluster);
 *   ...
 *   await node.stop(); await cluster.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Cluster } from '../control-plane/cluster.js';
import { repoRoot } from '../control-plane/paths.js';
import { spawnProcess, type ExecResult, type RunningProcess } from '../control-plane/processes.js';

/** The node's (and the bridge's) address: what the control plane must advertise. */
export const NODE_IP = '10.77.0.1';
export const NODE_NAME = 'runnel-e2e-node';

export interface Node {
  name: string;
  pid: number;
  log: string;
  /** Hosts file with every cluster DNS name (FQDN) as the node sees them. */
  hostsFile: string;
  /** Runs `cmd` on the host, with the cluster's hosts file over /etc/hosts (private mount namespace). */
  hostExec(cmd: string, args: string[], o?: HostExecOptions): Promise<ExecResult>;
  /** hostExec that returns at once: stdin stays open until `end()`. */
  hostSpawn(cmd: string, args: string[], o?: Omit<HostExecOptions, 'input'>): RunningProcess;
  stop(): Promise<void>;
}

export interface HostExecOptions {
  input?: string;
  /** Default 60 s. */
  timeoutMs?: number;
  cwd?: string;
}

export async function startNode(cluster: Cluster, o: { timeoutMs?: number } = {}): Promise<Node> {
  const main = path.join(repoRoot(), 'dist', 'e2e', 'node-agent', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  if (process.getuid?.() !== 0)
    throw new Error('the e2e node agent needs root (network namespaces, bridges, iptables, mounts)');
  const log = path.join(cluster.logDir, 'node-agent.log');
  const fd = fs.openSync(log, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      main,
      'run',
      '--kubeconfig',
      cluster.kubeconfig,
      '--run-dir',
      cluster.runDir,
      '--node-name',
      NODE_NAME,
      '--owner-pid',
      String(process.pid),
    ],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  fs.closeSync(fd);
  let exited: { code: number | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = { code }), resolve())));
  const hostsFile = path.join(cluster.runDir, 'node', 'hosts');

  // Long enough to wait for another run's agent on this machine (the agent serializes on a lock).
  const deadline = Date.now() + (o.timeoutMs ?? 16 * 60_000);
  for (;;) {
    if (exited)
      throw new Error(
        `node agent exited (code ${exited.code}) during start; see ${log}:\n${fs.readFileSync(log, 'utf8').slice(-3000)}`,
      );
    const r = await cluster.kubectl([
      'get',
      'node',
      NODE_NAME,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    if (r.code === 0 && r.stdout.trim() === 'True' && fs.existsSync(hostsFile)) break;
    if (Date.now() > deadline) throw new Error(`node ${NODE_NAME} not Ready in time; see ${log}`);
    await new Promise((res) => setTimeout(res, 300));
  }

  const node: Node = {
    name: NODE_NAME,
    pid: child.pid!,
    log,
    hostsFile,
    hostExec(cmd, args, eo = {}) {
      const p = node.hostSpawn(cmd, args, eo);
      p.end(eo.input);
      return p.done;
    },
    hostSpawn(cmd, args, eo = {}) {
      const withHosts = [
        '--mount',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        'mount --bind "$0" /etc/hosts && exec "$@"',
        hostsFile,
        cmd,
        ...args,
      ];
      return spawnProcess('unshare', withHosts, cluster.env(), { timeoutMs: eo.timeoutMs ?? 60_000, cwd: eo.cwd });
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
        await exitPromise;
        clearTimeout(t);
      }
    },
  };
  return node;
}
