// kcat (librdkafka) as the benchmark's throughput client: one process per produce or consume
// run, timed from spawn to exit, its CPU time taken from what this process reaps (runTimed,
// which also runs Kafka's Java tools in vs-kafka.ts).

import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { reapedChildrenCpuMs } from './broker.js';

export const KCAT = process.env.KCAT ?? 'kcat';

/** librdkafka producer settings used for every produce run (besides acks). */
export const PRODUCER_SETTINGS: Record<string, string> = {
  'linger.ms': '5',
  'batch.size': '1000000',
  'batch.num.messages': '10000',
  'compression.codec': 'none',
  'queue.buffering.max.messages': '500000',
};

/** librdkafka consumer settings used for every consume run. */
export const CONSUMER_SETTINGS: Record<string, string> = {
  'fetch.message.max.bytes': '1048576',
  'fetch.max.bytes': '52428800',
  // kcat -e exits on the first empty fetch at the end of the partition; that fetch waits up to
  // fetch.wait.max.ms (default 500) for data that never comes, which would be timed too.
  'fetch.wait.max.ms': '10',
};

/** A client process's run, timed from spawn to exit. */
export interface TimedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** The process's own CPU time (user + system). */
  cpuMs: number;
}

export type KcatRun = TimedRun;

export function runKcat(args: string[], timeoutMs: number): Promise<KcatRun> {
  return runTimed(KCAT, args, timeoutMs);
}

/** Runs a client process to its end, with its wall time and CPU time; SIGKILL after `timeoutMs`. */
export function runTimed(cmd: string, args: string[], timeoutMs: number): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const cpuBefore = reapedChildrenCpuMs();
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${path.basename(cmd)} ${args.join(' ').slice(0, 2000)} did not finish within ${timeoutMs} ms; stderr:\n${stderr.slice(-4000)}`,
        ),
      );
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    let exit: { code: number | null; elapsedMs: number; cpuMs: number } | undefined;
    child.on('exit', (code) => {
      clearTimeout(timer);
      // 'exit' fires after libuv reaped the child, so its CPU time is already counted.
      exit = { code, elapsedMs: performance.now() - started, cpuMs: reapedChildrenCpuMs() - cpuBefore };
    });
    // 'close' comes after 'exit', once the child's output has been read to its end.
    child.on('close', () => {
      if (exit) resolve({ ...exit, stdout, stderr });
    });
  });
}

function settings(props: Record<string, string>): string[] {
  return Object.entries(props).flatMap(([k, v]) => ['-X', `${k}=${v}`]);
}

export interface ProduceRun extends KcatRun {
  /** Why the run failed (exit code, delivery errors), or null. */
  failure: string | null;
}

/** Produces every line of `file` as one record (no key) to partition 0 of `topic`, compressed with `codec`. */
export async function kcatProduce(
  bootstrap: string,
  topic: string,
  file: string,
  acks: number,
  timeoutMs: number,
  codec = 'none',
): Promise<ProduceRun> {
  const run = await runKcat(
    [
      '-b',
      bootstrap,
      '-P',
      '-t',
      topic,
      '-p',
      '0',
      '-l',
      file,
      '-X',
      `acks=${acks}`,
      ...settings({ ...PRODUCER_SETTINGS, 'compression.codec': codec }),
    ],
    timeoutMs,
  );
  // kcat reports each failed delivery on stderr ("% Delivery failed for message: ...") and
  // exits non-zero when any failed.
  const problems = run.stderr.split('\n').filter((l) => /fail|error/i.test(l));
  let failure: string | null = null;
  if (run.code !== 0)
    failure = `kcat exited with ${run.code}: ${problems.slice(0, 5).join(' | ') || run.stderr.slice(-500)}`;
  else if (problems.length > 0) failure = `kcat reported: ${problems.slice(0, 5).join(' | ')}`;
  return { ...run, failure };
}

export interface ConsumeRun extends KcatRun {
  /** The offset kcat reached at the end of the partition, or null if it did not say. */
  endOffset: number | null;
  failure: string | null;
}

/**
 * Reads partition 0 of `topic` from offset 0 to its end (-e) and discards the records
 * (empty output format), so kcat spends nothing on printing them. With `group`, kcat reads as
 * a member of that (new) consumer group instead of by assignment.
 */
export async function kcatConsume(
  bootstrap: string,
  topic: string,
  timeoutMs: number,
  group?: string,
): Promise<ConsumeRun> {
  const source =
    group === undefined
      ? ['-C', '-t', topic, '-p', '0', '-o', 'beginning']
      : ['-G', group, topic, '-X', 'auto.offset.reset=earliest'];
  const run = await runKcat(['-b', bootstrap, ...source, '-e', '-f', '', ...settings(CONSUMER_SETTINGS)], timeoutMs);
  // "% Reached end of topic <t> [0] at offset <n>: exiting"
  const m = /Reached end of topic \S+ \[0\] at offset (\d+)/.exec(run.stderr);
  const endOffset = m ? Number(m[1]) : null;
  const problems = run.stderr.split('\n').filter((l) => /fail|error/i.test(l));
  let failure: string | null = null;
  if (run.code !== 0) failure = `kcat exited with ${run.code}: ${run.stderr.slice(-500)}`;
  else if (problems.length > 0) failure = `kcat reported: ${problems.slice(0, 5).join(' | ')}`;
  else if (endOffset === null) failure = `kcat did not report reaching the end: ${run.stderr.slice(-500)}`;
  return { ...run, endOffset, failure };
}

/** The partition's latest offset (ListOffsets, timestamp -1) as kcat's query mode reports it. */
export async function kcatEndOffset(bootstrap: string, topic: string): Promise<number> {
  const run = await runKcat(['-b', bootstrap, '-Q', '-t', `${topic}:0:-1`], 30_000);
  // "<topic> [0] offset <n>"
  const m = /\[0\] offset (-?\d+)/.exec(run.stdout);
  if (run.code !== 0 || !m) throw new Error(`kcat -Q failed (${run.code}): ${run.stdout} ${run.stderr}`);
  return Number(m[1]);
}

/** "Version 1.7.1 (... librdkafka 2.0.2 ...)" */
export async function kcatVersion(): Promise<string> {
  const run = await runKcat(['-V'], 10_000);
  const version = /Version (\S+)/.exec(run.stdout)?.[1] ?? '?';
  const librdkafka = /librdkafka (\S+)/.exec(run.stdout)?.[1] ?? '?';
  return `kcat ${version}, librdkafka ${librdkafka}`;
}
