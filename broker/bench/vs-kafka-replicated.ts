// The replicated part of `npm run bench:kafka`: three Runnel nodes against three Apache Kafka
// nodes (each a broker and a controller voter, bench-cluster.ts), topics with replication factor
// 3 and min.insync.replicas=2, every produce at acks=all, both clusters alive throughout and every
// workload alternating between them. In order: failover rounds (first, while the logs are small,
// so a killed Kafka node's log recovery on restart stays short), warm-up, produce throughput with
// CPU, fixed-rate latency. Results go into a section of docs/bench/vs-kafka.md
// (vs-kafka-replicated-report.ts).

import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { CreateTopics } from '../protocol/messages/index.js';
import { errorName } from '../protocol/errors.js';
import { ask, listOffsetErrors, metadata } from '../test/cluster/cluster-clients.js';
import type { BenchCluster } from './bench-cluster.js';
import { startKafkaCluster, startRunnelCluster } from './bench-cluster.js';
import { createTopics, latencyRun } from './clients.js';
import { failoverRound, type FailoverRun } from './failover.js';
import { kraftProperties, producerPerformance, type KafkaInstall } from './kafka.js';
import { loadAverage } from './machine.js';
import type { ReplicatedReport } from './vs-kafka-replicated-report.js';
import { TITLE, type BrokerName, type LatencyRunRecord, type ProduceRun } from './vs-kafka-report.js';
import {
  LATENCY_MAX_INFLIGHTS,
  TOOL_TIMEOUT_MS,
  inTurn,
  latencyRunRecord,
  loadSampler,
  orderFor,
  produceRun,
  scaled,
  type LatencyRate,
  type Size,
  type Subject,
} from './vs-kafka-runs.js';

export interface ReplicatedPlan {
  repeats: number;
  sizes: Size[];
  /** Produced (acks=all) into each cluster before the measured runs: JITs and page cache. */
  warmup: Size[];
  latencySeconds: number;
  failoverRounds: number;
}

/** About 8 minutes on 2 cores. */
export const REPLICATED_FULL: ReplicatedPlan = {
  repeats: 3,
  sizes: [
    { recordBytes: 100, records: 1_000_000 },
    { recordBytes: 1024, records: 200_000 },
  ],
  warmup: [
    { recordBytes: 100, records: 500_000 },
    { recordBytes: 1024, records: 100_000 },
  ],
  latencySeconds: 12,
  failoverRounds: 3,
};

/** --quick: one of everything, 10 times fewer records, one failover round each; about 2 minutes. */
export const REPLICATED_QUICK: ReplicatedPlan = {
  ...REPLICATED_FULL,
  repeats: 1,
  sizes: scaled(REPLICATED_FULL.sizes, 1 / 10),
  warmup: scaled(REPLICATED_FULL.warmup, 1 / 20),
  latencySeconds: 3,
  failoverRounds: 1,
};

export const REPLICATION_FACTOR = 3;
export const TOPIC_CONFIGS: Record<string, string> = { 'min.insync.replicas': '2' };
/** Broker settings both clusters get: the single-node comparison's, but the offsets topic keeps Kafka's default (3). */
export const REPLICATED_SETTINGS: Record<string, string> = {
  'num.partitions': '1',
  'log.segment.bytes': '1073741824',
  'log.retention.hours': '168',
  'auto.create.topics.enable': 'false',
  'group.initial.rebalance.delay.ms': '0',
};
/** Failure detection on both: Kafka's defaults, which Runnel shares; stated, not set. */
export const SESSION_SETTINGS: Record<string, string> = {
  'broker.session.timeout.ms': '9000',
  'broker.heartbeat.interval.ms': '2000',
};
const ACKS_ALL = -1;
/**
 * Fixed-rate latency: the single-node comparison's rate, which each acks=all record turns into a
 * Produce and two rounds of follower fetches, and a fifth of it, well below either cluster's
 * saturation on 2 cores.
 */
const LATENCY_JOBS: LatencyRate[] = [
  { recordsPerSecond: 1000, recordBytes: 1024, acks: ACKS_ALL },
  { recordsPerSecond: 200, recordBytes: 1024, acks: ACKS_ALL },
];
/** Unmeasured, on each cluster before the measured latency runs, so the JITs have seen one record per request. */
const LATENCY_WARMUP_RUN_MS = 5000;
const FAILOVER = { intervalMs: 5, recordBytes: 1024, steadyMs: 3000 };
const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 50;

const topicName = (kind: string, s: { recordBytes: number; recordsPerSecond?: number }, repeat: number) =>
  `replicated-${kind}${s.recordsPerSecond ? `-${s.recordsPerSecond}ps` : ''}-${s.recordBytes}b-r${repeat}`;

/** Waits until every running node's Metadata shows each topic with a leader (`leader` if given) and all three replicas in sync, and the leader serves it. */
export async function untilReplicated(cluster: BenchCluster, topics: string[], leader?: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  for (;;) {
    try {
      let ready = true;
      for (const id of cluster.nodeIds) {
        const md = await metadata(cluster.clientPort(id), topics);
        for (const t of topics) {
          const l = md.leaders.get(t)![0];
          if (l < 0 || (leader !== undefined && l !== leader) || md.isr.get(t)![0].length !== REPLICATION_FACTOR)
            ready = false;
        }
        if (!ready) break;
      }
      if (ready) {
        const md = await metadata(cluster.clientPort(cluster.nodeIds[0]), topics);
        for (const t of topics) {
          const errors = await listOffsetErrors(cluster.clientPort(md.leaders.get(t)![0]), t, [0]);
          if (errors[0] !== 'NONE') ready = false;
        }
      }
      if (ready) return;
      last = 'not every replica in sync yet';
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${TITLE[cluster.name]}: ${topics.length} topics not replicated within ${READY_TIMEOUT_MS} ms (${last})`,
      );
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** CreateTopics with an explicit assignment of partition 0 (the first replica leads), through the node at `port`. */
export async function createAssignedTopic(port: number, name: string, replicas: number[]): Promise<void> {
  const error = await ask(port, async (c) => {
    const res = await c.request(
      CreateTopics,
      'latest',
      {
        topics: [
          {
            name,
            numPartitions: -1,
            replicationFactor: -1,
            assignments: [{ partitionIndex: 0, brokerIds: replicas }],
            configs: Object.entries(TOPIC_CONFIGS).map(([n, value]) => ({ name: n, value })),
          },
        ],
        timeoutMs: 30_000,
        validateOnly: false,
      },
      { timeoutMs: 31_000 },
    );
    return errorName(res.topics[0].errorCode);
  });
  if (error !== 'NONE') throw new Error(`CreateTopics ${name} with replicas ${replicas.join(',')}: ${error}`);
}

export async function replicatedBenchmark(
  kafka: KafkaInstall,
  o: {
    plan: ReplicatedPlan;
    quick: boolean;
    alone: boolean;
    quiet: string | null;
    nodeClient: string;
    producerProps: Record<string, string>;
    log: (line: string) => void;
  },
): Promise<ReplicatedReport> {
  const { plan, log } = o;
  const started = performance.now();
  const date = new Date().toISOString();
  const loadBefore = loadAverage();
  const load = loadSampler();
  const clusters: Partial<Record<BrokerName, BenchCluster>> = {};
  try {
    log('replicated: starting three Runnel nodes');
    clusters.runnel = await startRunnelCluster(REPLICATED_SETTINGS);
    log('replicated: starting three Kafka nodes');
    clusters.kafka = await startKafkaCluster(kafka, REPLICATED_SETTINGS);
    const both = clusters as Record<BrokerName, BenchCluster>;

    const failover: FailoverRun[] = [];
    for (let round = 1; round <= plan.failoverRounds; round++) {
      const pair = await inTurn(round - 1, async (name, order) => {
        const c = both[name];
        const activeController = await c.activeController();
        const candidates = c.nodeIds.filter((id) => id !== activeController);
        const victim = candidates[(round - 1) % candidates.length];
        const topic = `replicated-failover-r${round}`;
        await createAssignedTopic(c.clientPort(candidates.find((id) => id !== victim) ?? activeController), topic, [
          victim,
          ...c.nodeIds.filter((id) => id !== victim),
        ]);
        await untilReplicated(c, [topic], victim);
        const r = await failoverRound(kafka, c, { topic, victim, ...FAILOVER });
        log(
          `${TITLE[name]} failover #${round}: killed node ${victim} (active controller ${activeController}); new leader ${r.newLeader ?? '-'} in Metadata after ${r.newLeaderMs?.toFixed(0) ?? '-'} ms, first ack after ${r.firstAckMs?.toFixed(0) ?? '-'} ms; ${r.acked} acked, ${r.failed} failed${r.failure ? `, FAILED: ${r.failure}` : ''}`,
        );
        const run: FailoverRun = { ...r, broker: name, repeat: round, order, activeController };
        await c.restart(victim);
        return run;
      });
      failover.push(...pair);
    }

    const topics: string[] = [];
    for (let repeat = 1; repeat <= plan.repeats; repeat++) {
      for (const size of plan.sizes) topics.push(topicName('produce', size, repeat));
      for (const j of LATENCY_JOBS) topics.push(topicName('latency', j, repeat));
    }
    plan.warmup.forEach((s, i) => topics.push(topicName('warmup', s, i)));
    topics.push(topicName('warmup-latency', LATENCY_JOBS[0], 0));
    for (const name of orderFor(0)) {
      await createTopics(both[name].bootstrap, topics, 1, { replicas: REPLICATION_FACTOR, configs: TOPIC_CONFIGS });
      await untilReplicated(both[name], topics);
      log(`${TITLE[name]}: replicated warm-up`);
      for (const [i, size] of plan.warmup.entries()) {
        const run = await producerPerformance(kafka, {
          bootstrap: both[name].bootstrap,
          topic: topicName('warmup', size, i),
          records: size.records,
          recordBytes: size.recordBytes,
          props: { ...o.producerProps, acks: 'all' },
          timeoutMs: TOOL_TIMEOUT_MS,
        });
        if (run.failure) throw new Error(`${TITLE[name]} replicated warm-up failed: ${run.failure}`);
      }
      await latencyRun(both[name].pids(), {
        ...LATENCY_JOBS[0],
        bootstrap: both[name].bootstrap.split(',')[0],
        topic: topicName('warmup-latency', LATENCY_JOBS[0], 0),
        warmupMs: 0,
        durationMs: LATENCY_WARMUP_RUN_MS,
        maxInflights: LATENCY_MAX_INFLIGHTS,
      });
    }

    let index = 0;
    const produce: ProduceRun[] = [];
    for (let repeat = 1; repeat <= plan.repeats; repeat++) {
      for (const size of plan.sizes) {
        produce.push(
          ...(await inTurn(index++, (name, order) =>
            produceOnce(kafka, both[name], size, repeat, order, o.producerProps, log),
          )),
        );
      }
    }
    const latency: LatencyRunRecord[] = [];
    for (let repeat = 1; repeat <= plan.repeats; repeat++) {
      for (const j of LATENCY_JOBS) {
        latency.push(
          ...(await inTurn(index++, (name, order) =>
            latencyOnce(both[name], j, repeat, order, plan.latencySeconds, log),
          )),
        );
      }
    }

    const summaries = {} as ReplicatedReport['clusters'];
    for (const name of ['runnel', 'kafka'] as const) {
      const problems = both[name].problems();
      summaries[name] = { exitCodes: await both[name].stop(), problems };
      delete clusters[name];
    }
    const voters = '1@127.0.0.1:<controller port 1>,2@127.0.0.1:<controller port 2>,3@127.0.0.1:<controller port 3>';
    return {
      date,
      quick: o.quick,
      alone: o.alone,
      quiet: o.quiet,
      durationS: (performance.now() - started) / 1000,
      load: load.stop(),
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAverage(),
      cores: os.cpus().length,
      kafkaVersion: kafka.version,
      nodeClient: o.nodeClient,
      repeats: plan.repeats,
      replicationFactor: REPLICATION_FACTOR,
      topicConfigs: TOPIC_CONFIGS,
      commonSettings: REPLICATED_SETTINGS,
      sessionSettings: SESSION_SETTINGS,
      kafkaOnlySettings: kraftProperties({
        dataDir: '<data dir n>',
        port: '<port n>',
        controllerPort: '<controller port n>',
        nodeId: 'n',
        voters,
      }),
      runnelOnlySettings: {
        'node.id': 'n',
        'process.roles': 'broker,controller',
        'controller.quorum.voters': voters,
        listeners: 'PLAINTEXT://127.0.0.1:<port n>,CONTROLLER://127.0.0.1:<controller port n>',
        'advertised.listeners': 'PLAINTEXT://127.0.0.1:<port n>',
        'controller.listener.names': 'CONTROLLER',
        'log.dirs': '<data dir n>',
        'runnel.cluster.id': '<cluster id>',
        'offsets.topic.replication.factor': '3',
      },
      failoverIntervalMs: FAILOVER.intervalMs,
      failoverRecordBytes: FAILOVER.recordBytes,
      failoverSteadyMs: FAILOVER.steadyMs,
      produce,
      latency,
      failover,
      clusters: summaries,
    };
  } finally {
    load.stop();
    for (const c of Object.values(clusters)) await c.stop().catch(() => undefined);
  }
}

/** The cluster's running brokers as the measured runs name them. */
const subject = (c: BenchCluster): Subject => ({
  name: c.name,
  pids: c.pids(),
  logName: `${TITLE[c.name]} x3`,
  cpuOwner: "brokers'",
  endOffsetName: 'the end offset',
});

function produceOnce(
  kafka: KafkaInstall,
  c: BenchCluster,
  size: Size,
  repeat: number,
  order: number,
  producerProps: Record<string, string>,
  log: (line: string) => void,
): Promise<ProduceRun> {
  const topic = topicName('produce', size, repeat);
  const props = { ...producerProps, acks: 'all' };
  return produceRun(
    kafka,
    subject(c),
    { bootstrap: c.bootstrap, topic, size, acks: ACKS_ALL, props, repeat, order },
    log,
  );
}

/** The latency client, bootstrapped with node 1 only. */
function latencyOnce(
  c: BenchCluster,
  rate: LatencyRate,
  repeat: number,
  order: number,
  seconds: number,
  log: (line: string) => void,
): Promise<LatencyRunRecord> {
  const o = {
    rate,
    bootstrap: c.bootstrap.split(',')[0],
    topic: topicName('latency', rate, repeat),
    seconds,
    repeat,
    order,
  };
  return latencyRunRecord(subject(c), o, log);
}
