// `npm run bench`: throughput and latency of one broker process, driven by real clients in
// other processes, written to docs/bench/single-broker.md and printed.
//
//   node dist/broker/bench/run.js                   the full benchmark (about 70 s)
//   node dist/broker/bench/run.js --profile[=<w>]   a broker under node --cpu-prof running one
//                                                   workload (produce-1k, produce-100,
//                                                   consume-1k; default produce-1k), then a
//                                                   summary of the profile
//
// Environment: BENCH_REPEATS (default 3), BENCH_SCALE (record counts × this, default 1),
// BENCH_LATENCY_SECONDS (per latency run, default 8), BENCH_SKIP_LATENCY=1, KCAT (kcat binary),
// BENCH_OUT (results file; default docs/bench/single-broker.md), BENCH_WAIT_QUIET (seconds to
// wait at most for the rest of the machine to go quiet before starting; default 0).

import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  measured,
  monotonicUs,
  peakRssMiB,
  processCpuMs,
  reapedChildrenCpuMs,
  startBenchBroker,
  startProfiledBroker,
  type BenchBroker,
  type ProfiledBroker,
} from './broker.js';
import { createTopics, latencyRun } from './clients.js';
import { CONSUMER_SETTINGS, PRODUCER_SETTINGS, kcatConsume, kcatEndOffset, kcatProduce, kcatVersion } from './kcat.js';
import type { LatencyJob } from './latency-client.js';
import { loadAverage, machineInfo, probeDisk, waitForQuietIfAsked } from './machine.js';
import { writeProfileReport } from './profile-summary.js';
import { formatReport, type BenchReport, type LatencyRun, type ThroughputRun } from './report.js';
import { writeRecordFile } from './workload.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../../..');
const DEFAULT_OUT = path.join(REPO, 'docs/bench/single-broker.md');
const PROFILE_OUT = path.join(REPO, 'docs/bench/single-broker-profile.md');

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 8);
const LATENCY_WARMUP_MS = 1000;
const LATENCY_MAX_INFLIGHTS = 64;
const KCAT_TIMEOUT_MS = 180_000;
const DISK_PROBE_BYTES = 512 * 2 ** 20;

/** Record counts: about 100 MB of 100 B values, about 300 MB of 1 KiB values. */
const SIZES = [
  { recordBytes: 100, records: Math.round(1_000_000 * SCALE) },
  { recordBytes: 1024, records: Math.round(300_000 * SCALE) },
];
const ACKS = [1, -1];
/** Compressed produce runs: 1 KiB records at acks=1, compressed by kcat. */
const CODECS = ['lz4', 'zstd'];
const COMPRESSED = { recordBytes: 1024, records: Math.round(300_000 * SCALE) };
// At 5000 sends/s the Node client itself needs about half a core (about 100 µs of CPU per
// send()), so that rate measures the client as much as the broker on a small machine.
const LATENCY_JOBS: Array<Pick<LatencyJob, 'recordsPerSecond' | 'recordBytes' | 'acks'>> = [
  { recordsPerSecond: 1000, recordBytes: 1024, acks: 1 },
  { recordsPerSecond: 1000, recordBytes: 1024, acks: -1 },
  { recordsPerSecond: 5000, recordBytes: 1024, acks: 1 },
];
/** Produced first and not measured: lets the broker's JIT and the page cache warm up. */
const WARMUP = { recordBytes: 1024, records: Math.round(50_000 * SCALE) };

const BROKER_OVERRIDES = { 'auto.create.topics.enable': 'false' };

const topicName = (kind: string, recordBytes: number, acks: number, repeat: number, codec = 'none') =>
  `${kind}-${recordBytes}b-acks${acks === -1 ? 'all' : acks}${codec === 'none' ? '' : `-${codec}`}-r${repeat}`;

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

async function logBytes(dataDir: string, topic: string): Promise<number> {
  const dir = path.join(dataDir, `${topic}-0`);
  let total = 0;
  for (const f of await readdir(dir)) if (f.endsWith('.log')) total += (await stat(path.join(dir, f))).size;
  return total;
}

async function produceRun(
  broker: BenchBroker,
  dataDir: string,
  file: string,
  size: (typeof SIZES)[number],
  acks: number,
  repeat: number,
  codec = 'none',
): Promise<ThroughputRun> {
  const topic = topicName('produce', size.recordBytes, acks, repeat, codec);
  const { result, brokerCpuMs, brokerMainThreadCpuMs, otherCpuMs } = await measured(broker.pid, () =>
    kcatProduce(broker.bootstrap, topic, file, acks, KCAT_TIMEOUT_MS, codec),
  );
  let failure = result.failure;
  const endOffset = await kcatEndOffset(broker.bootstrap, topic);
  if (failure === null && endOffset !== size.records)
    failure = `the broker's end offset is ${endOffset}, expected ${size.records}`;
  const run: ThroughputRun = {
    kind: 'produce',
    variant: codec === 'none' ? null : codec,
    recordBytes: size.recordBytes,
    acks,
    records: size.records,
    repeat,
    elapsedMs: result.elapsedMs,
    logBytes: await logBytes(dataDir, topic),
    brokerCpuMs,
    brokerMainThreadCpuMs,
    clientCpuMs: result.cpuMs,
    otherCpuMs,
    failure,
  };
  log(
    `produce ${size.recordBytes} B acks=${acks} ${codec} #${repeat}: ${(result.elapsedMs / 1000).toFixed(2)} s, ${Math.round(size.records / (result.elapsedMs / 1000))} records/s${failure ? `, FAILED: ${failure}` : ''}`,
  );
  return run;
}

/** Reads a produce run's topic back; with `viaGroup`, as the only member of a new consumer group. */
async function consumeRun(
  broker: BenchBroker,
  dataDir: string,
  size: (typeof SIZES)[number],
  repeat: number,
  viaGroup = false,
): Promise<ThroughputRun> {
  const topic = topicName('produce', size.recordBytes, 1, repeat);
  const group = viaGroup ? `bench-${topic}` : undefined;
  const { result, brokerCpuMs, brokerMainThreadCpuMs, otherCpuMs } = await measured(broker.pid, () =>
    kcatConsume(broker.bootstrap, topic, KCAT_TIMEOUT_MS, group),
  );
  let failure = result.failure;
  if (failure === null && result.endOffset !== size.records)
    failure = `kcat stopped at offset ${result.endOffset}, expected ${size.records}`;
  log(
    `consume ${size.recordBytes} B${viaGroup ? ' (group)' : ''} #${repeat}: ${(result.elapsedMs / 1000).toFixed(2)} s, ${Math.round(size.records / (result.elapsedMs / 1000))} records/s${failure ? `, FAILED: ${failure}` : ''}`,
  );
  return {
    kind: 'consume',
    variant: viaGroup ? 'consumer group' : null,
    recordBytes: size.recordBytes,
    acks: 1,
    records: size.records,
    repeat,
    elapsedMs: result.elapsedMs,
    logBytes: await logBytes(dataDir, topic),
    brokerCpuMs,
    brokerMainThreadCpuMs,
    clientCpuMs: result.cpuMs,
    otherCpuMs,
    failure,
  };
}

async function clientVersions(): Promise<{ throughput: string; latency: string }> {
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'node_modules/@platformatic/kafka/package.json'), 'utf8')) as {
    version: string;
  };
  return { throughput: await kcatVersion(), latency: `@platformatic/kafka ${pkg.version}` };
}

async function benchmark(): Promise<void> {
  const quiet = await waitForQuietIfAsked(log);
  const started = performance.now();
  const date = new Date().toISOString();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-bench-'));
  const inputDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-bench-input-'));
  const machine = machineInfo(dataDir);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverage}; data in ${dataDir}`);
  let broker: BenchBroker | undefined;
  try {
    // kcat -l sends every line of its file: one file per (record size, record count).
    const files = new Map<string, string>();
    const fileFor = async (size: { recordBytes: number; records: number }) => {
      const name = `records-${size.recordBytes}b-${size.records}.txt`;
      if (!files.has(name)) {
        await writeRecordFile(path.join(inputDir, name), size.records, size.recordBytes);
        files.set(name, path.join(inputDir, name));
      }
      return files.get(name)!;
    };
    for (const size of [WARMUP, ...SIZES]) await fileFor(size);

    log('probing the disk');
    const disk = await probeDisk(dataDir, DISK_PROBE_BYTES);
    log(`disk: ${disk.bufferedMBps.toFixed(0)} MB/s buffered, ${disk.syncedMBps.toFixed(0)} MB/s with fsync`);

    broker = await startBenchBroker({ dataDir, overrides: BROKER_OVERRIDES });
    const topics = [topicName('warmup', WARMUP.recordBytes, 1, 0)];
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      for (const size of SIZES)
        for (const acks of ACKS) topics.push(topicName('produce', size.recordBytes, acks, repeat));
      for (const codec of CODECS) topics.push(topicName('produce', COMPRESSED.recordBytes, 1, repeat, codec));
    }
    for (const job of LATENCY_JOBS) topics.push(topicName('latency', job.recordBytes, job.acks, job.recordsPerSecond));
    await createTopics(broker.bootstrap, topics);

    log('warm-up');
    const warm = await kcatProduce(broker.bootstrap, topics[0], await fileFor(WARMUP), 1, KCAT_TIMEOUT_MS);
    if (warm.failure) throw new Error(`warm-up produce failed: ${warm.failure}`);

    const runs: ThroughputRun[] = [];
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      for (const size of SIZES) {
        for (const acks of ACKS) runs.push(await produceRun(broker, dataDir, await fileFor(size), size, acks, repeat));
      }
      for (const codec of CODECS)
        runs.push(await produceRun(broker, dataDir, await fileFor(COMPRESSED), COMPRESSED, 1, repeat, codec));
    }
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      for (const size of SIZES) {
        runs.push(await consumeRun(broker, dataDir, size, repeat));
        runs.push(await consumeRun(broker, dataDir, size, repeat, true));
      }
    }

    const latency: LatencyRun[] = [];
    if (process.env.BENCH_SKIP_LATENCY !== '1') {
      for (const j of LATENCY_JOBS) {
        const job: LatencyJob = {
          ...j,
          bootstrap: broker.bootstrap,
          topic: topicName('latency', j.recordBytes, j.acks, j.recordsPerSecond),
          warmupMs: LATENCY_WARMUP_MS,
          durationMs: LATENCY_SECONDS * 1000,
          maxInflights: LATENCY_MAX_INFLIGHTS,
        };
        const result = await latencyRun(broker.pid, job);
        const l = result.latencyMs;
        log(
          `latency ${j.recordsPerSecond}/s acks=${j.acks}: p50 ${l?.p50.toFixed(2)} ms, p99 ${l?.p99.toFixed(2)} ms, p99.9 ${l?.p999.toFixed(2)} ms, errors ${result.errors}`,
        );
        latency.push(result);
      }
    }

    const brokerPeak = peakRssMiB(broker.pid);
    const brokerExitCode = await broker.stop();
    const brokerProblems = broker.problems();
    broker = undefined;
    if (brokerExitCode !== 0) log(`warning: the broker exited with ${brokerExitCode}`);
    for (const line of brokerProblems.first) log(`broker: ${line}`);
    const report: BenchReport = {
      date,
      quiet,
      durationS: (performance.now() - started) / 1000,
      machine,
      loadAverageAfter: loadAverage(),
      disk,
      clients: await clientVersions(),
      producerSettings: PRODUCER_SETTINGS,
      consumerSettings: CONSUMER_SETTINGS,
      latencyMaxInflights: LATENCY_MAX_INFLIGHTS,
      repeats: REPEATS,
      runs,
      latency,
      brokerPeakRssMiB: brokerPeak,
      brokerProblems,
      brokerExitCode,
      brokerOverrides: BROKER_OVERRIDES,
    };
    const markdown = formatReport(report);
    const out = process.env.BENCH_OUT ?? DEFAULT_OUT;
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, markdown);
    process.stdout.write(markdown + '\n');
    log(`written to ${path.relative(process.cwd(), out) || out}`);
    const failed = runs.some((r) => r.failure !== null) || latency.some((l) => l.errors > 0) || brokerExitCode !== 0;
    if (failed) process.exitCode = 1;
  } finally {
    if (broker) await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(inputDir, { recursive: true, force: true });
  }
}

/** One workload against a broker under --cpu-prof, then the profile's summary. */
async function profile(workload: string): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-bench-'));
  const inputDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-bench-input-'));
  const recordBytes = workload.endsWith('-100') ? 100 : 1024;
  const size = SIZES.find((s) => s.recordBytes === recordBytes)!;
  const rounds = 3;
  let profiled: ProfiledBroker | undefined;
  try {
    await waitForQuietIfAsked(log);
    const file = path.join(inputDir, 'records.txt');
    await writeRecordFile(file, size.records, size.recordBytes);
    profiled = await startProfiledBroker({ dataDir, overrides: BROKER_OVERRIDES });
    const broker = profiled.broker;
    const topics = Array.from({ length: rounds }, (_, i) => topicName('produce', recordBytes, 1, i + 1));
    await createTopics(broker.bootstrap, topics);
    const lines: string[] = [];
    let fromUs = monotonicUs();
    for (const topic of topics) {
      const brokerBefore = processCpuMs(broker.pid);
      const cpuBefore = reapedChildrenCpuMs();
      const r = await kcatProduce(broker.bootstrap, topic, file, 1, KCAT_TIMEOUT_MS);
      const line = `produce ${recordBytes} B acks=1 under --cpu-prof: ${(r.elapsedMs / 1000).toFixed(2)} s, ${Math.round(size.records / (r.elapsedMs / 1000))} records/s, ${((size.records * recordBytes) / 1e6 / (r.elapsedMs / 1000)).toFixed(0)} MB/s, broker CPU ${((processCpuMs(broker.pid).allMs - brokerBefore.allMs) / r.elapsedMs).toFixed(2)} cores (main thread ${((processCpuMs(broker.pid).mainMs - brokerBefore.mainMs) / r.elapsedMs).toFixed(2)}), kcat CPU ${((reapedChildrenCpuMs() - cpuBefore) / r.elapsedMs).toFixed(2)} cores${r.failure ? `, FAILED: ${r.failure}` : ''}`;
      log(line);
      if (!workload.startsWith('consume')) lines.push(line);
    }
    if (workload.startsWith('consume')) {
      fromUs = monotonicUs();
      for (const topic of topics) {
        const brokerBefore = processCpuMs(broker.pid);
        const r = await kcatConsume(broker.bootstrap, topic, KCAT_TIMEOUT_MS);
        const line = `consume ${recordBytes} B under --cpu-prof: ${(r.elapsedMs / 1000).toFixed(2)} s, ${Math.round(size.records / (r.elapsedMs / 1000))} records/s, broker CPU ${((processCpuMs(broker.pid).allMs - brokerBefore.allMs) / r.elapsedMs).toFixed(2)} cores (main thread ${((processCpuMs(broker.pid).mainMs - brokerBefore.mainMs) / r.elapsedMs).toFixed(2)})${r.failure ? `, FAILED: ${r.failure}` : ''}`;
        log(line);
        lines.push(line);
      }
    }
    const { summary, kept } = await profiled.finish(
      { fromUs, toUs: monotonicUs() },
      `runnel-broker-${workload}.cpuprofile`,
    );
    profiled = undefined;
    await writeProfileReport(PROFILE_OUT, {
      title: 'Single-broker CPU profile',
      intro: `Written by \`npm run bench -- --profile=${workload}\` on ${new Date().toISOString()} (${machineInfo(dataDir).cpuModel}, Node ${process.version}). The broker ran under \`node --cpu-prof\`; the summary covers only the measured ${workload.startsWith('consume') ? 'consume' : 'produce'} runs below (not start-up, topic creation or shutdown). Self times are wall-clock time on the broker's main thread while it was not idle, so time the thread spent preempted by other processes is counted where it was preempted. Profiling slows the broker down: throughput here is not comparable with single-broker.md.`,
      lines,
      summary,
    });
    log(
      `profile kept in ${kept} (open it in Chrome DevTools or speedscope); summary written to ${path.relative(process.cwd(), PROFILE_OUT)}`,
    );
  } finally {
    await profiled?.discard();
    await rm(dataDir, { recursive: true, force: true });
    await rm(inputDir, { recursive: true, force: true });
  }
}

const profileArg = process.argv.slice(2).find((a) => a === '--profile' || a.startsWith('--profile='));
const main = profileArg ? profile(profileArg.includes('=') ? profileArg.split('=')[1] : 'produce-1k') : benchmark();
main.catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
