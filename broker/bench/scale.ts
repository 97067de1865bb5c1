// `npm run bench:scale`: the operator's rebalance executor (operator/rebalance/executor.ts), through
// the operator's own admin client (operator/kafka/admin.ts), scales five Runnel nodes and five
// Apache Kafka nodes (3 combined controller voters + 2 brokers each, bench-cluster.ts) from three
// brokers to five and back, one cluster at a time. Each cluster first gets one topic placed on
// brokers 1..3 as a three-broker cluster places it (12 partitions, RF 3, leaders rotating), filled
// by ProducerPerformance at acks=1. Then, timed: 3 → 5 and 5 → 3 unthrottled, then 3 → 5 and 5 → 3
// at 10 MB/s per broker, each with at most 10 partitions moving at once, stepping the executor every
// 500 ms until it reports the cluster balanced. Results in docs/bench/scaling.md.
//
//   node dist/broker/bench/scale.js            about 600 MB of leader data (about 15 minutes)
//   node dist/broker/bench/scale.js --quick    about 60 MB, written to <tmpdir>/runnel-scale-quick.md unless BENCH_OUT
//   node dist/broker/bench/scale.js --runs 3   medians of three runs, the systems alternating

import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { AdminPool, type KafkaAdmin, type PartitionReplicas } from '../../operator/kafka/admin.js';
import { advanceRebalance, type PlanSummary, type RebalanceTarget } from '../../operator/rebalance/executor.js';
import { ROOT } from '../test/compat/clients.js';
import { startKafkaCluster, startRunnelCluster, type BenchCluster } from './bench-cluster.js';
import { prepareKafka, producerPerformance, type KafkaInstall } from './kafka.js';
import { loadAverage } from './machine.js';
import { REPLICATED_SETTINGS } from './vs-kafka-replicated.js';
import { TITLE, type BrokerName } from './vs-kafka-report.js';
import { TOOL_TIMEOUT_MS } from './vs-kafka-runs.js';

const QUICK = process.argv.includes('--quick');
const ONLY = (() => {
  const i = process.argv.indexOf('--only');
  return i >= 0 ? (process.argv[i + 1] as BrokerName) : undefined;
})();
const RUNS = (() => {
  const i = process.argv.indexOf('--runs');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 1;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--runs wants a positive integer, not ${process.argv[i + 1]}`);
  return n;
})();
const TOPIC = 'scale';
const PARTITIONS = 12;
const REPLICATION_FACTOR = 3;
/** What ProducerPerformance writes: the leaders' copy of the topic, before replication. */
const DATA_BYTES = (QUICK ? 60 : 600) * 1_000_000;
const RECORD_BYTES = 1024;
const THROTTLE_BYTES_PER_S = 10_000_000;
const MAX_PARTITION_MOVEMENTS = 10;
const STEP_MS = 500;
const REBALANCE_TIMEOUT_MS = 15 * 60_000;
const READY_TIMEOUT_MS = 120_000;
const SHAPE = { nodes: 5, voters: 3 };
const THREE = [1, 2, 3];
const FIVE = [1, 2, 3, 4, 5];
const SETTINGS = { ...REPLICATED_SETTINGS, 'auto.leader.rebalance.enable': 'false' };
const FILL_PROPS = { acks: '1', 'batch.size': '131072', 'linger.ms': '5' };
const OUT =
  process.env.BENCH_OUT ??
  (QUICK ? path.join(os.tmpdir(), 'runnel-scale-quick.md') : path.join(ROOT, 'docs/bench/scaling.md'));

type Direction = 'up' | 'down';

interface Rebalance {
  broker: BrokerName;
  run: number;
  direction: Direction;
  throttle: number | null;
  /** From the first advanceRebalance call until one returned 'balanced'. */
  seconds: number;
  /** advanceRebalance calls made. */
  steps: number;
  plan: PlanSummary;
  /** The most any one broker received or sent (leaders' bytes per added replica). */
  busiestBrokerBytes: number;
  /** Leaders per broker afterwards, brokers ascending. */
  leadersAfter: number[];
  /** Replicas per broker afterwards, brokers ascending. */
  replicasAfter: number[];
  /** Partitions whose replica count was not REPLICATION_FACTOR once balanced (for 10 s), as "p on 1,2,3,4". */
  offFactor: string[];
  /** The topic's bytes on brokers 4 and 5 afterwards (DescribeLogDirs). */
  newBrokersBytesAfter: number;
}

const mb = (bytes: number) => bytes / 1_000_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Round-robin over brokers 1..3, leaders rotating: the placement a three-broker cluster makes. */
function threeBrokerPlacement(): number[][] {
  return Array.from({ length: PARTITIONS }, (_, p) =>
    Array.from({ length: REPLICATION_FACTOR }, (_, r) => ((p + r) % 3) + 1),
  );
}

async function createPlacedTopic(bootstrap: string): Promise<void> {
  const admin = new Kafka({
    clientId: 'bench-scale',
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic: TOPIC,
          configEntries: [{ name: 'min.insync.replicas', value: '2' }],
          replicaAssignment: threeBrokerPlacement().map((replicas, partition) => ({ partition, replicas })),
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

const ours = (ps: readonly PartitionReplicas[]) => ps.filter((p) => p.topic === TOPIC);

/**
 * Until every partition of the topic has a leader, exactly REPLICATION_FACTOR replicas and all of them
 * in sync: a broker's Metadata may still show a finished move's old and new replicas together.
 */
async function untilInSync(admin: KafkaAdmin): Promise<PartitionReplicas[]> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const ps = ours((await admin.health()).partitions);
    if (
      ps.length === PARTITIONS &&
      ps.every((p) => p.leader >= 0 && p.replicas.length === REPLICATION_FACTOR && p.isr.length === REPLICATION_FACTOR)
    )
      return ps;
    if (Date.now() > deadline)
      throw new Error(
        `${TOPIC} not in sync within ${READY_TIMEOUT_MS} ms: ${ps
          .filter(
            (p) => p.leader < 0 || p.replicas.length !== REPLICATION_FACTOR || p.isr.length !== REPLICATION_FACTOR,
          )
          .map((p) => `${p.partition} replicas ${p.replicas.join(',')} isr ${p.isr.join(',')} leader ${p.leader}`)
          .join('; ')}; reassigning ${JSON.stringify(await admin.listReassignments())}`,
      );
    await sleep(250);
  }
}

/** Each partition's bytes on its leader, by partition number. */
async function leaderBytes(admin: KafkaAdmin, ps: readonly PartitionReplicas[]): Promise<Map<number, number>> {
  const usage = await admin.logDirUsage([...new Set(ps.map((p) => p.leader))]);
  return new Map(
    ps.map((p) => [
      p.partition,
      usage.find((u) => u.broker === p.leader)?.replicaBytes.get(`${TOPIC}-${p.partition}`) ?? 0,
    ]),
  );
}

function perBroker(
  ps: readonly PartitionReplicas[],
  brokers: readonly number[],
  pick: (p: PartitionReplicas) => number[],
) {
  return brokers.map((id) => ps.filter((p) => pick(p).includes(id)).length);
}

/**
 * Partitions of the topic whose replica count is not REPLICATION_FACTOR, after up to 10 s for a
 * broker's Metadata to catch up with a finished move.
 */
async function offReplicationFactor(admin: KafkaAdmin): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const odd = ours((await admin.health()).partitions).filter((p) => p.replicas.length !== REPLICATION_FACTOR);
    if (odd.length === 0 || Date.now() > deadline)
      return odd.map((p) => `${p.partition} on ${p.replicas.join(',')} (isr ${p.isr.join(',')})`);
    await sleep(500);
  }
}

/** The executor, asked for the topic's replication factor back, until balanced. */
async function repairReplicationFactor(admin: KafkaAdmin, brokers: number[]): Promise<void> {
  const target: RebalanceTarget = {
    brokers,
    maxPartitionMovements: MAX_PARTITION_MOVEMENTS,
    replicationFactors: new Map([[TOPIC, REPLICATION_FACTOR]]),
  };
  let plan: PlanSummary | undefined;
  const deadline = Date.now() + REBALANCE_TIMEOUT_MS;
  for (;;) {
    const step = await advanceRebalance(admin, target, plan);
    if (step.kind !== 'waitingForBrokers') plan ??= step.plan;
    if (step.kind === 'balanced') return;
    if (Date.now() > deadline) throw new Error(`replication factor not restored: ${step.message}`);
    await sleep(STEP_MS);
  }
}

async function rebalance(
  c: BenchCluster,
  admin: KafkaAdmin,
  run: number,
  direction: Direction,
  throttle: number | null,
  log: (l: string) => void,
): Promise<Rebalance> {
  const brokers = direction === 'up' ? FIVE : THREE;
  const before = await untilInSync(admin);
  const sizes = await leaderBytes(admin, before);
  const target: RebalanceTarget = {
    brokers,
    maxPartitionMovements: MAX_PARTITION_MOVEMENTS,
    ...(throttle ? { throttleBytesPerSecond: throttle } : {}),
  };
  let plan: PlanSummary | undefined;
  let steps = 0;
  const started = performance.now();
  for (;;) {
    const step = await advanceRebalance(admin, target, plan);
    steps++;
    if (step.kind !== 'waitingForBrokers') plan ??= step.plan;
    if (step.kind === 'balanced') break;
    if (performance.now() - started > REBALANCE_TIMEOUT_MS)
      throw new Error(`${TITLE[c.name]} not balanced over ${brokers.join(',')}: ${step.message}`);
    await sleep(STEP_MS);
  }
  const seconds = (performance.now() - started) / 1000;
  const offFactor = await offReplicationFactor(admin);
  if (offFactor.length > 0) {
    log(`${TITLE[c.name]}: balanced, but ${offFactor.join('; ')}; putting the replication factor back (untimed)`);
    await repairReplicationFactor(admin, brokers);
  }
  const after = await untilInSync(admin);
  const load = new Map<number, number>();
  const add = (id: number, bytes: number) => load.set(id, (load.get(id) ?? 0) + bytes);
  for (const p of before) {
    const now = after.find((a) => a.partition === p.partition)!;
    for (const id of now.replicas.filter((r) => !p.replicas.includes(r))) {
      add(id, sizes.get(p.partition) ?? 0);
      add(-p.leader, sizes.get(p.partition) ?? 0);
    }
  }
  const r: Rebalance = {
    broker: c.name,
    run,
    direction,
    throttle,
    seconds,
    steps,
    plan: plan!,
    busiestBrokerBytes: Math.max(0, ...load.values()),
    leadersAfter: perBroker(after, FIVE, (p) => [p.leader]),
    replicasAfter: perBroker(after, FIVE, (p) => p.replicas),
    offFactor,
    newBrokersBytesAfter: (await admin.logDirUsage([4, 5]))
      .flatMap((u) => [...u.replicaBytes].filter(([key]) => key.startsWith(`${TOPIC}-`)).map(([, bytes]) => bytes))
      .reduce((a, b) => a + b, 0),
  };
  log(
    `${TITLE[c.name]} run ${run} ${direction === 'up' ? '3 → 5' : '5 → 3'} ${throttle ? `at ${mb(throttle)} MB/s` : 'unthrottled'}: ${seconds.toFixed(1)} s, ${mb(r.plan.bytes).toFixed(0)} MB = ${(mb(r.plan.bytes) / seconds).toFixed(1)} MB/s; ${r.plan.replicaMoves} replica moves (lower bound ${r.plan.lowerBound}), ${r.plan.partitions} partitions, ${steps} steps; ${mb(r.newBrokersBytesAfter).toFixed(0)} MB on brokers 4+5; leaders ${r.leadersAfter.join('/')}, replicas ${r.replicasAfter.join('/')}${offFactor.length ? `; replication factor off: ${offFactor.join('; ')}` : ''}`,
  );
  return r;
}

async function measure(
  kafka: KafkaInstall,
  name: BrokerName,
  run: number,
  log: (l: string) => void,
): Promise<{ rebalances: Rebalance[]; dataBytes: number; fillSeconds: number }> {
  log(`${TITLE[name]} run ${run}: starting five nodes (3 voters)`);
  const c =
    name === 'runnel' ? await startRunnelCluster(SETTINGS, SHAPE) : await startKafkaCluster(kafka, SETTINGS, SHAPE);
  const pool = new AdminPool();
  try {
    const admin = pool.get(name, c.bootstrap.split(','));
    await createPlacedTopic(c.bootstrap);
    await untilInSync(admin);
    const fill = await producerPerformance(kafka, {
      bootstrap: c.bootstrap,
      topic: TOPIC,
      records: Math.round(DATA_BYTES / RECORD_BYTES),
      recordBytes: RECORD_BYTES,
      props: FILL_PROPS,
      timeoutMs: TOOL_TIMEOUT_MS,
    });
    if (fill.failure) throw new Error(`${TITLE[name]} fill failed: ${fill.failure}`);
    const ps = await untilInSync(admin);
    const dataBytes = [...(await leaderBytes(admin, ps)).values()].reduce((a, b) => a + b, 0);
    const fillSeconds = fill.result!.records / fill.result!.recordsPerS;
    log(`${TITLE[name]}: filled ${mb(dataBytes).toFixed(0)} MB on the leaders in ${fillSeconds.toFixed(1)} s`);
    const rebalances: Rebalance[] = [];
    for (const throttle of [null, THROTTLE_BYTES_PER_S])
      for (const direction of ['up', 'down'] as const)
        rebalances.push(await rebalance(c, admin, run, direction, throttle, log));
    return { rebalances, dataBytes, fillSeconds };
  } finally {
    await pool.closeAll();
    await c.stop();
  }
}

const CASES: { direction: Direction; throttle: number | null }[] = [
  { direction: 'up', throttle: null },
  { direction: 'down', throttle: null },
  { direction: 'up', throttle: THROTTLE_BYTES_PER_S },
  { direction: 'down', throttle: THROTTLE_BYTES_PER_S },
];

function report(
  all: Rebalance[],
  data: { broker: BrokerName; run: number; dataBytes: number; fillSeconds: number }[],
  o: { date: string; loadBefore: string; loadAfter: string; kafka: KafkaInstall },
): string {
  const pick = (b: BrokerName, c: (typeof CASES)[number]) =>
    all.filter((r) => r.broker === b && r.direction === c.direction && r.throttle === c.throttle);
  const medianRow = (b: BrokerName, c: (typeof CASES)[number]) => {
    const rs = pick(b, c);
    const seconds = median(rs.map((r) => r.seconds));
    const bytes = median(rs.map((r) => r.plan.bytes));
    const busiest = median(rs.map((r) => r.busiestBrokerBytes));
    const moves = rs.map((r) => `${r.plan.replicaMoves} / ${r.plan.lowerBound}`);
    const floor = c.throttle ? (busiest / c.throttle).toFixed(1) : '-';
    return `| ${TITLE[b]} | ${c.direction === 'up' ? '3 → 5' : '5 → 3'} | ${c.throttle ? `${mb(c.throttle)} MB/s` : 'none'} | ${seconds.toFixed(1)} | ${mb(bytes).toFixed(0)} | ${(mb(bytes) / seconds).toFixed(1)} | ${mb(busiest).toFixed(0)} | ${floor} | ${[...new Set(moves)].join(', ')} | ${[...new Set(rs.map((r) => r.plan.partitions))].join(', ')} | ${[...new Set(rs.map((r) => r.leadersAfter.join('/')))].join(', ')} |`;
  };
  const ratio = (c: (typeof CASES)[number]) =>
    (median(pick('kafka', c).map((r) => r.seconds)) / median(pick('runnel', c).map((r) => r.seconds))).toFixed(2);
  const runRow = (r: Rebalance) =>
    `| ${r.run} | ${TITLE[r.broker]} | ${r.direction === 'up' ? '3 → 5' : '5 → 3'} | ${r.throttle ? `${mb(r.throttle)} MB/s` : 'none'} | ${r.seconds.toFixed(1)} | ${mb(r.plan.bytes).toFixed(0)} | ${r.steps} | ${r.replicasAfter.join('/')} | ${mb(r.newBrokersBytesAfter).toFixed(0)} | ${r.offFactor.length ? r.offFactor.join('; ') : '-'} |`;
  return `# Scaling 3 → 5 → 3 brokers: Runnel vs Apache Kafka

Written by \`npm run bench:scale\` (broker/bench/scale.ts) on ${o.date}${QUICK ? ' (--quick)' : ''}${RUNS > 1 ? `, medians of ${RUNS} runs` : ', one run'}; ${os.cpus().length} cores, load average ${o.loadBefore} before, ${o.loadAfter} after. Apache Kafka ${o.kafka.version} on ${o.kafka.java}.

## How measured

Five nodes on loopback, one cluster at a time (Runnel first in odd runs, Kafka first in even ones): Runnel (\`startCluster({nodes: 5, controllers: 3})\`) and Apache Kafka (KRaft: nodes 1–3 combined broker + controller voters, nodes 4 and 5 brokers only), settings on both ${Object.entries(
    SETTINGS,
  )
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(
      ', ',
    )}. Each gets one topic, \`${TOPIC}\`, of ${PARTITIONS} partitions at replication factor ${REPLICATION_FACTOR} (\`min.insync.replicas=2\`) created with an explicit assignment on brokers 1, 2, 3 as a three-broker cluster places it (partition *p* on *p*, *p*+1, *p*+2 mod 3, so leaders rotate), filled by Kafka's ProducerPerformance with ${Math.round(DATA_BYTES / RECORD_BYTES)} records of ${RECORD_BYTES} bytes (${Object.entries(
    FILL_PROPS,
  )
    .map(([k, v]) => `${k}=${v}`)
    .join(
      ', ',
    )}) and waited on until every replica is in sync: ${data.map((d) => `${TITLE[d.broker]} ${mb(d.dataBytes).toFixed(0)} MB on the leaders (DescribeLogDirs; ${mb(d.dataBytes * REPLICATION_FACTOR).toFixed(0)} MB with the followers) in ${d.fillSeconds.toFixed(0)} s${RUNS > 1 ? ` (run ${d.run})` : ''}`).join(', ')}. Then the operator's rebalance executor (\`advanceRebalance\` from operator/rebalance/executor.ts, through the operator's admin client, \`AdminPool\` from operator/kafka/admin.ts, the code the KafkaCluster reconciler runs) is stepped every ${STEP_MS} ms with target brokers 1–5 until it returns \`balanced\` (*3 → 5*), then with 1–3 (*5 → 3*, draining 4 and 5), first unthrottled, then with \`throttleBytesPerSecond: ${THROTTLE_BYTES_PER_S}\` (${mb(THROTTLE_BYTES_PER_S)} MB/s leader and follower replication quota on every broker taking part, set as \`kafka-reassign-partitions.sh --throttle\` sets it), always with \`maxPartitionMovements: ${MAX_PARTITION_MOVEMENTS}\`. The brokers stay up throughout; only the placement changes.

- *Time*: from the first \`advanceRebalance\` call until one returns \`balanced\`: planning, submitting, the copies, the leaders' preferred election and removing the throttle.
- *MB moved*: the executor's first plan (\`plan.bytes\`): for each added replica the partition's bytes on its leader. *MB/s* = MB moved / time, cluster-wide.
- *Busiest broker MB*: the most any one broker received, or sent as the leader of moving partitions; with a throttle, *floor s* = that / the throttle, the least time the quota allows.
- *Replica moves / lower bound*: from the plan; the lower bound is the replicas that must move for every broker to hold its share (±1).
- *Leaders after*: partitions led by brokers 1/2/3/4/5 once balanced.
- *Not at RF ${REPLICATION_FACTOR} once balanced*: partitions still listing another number of replicas 10 s after the executor said \`balanced\`; the bench then asks the executor for replication factor ${REPLICATION_FACTOR} (untimed) before going on.

## Results

| broker | scaling | throttle | time s | MB moved | MB/s | busiest broker MB | floor s | replica moves / lower bound | partitions moved | leaders after |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |
${CASES.flatMap((c) => [medianRow('runnel', c), medianRow('kafka', c)]).join('\n')}

Kafka / Runnel, time: ${CASES.map((c) => `${c.direction === 'up' ? '3 → 5' : '5 → 3'} ${c.throttle ? 'throttled' : 'unthrottled'} ${ratio(c)}`).join(', ')}.

### Every rebalance

| run | broker | scaling | throttle | time s | MB moved | executor steps | replicas after (brokers 1/2/3/4/5) | MB on brokers 4+5 after | not at RF ${REPLICATION_FACTOR} once balanced |
| ---: | --- | --- | --- | ---: | ---: | ---: | --- | ---: | --- |
${all.map(runRow).join('\n')}
`;
}

async function main(): Promise<void> {
  const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);
  const kafka = await prepareKafka(log);
  const date = new Date().toISOString();
  const loadBefore = loadAverage();
  const all: Rebalance[] = [];
  const data: { broker: BrokerName; run: number; dataBytes: number; fillSeconds: number }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const order: BrokerName[] = run % 2 ? ['runnel', 'kafka'] : ['kafka', 'runnel'];
    for (const name of order.filter((n) => !ONLY || n === ONLY)) {
      const m = await measure(kafka, name, run, log);
      all.push(...m.rebalances);
      data.push({ broker: name, run, dataBytes: m.dataBytes, fillSeconds: m.fillSeconds });
    }
  }
  await writeFile(OUT, report(all, data, { date, loadBefore, loadAfter: loadAverage(), kafka }));
  log(`wrote ${OUT}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
