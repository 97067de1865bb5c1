// What the benchmarks do with the Node client (@platformatic/kafka) besides the throughput
// clients: create topics, wait for a starting broker's first acknowledged produce, and run the
// fixed-rate latency client (latency-client.ts) as its own process.

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Admin, ProduceAcks, Producer } from '@platformatic/kafka';
import { processesCpuMs, reapedChildrenCpuMs } from './broker.js';
import type { LatencyJob, LatencyResult } from './latency-client.js';
import { machineBusyCpuMs } from './machine.js';
import type { LatencyRun } from './report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LATENCY_CLIENT = path.join(HERE, 'latency-client.js');
const POLL_MS = 5;

/** CreateTopics through `bootstrap` (one address or several, comma-separated): unreplicated unless `replicas` says. */
export async function createTopics(
  bootstrap: string,
  topics: string[],
  partitions = 1,
  options: { replicas?: number; configs?: Record<string, string> } = {},
): Promise<void> {
  const admin = new Admin({ clientId: 'runnel-bench', bootstrapBrokers: bootstrap.split(',') });
  try {
    await admin.createTopics({
      topics,
      partitions,
      replicas: options.replicas ?? 1,
      configs: Object.entries(options.configs ?? {}).map(([name, value]) => ({ name, value })),
    });
  } finally {
    await admin.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a TCP connection to host:port is accepted now. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const nested = (err as Error & { errors?: unknown[] }).errors?.map(describe).join('; ');
  return `${err.message}${nested ? ` (${nested})` : ''}`;
}

/**
 * Polls a starting broker until one record produced at acks=1 to partition 0 of `topic` is
 * acknowledged: first until its port accepts connections (every 5 ms), then creating the topic
 * (one partition) and producing, each attempt with a new client that does not retry by itself.
 * Rejects after `timeoutMs`, or as soon as `exited` resolves (the broker died).
 */
export async function awaitFirstAck(
  bootstrap: string,
  topic: string,
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<{ attempts: number }> {
  const deadline = performance.now() + timeoutMs;
  let dead = false;
  void exited?.then(() => (dead = true));
  const [host, port] = [
    bootstrap.slice(0, bootstrap.lastIndexOf(':')),
    Number(bootstrap.slice(bootstrap.lastIndexOf(':') + 1)),
  ];
  const check = (what: string) => {
    if (dead) throw new Error(`the broker exited while waiting for ${what}`);
    if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
  };
  while (!(await accepts(host, port))) {
    check(`connection to ${bootstrap}`);
    await sleep(POLL_MS);
  }
  const options = {
    clientId: 'runnel-bench-start',
    bootstrapBrokers: [bootstrap],
    retries: 0,
    timeout: 5000,
    connectTimeout: 1000,
  };
  let created = false;
  let lastError = '';
  for (let attempts = 1; ; attempts++) {
    try {
      if (!created) {
        const admin = new Admin(options);
        try {
          await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
        } catch (err) {
          if (!/already exists/i.test(describe(err))) throw err;
        } finally {
          await admin.close();
        }
        created = true;
      }
      const producer = new Producer({ ...options, acks: ProduceAcks.LEADER, idempotent: false });
      try {
        await producer.send({ messages: [{ topic, partition: 0, value: Buffer.from('first') }] });
      } finally {
        await producer.close();
      }
      return { attempts };
    } catch (err) {
      lastError = describe(err);
      check(`acknowledged produce (last error: ${lastError})`);
      await sleep(POLL_MS);
    }
  }
}

/**
 * Runs the latency client and notes what the broker (or the brokers, summed), the client and the
 * rest of the machine used meanwhile.
 */
export async function latencyRun(brokerPid: number | readonly number[], job: LatencyJob): Promise<LatencyRun> {
  const started = performance.now();
  const brokerBefore = processesCpuMs(brokerPid).allMs;
  const clientBefore = reapedChildrenCpuMs();
  const machineBefore = machineBusyCpuMs();
  const result = await runLatencyClient(job);
  const elapsedMs = performance.now() - started;
  const brokerMs = processesCpuMs(brokerPid).allMs - brokerBefore;
  const clientMs = reapedChildrenCpuMs() - clientBefore;
  const otherMs = Math.max(0, machineBusyCpuMs() - machineBefore - brokerMs - clientMs);
  return {
    ...result,
    brokerCores: brokerMs / elapsedMs,
    clientCores: clientMs / elapsedMs,
    otherCores: otherMs / elapsedMs,
  };
}

function runLatencyClient(job: LatencyJob): Promise<LatencyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LATENCY_CLIENT, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) reject(new Error(`latency client exited with ${code}: ${stderr.slice(-2000)}`));
      else resolve(JSON.parse(line) as LatencyResult);
    });
  });
}
