// The replicated comparison's clusters (vs-kafka-replicated.ts): three Runnel nodes or three
// Apache Kafka nodes, each a broker and a controller voter in one process (combined mode), on
// loopback, behind one interface: who runs (pids, for CPU), where clients connect, the active
// controller, and a node killed with SIGKILL and started again on its ports and data. A node
// counts as back once another node's Metadata lists it among the live brokers (unfenced).

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startCluster, type TestCluster } from '../test/cluster-processes.js';
import { describeQuorum, metadata } from '../test/cluster/cluster-clients.js';
import { problemLines } from './broker.js';
import { formatKafkaCluster, launchKafka, type KafkaBroker, type KafkaInstall, type KafkaNode } from './kafka.js';
import type { BrokerName } from './vs-kafka-report.js';

const POLL_MS = 50;
/** Three JVMs starting at once on two cores, or a Kafka node recovering its logs after SIGKILL. */
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 90_000;

/** How many nodes, and how many of them (the first) are controller voters; every node is a broker. */
export interface ClusterShape {
  nodes: number;
  voters: number;
}
const THREE_VOTERS: ClusterShape = { nodes: 3, voters: 3 };

export interface BenchCluster {
  readonly name: BrokerName;
  /** Node ids, ascending (1, 2, 3). */
  readonly nodeIds: readonly number[];
  /** Every node's client address, comma-separated. */
  readonly bootstrap: string;
  clientPort(nodeId: number): number;
  /** Where node `nodeId` keeps its partitions (its log.dirs). */
  dataDir(nodeId: number): string;
  /** The running nodes' process ids. */
  pids(): number[];
  /** The quorum's leader, as DescribeQuorum answers it through a running node. */
  activeController(): Promise<number>;
  /** SIGKILL; resolves once the process is gone. */
  kill(nodeId: number): Promise<void>;
  /** Starts a killed node again and resolves once the other nodes list it as a live broker. */
  restart(nodeId: number): Promise<void>;
  /** Warning and error lines of every process this cluster ran, the killed ones included. */
  problems(): { count: number; first: string[] };
  /** SIGTERM to every running node, together; their exit codes by node id, then the data removed. */
  stop(): Promise<Record<number, number | null>>;
}

/** Polls until `check` holds, or throws after `timeoutMs` saying what it waited for. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
      last = '';
    } catch (err) {
      last = ` (last error: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms${last}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Whether the node at `port` lists every node of `nodeIds` as a live broker. */
async function listsAll(port: number, nodeIds: readonly number[]): Promise<boolean> {
  const md = await metadata(port, []);
  return nodeIds.every((id) => md.brokers.includes(id));
}

/** Three Runnel nodes (or `shape`) as `npm run cluster -- --nodes 3` starts them, with `settings` on every node. */
export async function startRunnelCluster(
  settings: Record<string, string>,
  shape = THREE_VOTERS,
): Promise<BenchCluster> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-vs-kafka-replicated-runnel-'));
  let cluster: TestCluster;
  try {
    cluster = await startCluster({ nodes: shape.nodes, controllers: shape.voters, dataDir, overrides: settings });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const nodeIds = cluster.nodes.map((n) => n.nodeId);
  const port = (id: number) => cluster.node(id).clientPort!;
  const running = () => nodeIds.filter((id) => cluster.node(id).process !== null);
  /** Output of processes that were killed: their problems count too. */
  const pastOutput: string[] = [];
  return {
    name: 'runnel',
    nodeIds,
    bootstrap: cluster.bootstrap,
    clientPort: port,
    dataDir: (id) => cluster.node(id).dataDir,
    pids: () => running().map((id) => cluster.node(id).process!.pid),
    activeController: async () => (await describeQuorum(port(running()[0]))).leaderId,
    async kill(nodeId) {
      pastOutput.push(cluster.node(nodeId).process?.output() ?? '');
      await cluster.kill(nodeId);
    },
    async restart(nodeId) {
      await cluster.restart(nodeId);
      const other = running().find((id) => id !== nodeId)!;
      await until(`node ${nodeId} listed as a live broker again`, () => listsAll(port(other), nodeIds));
    },
    problems: () =>
      problemLines([...pastOutput, ...running().map((id) => cluster.node(id).process!.output())].join('\n'), (l) => {
        const level = /^\{"level":(\d+)/.exec(l);
        return !level || Number(level[1]) >= 40;
      }),
    async stop() {
      const codes: Record<number, number | null> = {};
      await Promise.all(
        running().map(async (id) => {
          const p = cluster.node(id).process!;
          const timer = setTimeout(() => void p.kill9(), STOP_TIMEOUT_MS);
          codes[id] = await cluster.stop(id);
          clearTimeout(timer);
        }),
      );
      await rm(dataDir, { recursive: true, force: true });
      return codes;
    },
  };
}

/** Three Kafka nodes (or `shape`), formatted as one cluster and started together, each as kafka-server-start.sh starts it. */
export async function startKafkaCluster(
  install: KafkaInstall,
  settings: Record<string, string>,
  shape = THREE_VOTERS,
): Promise<BenchCluster> {
  const baseDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-vs-kafka-replicated-kafka-'));
  const brokers = new Map<number, KafkaBroker | null>();
  const pastOutput: string[] = [];
  const stopAll = async () => {
    const codes: Record<number, number | null> = {};
    await Promise.all(
      [...brokers].map(async ([id, b]) => {
        if (b) codes[id] = await b.stop();
        brokers.set(id, null);
      }),
    );
    await rm(baseDir, { recursive: true, force: true });
    return codes;
  };
  let nodes: KafkaNode[];
  try {
    nodes = await formatKafkaCluster(install, { ...shape, baseDir, settings });
    for (const n of nodes) brokers.set(n.nodeId, launchKafka(install, n));
  } catch (err) {
    await stopAll();
    throw err;
  }
  const nodeIds = nodes.map((n) => n.nodeId);
  const port = (id: number) => Number(nodes.find((n) => n.nodeId === id)!.bootstrap.split(':')[1]);
  const running = () => nodeIds.filter((id) => brokers.get(id));
  const outputs = () => [...pastOutput, ...running().map((id) => brokers.get(id)!.output())];
  /** Fails as soon as a node's JVM exits, with its output. */
  const alive = () => {
    for (const id of running()) {
      const b = brokers.get(id)!;
      if (b.hasExited()) throw new Error(`Kafka node ${id} exited:\n${b.output().slice(-4000)}`);
    }
  };
  const untilListed = (what: string, ports: number[]) =>
    until(what, async () => {
      alive();
      for (const p of ports) if (!(await listsAll(p, nodeIds))) return false;
      return true;
    });
  try {
    await untilListed(
      `${nodeIds.length} live brokers in every Kafka node’s Metadata`,
      nodeIds.map((id) => port(id)),
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    name: 'kafka',
    nodeIds,
    bootstrap: nodes.map((n) => n.bootstrap).join(','),
    clientPort: port,
    dataDir: (id) => nodes.find((n) => n.nodeId === id)!.dataDir,
    pids: () => running().map((id) => brokers.get(id)!.pid),
    activeController: async () => (await describeQuorum(port(running()[0]))).leaderId,
    async kill(nodeId) {
      const b = brokers.get(nodeId);
      if (!b) throw new Error(`Kafka node ${nodeId} is not running`);
      await b.kill9();
      pastOutput.push(b.output());
      brokers.set(nodeId, null);
    },
    async restart(nodeId) {
      if (brokers.get(nodeId)) throw new Error(`Kafka node ${nodeId} is running: kill it first`);
      brokers.set(
        nodeId,
        launchKafka(
          install,
          nodes.find((n) => n.nodeId === nodeId)!,
        ),
      );
      const other = running().find((id) => id !== nodeId)!;
      await untilListed(`Kafka node ${nodeId} listed as a live broker again`, [port(other)]);
    },
    problems: () =>
      problemLines(outputs().join('\n'), (l) => !/^\[[^\]]+\] (INFO|DEBUG|TRACE) /.test(l) && !/^\s/.test(l)),
    stop: stopAll,
  };
}
