// What both parts of `npm run bench:kafka` measure the same way, one broker each (vs-kafka.ts) or
// three each (vs-kafka-replicated.ts): the order alternating between the systems, the load while
// a part runs, and a ProducerPerformance run or a fixed-rate latency run, measured and turned into
// the record the report reads (vs-kafka-report.ts). A run is measured by one function, whichever
// part runs it; only how the log and the failures name what was measured differs.

import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { measured } from './broker.js';
import { latencyRun } from './clients.js';
import { producerPerformance, type KafkaInstall } from './kafka.js';
import { kcatEndOffset, type TimedRun } from './kcat.js';
import type { LatencyJob } from './latency-client.js';
import {
  acksName,
  type BrokerName,
  type LatencyRunRecord,
  type LoadSummary,
  type ProduceRun,
  type RunBase,
} from './vs-kafka-report.js';

export interface Size {
  recordBytes: number;
  records: number;
}

/** A fixed-rate latency workload. */
export interface LatencyRate {
  recordsPerSecond: number;
  recordBytes: number;
  acks: number;
}

export const TOOL_TIMEOUT_MS = 10 * 60_000;
export const LATENCY_WARMUP_MS = 1000;
export const LATENCY_MAX_INFLIGHTS = 64;

export const scaled = (sizes: Size[], by: number): Size[] =>
  sizes.map((s) => ({ ...s, records: Math.round(s.records * by) }));

/** The pair's order for one workload and repeat: alternating, so that neither always goes first. */
export const orderFor = (index: number): BrokerName[] => (index % 2 === 0 ? ['runnel', 'kafka'] : ['kafka', 'runnel']);

/**
 * One workload on both systems, one after the other in the order for `index` (so the order
 * alternates from one workload and repeat to the next): what each run returned, in the order
 * they ran. `order` is 1 for the run that went first.
 */
export async function inTurn<T>(index: number, run: (name: BrokerName, order: number) => Promise<T>): Promise<T[]> {
  const done: T[] = [];
  for (const [i, name] of orderFor(index).entries()) done.push(await run(name, i + 1));
  return done;
}

/** 1-minute load averages, sampled every 10 s. */
export function loadSampler(): { stop(): LoadSummary } {
  const samples = [os.loadavg()[0]];
  const timer = setInterval(() => samples.push(os.loadavg()[0]), 10_000);
  return {
    stop() {
      clearInterval(timer);
      samples.push(os.loadavg()[0]);
      const s = [...samples].sort((a, b) => a - b);
      return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1], samples: s.length };
    },
  };
}

/** What a run measures: one broker or a cluster's brokers, and how the log and the failures name it. */
export interface Subject {
  name: BrokerName;
  /** The broker processes, whose CPU is the broker's. */
  pids: number | readonly number[];
  /** In log lines: "Runnel", "Runnel x3". */
  logName: string;
  /** Whose CPU a produce run's log line gives: "broker", "brokers'". */
  cpuOwner: string;
  /** What a produce run's failure calls the end offset: "the broker's end offset", "the end offset". */
  endOffsetName: string;
}

/** The fields every run record has, from a Kafka tool's run measured around. */
export function runBase(
  name: BrokerName,
  repeat: number,
  order: number,
  m: { brokerCpuMs: number; otherCpuMs: number; run: TimedRun },
  failure: string | null,
): RunBase {
  return {
    broker: name,
    repeat,
    order,
    brokerCpuMs: m.brokerCpuMs,
    clientCpuMs: m.run.cpuMs,
    otherCpuMs: m.otherCpuMs,
    wallMs: m.run.elapsedMs,
    failure,
  };
}

/** One ProducerPerformance run into `topic`, measured; a failure unless the topic then ends at the records sent. */
export async function produceRun(
  kafka: KafkaInstall,
  s: Subject,
  o: {
    bootstrap: string;
    topic: string;
    size: Size;
    acks: number;
    /** --producer-props besides bootstrap.servers, acks included. */
    props: Record<string, string>;
    repeat: number;
    order: number;
  },
  log: (line: string) => void,
): Promise<ProduceRun> {
  const { size } = o;
  const {
    result: run,
    brokerCpuMs,
    otherCpuMs,
  } = await measured(s.pids, () =>
    producerPerformance(kafka, {
      bootstrap: o.bootstrap,
      topic: o.topic,
      records: size.records,
      recordBytes: size.recordBytes,
      props: o.props,
      timeoutMs: TOOL_TIMEOUT_MS,
    }),
  );
  let failure = run.failure;
  if (failure === null) {
    const end = await kcatEndOffset(o.bootstrap, o.topic);
    if (end !== size.records) failure = `${s.endOffsetName} is ${end}, expected ${size.records}`;
  }
  log(
    `${s.logName} produce ${size.records} × ${size.recordBytes} B acks=${acksName(o.acks)} #${o.repeat}: ${run.result ? `${Math.round(run.result.recordsPerS)} records/s` : '-'}, ${s.cpuOwner} CPU ${(brokerCpuMs / 1000).toFixed(1)} s${failure ? `, FAILED: ${failure}` : ''}`,
  );
  return {
    ...runBase(s.name, o.repeat, o.order, { brokerCpuMs, otherCpuMs, run }, failure),
    recordBytes: size.recordBytes,
    acks: o.acks,
    records: size.records,
    recordsPerS: failure === null ? run.result!.recordsPerS : null,
    p99Ms: run.result?.p99Ms ?? null,
  };
}

/** One run of the fixed-rate latency client into `topic`, after LATENCY_WARMUP_MS of warm-up; a failure if any send failed. */
export async function latencyRunRecord(
  s: Subject,
  o: { rate: LatencyRate; bootstrap: string; topic: string; seconds: number; repeat: number; order: number },
  log: (line: string) => void,
): Promise<LatencyRunRecord> {
  const { rate } = o;
  const job: LatencyJob = {
    ...rate,
    bootstrap: o.bootstrap,
    topic: o.topic,
    warmupMs: LATENCY_WARMUP_MS,
    durationMs: o.seconds * 1000,
    maxInflights: LATENCY_MAX_INFLIGHTS,
  };
  const started = performance.now();
  const r = await latencyRun(s.pids, job);
  const wallMs = performance.now() - started;
  const l = r.latencyMs;
  const failure = r.errors > 0 ? `${r.errors} sends failed: ${r.firstError}` : null;
  log(
    `${s.logName} latency ${rate.recordsPerSecond}/s acks=${acksName(rate.acks)} #${o.repeat}: p50 ${l?.p50.toFixed(2)} ms, p99 ${l?.p99.toFixed(2)} ms, p99.9 ${l?.p999.toFixed(2)} ms${failure ? `, FAILED: ${failure}` : ''}`,
  );
  return {
    broker: s.name,
    repeat: o.repeat,
    order: o.order,
    brokerCpuMs: r.brokerCores * wallMs,
    clientCpuMs: r.clientCores * wallMs,
    otherCpuMs: r.otherCores * wallMs,
    wallMs,
    failure,
    rate: rate.recordsPerSecond,
    recordBytes: rate.recordBytes,
    acks: rate.acks,
    latencyMs: l,
    achievedRate: r.achievedRate,
    errors: r.errors,
  };
}
