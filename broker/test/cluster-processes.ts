// Starts a Runnel cluster as separate processes for tests: the same node configurations as
// `npm run cluster` (broker/dev/cluster.ts), on free loopback ports, each node through
// startBroker. Nodes can be stopped (SIGTERM), killed (SIGKILL) and restarted on the same ports
// and data directories. A node counts as started once it says so ("node started"): a broker only
// after the controller has unfenced it, so its client listener then answers.

import net from 'node:net';
import { clusterNodes, bootstrapOf, newClusterId, type ClusterNode } from '../dev/cluster.js';
import { newDataDir, startBroker, type BrokerProcess } from './broker-process.js';

/** A node waits for the quorum and the active controller before it starts. */
const NODE_START_TIMEOUT_MS = 30_000;

export interface ClusterMember extends ClusterNode {
  /** The running process, or null while the node is stopped. */
  readonly process: BrokerProcess | null;
}

export interface TestCluster {
  readonly clusterId: string;
  readonly dataDir: string;
  /** Every node, by ascending node id. */
  readonly nodes: readonly ClusterMember[];
  /** Every broker's client address, comma-separated. */
  readonly bootstrap: string;
  node(nodeId: number): ClusterMember;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(nodeId: number): Promise<number | null>;
  /** SIGKILL: no clean shutdown. */
  kill(nodeId: number): Promise<void>;
  /** Starts a stopped or killed node again, with its ports and data. */
  restart(nodeId: number): Promise<BrokerProcess>;
  /** Stops every running node (SIGTERM, in parallel). */
  stopAll(): Promise<void>;
}

export interface ClusterOptions {
  nodes: number;
  /** Voters among them (the first ones); default as `npm run cluster`. */
  controllers?: number;
  /** The voters run only the controller role; the other nodes are the brokers. */
  controllerOnly?: boolean;
  /** Node n keeps its data in <dataDir>/node-<n>; default a new temporary directory. */
  dataDir?: string;
  /** Broker settings for every node, on top of the cluster's own. */
  overrides?: Record<string, string>;
}

export async function startCluster(options: ClusterOptions): Promise<TestCluster> {
  const dataDir = options.dataDir ?? (await newDataDir());
  const clusterId = newClusterId();
  const ports = await freePorts(options.nodes * 2);
  const planned = clusterNodes({
    nodes: options.nodes,
    controllers: options.controllers,
    controllerOnly: options.controllerOnly,
    dataDir,
    clusterId,
    clientPorts: ports.slice(0, options.nodes),
    controllerPorts: ports.slice(options.nodes),
  });
  const processes = new Map<number, BrokerProcess | null>();
  const start = async (node: ClusterNode) => {
    const p = await startBroker({
      dataDir: node.dataDir,
      port: node.clientPort ?? node.controllerPort ?? 0,
      overrides: { ...node.overrides, ...options.overrides },
    });
    try {
      await nodeStarted(p);
    } catch (err) {
      await p.kill9();
      throw err;
    }
    return p;
  };

  // Together: a node may wait for its peers before it is ready.
  const started = await Promise.allSettled(planned.map(start));
  started.forEach((s, i) => processes.set(planned[i].nodeId, s.status === 'fulfilled' ? s.value : null));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all([...processes.values()].map(async (p) => p?.stop()));
    throw failed.reason;
  }

  const find = (nodeId: number): ClusterNode => {
    const node = planned.find((n) => n.nodeId === nodeId);
    if (!node) throw new Error(`no node ${nodeId} in this cluster (nodes 1..${planned.length})`);
    return node;
  };
  const member = (node: ClusterNode): ClusterMember => ({ ...node, process: processes.get(node.nodeId) ?? null });
  const running = (nodeId: number): BrokerProcess => {
    const p = processes.get(find(nodeId).nodeId);
    if (!p) throw new Error(`node ${nodeId} is not running`);
    return p;
  };

  return {
    clusterId,
    dataDir,
    get nodes() {
      return planned.map(member);
    },
    bootstrap: bootstrapOf(planned),
    node: (nodeId) => member(find(nodeId)),
    async stop(nodeId) {
      const code = await running(nodeId).stop();
      processes.set(nodeId, null);
      return code;
    },
    async kill(nodeId) {
      await running(nodeId).kill9();
      processes.set(nodeId, null);
    },
    async restart(nodeId) {
      const node = find(nodeId);
      if (processes.get(nodeId)) throw new Error(`node ${nodeId} is running: stop or kill it first`);
      const p = await start(node);
      processes.set(nodeId, p);
      return p;
    },
    async stopAll() {
      await Promise.all(
        planned.map(async (n) => {
          const p = processes.get(n.nodeId);
          if (!p) return;
          await p.stop();
          processes.set(n.nodeId, null);
        }),
      );
    },
  };
}

/** Resolves once the node logged that it started (a broker: registered and unfenced). */
async function nodeStarted(p: BrokerProcess): Promise<void> {
  const deadline = Date.now() + NODE_START_TIMEOUT_MS;
  while (!p.output().includes('"msg":"node started"')) {
    if (Date.now() > deadline)
      throw new Error(`node in ${p.dataDir} did not start within ${NODE_START_TIMEOUT_MS} ms:\n${p.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Distinct free loopback ports: all held open at once, so none is handed out twice. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}
