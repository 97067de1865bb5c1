// `npm run cluster -- --nodes 3`: a local Runnel cluster on loopback for trying it by hand. Each
// node is a child process of dist/broker/main.js; its log lines are prefixed with its id. Node n
// (from 1) serves clients on 9092+n-1 (unless it is a controller-only voter, --controller-only)
// and, if it is a voter, the quorum on 9192+n-1; its data is in <data dir>/node-<n>, and the
// cluster id in <data dir>/cluster.id, so a restart reuses both.
// SIGINT/SIGTERM stops every node with SIGTERM and waits for them; a second signal kills them.
//
// clusterNodes() is the one place that decides each node's configuration: tests start the same
// cluster from it (broker/test/cluster-processes.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const DEFAULT_CLIENT_PORT = 9092;
export const DEFAULT_CONTROLLER_PORT = 9192;
/** Above this many nodes, only the first DEFAULT_VOTERS_OF_LARGE_CLUSTER are voters by default. */
const MAX_DEFAULT_VOTERS = 5;
const DEFAULT_VOTERS_OF_LARGE_CLUSTER = 3;
const LOOPBACK = '127.0.0.1';
export const CLIENT_LISTENER = 'PLAINTEXT';
export const CONTROLLER_LISTENER = 'CONTROLLER';
/** A node gets this long after SIGTERM (the broker's shutdown.timeout.ms plus a margin) before SIGKILL. */
const STOP_GRACE_MS = 35_000;

export interface ClusterSpec {
  /** Number of nodes; their ids are 1..nodes. */
  nodes: number;
  /** Voters (nodes 1..controllers, broker and controller in one process unless controllerOnly); the rest are broker-only. */
  controllers?: number;
  /** The voters run only the controller role (process.roles=controller, no client listener), as Kafka's isolated mode. */
  controllerOnly?: boolean;
  /** Node n keeps its data in <dataDir>/node-<n>. */
  dataDir: string;
  /** runnel.cluster.id: the id every node's log dir is claimed for. */
  clusterId: string;
  /** Client port of each node, by index (node id - 1); default 9092, 9093, … */
  clientPorts?: readonly number[];
  /** Controller port of each voter, by index (node id - 1); default 9192, 9193, … */
  controllerPorts?: readonly number[];
}

export interface ClusterNode {
  readonly nodeId: number;
  readonly controller: boolean;
  /** Whether it serves clients (false for a controller-only node). */
  readonly broker: boolean;
  /** Null for a controller-only node. */
  readonly clientPort: number | null;
  /** Null for a broker-only node. */
  readonly controllerPort: number | null;
  readonly dataDir: string;
  /** The node's broker configuration, as `--override key=value` pairs for dist/broker/main.js. */
  readonly overrides: Readonly<Record<string, string>>;
}

/** Voters when not chosen: every node, or 3 of a cluster larger than 5 (the quorum stays small). */
export function defaultControllers(nodes: number): number {
  return nodes > MAX_DEFAULT_VOTERS ? DEFAULT_VOTERS_OF_LARGE_CLUSTER : nodes;
}

/** Each node's configuration. Pure: the same spec gives the same nodes. */
export function clusterNodes(spec: ClusterSpec): ClusterNode[] {
  const controllers = spec.controllers ?? defaultControllers(spec.nodes);
  if (!Number.isInteger(spec.nodes) || spec.nodes < 1) throw new Error(`nodes must be at least 1, got ${spec.nodes}`);
  if (!Number.isInteger(controllers) || controllers < 1 || controllers > spec.nodes)
    throw new Error(`controllers must be between 1 and the number of nodes (${spec.nodes}), got ${controllers}`);
  const ids = Array.from({ length: spec.nodes }, (_, i) => i + 1);
  const clientPort = (id: number) => spec.clientPorts?.[id - 1] ?? DEFAULT_CLIENT_PORT + id - 1;
  const controllerPort = (id: number) => spec.controllerPorts?.[id - 1] ?? DEFAULT_CONTROLLER_PORT + id - 1;
  const brokers = spec.controllerOnly ? spec.nodes - controllers : spec.nodes;
  if (brokers < 1)
    throw new Error(
      `controller-only voters need at least one broker besides them: nodes must exceed controllers (${controllers})`,
    );
  const voters = ids
    .filter((id) => id <= controllers)
    .map((id) => `${id}@${LOOPBACK}:${controllerPort(id)}`)
    .join(',');
  return ids.map((nodeId) => {
    const controller = nodeId <= controllers;
    const broker = !controller || !spec.controllerOnly;
    const dataDir = path.join(spec.dataDir, `node-${nodeId}`);
    const client = `${CLIENT_LISTENER}://${LOOPBACK}:${clientPort(nodeId)}`;
    const quorum = `${CONTROLLER_LISTENER}://${LOOPBACK}:${controllerPort(nodeId)}`;
    return {
      nodeId,
      controller,
      broker,
      clientPort: broker ? clientPort(nodeId) : null,
      controllerPort: controller ? controllerPort(nodeId) : null,
      dataDir,
      overrides: {
        'node.id': String(nodeId),
        'process.roles': [...(broker ? ['broker'] : []), ...(controller ? ['controller'] : [])].join(','),
        listeners: [...(broker ? [client] : []), ...(controller ? [quorum] : [])].join(','),
        ...(broker ? { 'advertised.listeners': client } : {}),
        'controller.listener.names': CONTROLLER_LISTENER,
        'controller.quorum.voters': voters,
        'log.dirs': dataDir,
        'runnel.cluster.id': spec.clusterId,
        // Kafka's default of 3 cannot be met by a smaller cluster (the operator does the same).
        'offsets.topic.replication.factor': String(Math.min(3, brokers)),
      },
    };
  });
}

/** The client addresses of the nodes that are brokers. */
export function bootstrapOf(nodes: readonly ClusterNode[]): string {
  return nodes.flatMap((n) => (n.clientPort === null ? [] : [`${LOOPBACK}:${n.clientPort}`])).join(',');
}

/** A cluster id as Kafka makes them: 16 random bytes, base64url (22 characters), not starting with '-'. */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The id kept in <dataDir>/cluster.id, written there on first use. */
export function readOrCreateClusterId(dataDir: string): string {
  const file = path.join(dataDir, 'cluster.id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{22}$/.test(id)) return id;
    throw new Error(
      `${file} holds "${id}", not a 22-character cluster id: delete it (and the node data) to start afresh`,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = newClusterId();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${id}\n`);
  return id;
}

export interface LauncherOptions {
  nodes: number;
  controllers: number | undefined;
  /** --controller-only: the voters are controller-only nodes. */
  controllerOnly: boolean;
  dataDir: string;
  /** Extra `key=value` settings for every node. */
  overrides: string[];
}

export const USAGE = `usage: npm run cluster -- [--nodes N] [--controllers K] [--controller-only] [--data-dir DIR] [--override key=value]...
  --nodes N        nodes to start (default 3); node n serves clients on 127.0.0.1:${DEFAULT_CLIENT_PORT}+n-1
  --controllers K  how many of them (the first K) are controller voters; default all of them, or 3 when N > ${MAX_DEFAULT_VOTERS}
  --controller-only  the voters run only the controller role (no client listener); the other nodes are the brokers
  --data-dir DIR   node n keeps its data in DIR/node-n, the cluster id in DIR/cluster.id (default ./data)
  --override k=v   a broker setting for every node (repeatable)`;

/** Parses the launcher's arguments; throws with what is wrong. */
export function parseLauncherArgs(argv: readonly string[]): LauncherOptions {
  const options: LauncherOptions = {
    nodes: 3,
    controllers: undefined,
    controllerOnly: false,
    dataDir: 'data',
    overrides: [],
  };
  const count = (flag: string, v: string | undefined) => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${flag} needs a positive number`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    switch (arg) {
      case '--nodes':
        options.nodes = count(arg, value);
        i++;
        break;
      case '--controllers':
        options.controllers = count(arg, value);
        i++;
        break;
      case '--controller-only':
        options.controllerOnly = true;
        break;
      case '--data-dir':
        if (value === undefined) throw new Error('--data-dir needs a directory');
        options.dataDir = value;
        i++;
        break;
      case '--override':
        if (value === undefined || value.indexOf('=') <= 0) throw new Error('--override expects key=value');
        options.overrides.push(value);
        i++;
        break;
      default:
        throw new Error(`unknown argument "${arg}"`);
    }
  }
  if (options.controllers !== undefined && options.controllers > options.nodes)
    throw new Error(`--controllers ${options.controllers} is more than --nodes ${options.nodes}`);
  if (options.controllerOnly && (options.controllers ?? defaultControllers(options.nodes)) >= options.nodes)
    throw new Error(
      '--controller-only needs more --nodes than --controllers: the brokers are the nodes that are not voters',
    );
  return options;
}

interface Running {
  node: ClusterNode;
  child: ChildProcess;
  exited: Promise<number | null>;
  done: boolean;
}

function launch(options: LauncherOptions): void {
  const dataDir = path.resolve(options.dataDir);
  const clusterId = readOrCreateClusterId(dataDir);
  const nodes = clusterNodes({
    nodes: options.nodes,
    controllers: options.controllers,
    controllerOnly: options.controllerOnly,
    dataDir,
    clusterId,
  });
  const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../main.js');
  const say = (line: string) => process.stdout.write(`[cluster] ${line}\n`);

  let stopping = false;
  const running: Running[] = nodes.map((node) => {
    mkdirSync(node.dataDir, { recursive: true });
    const args = [main, ...Object.entries(node.overrides).flatMap(([k, v]) => ['--override', `${k}=${v}`])];
    for (const o of options.overrides) args.push('--override', o);
    // Its own process group: Ctrl-C reaches only the launcher, which stops the nodes in order.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const prefix = `[node-${node.nodeId}] `;
    createInterface({ input: child.stdout }).on('line', (l) => process.stdout.write(prefix + l + '\n'));
    createInterface({ input: child.stderr }).on('line', (l) => process.stderr.write(prefix + l + '\n'));
    const r: Running = {
      node,
      child,
      done: false,
      exited: new Promise((resolve) =>
        child.on('exit', (code, signal) => {
          r.done = true;
          if (!stopping) say(`node ${node.nodeId} exited (${signal ?? `code ${code}`})`);
          resolve(code);
          if (running.every((x) => x.done) && !stopping) process.exit(1);
        }),
      ),
    };
    return r;
  });

  const voters = nodes.filter((n) => n.controller).map((n) => n.nodeId);
  say(
    `${nodes.length} node(s), ${options.controllerOnly ? 'controller-only ' : ''}voters ${voters.join(',')}${voters.length < nodes.length ? `, the others broker-only` : ''}; cluster id ${clusterId}; data in ${dataDir}`,
  );
  say(`bootstrap: ${bootstrapOf(nodes)}`);
  say('Ctrl-C stops all nodes');

  const stop = async (signal: string) => {
    if (stopping) {
      say(`${signal} again: killing the nodes`);
      for (const r of running) if (!r.done) r.child.kill('SIGKILL');
      return;
    }
    stopping = true;
    say(`${signal}: stopping ${running.filter((r) => !r.done).length} node(s)`);
    for (const r of running) if (!r.done) r.child.kill('SIGTERM');
    const deadline = setTimeout(() => {
      say(`nodes still running after ${STOP_GRACE_MS} ms: killing them`);
      for (const r of running) if (!r.done) r.child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    const codes = await Promise.all(running.map((r) => r.exited));
    clearTimeout(deadline);
    say(`stopped (exit codes ${codes.map((c) => c ?? 'killed').join(', ')})`);
    process.exit(codes.every((c) => c === 0) ? 0 : 1);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Never leave nodes behind, whatever ends the launcher.
  process.on('exit', () => {
    for (const r of running) if (!r.done) r.child.kill('SIGKILL');
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  let options: LauncherOptions;
  try {
    options = parseLauncherArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  try {
    launch(options);
  } catch (err) {
    process.stderr.write(`cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
