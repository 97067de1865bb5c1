// The replicated comparison's results (vs-kafka-replicated.ts) as a section of
// docs/bench/vs-kafka.md, between two marker comments so that `--replicated` alone can rewrite
// it and leave the single-node comparison above it as it was.

import type { FailoverRun } from './failover.js';
import {
  TITLE,
  codeSpans,
  comparisonTable,
  cpuRow,
  fmt,
  groupBy,
  latencyRows,
  loadRange,
  median,
  perBroker,
  quickNote,
  rateRow,
  runsTable,
  settingsList,
  sizeName,
  type BrokerName,
  type PartReport,
  type Row,
} from './vs-kafka-report.js';

export const REPLICATED_BEGIN =
  '<!-- replicated: begin (written by npm run bench:kafka; -- --replicated rewrites only this section) -->';
export const REPLICATED_END = '<!-- replicated: end -->';

export interface ClusterSummary {
  /** Exit code of each node after SIGTERM at the end, by node id. */
  exitCodes: Record<number, number | null>;
  /** Warning and error lines in the nodes' logs (the killed processes' included). */
  problems: { count: number; first: string[] };
}

export interface ReplicatedReport extends PartReport {
  /** Whether it ran alone (--replicated) rather than after the single-node comparison. */
  alone: boolean;
  loadAverageBefore: string;
  cores: number;
  /** Topic settings of every topic: replication factor and configs. */
  replicationFactor: number;
  topicConfigs: Record<string, string>;
  /** Failure detection: the same keys and values on both (each system's default unless stated). */
  sessionSettings: Record<string, string>;
  failoverIntervalMs: number;
  failoverRecordBytes: number;
  failoverSteadyMs: number;
  failover: FailoverRun[];
  clusters: Record<BrokerName, ClusterSummary>;
}

const GROUP_PRODUCE = 'Produce throughput, acks=all (ProducerPerformance)';
const GROUP_LATENCY = 'Produce latency, acks=all (Node client, fixed rate)';
const GROUP_CPU = 'CPU of the three brokers per GB ingested';
const GROUP_FAILOVER = 'Failover: kill -9 of the partition leader under a producer (Java client, acks=all)';

function failoverRow(r: ReplicatedReport, metric: string, value: (ok: FailoverRun[]) => number | null): Row {
  return {
    group: GROUP_FAILOVER,
    metric,
    label: metric,
    ...perBroker(r.failover, value),
    show: (v) => `${fmt(v)} ms`,
    goal: null,
  };
}

export function replicatedRows(r: ReplicatedReport): Row[] {
  const rows: Row[] = [];
  const bySize = groupBy(r.produce, (p) => String(p.recordBytes));
  for (const g of bySize) {
    const size = sizeName(g[0].recordBytes);
    rows.push(
      rateRow(
        { group: GROUP_PRODUCE, metric: `produce ${size}`, label: `replicated produce ${size}`, goal: null },
        g,
        g[0].recordBytes,
      ),
    );
  }
  for (const g of groupBy(r.latency, (l) => `${l.rate}|${l.recordBytes}`)) {
    const { rate, recordBytes } = g[0];
    rows.push(
      ...latencyRows(g, (_, name) => ({
        group: GROUP_LATENCY,
        metric: `${name}, ${fmt(rate)} rec/s of ${sizeName(recordBytes)}`,
        label: `replicated latency ${name}`,
        goal: null,
      })),
    );
  }
  for (const g of bySize) {
    const size = sizeName(g[0].recordBytes);
    rows.push(
      cpuRow({ group: GROUP_CPU, metric: `produce ${size}`, label: `replicated CPU per GB, ${size}`, goal: null }, g),
    );
  }
  rows.push(
    cpuRow({ group: GROUP_CPU, metric: 'all produce runs', label: 'replicated CPU per GB', goal: null }, r.produce),
  );
  rows.push(
    failoverRow(r, 'kill → a surviving node’s Metadata names the new leader (median)', (ok) =>
      median(ok.flatMap((f) => (f.newLeaderMs === null ? [] : [f.newLeaderMs]))),
    ),
    failoverRow(r, 'kill → first acknowledged produce (median)', (ok) => median(ok.map((f) => f.firstAckMs!))),
    failoverRow(r, 'kill → first acknowledged produce (slowest round)', (ok) =>
      Math.max(...ok.map((f) => f.firstAckMs!)),
    ),
  );
  return rows;
}

function failoverTable(r: ReplicatedReport): string[] {
  const ms = (v: number | null) => (v === null ? '-' : fmt(v));
  return [
    '| round | cluster | order | killed (leader) | active controller | new leader | kill → new leader in Metadata, ms | kill → first ack, ms | first ack of any record, ms | acked across the kill | sent | acked | failed | status |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...r.failover.map(
      (f) =>
        `| ${f.repeat} | ${TITLE[f.broker]} | ${f.order} | ${f.victim} | ${f.activeController} | ${f.newLeader ?? '-'} | ${ms(f.newLeaderMs)} | ${ms(f.firstAckMs)} | ${ms(f.firstAnyAckMs)} | ${f.ackedAcrossKill} | ${fmt(f.sent)} | ${fmt(f.acked)} | ${f.failed} | ${f.failure ?? 'ok'}${f.errors.length > 0 ? `; errors: ${codeSpans(f.errors, 200)}` : ''} |`,
    ),
  ];
}

function clusterLine(name: BrokerName, c: ClusterSummary, cleanCodes: string): string {
  const codes = Object.entries(c.exitCodes)
    .map(([id, code]) => `node ${id}: ${code}`)
    .join(', ');
  const killed = Object.values(c.exitCodes).some((code) => code === null)
    ? "; null: still running a minute after SIGTERM, then killed: the three nodes are stopped together, and a broker's controlled shutdown waits (up to 5 minutes) for the active controller's approval, which a node outliving the quorum does not get"
    : '';
  const head = `- ${TITLE[name]}: exit codes after SIGTERM at the end ${codes} (clean: ${cleanCodes}${killed})`;
  if (c.problems.count === 0) return `${head}; no warnings or errors in the logs`;
  return `${head}; ${c.problems.count} warning/error lines in the logs of the part (the kills cause most), first: ${codeSpans(c.problems.first.slice(0, 2), 240)}`;
}

/** The section, markers included. */
export function formatReplicatedSection(r: ReplicatedReport): string {
  const rows = replicatedRows(r);
  const failed = [...r.produce, ...r.latency, ...r.failover].filter((x) => x.failure !== null).length;
  const produceSizes = groupBy(r.produce, (p) => String(p.recordBytes)).map(
    (g) => `${fmt(g[0].records)} × ${sizeName(g[0].recordBytes)}`,
  );
  const rounds = r.failover.filter((f) => f.broker === 'runnel').length;
  return [
    REPLICATED_BEGIN,
    '## Replicated: three brokers each',
    '',
    `Written by \`npm run bench:kafka${r.alone ? ' -- --replicated' : ''}\`${quickNote(r.quick)} on ${r.date}; this part took ${r.durationS.toFixed(0)} s${r.alone ? ' and ran alone (the single-node comparison above is from its own run)' : ''}.${failed > 0 ? ` **${failed} runs failed: see the tables below.**` : ''}`,
    '',
    `Three Runnel nodes and three Apache Kafka ${r.kafkaVersion} nodes ran on this machine, each node a broker and a controller voter in one process (KRaft's combined mode; Runnel's \`npm run cluster -- --nodes 3\`), all six processes alive for the whole part. Every topic has one partition, replication factor ${r.replicationFactor} and ${settingsList(r.topicConfigs)}, and every record is produced at \`acks=all\`: acknowledged once the in-sync replicas (all three while all run) hold it. Every workload ran on one cluster, then on the other, with the same client, the order alternating from one workload and repeat to the next. No goals are set for these rows yet.`,
    '',
    ...comparisonTable(rows, false),
    '',
    'How each row is measured:',
    '',
    `- **Produce throughput**: ProducerPerformance as in the single-node runs (Java client defaults; with \`acks=all\` the producer is idempotent), \`--throughput -1\`, bootstrapped with all three nodes, into a new topic per run (${produceSizes.join(' and ')}); the median of ${r.repeats} runs per cluster; the end offset checked after each run.`,
    `- **Produce latency**: the single-node runs' fixed-rate Node client (${r.nodeClient}, open loop, \`idempotent=false\`, \`retries=0\`, \`maxInflights=64\`, acks=all: one record per Produce request, which the leader answers once both followers have fetched it and fetched again), bootstrapped with node 1, at the single-node rate and at a fifth of it; \`send()\` → acknowledgement after 1 s of warm-up; each percentile the median over ${r.repeats} runs per cluster. Before the measured runs each cluster ran the client for 5 s unmeasured, after the produce warm-up.`,
    `- **CPU per GB ingested**: user + system CPU of the three broker processes (/proc/<pid>/stat, all threads), summed, from just before to just after each ProducerPerformance run, over the GB (10^9 bytes) of record values produced (each one written by three brokers: the leader and two followers).`,
    `- **Failover**: ${rounds} round${rounds === 1 ? '' : 's'} per cluster, alternating. Each round creates a topic whose replicas are [victim, the other two], so that the victim leads it, choosing as the victim a node that is not the active controller (a leader's loss, not a controller's: \`npm run bench:cluster\` times that) and a different one each round. The Java client's producer (kafka-clients ${r.kafkaVersion} with its defaults: \`acks=all\`, idempotent, \`retries\` unbounded within \`delivery.timeout.ms=120000\`, \`retry.backoff.ms=100\` growing to \`retry.backoff.max.ms=1000\`; broker/bench/kafka/FailoverProducer.java) sends one ${sizeName(r.failoverRecordBytes)} record every ${r.failoverIntervalMs} ms; after ${r.failoverSteadyMs / 1000} s of acknowledgements the victim is killed with SIGKILL. The time runs from the kill to the acknowledgement of the first record *sent after* the kill (so no answer the victim wrote just before dying counts), on the wall clock both processes read; "new leader in Metadata" is when a surviving node's Metadata (asked every ${20} ms) first named another leader. The client learns of the new leader by refreshing its metadata while its sends fail, every \`retry.backoff.ms\` growing to a second, so up to about a second passes between the two. The victim is then started again and is back (listed as a live broker) before the next round; its restart is not timed. Failure detection: ${settingsList(r.sessionSettings)} on both — each system's default, not set: the active controller fences a broker whose heartbeats stop for the session timeout and elects a new leader from the ISR, so both systems' failover is bounded below by it.`,
    '',
    '### Every replicated run',
    '',
    'In the order they ran; columns as in "Every run" above, the brokers\' CPU summed over the three nodes ("rest of machine" includes the other, idle cluster).',
    '',
    ...runsTable({ who: 'cluster', brokerCpu: '3 brokers’ CPU' }, r),
    '',
    '### Failover rounds',
    '',
    '"first ack of any record": the first acknowledgement read after the kill, whichever record it was for — a millisecond or so when the victim had answered just before it died. "acked across the kill": records sent before the kill and acknowledged after it (retried to the new leader by the idempotent producer, or answered by the victim just before it died). "failed": sends the producer gave up on (none expected: it retries for 120 s).',
    '',
    ...failoverTable(r),
    '',
    '### Replicated settings',
    '',
    `- Load while this part ran: ${loadRange(r.load, r.loadAverageBefore, r.loadAverageAfter)}; ${r.cores} cores${r.quiet ? `; ${r.quiet}` : ''}`,
    `- Settings both clusters got: ${settingsList(r.commonSettings)}; all else each system's default (Kafka's flush policy, \`replica.lag.time.max.ms=30000\`, \`replica.fetch.wait.max.ms=500\`, \`replica.fetch.min.bytes=1\`, \`num.replica.fetchers=1\`, \`offsets.topic.replication.factor=3\`)`,
    `- Kafka only (node n of 1, 2, 3, JVMs as in the single-node runs): ${settingsList(r.kafkaOnlySettings)}`,
    `- Runnel only (node n of 1, 2, 3, \`node dist/broker/main.js\` started by broker/test/cluster-processes.ts): ${settingsList(r.runnelOnlySettings)}`,
    clusterLine('runnel', r.clusters.runnel, '0'),
    clusterLine('kafka', r.clusters.kafka, '0 or 143'),
    REPLICATED_END,
    '',
  ].join('\n');
}

/** `doc` with its replicated section replaced by `section` (or `section` appended when it has none). */
export function spliceReplicatedSection(doc: string, section: string): string {
  const begin = doc.indexOf(REPLICATED_BEGIN);
  const end = doc.indexOf(REPLICATED_END);
  if (begin < 0 || end < begin) return `${doc.trimEnd()}\n\n${section}`;
  const rest = doc.slice(end + REPLICATED_END.length).replace(/^\n+/, '');
  return `${doc.slice(0, begin)}${section}${rest === '' ? '' : `\n${rest}`}`;
}
