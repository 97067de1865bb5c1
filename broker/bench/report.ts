// The benchmark's results as markdown: the tables, how they were measured, and on what.

import type { LatencyResult } from './latency-client.js';
import type { DiskProbe, MachineInfo } from './machine.js';
import { medianBy } from './stats.js';

export interface ThroughputRun {
  kind: 'produce' | 'consume';
  /** What sets the run apart from the plain one: a compression codec, or 'consumer group'. */
  variant: string | null;
  recordBytes: number;
  acks: number;
  records: number;
  repeat: number;
  elapsedMs: number;
  /** Bytes of the partition's .log segment files (batches as stored). */
  logBytes: number;
  brokerCpuMs: number;
  /** The broker's JavaScript thread; the rest is libuv's file I/O threads and V8's helpers. */
  brokerMainThreadCpuMs: number;
  clientCpuMs: number;
  /** CPU time of everything else on the machine during the run. */
  otherCpuMs: number;
  failure: string | null;
}

/** A latency client's result, with the CPU (in cores) used meanwhile, the client's own included. */
export type LatencyRun = LatencyResult & { brokerCores: number; clientCores: number; otherCores: number };

export interface BenchReport {
  date: string;
  /** What waiting for a quiet machine found (BENCH_WAIT_QUIET), or null if it did not wait. */
  quiet: string | null;
  durationS: number;
  machine: MachineInfo;
  loadAverageAfter: string;
  disk: DiskProbe | null;
  clients: { throughput: string; latency: string };
  producerSettings: Record<string, string>;
  consumerSettings: Record<string, string>;
  latencyMaxInflights: number;
  repeats: number;
  runs: ThroughputRun[];
  latency: LatencyRun[];
  brokerPeakRssMiB: number | null;
  /** Broker log lines at warn or above during the whole run. */
  brokerProblems: { count: number; first: string[] };
  brokerExitCode: number | null;
  brokerOverrides: Record<string, string>;
}

const MB = 1e6;
const fmt = (v: number, digits = 0) =>
  v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const acksName = (acks: number) => (acks === -1 ? 'all (-1)' : String(acks));
const sizeName = (bytes: number) => (bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`);
const recordsPerS = (r: ThroughputRun) => r.records / (r.elapsedMs / 1000);
const cores = (cpuMs: number, r: ThroughputRun) => (cpuMs / r.elapsedMs).toFixed(2);
/** CPU ms per MB of stored log: what one MB of this workload costs, whatever the run's speed. */
const perMB = (cpuMs: number, r: ThroughputRun) => (cpuMs / (r.logBytes / MB)).toFixed(2);

/** Record size, and the variant when there is one: "1 KiB", "1 KiB, lz4". */
const workloadName = (r: ThroughputRun) =>
  r.variant === null ? sizeName(r.recordBytes) : `${sizeName(r.recordBytes)}, ${r.variant}`;

const valuesMBps = (r: ThroughputRun) => (r.records * r.recordBytes) / MB / (r.elapsedMs / 1000);

function throughputTable(runs: ThroughputRun[], kind: ThroughputRun['kind']): string[] {
  const groups = new Map<string, ThroughputRun[]>();
  for (const r of runs.filter((x) => x.kind === kind)) {
    const key = `${r.recordBytes}|${r.acks}|${r.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const acksHead = kind === 'produce' ? 'acks | ' : '';
  const lines = [
    `| records | ${acksHead}count | records/s | MB/s (values) | MB/s (log) | best run: records/s, MB/s | slowest run: records/s | broker CPU, all (main thread) | broker CPU ms per MB, all (main thread) | kcat CPU | rest of machine | result |`,
    `|---|${kind === 'produce' ? '---|' : ''}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`,
  ];
  for (const group of groups.values()) {
    const ok = group.filter((r) => r.failure === null);
    const failed = group.filter((r) => r.failure !== null);
    const result = failed.length === 0 ? 'ok' : `**FAILED ${failed.length}/${group.length}**: ${failed[0].failure}`;
    const first = group[0];
    const acks = kind === 'produce' ? `${acksName(first.acks)} | ` : '';
    if (ok.length === 0) {
      lines.push(
        `| ${workloadName(first)} | ${acks}${fmt(first.records)} | - | - | - | - | - | - | - | - | - | ${result} |`,
      );
      continue;
    }
    const m = medianBy(ok, recordsPerS);
    const best = ok.reduce((a, b) => (recordsPerS(b) > recordsPerS(a) ? b : a));
    const slowest = ok.reduce((a, b) => (recordsPerS(b) < recordsPerS(a) ? b : a));
    lines.push(
      `| ${workloadName(m)} | ${acks}${fmt(m.records)} | ${fmt(recordsPerS(m))} | ${fmt(valuesMBps(m), 1)} | ${fmt(m.logBytes / MB / (m.elapsedMs / 1000), 1)} | ${fmt(recordsPerS(best))}, ${fmt(valuesMBps(best), 1)} | ${fmt(recordsPerS(slowest))} | ${cores(m.brokerCpuMs, m)} (${cores(m.brokerMainThreadCpuMs, m)}) | ${perMB(m.brokerCpuMs, m)} (${perMB(m.brokerMainThreadCpuMs, m)}) | ${cores(m.clientCpuMs, m)} | ${cores(m.otherCpuMs, m)} | ${result} |`,
    );
  }
  return lines;
}

function allRunsTable(runs: ThroughputRun[]): string[] {
  return [
    '| run | workload | seconds | records/s | MB/s (values) | broker CPU, all (main thread) | kcat CPU | rest of machine | result |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---|',
    ...runs.map(
      (r) =>
        `| ${r.repeat} | ${r.kind} ${workloadName(r)}${r.kind === 'produce' ? ` acks=${r.acks}` : ''} | ${(r.elapsedMs / 1000).toFixed(2)} | ${fmt(recordsPerS(r))} | ${fmt(valuesMBps(r), 1)} | ${cores(r.brokerCpuMs, r)} (${cores(r.brokerMainThreadCpuMs, r)}) | ${cores(r.clientCpuMs, r)} | ${cores(r.otherCpuMs, r)} | ${r.failure ?? 'ok'} |`,
    ),
  ];
}

function latencyTable(results: LatencyRun[]): string[] {
  const lines = [
    '| rate (records/s) | record size | acks | measured sends | achieved rate | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | send lag p99 ms | broker / client / rest of machine CPU (cores) | errors |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of results) {
    const l = r.latencyMs;
    const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));
    lines.push(
      `| ${fmt(r.job.recordsPerSecond)} | ${sizeName(r.job.recordBytes)} | ${acksName(r.job.acks)} | ${fmt(l?.count ?? 0)} | ${fmt(r.achievedRate)} | ${f(l?.p50)} | ${f(l?.p90)} | ${f(l?.p99)} | ${f(l?.p999)} | ${f(l?.max)} | ${f(r.scheduleLagMs?.p99)} | ${r.brokerCores.toFixed(2)} / ${r.clientCores.toFixed(2)} / ${r.otherCores.toFixed(2)} | ${r.errors === 0 ? '0' : `**${r.errors}**: ${r.firstError}`} |`,
    );
  }
  return lines;
}

export function formatReport(r: BenchReport): string {
  const settings = (s: Record<string, string>) =>
    Object.entries(s)
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ');
  const failed = r.runs.some((x) => x.failure !== null) || r.latency.some((x) => x.errors > 0);
  return [
    '# Single-broker benchmark',
    '',
    `Written by \`npm run bench\` (broker/bench/run.ts) on ${r.date}; the run took ${r.durationS.toFixed(0)} s. Every number below was measured by that run.${failed ? ' **Some runs failed: see the result columns.**' : ''}`,
    '',
    '## Produce throughput',
    '',
    `kcat producing a file of records to one partition, uncompressed unless a codec is named (then kcat compresses and the broker stores the compressed batches as they are); time is kcat's whole run (start, connect, produce, all acks, exit). Median of ${r.repeats} runs (each into a new topic), with the fastest and slowest; the CPU columns are those of the median run. The broker's end offset (ListOffsets) is checked against the records sent after every run.`,
    '',
    ...throughputTable(r.runs, 'produce'),
    '',
    '## Consume throughput',
    '',
    "kcat reading the uncompressed acks=1 topics above from offset 0 to the end, discarding the records (`-f ''`): by partition assignment (`-C -p 0`), or as the only member of a new consumer group (`-G`, which adds FindCoordinator, JoinGroup, SyncGroup, Heartbeat and offset commits); a run counts only if kcat reports reaching the end at the expected offset.",
    '',
    ...throughputTable(r.runs, 'consume'),
    '',
    '## Produce latency',
    '',
    `@platformatic/kafka Producer, one record per \`send()\`, sends on a fixed schedule (open loop: a slow ack does not hold back later sends); latency is \`send()\` → acknowledgement per record, measured with \`process.hrtime\` in the client process, after ${r.latency[0] ? (r.latency[0].job.warmupMs / 1000).toFixed(0) : '?'} s of warm-up. "send lag" is how late \`send()\` was called against its schedule (timer granularity; it is not in the latency).`,
    '',
    ...latencyTable(r.latency),
    '',
    '## Every run',
    '',
    'In the order they ran. Other processes on the machine slow single runs down: compare "rest of machine".',
    '',
    ...allRunsTable(r.runs),
    '',
    '## Machine and settings',
    '',
    `- CPU: ${r.machine.cpuModel}, ${r.machine.cores} cores; memory ${r.machine.memoryGiB} GiB`,
    `- OS: ${r.machine.os}; Node ${r.machine.node} (broker and latency client)`,
    `- Data directory: a new directory in os.tmpdir() on ${r.machine.filesystem}, deleted afterwards`,
    r.disk
      ? `- Same disk, plain Node sequential 1 MiB writes of ${fmt(r.disk.bytes / 2 ** 20)} MiB: ${fmt(r.disk.bufferedMBps)} MB/s into the page cache, ${fmt(r.disk.syncedMBps)} MB/s including the final fsync`
      : '- Disk probe: skipped',
    `- Load average (1/5/15 min) before: ${r.machine.loadAverage}; after: ${r.loadAverageAfter}${r.quiet ? `; ${r.quiet}` : ''}`,
    `- Broker: one process, \`node dist/broker/main.js\`, default settings except ${settings(r.brokerOverrides)}; no fsync per write (Kafka's default flush policy), so writes land in the page cache; peak RSS ${r.brokerPeakRssMiB ?? '?'} MiB`,
    r.brokerProblems.count === 0
      ? `- Broker log: no warnings or errors; clean shutdown exit code ${r.brokerExitCode}`
      : `- **Broker log: ${r.brokerProblems.count} warning/error lines** (exit code ${r.brokerExitCode}), first: \`${r.brokerProblems.first[0]?.replaceAll('`', "'")}\``,
    `- Topics: one partition each, replication factor 1, created before the runs; loopback (127.0.0.1)`,
    `- Throughput client: ${r.clients.throughput}, a separate process; producer: \`-P -l <file>\`, ${settings(r.producerSettings)}, \`acks\` as in the table; consumer: \`-C -o beginning -e\`, ${settings(r.consumerSettings)}`,
    `- Latency client: ${r.clients.latency}, a separate Node process; \`acks\` as in the table, \`idempotent=false\`, \`retries=0\`, \`maxInflights=${r.latencyMaxInflights}\``,
    '- MB = 10^6 bytes. "values" counts record values only; "log" counts the bytes the broker stored (record batches with their headers and per-record framing).',
    '- CPU columns are CPU-seconds per second of the run (1.00 = one core busy), from /proc: the broker process (all threads, and in brackets its JavaScript main thread, which is what saturates first), kcat, and everything else on the machine. "ms per MB" divides the broker\'s CPU time by the MB of log: 1000 / (main-thread ms per MB) is roughly the MB/s at which the broker\'s JavaScript thread alone would be saturated. /proc counts CPU time in 10 ms ticks.',
    '',
  ].join('\n');
}
