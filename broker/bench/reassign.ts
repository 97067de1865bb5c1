// `npm run bench:reassign`: kafka-reassign-partitions.sh (Kafka 4.1's ReassignPartitionsCommand)
// moves one partition of about 1 GB from brokers {1,2,3} to {2,3,4} on four Runnel nodes and on
// four Apache Kafka nodes (3 combined controller voters + 1 broker each, bench-cluster.ts), one
// cluster at a time: once unthrottled, once with `--throttle 10000000` (10 MB/s), each into a
// topic just filled by ProducerPerformance at acks=1. Samples, every 250 ms, the new replica's
// segment bytes on broker 4's disk and whether ListPartitionReassignments still lists the move.
// Results in docs/bench/reassignment.md.
//
//   node dist/broker/bench/reassign.js           1 GB per move (about 10 minutes)
//   node dist/broker/bench/reassign.js --quick   100 MB per move, written to <tmpdir>/runnel-reassign-quick.md unless BENCH_OUT

import { readdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ListPartitionReassignments } from '../protocol/messages/index.js';
import { ROOT } from '../test/compat/clients.js';
import { ask } from '../test/cluster/cluster-clients.js';
import { startKafkaCluster, startRunnelCluster, type BenchCluster } from './bench-cluster.js';
import { kafkaTool, prepareKafka, producerPerformance, type KafkaInstall } from './kafka.js';
import { loadAverage } from './machine.js';
import { REPLICATED_SETTINGS, createAssignedTopic, untilReplicated } from './vs-kafka-replicated.js';
import { TITLE, type BrokerName } from './vs-kafka-report.js';
import { TOOL_TIMEOUT_MS } from './vs-kafka-runs.js';

const QUICK = process.argv.includes('--quick');
const PARTITION_BYTES = (QUICK ? 100 : 1000) * 1_000_000;
const RECORD_BYTES = 1024;
const THROTTLE_BYTES_PER_S = 10_000_000;
/** Kafka's replication quota is measured over 11 one-second windows: a move may start with a burst. */
const BURST_S = 10;
const SAMPLE_MS = 250;
const MOVE_TIMEOUT_MS = 20 * 60_000;
const SHAPE = { nodes: 4, voters: 3 };
const FROM = [1, 2, 3];
const TO = [2, 3, 4];
const SETTINGS = { ...REPLICATED_SETTINGS, 'auto.leader.rebalance.enable': 'false' };
const REASSIGN_TOOL = 'org.apache.kafka.tools.reassign.ReassignPartitionsCommand';
const OUT =
  process.env.BENCH_OUT ??
  (QUICK ? path.join(os.tmpdir(), 'runnel-reassign-quick.md') : path.join(ROOT, 'docs/bench/reassignment.md'));

interface Move {
  broker: BrokerName;
  throttle: number | null;
  partitionBytes: number;
  /** From launching `--execute` until the move is no longer listed. */
  seconds: number;
  /** How long the `--execute` JVM ran. */
  toolSeconds: number;
  /** The new replica's growth from the first sample at or after BURST_S to the end, per second; null if that leaves under BURST_S. */
  afterBurstBytesPerS: number | null;
}

const mb = (bytes: number) => bytes / 1_000_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes of the segment files (*.log) of partition directory `dir` under `root` (up to two levels down), 0 if absent. */
async function segmentBytes(root: string, dir: string, depth = 2): Promise<number> {
  for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    if (!e.isDirectory()) continue;
    const full = path.join(root, e.name);
    if (e.name === dir) {
      const files = (await readdir(full)).filter((f) => f.endsWith('.log'));
      const sizes = await Promise.all(
        files.map((f) =>
          stat(path.join(full, f))
            .then((s) => s.size)
            .catch(() => 0),
        ),
      );
      return sizes.reduce((a, b) => a + b, 0);
    }
    if (depth > 0) {
      const found = await segmentBytes(full, dir, depth - 1);
      if (found > 0) return found;
    }
  }
  return 0;
}

/** Whether ListPartitionReassignments (through node 2) lists `topic`-0. */
async function listed(c: BenchCluster, topic: string): Promise<boolean> {
  const res = await ask(c.clientPort(2), (client) =>
    client.request(
      ListPartitionReassignments,
      0,
      { timeoutMs: 30_000, topics: [{ name: topic, partitionIndexes: [0] }] },
      { timeoutMs: 31_000 },
    ),
  );
  return res.topics.some((t) => t.name === topic && t.partitions.length > 0);
}

function reassignTool(kafka: KafkaInstall, c: BenchCluster, args: string[]): Promise<string> {
  return kafkaTool(kafka, REASSIGN_TOOL, ['--bootstrap-server', `127.0.0.1:${c.clientPort(2)}`, ...args]);
}

async function move(
  kafka: KafkaInstall,
  c: BenchCluster,
  throttle: number | null,
  log: (l: string) => void,
): Promise<Move> {
  const topic = `reassign-${throttle ? 'throttled' : 'unthrottled'}`;
  await createAssignedTopic(c.clientPort(2), topic, FROM);
  await untilReplicated(c, [topic]);
  const fill = await producerPerformance(kafka, {
    bootstrap: c.bootstrap,
    topic,
    records: Math.round(PARTITION_BYTES / RECORD_BYTES),
    recordBytes: RECORD_BYTES,
    props: { acks: '1' },
    timeoutMs: TOOL_TIMEOUT_MS,
  });
  if (fill.failure) throw new Error(`${TITLE[c.name]} fill failed: ${fill.failure}`);
  await untilReplicated(c, [topic]);
  const partitionBytes = await segmentBytes(c.dataDir(1), `${topic}-0`);
  const plan = path.join(os.tmpdir(), `runnel-reassign-${c.name}-${topic}.json`);
  await writeFile(
    plan,
    JSON.stringify({ version: 1, partitions: [{ topic, partition: 0, replicas: TO, log_dirs: TO.map(() => 'any') }] }),
  );

  const started = performance.now();
  /** Set when the `--execute` JVM has exited. */
  const tool: { seconds: number | null } = { seconds: null };
  const execute = reassignTool(kafka, c, [
    '--reassignment-json-file',
    plan,
    '--execute',
    ...(throttle ? ['--throttle', String(throttle)] : []),
  ]).then((out) => {
    tool.seconds = (performance.now() - started) / 1000;
    if (!/Successfully started partition reassignment/.test(out)) throw new Error(`--execute said: ${out}`);
  });
  const samples: { s: number; bytes: number }[] = [];
  for (;;) {
    await sleep(SAMPLE_MS);
    const s = (performance.now() - started) / 1000;
    samples.push({ s, bytes: await segmentBytes(c.dataDir(4), `${topic}-0`) });
    if (tool.seconds !== null && !(await listed(c, topic))) break;
    if (s * 1000 > MOVE_TIMEOUT_MS)
      throw new Error(`${TITLE[c.name]}: ${topic}-0 still moving after ${s.toFixed(0)} s`);
  }
  await execute;
  const seconds = (performance.now() - started) / 1000;
  const last = { s: seconds, bytes: await segmentBytes(c.dataDir(4), `${topic}-0`) };
  const first = samples.find((x) => x.s >= BURST_S);
  const afterBurstBytesPerS =
    first && last.s - first.s >= BURST_S ? (last.bytes - first.bytes) / (last.s - first.s) : null;
  if (throttle) await reassignTool(kafka, c, ['--reassignment-json-file', plan, '--verify']);
  const m: Move = {
    broker: c.name,
    throttle,
    partitionBytes,
    seconds,
    toolSeconds: tool.seconds ?? seconds,
    afterBurstBytesPerS,
  };
  log(
    `${TITLE[c.name]} ${throttle ? `throttled ${mb(throttle)} MB/s` : 'unthrottled'}: ${mb(partitionBytes).toFixed(0)} MB in ${seconds.toFixed(1)} s = ${(mb(partitionBytes) / seconds).toFixed(1)} MB/s; after ${BURST_S} s ${afterBurstBytesPerS === null ? '-' : mb(afterBurstBytesPerS).toFixed(1)} MB/s; new replica ${mb(last.bytes).toFixed(0)} MB`,
  );
  return m;
}

async function measure(kafka: KafkaInstall, name: BrokerName, log: (l: string) => void): Promise<Move[]> {
  log(`${TITLE[name]}: starting four nodes (3 voters)`);
  const c =
    name === 'runnel' ? await startRunnelCluster(SETTINGS, SHAPE) : await startKafkaCluster(kafka, SETTINGS, SHAPE);
  try {
    return [await move(kafka, c, null, log), await move(kafka, c, THROTTLE_BYTES_PER_S, log)];
  } finally {
    await c.stop();
  }
}

const rate = (m: Move) => mb(m.partitionBytes) / m.seconds;
const within = (bytesPerS: number | null) =>
  bytesPerS === null ? '-' : Math.abs(bytesPerS / THROTTLE_BYTES_PER_S - 1) <= 0.1 ? 'yes' : 'no';

function report(
  moves: Move[],
  o: { date: string; loadBefore: string; loadAfter: string; kafka: KafkaInstall },
): string {
  const get = (b: BrokerName, throttled: boolean) =>
    moves.find((m) => m.broker === b && (m.throttle !== null) === throttled)!;
  const row = (m: Move) =>
    `| ${TITLE[m.broker]} | ${m.throttle ? `${mb(m.throttle)} MB/s` : 'none'} | ${mb(m.partitionBytes).toFixed(0)} | ${m.seconds.toFixed(1)} | ${m.toolSeconds.toFixed(1)} | ${rate(m).toFixed(1)} | ${m.afterBurstBytesPerS === null ? '-' : mb(m.afterBurstBytesPerS).toFixed(1)} | ${m.throttle ? `${within(m.partitionBytes / m.seconds)} / ${within(m.afterBurstBytesPerS)}` : '-'} |`;
  const ratio = (throttled: boolean) => (rate(get('runnel', throttled)) / rate(get('kafka', throttled))).toFixed(2);
  return `# Partition reassignment: Runnel vs Apache Kafka

Written by \`npm run bench:reassign\` (broker/bench/reassign.ts) on ${o.date}${QUICK ? ' (--quick)' : ''}; ${os.cpus().length} cores, load average ${o.loadBefore} before, ${o.loadAfter} after. Apache Kafka ${o.kafka.version} on ${o.kafka.java}.

## Method

- Four nodes on loopback, one cluster at a time: Runnel (\`startCluster({nodes: 4, controllers: 3})\`) and Apache Kafka (KRaft: nodes 1–3 combined broker + controller voters, node 4 a broker only). Settings on both: ${Object.entries(
    SETTINGS,
  )
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ')}.
- Each move uses a new topic, one partition on brokers 1,2,3 (leader 1, \`min.insync.replicas=2\`), filled by Kafka's ProducerPerformance with ${Math.round(PARTITION_BYTES / RECORD_BYTES)} records of ${RECORD_BYTES} bytes at acks=1, then waited on until all three replicas are in sync. *Partition MB* is the leader's segment files (\`*.log\`) on disk, 10^6 bytes.
- The move to brokers 2,3,4 (broker 4 copies the whole partition, leader 1 is removed) with \`kafka-reassign-partitions.sh --reassignment-json-file <plan> --execute\` (Kafka ${o.kafka.version}'s ReassignPartitionsCommand, the same on both), then with \`--execute --throttle ${THROTTLE_BYTES_PER_S}\`, after which \`--verify\` clears the throttles.
- *Time*: from launching \`--execute\` (its JVM start included; *tool s* is how long it ran) until the move is no longer listed by ListPartitionReassignments (polled every ${SAMPLE_MS} ms through broker 2, after the tool returned). *MB/s* = partition MB / time.
- *After ${BURST_S} s*: Kafka's replication quota is a rate over 11 one-second windows, so a throttled move may start with a burst; this is the growth of broker 4's segment files on disk (sampled every ${SAMPLE_MS} ms) from the first sample at or after ${BURST_S} s to the end, divided by the time between (\`-\` when that leaves under ${BURST_S} s).
- *Within ±10%*: of the throttle, by total MB/s / by after-${BURST_S}-s rate.

## Results

| broker | throttle | partition MB | time s | tool s | MB/s | after ${BURST_S} s MB/s | within ±10% |
| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |
${moves.map(row).join('\n')}

Runnel / Kafka, MB/s: unthrottled ${ratio(false)}, throttled ${ratio(true)}.
`;
}

async function main(): Promise<void> {
  const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);
  const kafka = await prepareKafka(log);
  const date = new Date().toISOString();
  const loadBefore = loadAverage();
  const moves = [...(await measure(kafka, 'runnel', log)), ...(await measure(kafka, 'kafka', log))];
  await writeFile(OUT, report(moves, { date, loadBefore, loadAfter: loadAverage(), kafka }));
  log(`wrote ${OUT}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
