// Apache Kafka for the side-by-side benchmark (vs-kafka.ts): its jars, resolved by Maven from
// Maven Central into ~/.cache/runnel/kafka-<version>/ (broker/bench/kafka/pom.xml, through the
// compatibility matrix's mavenClasspath), KRaft nodes in combined mode (broker and controller in
// one JVM; one alone, or three voters of one cluster) started the way bin/kafka-server-start.sh
// starts them, and Kafka's own performance tools (bin/kafka-producer-perf-test.sh,
// bin/kafka-consumer-perf-test.sh) run with `java -cp`.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePorts } from '../test/cluster-processes.js';
import { ROOT, mavenClasspath, requireJdkAndMaven, run } from '../test/compat/clients.js';
import { problemLines, type BenchBroker } from './broker.js';
import { runTimed, type TimedRun } from './kcat.js';

/** The latest 4.1 patch release on Maven Central when this was written; BENCH_KAFKA_VERSION picks another. */
export const KAFKA_VERSION = process.env.BENCH_KAFKA_VERSION ?? '4.1.2';
const POM = path.join(ROOT, 'broker/bench/kafka/pom.xml');
const STOP_TIMEOUT_MS = 60_000;
/** A JVM start plus one admin request or one segment decoded, with a wide margin for a busy machine. */
const DEFAULT_TOOL_TIMEOUT_MS = 60_000;

// JVM options as Kafka 4.1's scripts set them when the corresponding KAFKA_* variable is unset.
/** bin/kafka-run-class.sh, KAFKA_JVM_PERFORMANCE_OPTS: every Kafka JVM, broker and tools. */
export const JVM_PERFORMANCE_OPTS = [
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:MaxInlineLevel=15',
  '-Djava.awt.headless=true',
];
/** bin/kafka-run-class.sh, KAFKA_JMX_OPTS (local JMX agent, no port). */
const JMX_OPTS = [
  '-Dcom.sun.management.jmxremote',
  '-Dcom.sun.management.jmxremote.authenticate=false',
  '-Dcom.sun.management.jmxremote.ssl=false',
];
/** bin/kafka-server-start.sh, KAFKA_HEAP_OPTS. */
export const SERVER_HEAP_OPTS = ['-Xmx1G', '-Xms1G'];
/** bin/kafka-producer-perf-test.sh and bin/kafka-consumer-perf-test.sh, KAFKA_HEAP_OPTS. */
export const PERF_TOOL_HEAP_OPTS = ['-Xmx512M'];
/** bin/kafka-run-class.sh's default heap, which bin/kafka-storage.sh and the admin tools get. */
const TOOL_HEAP_OPTS = ['-Xmx256M'];
/** bin/kafka-server-start.sh passes -loggc to kafka-run-class.sh, which then writes this GC log (Java 9+). */
const gcLogOpts = (logsDir: string) => [
  `-Xlog:gc*:file=${path.join(logsDir, 'kafkaServer-gc.log')}:time,tags:filecount=10,filesize=100M`,
];

/** The broker's log: INFO and above on stdout (config/log4j2.yaml also copies it into files under logs/). */
const SERVER_LOG4J = `appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
`;
/** The tools' log: WARN and above on stderr (config/tools-log4j2.yaml). */
const TOOLS_LOG4J = `appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
`;

export interface KafkaInstall {
  version: string;
  /** ~/.cache/runnel/kafka-<version>: Maven's repository with the jars, the cached classpath, log4j configurations. */
  dir: string;
  classpath: string;
  /** `java -version`'s first line. */
  java: string;
  serverLog4j: string;
  toolsLog4j: string;
}

/** Resolves Kafka's jars (Maven, first run only) and writes the log4j configurations. */
export async function prepareKafka(log: (line: string) => void): Promise<KafkaInstall> {
  await requireJdkAndMaven('Apache Kafka', ['java']);
  const dir = path.join(os.homedir(), '.cache/runnel', `kafka-${KAFKA_VERSION}`);
  const classpath = await mavenClasspath({
    pom: POM,
    dir,
    what: `Apache Kafka ${KAFKA_VERSION} (kafka_2.13, kafka-tools) into ${dir}`,
    log,
    properties: { 'kafka.version': KAFKA_VERSION, 'maven.repo.local': path.join(dir, 'repository') },
  });
  const serverLog4j = path.join(dir, 'server-log4j2.properties');
  const toolsLog4j = path.join(dir, 'tools-log4j2.properties');
  await writeFile(serverLog4j, SERVER_LOG4J);
  await writeFile(toolsLog4j, TOOLS_LOG4J);
  const java = (await run('java', ['-version'], { timeoutMs: 60_000 })).split('\n')[0].trim();
  return { version: KAFKA_VERSION, dir, classpath, java, serverLog4j, toolsLog4j };
}

/**
 * One of Kafka's command-line tools, as its bin/ script runs it (`kafka-metadata-quorum.sh` is
 * `org.apache.kafka.tools.MetadataQuorumCommand`, `kafka-dump-log.sh` is `kafka.tools.DumpLogSegments`,
 * …): kafka-run-class.sh's default heap and the tools' log4j configuration (WARN and above on
 * stderr). Resolves with stdout and stderr together; fails with them if the tool exits non-zero.
 */
export function kafkaTool(
  install: KafkaInstall,
  mainClass: string,
  args: string[],
  timeoutMs = DEFAULT_TOOL_TIMEOUT_MS,
): Promise<string> {
  return run(
    'java',
    [
      ...TOOL_HEAP_OPTS,
      `-Dlog4j2.configurationFile=${install.toolsLog4j}`,
      '-cp',
      install.classpath,
      mainClass,
      ...args,
    ],
    { timeoutMs },
  );
}

/** A port nobody listens on now (the OS's pick; another process could take it before Kafka binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A cluster id as Kafka's Uuid.randomUuid() makes them: 16 random bytes, URL-safe base64 without padding, not starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The KRaft settings of one node in combined mode on loopback: node 1 alone unless `nodeId` and `voters` say otherwise. */
export function kraftProperties(o: {
  dataDir: string;
  port: number | string;
  controllerPort: number | string;
  nodeId?: number | string;
  /** controller.quorum.voters: `id@host:port,…`; default this node alone. */
  voters?: string;
  /** A broker only, not a voter: no controller listener (`controllerPort` unused). */
  brokerOnly?: boolean;
}): Record<string, string> {
  const nodeId = String(o.nodeId ?? 1);
  const controller = o.brokerOnly ? '' : `,CONTROLLER://127.0.0.1:${o.controllerPort}`;
  return {
    'process.roles': o.brokerOnly ? 'broker' : 'broker,controller',
    'node.id': nodeId,
    'controller.quorum.voters': o.voters ?? `${nodeId}@127.0.0.1:${o.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${o.port}${controller}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': o.dataDir,
  };
}

/** The internal topics of a single node (config/server.properties sets these to 1 too). */
export const SINGLE_NODE_INTERNAL_TOPICS: Record<string, string> = {
  'transaction.state.log.replication.factor': '1',
  'transaction.state.log.min.isr': '1',
  'share.coordinator.state.topic.replication.factor': '1',
  'share.coordinator.state.topic.min.isr': '1',
};

export interface KafkaNode {
  nodeId: number;
  bootstrap: string;
  propertiesFile: string;
  dataDir: string;
  logsDir: string;
  /** How long `kafka-storage format` took (not part of the start time). */
  formatMs: number;
}

/**
 * Writes server.properties into `runDir` and formats `dataDir` (kafka-storage.sh format with a
 * new cluster id), which a KRaft node needs before its first start: a single node, with the
 * single-node internal topic settings.
 */
export async function formatKafkaNode(
  install: KafkaInstall,
  o: { dataDir: string; runDir: string; settings: Record<string, string> },
): Promise<KafkaNode> {
  const [port, controllerPort] = [await freePort(), await freePort()];
  return formatNode(install, {
    ...o,
    clusterId: clusterId(),
    properties: {
      ...kraftProperties({ dataDir: o.dataDir, port, controllerPort }),
      ...SINGLE_NODE_INTERNAL_TOPICS,
      ...o.settings,
    },
    nodeId: 1,
    port,
  });
}

/**
 * Three (or `nodes`) KRaft nodes of one new cluster (node ids 1…n), the first `voters` (default
 * all) combined broker and controller voters, the others brokers only; each
 * with its data in <baseDir>/node-<n>/data and its server.properties and logs in
 * <baseDir>/node-<n>; every node formatted with the same cluster id. The internal topics keep
 * Kafka's defaults (replication factor 3, min.insync.replicas 2).
 */
export async function formatKafkaCluster(
  install: KafkaInstall,
  o: { nodes: number; voters?: number; baseDir: string; settings: Record<string, string> },
): Promise<KafkaNode[]> {
  const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
  const voterCount = o.voters ?? o.nodes;
  const ports = await freePorts(o.nodes * 2);
  const [clientPorts, controllerPorts] = [ports.slice(0, o.nodes), ports.slice(o.nodes)];
  const voters = ids
    .slice(0, voterCount)
    .map((id) => `${id}@127.0.0.1:${controllerPorts[id - 1]}`)
    .join(',');
  const id = clusterId();
  const nodes: KafkaNode[] = [];
  for (const nodeId of ids) {
    const runDir = path.join(o.baseDir, `node-${nodeId}`);
    const dataDir = path.join(runDir, 'data');
    const [port, controllerPort] = [clientPorts[nodeId - 1], controllerPorts[nodeId - 1]];
    nodes.push(
      await formatNode(install, {
        dataDir,
        runDir,
        clusterId: id,
        nodeId,
        port,
        properties: {
          ...kraftProperties({ dataDir, port, controllerPort, nodeId, voters, brokerOnly: nodeId > voterCount }),
          ...o.settings,
        },
      }),
    );
  }
  return nodes;
}

async function formatNode(
  install: KafkaInstall,
  o: {
    dataDir: string;
    runDir: string;
    clusterId: string;
    nodeId: number;
    port: number;
    properties: Record<string, string>;
  },
): Promise<KafkaNode> {
  const logsDir = path.join(o.runDir, 'logs');
  await mkdir(logsDir, { recursive: true });
  const propertiesFile = path.join(o.runDir, 'server.properties');
  await writeFile(
    propertiesFile,
    Object.entries(o.properties)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
  const started = performance.now();
  await run(
    'java',
    [
      ...TOOL_HEAP_OPTS,
      ...JVM_PERFORMANCE_OPTS,
      `-Dlog4j2.configurationFile=${install.toolsLog4j}`,
      '-cp',
      install.classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      o.clusterId,
      '-c',
      propertiesFile,
    ],
    { timeoutMs: 120_000 },
  );
  return {
    nodeId: o.nodeId,
    bootstrap: `127.0.0.1:${o.port}`,
    propertiesFile,
    dataDir: o.dataDir,
    logsDir,
    formatMs: performance.now() - started,
  };
}

export interface KafkaBroker extends BenchBroker {
  /** Resolves with the exit code when the JVM exits. */
  readonly exited: Promise<number | null>;
  /** SIGKILL: no shutdown hooks; resolves once the JVM is gone. */
  kill9(): Promise<void>;
  /** Whether the JVM has exited (by itself or signalled). */
  hasExited(): boolean;
}

/** The `java` command line of bin/kafka-server-start.sh <properties>. */
export function kafkaServerArgs(install: KafkaInstall, node: KafkaNode, extraJvmArgs: string[] = []): string[] {
  return [
    ...SERVER_HEAP_OPTS,
    ...JVM_PERFORMANCE_OPTS,
    ...gcLogOpts(node.logsDir),
    ...JMX_OPTS,
    `-Dkafka.logs.dir=${node.logsDir}`,
    `-Dlog4j2.configurationFile=${install.serverLog4j}`,
    ...extraJvmArgs,
    '-cp',
    install.classpath,
    'kafka.Kafka',
    node.propertiesFile,
  ];
}

/** Spawns the JVM and returns at once: whoever needs it serving polls it (see awaitFirstAck). */
export function launchKafka(install: KafkaInstall, node: KafkaNode): KafkaBroker {
  const child = spawn('java', kafkaServerArgs(install, node), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.on('error', (err) => (output += `spawn failed: ${err.message}\n`));
  return {
    pid: child.pid!,
    bootstrap: node.bootstrap,
    exited,
    output: () => output,
    // log4j lines "[date] LEVEL message (logger)"; anything else on the output is unexpected too.
    problems: () => problemLines(output, (l) => !/^\[[^\]]+\] (INFO|DEBUG|TRACE) /.test(l) && !/^\s/.test(l)),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
  };
}

/** A Kafka tool's JVM: kafka-run-class.sh's options with the perf-test scripts' heap (`mainClass` may be a .java source file). */
export function toolArgs(install: KafkaInstall, mainClass: string, args: string[]): string[] {
  return [
    ...PERF_TOOL_HEAP_OPTS,
    ...JVM_PERFORMANCE_OPTS,
    `-Dlog4j2.configurationFile=${install.toolsLog4j}`,
    '-cp',
    install.classpath,
    mainClass,
    ...args,
  ];
}

/** Lines of a tool's stderr that say something went wrong (log4j WARN/ERROR lines, exceptions). */
function toolProblems(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /\b(WARN|ERROR)\b|Exception/.test(l));
}

export interface PerfProduceResult {
  /** Records acknowledged (ProducerPerformance counts only successful sends). */
  records: number;
  recordsPerS: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
}

/** A tool's run with what it printed, parsed, and why it failed (or null). */
export type ToolRun<R> = TimedRun & { result: R | null; failure: string | null; warnings: string[] };

/**
 * org.apache.kafka.tools.ProducerPerformance (bin/kafka-producer-perf-test.sh): `records`
 * records of `recordBytes` bytes, as fast as it can (--throughput -1), to `topic`. Its own
 * timing runs from its first send to its last acknowledgement (JVM start-up excluded).
 */
export async function producerPerformance(
  install: KafkaInstall,
  o: {
    bootstrap: string;
    topic: string;
    records: number;
    recordBytes: number;
    props: Record<string, string>;
    timeoutMs: number;
  },
): Promise<ToolRun<PerfProduceResult>> {
  const props = Object.entries({ 'bootstrap.servers': o.bootstrap, ...o.props }).map(([k, v]) => `${k}=${v}`);
  const args = [
    '--topic',
    o.topic,
    '--num-records',
    String(o.records),
    '--record-size',
    String(o.recordBytes),
    '--throughput',
    '-1',
    '--producer-props',
    ...props,
  ];
  const r = await runTimed('java', toolArgs(install, 'org.apache.kafka.tools.ProducerPerformance', args), o.timeoutMs);
  // "<n> records sent, <r> records/sec (<m> MB/sec), <a> ms avg latency, <x> ms max latency, <p50> ms 50th, <p95> ms 95th, <p99> ms 99th, <p999> ms 99.9th."
  const m =
    /(\d+) records sent, ([\d.]+) records\/sec \([\d.]+ MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/.exec(
      r.stdout,
    );
  const result = m
    ? {
        records: Number(m[1]),
        recordsPerS: Number(m[2]),
        avgLatencyMs: Number(m[3]),
        maxLatencyMs: Number(m[4]),
        p50Ms: Number(m[5]),
        p95Ms: Number(m[6]),
        p99Ms: Number(m[7]),
        p999Ms: Number(m[8]),
      }
    : null;
  const warnings = toolProblems(r.stderr);
  let failure: string | null = null;
  if (r.code !== 0) failure = `ProducerPerformance exited with ${r.code}: ${r.stderr.slice(-500)}`;
  else if (!result) failure = `ProducerPerformance printed no summary: ${r.stdout.slice(-300)} ${r.stderr.slice(-300)}`;
  else if (result.records !== o.records)
    failure = `${o.records - result.records} of ${o.records} sends failed: ${warnings.slice(0, 3).join(' | ')}`;
  return { ...r, result, failure, warnings };
}

export interface PerfConsumeResult {
  records: number;
  /** Record bytes (keys and values) read. */
  bytes: number;
  /** From before subscribing to the last record: the group join included. */
  totalMs: number;
  /** Time until the first partition assignment (FindCoordinator, JoinGroup, SyncGroup). */
  rebalanceMs: number;
  /** totalMs without rebalanceMs: fetching only. */
  fetchMs: number;
}

/**
 * org.apache.kafka.tools.ConsumerPerformance (bin/kafka-consumer-perf-test.sh): reads
 * `records` records of `topic` from the beginning as the only member of the new group `group`.
 */
export async function consumerPerformance(
  install: KafkaInstall,
  o: { bootstrap: string; topic: string; records: number; group: string; timeoutMs: number },
): Promise<ToolRun<PerfConsumeResult>> {
  const args = [
    '--bootstrap-server',
    o.bootstrap,
    '--topic',
    o.topic,
    '--messages',
    String(o.records),
    '--group',
    o.group,
    '--timeout',
    '30000',
  ];
  const r = await runTimed('java', toolArgs(install, 'org.apache.kafka.tools.ConsumerPerformance', args), o.timeoutMs);
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const line = r.stdout
    .split('\n')
    .map((l) => l.split(',').map((f) => f.trim()))
    .filter((f) => f.length === 10 && /^\d{4}-/.test(f[0]))
    .pop();
  const result = line
    ? {
        records: Number(line[4]),
        bytes: Math.round(Number(line[2]) * 1024 * 1024),
        totalMs: Number(line[6]) + Number(line[7]),
        rebalanceMs: Number(line[6]),
        fetchMs: Number(line[7]),
      }
    : null;
  const warnings = [...toolProblems(r.stderr), ...r.stdout.split('\n').filter((l) => l.startsWith('WARNING'))];
  let failure: string | null = null;
  if (r.code !== 0) failure = `ConsumerPerformance exited with ${r.code}: ${r.stderr.slice(-500)}`;
  else if (!result) failure = `ConsumerPerformance printed no summary: ${r.stdout.slice(-300)} ${r.stderr.slice(-300)}`;
  else if (result.records !== o.records)
    failure = `read ${result.records} of ${o.records} records: ${warnings.slice(0, 3).join(' | ')}`;
  return { ...r, result, failure, warnings };
}
