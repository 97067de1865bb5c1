// `npm run bench:kafka`: Runnel and Apache Kafka 4.1 side by side on this machine, with the same
// clients on the same workloads, alternating between the two; results in docs/bench/vs-kafka.md
// and docs/bench/vs-kafka.svg. First one broker each, then three each with replicated topics
// (vs-kafka-replicated.ts), which has its own section in the markdown.
//
//   node dist/broker/bench/vs-kafka.js                      the full comparison (about 15 minutes)
//   node dist/broker/bench/vs-kafka.js --replicated         only the replicated part (about 8 minutes):
//                                                           rewrites only its section of the markdown
//   node dist/broker/bench/vs-kafka.js --quick              short runs, for development; written to
//                                                           <tmpdir>/runnel-vs-kafka-quick/ unless BENCH_OUT
//                                                           (with --replicated too)
//   node dist/broker/bench/vs-kafka.js --render=<json>       the markdown and chart again from a run's raw
//                                                           results (each run leaves them in <tmpdir>)
//   node dist/broker/bench/vs-kafka.js --profile[=<w>]      Runnel alone under node --cpu-prof running one of
//                                                           the workloads (produce-100-acks1, produce-100-acksall,
//                                                           produce-1k-acks1, produce-1k-acksall, consume-100,
//                                                           consume-1k; default produce-100-acks1), then a summary
//                                                           of the profile in docs/bench/vs-kafka-profile.md
//
// Environment: BENCH_OUT (the markdown file; the SVG goes next to it), BENCH_KAFKA_VERSION (default
// 4.1.2), BENCH_KAFKA_PRODUCER_PROPS (extra ProducerPerformance --producer-props, "k=v k=v"),
// BENCH_WAIT_QUIET (seconds to wait at most for the rest of the machine to go quiet).
// The first run fetches Kafka's jars with Maven (about a minute); later runs reuse them.

import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from '../test/compat/clients.js';
import {
  measured,
  monotonicUs,
  peakRssMiB,
  processCpuMs,
  startBenchBroker,
  startProfiledBroker,
  type BenchBroker,
  type ProfiledBroker,
} from './broker.js';
import { awaitFirstAck, createTopics } from './clients.js';
import {
  JVM_PERFORMANCE_OPTS,
  PERF_TOOL_HEAP_OPTS,
  SINGLE_NODE_INTERNAL_TOPICS,
  consumerPerformance,
  formatKafkaNode,
  kafkaServerArgs,
  kraftProperties,
  launchKafka,
  prepareKafka,
  producerPerformance,
  type KafkaInstall,
} from './kafka.js';
import { loadAverage, machineInfo, probeDisk, waitForQuietIfAsked } from './machine.js';
import { writeProfileReport } from './profile-summary.js';
import { REPLICATED_FULL, REPLICATED_QUICK, replicatedBenchmark } from './vs-kafka-replicated.js';
import {
  formatReplicatedSection,
  spliceReplicatedSection,
  type ReplicatedReport,
} from './vs-kafka-replicated-report.js';
import {
  BROKERS,
  TITLE,
  acksName,
  formatVsKafka,
  vsKafkaSvg,
  type BrokerName,
  type BrokerSummary,
  type ConsumeRun,
  type LatencyRunRecord,
  type ProduceRun,
  type StartRun,
  type VsKafkaReport,
} from './vs-kafka-report.js';
import {
  TOOL_TIMEOUT_MS,
  inTurn,
  latencyRunRecord,
  loadSampler,
  orderFor,
  produceRun,
  runBase,
  scaled,
  type Size,
  type Subject,
} from './vs-kafka-runs.js';

const QUICK = process.argv.includes('--quick');
const REPLICATED_ONLY = process.argv.includes('--replicated');
const REPLICATED_PLAN = QUICK ? REPLICATED_QUICK : REPLICATED_FULL;
const DOCS = path.join(ROOT, 'docs/bench');
const DEFAULT_OUT = QUICK
  ? path.join(os.tmpdir(), 'runnel-vs-kafka-quick', 'vs-kafka.md')
  : path.join(DOCS, 'vs-kafka.md');
const PROFILE_OUT = path.join(DOCS, 'vs-kafka-profile.md');
/** The last run's raw results, which --render=<file> turns into the markdown and the chart again. */
const RESULTS = path.join(os.tmpdir(), `runnel-vs-kafka-results${QUICK ? '-quick' : ''}.json`);
/** The raw results of a --replicated run alone. */
const REPLICATED_RESULTS = path.join(os.tmpdir(), `runnel-vs-kafka-replicated-results${QUICK ? '-quick' : ''}.json`);
const START_TIMEOUT_MS = 180_000;
const DISK_PROBE_BYTES = 512 * 2 ** 20;

/** The single-node part of a full run: about 7 minutes on 2 cores. */
const FULL = {
  repeats: 3,
  startRepeats: 3,
  sizes: [
    { recordBytes: 100, records: 2_000_000 },
    { recordBytes: 1024, records: 400_000 },
  ],
  latencySeconds: 12,
  /** Produced and read by each broker before the measured runs, so that the JITs and the page cache warm up. */
  warmup: [
    { recordBytes: 100, records: 1_000_000 },
    { recordBytes: 1024, records: 200_000 },
  ],
};
/** --quick: one of everything, 15 times fewer records; about 2 minutes (4 with the replicated part). */
const PLAN = QUICK
  ? {
      ...FULL,
      repeats: 1,
      startRepeats: 1,
      latencySeconds: 3,
      sizes: scaled(FULL.sizes, 1 / 15),
      warmup: scaled(FULL.warmup, 1 / 50),
    }
  : FULL;
const ACKS = [1, -1];
/** Fixed-rate produce latency: far below either broker's saturation on this machine. */
const LATENCY_JOBS = [
  { recordsPerSecond: 1000, recordBytes: 1024, acks: 1 },
  { recordsPerSecond: 1000, recordBytes: 1024, acks: -1 },
];

/** Broker settings both get (Kafka's defaults, stated; the few single-broker ones as Kafka's config/server.properties has them). */
const COMMON_SETTINGS: Record<string, string> = {
  'num.partitions': '1',
  'log.segment.bytes': '1073741824',
  'log.retention.hours': '168',
  'auto.create.topics.enable': 'false',
  'offsets.topic.replication.factor': '1',
  'group.initial.rebalance.delay.ms': '0',
};
/**
 * ProducerPerformance --producer-props besides bootstrap.servers and acks: none by default (the
 * Java client's defaults); BENCH_KAFKA_PRODUCER_PROPS="batch.size=262144 linger.ms=10" adds some.
 */
const PRODUCER_PROPS: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_KAFKA_PRODUCER_PROPS ?? '')
    .split(/\s+/)
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

const NODE_CLIENT = `@platformatic/kafka ${(JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@platformatic/kafka/package.json'), 'utf8')) as { version: string }).version}`;

function log(msg: string): void {
  process.stderr.write(`[bench:kafka] ${msg}\n`);
}

const topicName = (kind: string, s: Size | { recordBytes: number }, acks: number, repeat: number) =>
  `${kind}-${s.recordBytes}b-acks${acksName(acks)}-r${repeat}`;

/** A broker of either kind, running on a fresh data directory. */
interface Running {
  name: BrokerName;
  broker: BenchBroker;
  /** Kafka's format time (not counted in its start-up). */
  formatMs: number | null;
  cleanup(): Promise<void>;
}

/** Both brokers' ways to start: preparation (untimed), then a timed launch that ends at the first acknowledged produce. */
async function startTimed(
  name: BrokerName,
  kafka: KafkaInstall,
  firstTopic: string,
): Promise<Running & { firstAckMs: number; attempts: number }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `runnel-vs-kafka-${name}-data-`));
  const runDir = await mkdtemp(path.join(os.tmpdir(), `runnel-vs-kafka-${name}-run-`));
  let broker: BenchBroker | undefined;
  const cleanup = async () => {
    if (broker) await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(runDir, { recursive: true, force: true });
  };
  try {
    if (name === 'runnel') {
      const started = performance.now();
      broker = await startBenchBroker({ dataDir, overrides: COMMON_SETTINGS });
      const { attempts } = await awaitFirstAck(broker.bootstrap, firstTopic, START_TIMEOUT_MS);
      return { name, broker, formatMs: null, cleanup, firstAckMs: performance.now() - started, attempts };
    }
    const node = await formatKafkaNode(kafka, { dataDir, runDir, settings: COMMON_SETTINGS });
    const started = performance.now();
    const k = launchKafka(kafka, node);
    broker = k;
    const { attempts } = await awaitFirstAck(k.bootstrap, firstTopic, START_TIMEOUT_MS, k.exited).catch(
      (err: Error) => {
        throw new Error(`${err.message}\nKafka's output:\n${k.output().slice(-4000)}`);
      },
    );
    return { name, broker, formatMs: node.formatMs, cleanup, firstAckMs: performance.now() - started, attempts };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The broker as the measured runs name it. */
const subject = (b: Running): Subject => ({
  name: b.name,
  pids: b.broker.pid,
  logName: TITLE[b.name],
  cpuOwner: 'broker',
  endOffsetName: "the broker's end offset",
});

function produceOnce(
  kafka: KafkaInstall,
  b: Running,
  size: Size,
  acks: number,
  repeat: number,
  order: number,
  topic: string,
): Promise<ProduceRun> {
  const props = { ...PRODUCER_PROPS, acks: String(acks) };
  return produceRun(kafka, subject(b), { bootstrap: b.broker.bootstrap, topic, size, acks, props, repeat, order }, log);
}

async function consumeOnce(
  kafka: KafkaInstall,
  b: Running,
  size: Size,
  repeat: number,
  order: number,
  topic: string,
): Promise<ConsumeRun> {
  const {
    result: run,
    brokerCpuMs,
    otherCpuMs,
  } = await measured(b.broker.pid, () =>
    consumerPerformance(kafka, {
      bootstrap: b.broker.bootstrap,
      topic,
      records: size.records,
      group: `bench-${topic}`,
      timeoutMs: TOOL_TIMEOUT_MS,
    }),
  );
  const r = run.result;
  const recordsPerS = run.failure === null && r && r.fetchMs > 0 ? r.records / (r.fetchMs / 1000) : null;
  log(
    `${TITLE[b.name]} consume ${size.records} × ${size.recordBytes} B #${repeat}: ${recordsPerS === null ? '-' : `${Math.round(recordsPerS)} records/s, join ${r!.rebalanceMs} ms`}${run.failure ? `, FAILED: ${run.failure}` : ''}`,
  );
  return {
    ...runBase(
      b.name,
      repeat,
      order,
      { brokerCpuMs, otherCpuMs, run },
      run.failure ?? (recordsPerS === null ? 'no fetch time reported' : null),
    ),
    recordBytes: size.recordBytes,
    records: size.records,
    recordsPerS,
    joinMs: r?.rebalanceMs ?? null,
  };
}

function latencyOnce(
  b: Running,
  rate: (typeof LATENCY_JOBS)[number],
  repeat: number,
  order: number,
  topic: string,
): Promise<LatencyRunRecord> {
  const o = { rate, bootstrap: b.broker.bootstrap, topic, seconds: PLAN.latencySeconds, repeat, order };
  return latencyRunRecord(subject(b), o, log);
}

/** Start-up, each broker alone: spawn → first acknowledged produce, then stopped. */
async function startRuns(kafka: KafkaInstall): Promise<StartRun[]> {
  const runs: StartRun[] = [];
  for (let repeat = 1; repeat <= PLAN.startRepeats; repeat++) {
    for (const name of orderFor(repeat - 1)) {
      const b = await startTimed(name, kafka, 'first-ack');
      const peak = peakRssMiB(b.broker.pid);
      const exitCode = await b.broker.stop();
      await b.cleanup();
      log(
        `${TITLE[name]} start #${repeat}: first acknowledged produce after ${b.firstAckMs.toFixed(0)} ms (${b.attempts} attempts)${b.formatMs === null ? '' : `; format took ${b.formatMs.toFixed(0)} ms before`}; VmHWM ${peak} MiB`,
      );
      runs.push({
        broker: name,
        repeat,
        firstAckMs: b.firstAckMs,
        attempts: b.attempts,
        formatMs: b.formatMs,
        peakRssMiB: peak,
        exitCode,
      });
    }
  }
  return runs;
}

/** Produces a few records into every topic-to-be of the run, unmeasured, so the JITs and page cache warm up. */
async function warmUp(kafka: KafkaInstall, b: Running): Promise<void> {
  for (const [i, size] of PLAN.warmup.entries()) {
    const topic = topicName('warmup', size, 1, i);
    const run = await producerPerformance(kafka, {
      bootstrap: b.broker.bootstrap,
      topic,
      records: size.records,
      recordBytes: size.recordBytes,
      props: { ...PRODUCER_PROPS, acks: '1' },
      timeoutMs: TOOL_TIMEOUT_MS,
    });
    if (run.failure) throw new Error(`${TITLE[b.name]} warm-up produce failed: ${run.failure}`);
    const read = await consumerPerformance(kafka, {
      bootstrap: b.broker.bootstrap,
      topic,
      records: size.records,
      group: `warmup-${i}`,
      timeoutMs: TOOL_TIMEOUT_MS,
    });
    if (read.failure) throw new Error(`${TITLE[b.name]} warm-up consume failed: ${read.failure}`);
  }
}

function allTopics(): string[] {
  const topics = PLAN.warmup.map((s, i) => topicName('warmup', s, 1, i));
  for (let repeat = 1; repeat <= PLAN.repeats; repeat++) {
    for (const size of PLAN.sizes) for (const acks of ACKS) topics.push(topicName('produce', size, acks, repeat));
    for (const j of LATENCY_JOBS) topics.push(topicName('latency', j, j.acks, repeat));
  }
  return topics;
}

async function benchmark(): Promise<void> {
  const quiet = await waitForQuietIfAsked(log);
  const started = performance.now();
  const date = new Date().toISOString();
  const kafka = await prepareKafka(log);
  log(`Kafka ${kafka.version} ready (${kafka.dir}; ${kafka.java})`);
  const probeDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-vs-kafka-probe-'));
  const machine = machineInfo(probeDir);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverage}${QUICK ? '; --quick' : ''}`);
  const load = loadSampler();
  let disk = null;
  if (!QUICK) {
    disk = await probeDisk(probeDir, DISK_PROBE_BYTES);
    log(`disk: ${disk.bufferedMBps.toFixed(0)} MB/s buffered, ${disk.syncedMBps.toFixed(0)} MB/s with fsync`);
  }
  await rm(probeDir, { recursive: true, force: true });

  const start = await startRuns(kafka);

  const running: Partial<Record<BrokerName, Running>> = {};
  try {
    for (const name of BROKERS) running[name] = await startTimed(name, kafka, 'first-ack');
    const both = running as Record<BrokerName, Running>;
    for (const name of BROKERS) {
      await createTopics(both[name].broker.bootstrap, allTopics());
      log(`${TITLE[name]}: warm-up`);
      await warmUp(kafka, both[name]);
    }

    const produce: ProduceRun[] = [];
    let index = 0;
    for (let repeat = 1; repeat <= PLAN.repeats; repeat++) {
      for (const size of PLAN.sizes) {
        for (const acks of ACKS) {
          const topic = topicName('produce', size, acks, repeat);
          produce.push(
            ...(await inTurn(index++, (name, order) =>
              produceOnce(kafka, both[name], size, acks, repeat, order, topic),
            )),
          );
        }
      }
    }
    const consume: ConsumeRun[] = [];
    for (let repeat = 1; repeat <= PLAN.repeats; repeat++) {
      for (const size of PLAN.sizes) {
        const topic = topicName('produce', size, 1, repeat);
        consume.push(
          ...(await inTurn(index++, (name, order) => consumeOnce(kafka, both[name], size, repeat, order, topic))),
        );
      }
    }
    const latency: LatencyRunRecord[] = [];
    for (let repeat = 1; repeat <= PLAN.repeats; repeat++) {
      for (const j of LATENCY_JOBS) {
        const topic = topicName('latency', j, j.acks, repeat);
        latency.push(...(await inTurn(index++, (name, order) => latencyOnce(both[name], j, repeat, order, topic))));
      }
    }

    const brokers = {} as Record<BrokerName, BrokerSummary>;
    for (const name of BROKERS) {
      const peak = peakRssMiB(both[name].broker.pid);
      const exitCode = await both[name].broker.stop();
      brokers[name] = { peakRssMiB: peak, exitCode, problems: both[name].broker.problems() };
      await both[name].cleanup();
      delete running[name];
    }
    const durationS = (performance.now() - started) / 1000;
    const loadWhileSingle = load.stop();
    const loadAverageAfter = loadAverage();
    const replicated = await replicatedBenchmark(kafka, {
      plan: REPLICATED_PLAN,
      quick: QUICK,
      alone: false,
      quiet: null,
      nodeClient: NODE_CLIENT,
      producerProps: PRODUCER_PROPS,
      log,
    });
    const report: VsKafkaReport = {
      date,
      quick: QUICK,
      quiet,
      durationS,
      machine,
      disk,
      load: loadWhileSingle,
      loadAverageAfter,
      kafkaVersion: kafka.version,
      java: kafka.java,
      nodeClient: NODE_CLIENT,
      kafkaCache: kafka.dir.replace(os.homedir(), '~'),
      commonSettings: COMMON_SETTINGS,
      kafkaOnlySettings: {
        ...kraftProperties({ dataDir: '<data dir>', port: '<port>', controllerPort: '<controller port>' }),
        ...SINGLE_NODE_INTERNAL_TOPICS,
      },
      runnelOnlySettings: {
        'node.id': '1',
        listeners: 'PLAINTEXT://127.0.0.1:<port>',
        'advertised.listeners': 'PLAINTEXT://127.0.0.1:<port>',
        'log.dirs': '<data dir>',
      },
      kafkaServerCommand: `java ${kafkaServerArgs(kafka, {
        nodeId: 1,
        bootstrap: '',
        propertiesFile: 'server.properties',
        dataDir: '',
        logsDir: '<logs>',
        formatMs: 0,
      })
        .join(' ')
        .replace(kafka.classpath, '<classpath>')
        .replaceAll(kafka.dir, '<cache>')}`,
      kafkaToolJvm: [...PERF_TOOL_HEAP_OPTS, ...JVM_PERFORMANCE_OPTS].join(' '),
      producerProps: PRODUCER_PROPS,
      repeats: PLAN.repeats,
      startRepeats: PLAN.startRepeats,
      produce,
      consume,
      latency,
      start,
      brokers,
      replicated,
    };
    await writeFile(RESULTS, JSON.stringify(report));
    await render(report);
    const runs = [
      ...produce,
      ...consume,
      ...latency,
      ...replicated.produce,
      ...replicated.latency,
      ...replicated.failover,
    ];
    if (runs.some((x) => x.failure !== null)) process.exitCode = 1;
  } finally {
    for (const b of Object.values(running)) await b.cleanup();
  }
}

/** The replicated part alone: its section of the markdown rewritten, the rest kept. */
async function replicatedOnly(): Promise<void> {
  const quiet = await waitForQuietIfAsked(log);
  const kafka = await prepareKafka(log);
  log(`Kafka ${kafka.version} ready (${kafka.dir}; ${kafka.java})${QUICK ? '; --quick' : ''}`);
  const report = await replicatedBenchmark(kafka, {
    plan: REPLICATED_PLAN,
    quick: QUICK,
    alone: true,
    quiet,
    nodeClient: NODE_CLIENT,
    producerProps: PRODUCER_PROPS,
    log,
  });
  await writeFile(REPLICATED_RESULTS, JSON.stringify(report));
  await renderReplicated(report);
  if ([...report.produce, ...report.latency, ...report.failover].some((x) => x.failure !== null)) process.exitCode = 1;
}

/** Writes the replicated section into the markdown (replacing the one there, the rest kept) and prints it. */
async function renderReplicated(report: ReplicatedReport): Promise<void> {
  const out = process.env.BENCH_OUT ?? DEFAULT_OUT;
  await mkdir(path.dirname(out), { recursive: true });
  const section = formatReplicatedSection(report);
  const doc = await readFile(out, 'utf8').catch(() => '# Runnel and Apache Kafka, side by side\n');
  await writeFile(out, spliceReplicatedSection(doc, section));
  process.stdout.write(section + '\n');
  log(`replicated section written to ${out}; the raw results to ${REPLICATED_RESULTS}`);
}

/** Writes the markdown and the chart (and prints the markdown). */
async function render(report: VsKafkaReport): Promise<void> {
  const out = process.env.BENCH_OUT ?? DEFAULT_OUT;
  const svgFile = out.replace(/\.md$/, '') + '.svg';
  await mkdir(path.dirname(out), { recursive: true });
  const single = formatVsKafka(report, path.basename(svgFile));
  const markdown = report.replicated
    ? spliceReplicatedSection(single, formatReplicatedSection(report.replicated))
    : single;
  await writeFile(out, markdown);
  await writeFile(svgFile, vsKafkaSvg(report));
  process.stdout.write(markdown + '\n');
  log(`written to ${out} and ${svgFile}; the raw results to ${RESULTS}`);
}

/** Runnel alone under --cpu-prof, running one workload three times with Kafka's tools; then the profile's summary. */
async function profile(workload: string): Promise<void> {
  const m = /^(produce|consume)-(100|1k)(?:-acks(1|all))?$/.exec(workload);
  if (!m)
    throw new Error(
      `unknown workload ${workload}: produce-100-acks1, produce-100-acksall, produce-1k-acks1, produce-1k-acksall, consume-100, consume-1k`,
    );
  const [kind, sizeName, acksText] = [m[1], m[2], m[3] ?? '1'];
  const size = PLAN.sizes.find((s) => s.recordBytes === (sizeName === '1k' ? 1024 : 100))!;
  const acks = acksText === 'all' ? -1 : 1;
  const kafka = await prepareKafka(log);
  await waitForQuietIfAsked(log);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-vs-kafka-profile-data-'));
  let profiled: ProfiledBroker | undefined;
  try {
    profiled = await startProfiledBroker({ dataDir, overrides: COMMON_SETTINGS });
    const b: Running = { name: 'runnel', broker: profiled.broker, formatMs: null, cleanup: async () => {} };
    const topics = [1, 2, 3].map((r) => topicName('produce', size, acks, r));
    await createTopics(b.broker.bootstrap, [...topics, 'warmup']);
    await producerPerformance(kafka, {
      bootstrap: b.broker.bootstrap,
      topic: 'warmup',
      records: size.records / 5,
      recordBytes: size.recordBytes,
      props: { ...PRODUCER_PROPS, acks: '1' },
      timeoutMs: TOOL_TIMEOUT_MS,
    });
    const lines: string[] = [];
    const line = (
      what: string,
      records: number,
      recordsPerS: number | null,
      cpuMs: number,
      wallMs: number,
      failure: string | null,
    ) => {
      const l = `${what} under --cpu-prof: ${recordsPerS === null ? '-' : `${Math.round(recordsPerS)} records/s (${((recordsPerS * size.recordBytes) / 1e6).toFixed(1)} MB/s)`}, broker CPU ${(cpuMs / 1000).toFixed(2)} s = ${(cpuMs / 1000 / ((records * size.recordBytes) / 1e9)).toFixed(2)} CPU-s/GB, ${(cpuMs / wallMs).toFixed(2)} cores over the tool's run${failure ? `, FAILED: ${failure}` : ''}`;
      log(l);
      lines.push(l);
    };
    let fromUs = monotonicUs();
    for (const [i, topic] of topics.entries()) {
      const before = processCpuMs(b.broker.pid).allMs;
      const r = await produceOnce(kafka, b, size, acks, i + 1, 1, topic);
      if (kind === 'produce')
        line(
          `ProducerPerformance ${size.records} × ${size.recordBytes} B acks=${acksText}`,
          size.records,
          r.recordsPerS,
          processCpuMs(b.broker.pid).allMs - before,
          r.wallMs,
          r.failure,
        );
    }
    if (kind === 'consume') {
      fromUs = monotonicUs();
      for (const [i, topic] of topics.entries()) {
        const before = processCpuMs(b.broker.pid).allMs;
        const r = await consumeOnce(kafka, b, size, i + 1, 1, topic);
        line(
          `ConsumerPerformance ${size.records} × ${size.recordBytes} B`,
          size.records,
          r.recordsPerS,
          processCpuMs(b.broker.pid).allMs - before,
          r.wallMs,
          r.failure,
        );
      }
    }
    const { summary, kept } = await profiled.finish(
      { fromUs, toUs: monotonicUs() },
      `runnel-vs-kafka-${workload}.cpuprofile`,
    );
    profiled = undefined;
    await writeProfileReport(PROFILE_OUT, {
      title: 'Runnel CPU profile under the vs-Kafka workloads',
      intro: `Written by \`npm run bench:kafka -- --profile=${workload}\` on ${new Date().toISOString()} (${machineInfo(dataDir).cpuModel}, ${os.cpus().length} cores, load ${loadAverage()}, Node ${process.version}). Runnel alone ran under \`node --cpu-prof\`, driven by Kafka ${kafka.version}'s ${kind === 'produce' ? 'ProducerPerformance' : 'ConsumerPerformance'} with the settings of [vs-kafka.md](vs-kafka.md); the summary covers only the measured runs below. Self times are wall-clock time on the broker's main thread while it was not idle. Profiling slows the broker down: throughput here is not comparable with vs-kafka.md.`,
      lines,
      summary,
    });
    log(`profile kept in ${kept}; summary written to ${PROFILE_OUT}`);
  } finally {
    await profiled?.discard();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const profileArg = process.argv.slice(2).find((a) => a === '--profile' || a.startsWith('--profile='));
const renderArg = process.argv.slice(2).find((a) => a.startsWith('--render='));
/** --render=<json>: a whole run's results, or a --replicated run's alone (which has no consume runs). */
function renderAgain(file: string): Promise<void> {
  const results = JSON.parse(readFileSync(file, 'utf8')) as VsKafkaReport | ReplicatedReport;
  return 'consume' in results ? render(results) : renderReplicated(results);
}

const main = profileArg
  ? profile(profileArg.includes('=') ? profileArg.split('=')[1] : 'produce-100-acks1')
  : renderArg
    ? renderAgain(renderArg.slice('--render='.length))
    : REPLICATED_ONLY
      ? replicatedOnly()
      : benchmark();
main.catch((err: unknown) => {
  process.stderr.write(`bench:kafka failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
