// The side-by-side benchmark's results (vs-kafka.ts) as markdown (docs/bench/vs-kafka.md) and as
// an SVG chart of the Runnel/Kafka ratios against their goals (docs/bench/vs-kafka.svg).

import type { LatencySummary } from './stats.js';
import type { DiskProbe, MachineInfo } from './machine.js';
import type { ReplicatedReport } from './vs-kafka-replicated-report.js';

export type BrokerName = 'runnel' | 'kafka';
/** The replicated section's heading as a link target (vs-kafka-replicated-report.ts writes the section). */
export const REPLICATED_ANCHOR = 'replicated-three-brokers-each';
export const BROKERS: readonly BrokerName[] = ['runnel', 'kafka'];
export const TITLE: Record<BrokerName, string> = { runnel: 'Runnel', kafka: 'Kafka' };

/** What every measured run has: which broker, which repeat, where in the pair it ran, and the CPU around it. */
export interface RunBase {
  broker: BrokerName;
  repeat: number;
  /** 1 if it ran before the other broker's run of the same workload and repeat, 2 if after. */
  order: number;
  brokerCpuMs: number;
  /** The client process (ProducerPerformance, ConsumerPerformance, the Node latency client). */
  clientCpuMs: number;
  /** Everything else on the machine, the other (idle) broker included. */
  otherCpuMs: number;
  /** The client's wall time, JVM or Node start-up included. */
  wallMs: number;
  failure: string | null;
}

export interface ProduceRun extends RunBase {
  recordBytes: number;
  acks: number;
  records: number;
  /** ProducerPerformance's own rate (first send to last acknowledgement), or null if it failed. */
  recordsPerS: number | null;
  /** ProducerPerformance's latency percentiles (integer ms, under full load: queueing included). */
  p99Ms: number | null;
}

export interface ConsumeRun extends RunBase {
  recordBytes: number;
  records: number;
  /** Records per second of fetching (ConsumerPerformance's fetch.nMsg.sec: group join left out). */
  recordsPerS: number | null;
  /** ConsumerPerformance's rebalance.time.ms: subscribe until the partition is assigned. */
  joinMs: number | null;
}

export interface LatencyRunRecord extends RunBase {
  rate: number;
  recordBytes: number;
  acks: number;
  latencyMs: LatencySummary | null;
  achievedRate: number;
  errors: number;
}

export interface StartRun {
  broker: BrokerName;
  repeat: number;
  /** Spawn → one produce acknowledged (topic creation included). */
  firstAckMs: number;
  attempts: number;
  /** Kafka: kafka-storage format beforehand, not counted. */
  formatMs: number | null;
  /** VmHWM just after the first acknowledged produce. */
  peakRssMiB: number | null;
  exitCode: number | null;
}

/** 1-minute load averages sampled every 10 s while a part ran. */
export interface LoadSummary {
  min: number;
  median: number;
  max: number;
  samples: number;
}

export interface BrokerSummary {
  peakRssMiB: number | null;
  exitCode: number | null;
  /** Warning and error lines in the broker's log over the whole run. */
  problems: { count: number; first: string[] };
}

/** What the results of either part have: one broker each (VsKafkaReport) or three each (ReplicatedReport). */
export interface PartReport {
  date: string;
  quick: boolean;
  quiet: string | null;
  durationS: number;
  /** 1-minute load average sampled every 10 s while the part ran. */
  load: LoadSummary;
  loadAverageAfter: string;
  kafkaVersion: string;
  nodeClient: string;
  repeats: number;
  /** Broker settings both systems got. */
  commonSettings: Record<string, string>;
  /** What only Kafka got (one broker: KRaft combined mode on loopback, single-node internal topics). */
  kafkaOnlySettings: Record<string, string>;
  runnelOnlySettings: Record<string, string>;
  produce: ProduceRun[];
  latency: LatencyRunRecord[];
}

export interface VsKafkaReport extends PartReport {
  machine: MachineInfo;
  disk: DiskProbe | null;
  java: string;
  kafkaCache: string;
  kafkaServerCommand: string;
  kafkaToolJvm: string;
  producerProps: Record<string, string>;
  startRepeats: number;
  consume: ConsumeRun[];
  start: StartRun[];
  brokers: Record<BrokerName, BrokerSummary>;
  /** Three brokers each with replicated topics (absent from runs before it existed). */
  replicated?: ReplicatedReport;
}

// ---- the comparison rows ------------------------------------------------------------------------

export interface Goal {
  /** Runnel/Kafka must be at least (>=) or at most (<=) this. */
  op: '>=' | '<=';
  ratio: number;
}

export interface Row {
  group: string;
  metric: string;
  /** The metric in a few words, for the chart. */
  label: string;
  runnel: number | null;
  kafka: number | null;
  /** How to print a value of this row. */
  show: (v: number) => string;
  goal: Goal | null;
}

/** What a row says before its values: where it goes, what it measures and its goal. */
export type RowHead = Pick<Row, 'group' | 'metric' | 'label' | 'goal'>;

export const median = (values: number[]): number | null => {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
export const fmt = (v: number, digits = 0) =>
  v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const sizeName = (bytes: number) => (bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`);
export const acksName = (acks: number) => (acks === -1 ? 'all' : String(acks));
const MB = 1e6;

export const ratioOf = (r: Row): number | null =>
  r.runnel !== null && r.kafka !== null && r.kafka > 0 ? r.runnel / r.kafka : null;
export const metOf = (r: Row): boolean | null => {
  const ratio = ratioOf(r);
  if (ratio === null || r.goal === null) return null;
  return r.goal.op === '>=' ? ratio >= r.goal.ratio : ratio <= r.goal.ratio;
};

const THROUGHPUT: Goal = { op: '>=', ratio: 1 };
const AT_MOST_KAFKA: Goal = { op: '<=', ratio: 1 };

/** Groups `items` by `key`, keeping first-seen order. */
export function groupBy<T>(items: readonly T[], key: (t: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const t of items) groups.set(key(t), [...(groups.get(key(t)) ?? []), t]);
  return [...groups.values()];
}

/** For each broker, a number from its successful runs (null when it has none). */
export function perBroker<T extends Pick<RunBase, 'broker' | 'failure'>>(
  runs: readonly T[],
  f: (ok: T[]) => number | null,
): { runnel: number | null; kafka: number | null } {
  const of = (b: BrokerName) => {
    const ok = runs.filter((r) => r.broker === b && r.failure === null);
    return ok.length === 0 ? null : f(ok);
  };
  return { runnel: of('runnel'), kafka: of('kafka') };
}

/** A throughput row: the median records/s of each broker's successful runs of one record size. */
export function rateRow(head: RowHead, runs: readonly (ProduceRun | ConsumeRun)[], recordBytes: number): Row {
  return {
    ...head,
    ...perBroker(runs, (ok) => median(ok.map((x) => x.recordsPerS!))),
    show: (v) => `${fmt(v)} rec/s (${fmt((v * recordBytes) / MB, 1)} MB/s)`,
  };
}

const PERCENTILES = [
  ['p50', 'p50'],
  ['p99', 'p99'],
  ['p999', 'p99.9'],
] as const;

/** A row per latency percentile: its median over each broker's successful runs that have a summary. */
export function latencyRows(
  runs: readonly LatencyRunRecord[],
  head: (q: (typeof PERCENTILES)[number][0], name: string) => RowHead,
): Row[] {
  return PERCENTILES.map(([q, name]) => ({
    ...head(q, name),
    ...perBroker(runs, (ok) => median(ok.filter((l) => l.latencyMs).map((l) => l.latencyMs![q]))),
    show: (v) => `${v.toFixed(2)} ms`,
  }));
}

/** Broker CPU-seconds over the GB (10^9 bytes) of record values the runs produced. */
const cpuPerGB = (runs: ProduceRun[]) =>
  sum(runs.map((p) => p.brokerCpuMs)) / 1000 / (sum(runs.map((p) => p.records * p.recordBytes)) / 1e9);

/** A CPU row: each broker's CPU per GB ingested over its successful produce runs. */
export function cpuRow(head: RowHead, runs: ProduceRun[]): Row {
  return { ...head, ...perBroker(runs, cpuPerGB), show: (v) => `${v.toFixed(2)} CPU-s/GB` };
}

export function comparisonRows(r: VsKafkaReport): Row[] {
  const rows: Row[] = [];
  for (const g of groupBy(r.produce, (p) => `${p.recordBytes}|${p.acks}`)) {
    const { recordBytes, acks } = g[0];
    const head = {
      group: 'Produce throughput (ProducerPerformance)',
      metric: `produce ${sizeName(recordBytes)}, acks=${acksName(acks)}`,
      label: `produce ${sizeName(recordBytes)} acks=${acksName(acks)}: records/s`,
      goal: THROUGHPUT,
    };
    rows.push(rateRow(head, g, recordBytes));
  }
  for (const g of groupBy(r.consume, (c) => String(c.recordBytes))) {
    const { recordBytes } = g[0];
    const head = {
      group: 'Consume throughput (ConsumerPerformance)',
      metric: `consume ${sizeName(recordBytes)}`,
      label: `consume ${sizeName(recordBytes)}: records/s`,
      goal: THROUGHPUT,
    };
    rows.push(rateRow(head, g, recordBytes));
  }
  for (const g of groupBy(r.consume, (c) => String(c.recordBytes))) {
    rows.push({
      group: 'Consume throughput (ConsumerPerformance)',
      metric: `group join before consuming ${sizeName(g[0].recordBytes)}`,
      label: `group join, ${sizeName(g[0].recordBytes)}`,
      ...perBroker(g, (ok) => median(ok.map((c) => c.joinMs!))),
      show: (v) => `${fmt(v)} ms`,
      goal: null,
    });
  }
  for (const g of groupBy(r.latency, (l) => `${l.rate}|${l.recordBytes}|${l.acks}`)) {
    const { rate, recordBytes, acks } = g[0];
    rows.push(
      ...latencyRows(g, (q, name) => ({
        group: 'Produce latency (Node client, fixed rate)',
        metric: `${name}, ${fmt(rate)} rec/s of ${sizeName(recordBytes)}, acks=${acksName(acks)}`,
        label: `produce latency ${name}, acks=${acksName(acks)}`,
        goal: q === 'p99' ? AT_MOST_KAFKA : null,
      })),
    );
  }
  const cpuGroup = 'Broker CPU per GB ingested';
  for (const g of groupBy(r.produce, (p) => `${p.recordBytes}|${p.acks}`)) {
    const { recordBytes, acks } = g[0];
    const head = {
      group: cpuGroup,
      metric: `produce ${sizeName(recordBytes)}, acks=${acksName(acks)}`,
      label: `CPU per GB, produce ${sizeName(recordBytes)} acks=${acksName(acks)}`,
      goal: AT_MOST_KAFKA,
    };
    rows.push(cpuRow(head, g));
  }
  rows.push(
    cpuRow(
      { group: cpuGroup, metric: 'all produce runs', label: 'CPU per GB, all produce runs', goal: AT_MOST_KAFKA },
      r.produce,
    ),
  );
  rows.push({
    group: 'Memory and start-up',
    metric: 'broker peak RSS over the whole run (VmHWM)',
    label: 'peak RSS',
    runnel: r.brokers.runnel.peakRssMiB,
    kafka: r.brokers.kafka.peakRssMiB,
    show: (v) => `${fmt(v)} MiB`,
    goal: { op: '<=', ratio: 0.25 },
  });
  const startOf = (b: BrokerName, f: (s: StartRun) => number | null) =>
    median(r.start.filter((s) => s.broker === b).flatMap((s) => (f(s) === null ? [] : [f(s)!])));
  const startRow = (
    metric: string,
    label: string,
    f: (s: StartRun) => number | null,
    unit: string,
    goal: Goal | null,
  ): Row => ({
    group: 'Memory and start-up',
    metric,
    label,
    runnel: startOf('runnel', f),
    kafka: startOf('kafka', f),
    show: (v) => `${fmt(v)} ${unit}`,
    goal,
  });
  rows.push(
    startRow(
      'peak RSS just after start-up (fresh broker, one record)',
      'RSS after start-up',
      (s) => s.peakRssMiB,
      'MiB',
      null,
    ),
  );
  rows.push(
    startRow(
      'process start → first acknowledged produce',
      'start → first acknowledged produce',
      (s) => s.firstAckMs,
      'ms',
      { op: '<=', ratio: 0.1 },
    ),
  );
  return rows;
}

// ---- markdown -----------------------------------------------------------------------------------

const goalName = (g: Goal | null) => (g === null ? '—' : `${g.op === '>=' ? '≥' : '≤'} ${g.ratio.toFixed(2)}×`);
const metName = (m: boolean | null) => (m === null ? '—' : m ? 'yes' : '**no**');
export const settingsList = (s: Record<string, string>) =>
  Object.entries(s)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ');
const cores = (cpuMs: number, wallMs: number) => (wallMs > 0 ? (cpuMs / wallMs).toFixed(2) : '-');
export const quickNote = (quick: boolean) =>
  quick ? ' **--quick** (short runs for development: not representative)' : '';
export const loadRange = (load: LoadSummary, before: string, after: string) =>
  `1-minute load average ${load.min.toFixed(2)} to ${load.max.toFixed(2)} (median ${load.median.toFixed(2)}, ${load.samples} samples 10 s apart); before: ${before}, after: ${after} (1/5/15 min)`;
/** Log lines or errors as inline code (backquotes turned into quotes, each cut at `maxChars`), joined by " · ". */
export const codeSpans = (lines: readonly string[], maxChars: number) =>
  lines.map((l) => `\`${l.replaceAll('`', "'").slice(0, maxChars)}\``).join(' · ');

/** The rows as a table, a bold line opening each group; with `goals`, each row's goal and whether it is met. */
export function comparisonTable(rows: Row[], goals: boolean): string[] {
  const goalCells = (cells: string) => (goals ? cells : '');
  const lines = [
    `| metric | Runnel | Kafka | ratio (Runnel/Kafka) |${goalCells(' goal | met? |')}`,
    `|---|---:|---:|---:|${goalCells('---:|---|')}`,
  ];
  let group = '';
  for (const row of rows) {
    if (row.group !== group) {
      group = row.group;
      lines.push(`| **${group}** | | | |${goalCells(' | |')}`);
    }
    const ratio = ratioOf(row);
    lines.push(
      `| ${row.metric} | ${row.runnel === null ? 'failed' : row.show(row.runnel)} | ${row.kafka === null ? 'failed' : row.show(row.kafka)} | ${ratio === null ? '-' : `${ratio.toFixed(2)}×`} |${goalCells(` ${goalName(row.goal)} | ${metName(metOf(row))} |`)}`,
    );
  }
  return lines;
}

/**
 * Every measured run, in the order they ran: produce, consume, latency. `who` heads the column
 * naming the system ("broker", "cluster"), `brokerCpu` the one of its brokers' CPU.
 */
export function runsTable(
  columns: { who: string; brokerCpu: string },
  runs: Pick<PartReport, 'produce' | 'latency'> & { consume?: ConsumeRun[] },
): string[] {
  const lines = [
    `| repeat | workload | ${columns.who} | order | result | client wall s | ${columns.brokerCpu} (cores) | client CPU (cores) | rest of machine (cores) | status |`,
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  const row = (x: RunBase, workload: string, result: string) =>
    `| ${x.repeat} | ${workload} | ${TITLE[x.broker]} | ${x.order} | ${result} | ${(x.wallMs / 1000).toFixed(2)} | ${cores(x.brokerCpuMs, x.wallMs)} | ${cores(x.clientCpuMs, x.wallMs)} | ${cores(x.otherCpuMs, x.wallMs)} | ${x.failure ?? 'ok'} |`;
  for (const p of runs.produce)
    lines.push(
      row(
        p,
        `produce ${fmt(p.records)} × ${sizeName(p.recordBytes)}, acks=${acksName(p.acks)}`,
        p.recordsPerS === null ? '-' : `${fmt(p.recordsPerS)} rec/s, p99 ${p.p99Ms} ms`,
      ),
    );
  for (const c of runs.consume ?? [])
    lines.push(
      row(
        c,
        `consume ${fmt(c.records)} × ${sizeName(c.recordBytes)}`,
        c.recordsPerS === null ? '-' : `${fmt(c.recordsPerS)} rec/s, join ${c.joinMs} ms`,
      ),
    );
  for (const l of runs.latency)
    lines.push(
      row(
        l,
        `latency ${fmt(l.rate)} rec/s × ${sizeName(l.recordBytes)}, acks=${acksName(l.acks)}`,
        l.latencyMs
          ? `p50 ${l.latencyMs.p50.toFixed(2)} / p99 ${l.latencyMs.p99.toFixed(2)} / p99.9 ${l.latencyMs.p999.toFixed(2)} ms (${fmt(l.latencyMs.count)} sends)`
          : '-',
      ),
    );
  return lines;
}

function startTable(r: VsKafkaReport): string[] {
  return [
    '| repeat | broker | spawn → first ack, ms | attempts after the port opened | storage format beforehand, ms | VmHWM after, MiB | exit code after SIGTERM |',
    '|---:|---|---:|---:|---:|---:|---:|',
    ...r.start.map(
      (s) =>
        `| ${s.repeat} | ${TITLE[s.broker]} | ${fmt(s.firstAckMs)} | ${s.attempts} | ${s.formatMs === null ? '-' : fmt(s.formatMs)} | ${s.peakRssMiB ?? '?'} | ${s.exitCode} |`,
    ),
  ];
}

function problemsLine(name: string, b: BrokerSummary, cleanCodes: string): string {
  const head = `- ${name}: peak RSS ${b.peakRssMiB ?? '?'} MiB; exit code after SIGTERM ${b.exitCode} (clean: ${cleanCodes})`;
  if (b.problems.count === 0) return `${head}; no warnings or errors in its log`;
  return `${head}; ${b.problems.count} warning/error lines in its log, first: ${codeSpans(b.problems.first.slice(0, 3), 300)}`;
}

export function formatVsKafka(r: VsKafkaReport, svgName: string): string {
  const rows = comparisonRows(r);
  const withGoal = rows.filter((x) => x.goal !== null);
  const met = withGoal.filter((x) => metOf(x) === true).length;
  const failed = [...r.produce, ...r.consume, ...r.latency].filter((x) => x.failure !== null).length;
  return [
    '# Runnel and Apache Kafka, side by side',
    '',
    `Written by \`npm run bench:kafka\`${quickNote(r.quick)} (broker/bench/vs-kafka.ts) on ${r.date}; ${r.replicated ? `its single-node part took ${r.durationS.toFixed(0)} s, the replicated part ${r.replicated.durationS.toFixed(0)} s more` : `the run took ${r.durationS.toFixed(0)} s`}. Every number below was measured by that run.${failed > 0 ? ` **${failed} runs failed: see "Every run".**` : ''}`,
    '',
    `Runnel and Apache Kafka ${r.kafkaVersion} ran as one broker each on this machine, both alive for the whole run; every workload ran on one, then on the other, with the same client, the order alternating from one workload and repeat to the next. Goals met: **${met} of ${withGoal.length}**.${r.replicated ? ` Three brokers each, with replicated topics (\`acks=all\`, failover after a leader's kill -9): [below](#${REPLICATED_ANCHOR}).` : ''}`,
    '',
    `![Runnel/Kafka ratio per metric, against its goal](${svgName})`,
    '',
    ...comparisonTable(rows, true),
    '',
    'How each row is measured:',
    '',
    `- **Produce throughput**: \`org.apache.kafka.tools.ProducerPerformance\` (what \`bin/kafka-producer-perf-test.sh\` runs) from kafka-tools ${r.kafkaVersion}, \`--throughput -1\` (as fast as it goes), into a new one-partition topic per run; its own rate, from its first send to its last acknowledgement. Median of ${r.repeats} runs per broker. The topic's end offset is checked against the records sent after every run. MB = 10^6 bytes of record values.`,
    `- **Consume throughput**: \`org.apache.kafka.tools.ConsumerPerformance\` (\`bin/kafka-consumer-perf-test.sh\`) reading a produce run's acks=1 topic from the beginning as the only member of a new consumer group; the rate is its \`fetch.nMsg.sec\` (records over the time after the partition was assigned); the group join (\`rebalance.time.ms\`) is the row below it. Median of ${r.repeats} runs.`,
    `- **Produce latency**: ${r.nodeClient} (broker/bench/latency-client.ts, as in \`npm run bench\`): one record per \`send()\` on a fixed schedule (open loop), \`idempotent=false\`, \`retries=0\`, \`maxInflights=64\`; latency is \`send()\` → acknowledgement in the client process, after 1 s of warm-up. Each percentile is the median over ${r.repeats} runs per broker.`,
    `- **CPU per GB ingested**: the broker process's user + system CPU (/proc/<pid>/stat, all threads) from just before to just after each ProducerPerformance process (JVM start-up included, when the broker is idle), summed over the workload's runs, over the GB (10^9 bytes) of record values those runs produced.`,
    `- **Peak RSS**: VmHWM of /proc/<pid>/status of the broker that ran every workload, read at the end. Kafka's heap is \`-Xms1G -Xmx1G\` as \`kafka-server-start.sh\` sets it; the page cache is not in either.`,
    `- **Start-up**: ${r.startRepeats} times per broker (alternating, each alone on the machine, each on a fresh data directory): the time from spawning the process to the acknowledgement of one record produced at acks=1, polled with ${r.nodeClient}: a TCP connect every 5 ms until the port accepts, then CreateTopics and Produce, each attempt with a new client that does not retry by itself, 5 ms apart. Median. Kafka's \`kafka-storage format\`, which a new KRaft node needs once, runs before and is not counted.`,
    '',
    '## Every run',
    '',
    'In the order they ran. "order" is 1 when the run went before the other broker\'s run of the same workload and repeat. CPU columns are CPU-seconds per second of the client\'s wall time (1.00 = one core busy); "rest of machine" includes the other, idle broker and whatever else ran on the machine.',
    '',
    ...runsTable({ who: 'broker', brokerCpu: 'broker CPU' }, r),
    '',
    '### Start-up runs',
    '',
    ...startTable(r),
    '',
    '## Machine and settings',
    '',
    `- CPU: ${r.machine.cpuModel}, ${r.machine.cores} cores; memory ${r.machine.memoryGiB} GiB; ${r.machine.os}`,
    `- Load while it ran: ${loadRange(r.load, r.machine.loadAverage, r.loadAverageAfter)}${r.quiet ? `; ${r.quiet}` : ''}. With ${r.machine.cores} cores, a load above ${r.machine.cores} means other work competed with the brokers and clients (see "rest of machine" above).`,
    `- Data directories: a new directory per broker in os.tmpdir() on ${r.machine.filesystem}, deleted afterwards${r.disk ? `; plain Node sequential 1 MiB writes there: ${fmt(r.disk.bufferedMBps)} MB/s into the page cache, ${fmt(r.disk.syncedMBps)} MB/s including the final fsync` : ''}`,
    `- Runnel: \`node dist/broker/main.js\` (Node ${r.machine.node}), started by broker/test/broker-process.ts with \`--override\`s`,
    `- Kafka ${r.kafkaVersion}: jars from Maven Central (\`org.apache.kafka:kafka_2.13\`, \`org.apache.kafka:kafka-tools\` and their runtime dependencies, plus the log4j-slf4j binding the release ships) in ${r.kafkaCache}; ${r.java}; one KRaft node in combined mode. Command, as \`bin/kafka-server-start.sh server.properties\` runs it: \`${r.kafkaServerCommand}\``,
    `- Settings both brokers got: ${settingsList(r.commonSettings)}; all else is each broker's default, so both use Kafka's default flush policy (no fsync per write: \`log.flush.interval.messages\` and \`log.flush.interval.ms\` unset; segments are flushed when they roll) and 1 GiB segments`,
    `- Kafka only: ${settingsList(r.kafkaOnlySettings)}`,
    `- Runnel only: ${settingsList(r.runnelOnlySettings)}`,
    `- Topics: one partition, replication factor 1, created before the runs (CreateTopics); loopback (127.0.0.1)`,
    `- Kafka's tools ran as \`java ${r.kafkaToolJvm} -cp <classpath> <class>\` (the perf-test scripts' heap, kafka-run-class.sh's options). ProducerPerformance: \`--num-records <count> --record-size <size> --throughput -1 --producer-props ${Object.entries(
      { 'bootstrap.servers': '<broker>', ...r.producerProps, acks: '<acks>' },
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ' ',
      )}\`; all other producer settings are the Java client's defaults (\`batch.size=16384\`, \`linger.ms=5\`, \`compression.type=none\`, \`max.in.flight.requests.per.connection=5\`, \`buffer.memory=33554432\`; idempotence on with acks=all, off with acks=1). ConsumerPerformance: its defaults (\`max.partition.fetch.bytes=1048576\`, \`receive.buffer.bytes=2097152\`, \`check.crcs=false\`, \`auto.offset.reset=earliest\`)`,
    problemsLine('Runnel', r.brokers.runnel, '0'),
    problemsLine('Kafka', r.brokers.kafka, '0 or 143, the JVM exiting on SIGTERM after its shutdown hooks'),
    '',
  ].join('\n');
}

// ---- SVG ----------------------------------------------------------------------------------------

const esc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/**
 * Horizontal bars, one per metric with a goal: the Runnel/Kafka ratio on a log scale, growing
 * from 1× (parity), green where the goal is met and red where not, with the goal as a dark tick.
 */
export function vsKafkaSvg(r: VsKafkaReport): string {
  const rows = comparisonRows(r).filter((x) => x.goal !== null);
  const [minLog, maxLog] = [-2, 1]; // 0.01× … 10×
  const width = 960;
  const labelW = 290;
  const plotX = labelW + 10;
  const plotW = width - plotX - 70;
  const rowH = 24;
  const top = 64;
  const height = top + rows.length * rowH + 46;
  const x = (ratio: number) =>
    plotX + ((Math.min(maxLog, Math.max(minLog, Math.log10(ratio))) - minLog) / (maxLog - minLog)) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">Runnel / Apache Kafka ${esc(r.kafkaVersion)}: ratio per metric (log scale)</text>`,
    `<text x="12" y="42" fill="#555">${esc(`${r.date.slice(0, 10)}${r.quick ? ', --quick run' : ''}; ${r.machine.cores} cores, load ${r.load.min.toFixed(1)}–${r.load.max.toFixed(1)}. Bars start at 1× (parity); the dark tick is the goal; green: goal met, red: missed.`)}</text>`,
  ];
  for (const t of [0.01, 0.03, 0.1, 0.25, 1, 3, 10]) {
    const tx = x(t).toFixed(1);
    out.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? '#333' : '#e3e3e3'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`,
    );
    out.push(`<text x="${tx}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${t}×</text>`);
  }
  out.push(`<text x="${plotX + plotW / 2}" y="${height - 10}" text-anchor="middle" fill="#555">Runnel / Kafka</text>`);
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const ratio = ratioOf(row);
    const met = metOf(row);
    out.push(`<text x="${labelW}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(row.label)}</text>`);
    if (ratio !== null) {
      const [a, b] = [x(1), x(ratio)].sort((p, q) => p - q);
      out.push(
        `<rect x="${a.toFixed(1)}" y="${y + 4}" width="${Math.max(1, b - a).toFixed(1)}" height="${rowH - 8}" fill="${met ? '#3a9d5d' : '#d0453b'}"/>`,
      );
      out.push(
        `<text x="${(x(ratio) + (ratio >= 1 ? 4 : -4)).toFixed(1)}" y="${y + rowH / 2 + 4}" text-anchor="${ratio >= 1 ? 'start' : 'end'}" fill="#222">${ratio.toFixed(2)}×</text>`,
      );
    } else {
      out.push(`<text x="${x(1) + 4}" y="${y + rowH / 2 + 4}" fill="#d0453b">failed</text>`);
    }
    const gx = x(row.goal!.ratio).toFixed(1);
    out.push(`<line x1="${gx}" y1="${y + 1}" x2="${gx}" y2="${y + rowH - 1}" stroke="#111" stroke-width="3"/>`);
    out.push(
      `<text x="${width - 8}" y="${y + rowH / 2 + 4}" text-anchor="end" fill="#555">${esc(goalName(row.goal))}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
