// Failover time under a producer (vs-kafka-replicated.ts): the Java client's producer
// (kafka/FailoverProducer.java, its defaults: acks=all, idempotent, retrying) sends one record
// every few milliseconds to partition 0 of a replicated topic; once it has been acknowledged
// steadily for a while, the partition's leader is killed with SIGKILL. Timed from the kill, on
// the wall clock both processes read: when a surviving node's Metadata names another leader, and
// when the first record sent after the kill is acknowledged — a record the killed leader can
// never have answered, so no response it wrote just before dying is taken for recovery.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../test/compat/clients.js';
import { metadata } from '../test/cluster/cluster-clients.js';
import type { BenchCluster } from './bench-cluster.js';
import { toolArgs, type KafkaInstall } from './kafka.js';
import type { BrokerName } from './vs-kafka-report.js';

const PRODUCER_SOURCE = path.join(ROOT, 'broker/bench/kafka/FailoverProducer.java');
/** JVM start and compiling the source file, on a busy machine. */
const PRODUCER_START_TIMEOUT_MS = 90_000;
/** Both systems fence a silent broker after broker.session.timeout.ms (9 s by default); far more means something is wrong. */
const FAILOVER_TIMEOUT_MS = 90_000;
/** After the kill, the producer goes on this long past the first acknowledgement, then stops and settles. */
const AFTER_RECOVERY_MS = 1000;
/** The producer's close waits for every send (up to 150 s, more than delivery.timeout.ms). */
const SETTLE_TIMEOUT_MS = 170_000;
const METADATA_POLL_MS = 20;
const WAIT_POLL_MS = 5;
const MAX_ERRORS_KEPT = 5;

export interface FailoverOptions {
  topic: string;
  /** The node to kill: the partition's leader. */
  victim: number;
  intervalMs: number;
  recordBytes: number;
  /** How long the producer is acknowledged before the kill. */
  steadyMs: number;
}

export interface FailoverRun {
  broker: BrokerName;
  repeat: number;
  /** 1 if it ran before the other system's round of the same repeat. */
  order: number;
  topic: string;
  victim: number;
  /** The quorum's leader when the victim was killed (never the victim). */
  activeController: number;
  /** Kill → a surviving node's Metadata names another leader (polled every 20 ms). */
  newLeaderMs: number | null;
  newLeader: number | null;
  /** Kill → acknowledgement of the first record sent after the kill. */
  firstAckMs: number | null;
  /** Kill → the first acknowledgement received after it, of any record (a late-read answer of the killed leader included). */
  firstAnyAckMs: number | null;
  /** Records sent before the kill and acknowledged after it (retried to the new leader, or read late). */
  ackedAcrossKill: number;
  sent: number;
  acked: number;
  failed: number;
  errors: string[];
  failure: string | null;
}

interface Outcome {
  seq: number;
  sentUs: number;
  atUs: number;
  ok: boolean;
  error: string;
}

const nowUs = () => Date.now() * 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds, polling; false after `timeoutMs` or once `stop` holds. */
async function waitFor(check: () => boolean, timeoutMs: number, stop: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (stop() || Date.now() > deadline) return false;
    await sleep(WAIT_POLL_MS);
  }
  return true;
}

/** One round: producer started and steady, the victim killed, recovery timed, the producer stopped and settled. The victim stays down. */
export async function failoverRound(
  install: KafkaInstall,
  cluster: BenchCluster,
  o: FailoverOptions,
): Promise<Omit<FailoverRun, 'broker' | 'repeat' | 'order' | 'activeController'>> {
  const producer = spawn(
    'java',
    toolArgs(install, PRODUCER_SOURCE, [cluster.bootstrap, o.topic, String(o.intervalMs), String(o.recordBytes)]),
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const outcomes: Outcome[] = [];
  let started = false;
  let done: number | null = null;
  let exited = false;
  let stderr = '';
  let partial = '';
  producer.stdout.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line === 'STARTED') started = true;
      else if (line.startsWith('DONE ')) done = Number(line.slice(5));
      else {
        const m = /^([AE]) (\d+) (\d+) (\d+) ?(.*)$/.exec(line);
        if (m)
          outcomes.push({ seq: Number(m[2]), sentUs: Number(m[3]), atUs: Number(m[4]), ok: m[1] === 'A', error: m[5] });
      }
    }
  });
  producer.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    producer.on('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  producer.on('error', (err) => (stderr += `spawn failed: ${err.message}\n`));
  const gone = () => exited;
  const fail = (why: string) => `${why}; the producer's stderr: ${stderr.slice(-1500)}`;

  let killedUs = 0;
  let newLeader: { atUs: number; id: number } | null = null;
  let failure: string | null = null;
  try {
    const acked = () => outcomes.filter((x) => x.ok);
    if (!(await waitFor(() => started && acked().length > 0, PRODUCER_START_TIMEOUT_MS, gone)))
      throw new Error(fail('the producer got no acknowledgement'));
    await sleep(o.steadyMs);
    const survivor = cluster.nodeIds.find((id) => id !== o.victim)!;

    killedUs = nowUs();
    await cluster.kill(o.victim);

    const watching = (async () => {
      while (!newLeader && nowUs() - killedUs < FAILOVER_TIMEOUT_MS * 1000) {
        try {
          const leader = (await metadata(cluster.clientPort(survivor), [o.topic])).leaders.get(o.topic)![0];
          if (leader >= 0 && leader !== o.victim) newLeader = { atUs: nowUs(), id: leader };
        } catch {
          // In flux: ask again.
        }
        await sleep(METADATA_POLL_MS);
      }
    })();
    const recovered = await waitFor(() => outcomes.some((x) => x.ok && x.sentUs > killedUs), FAILOVER_TIMEOUT_MS, gone);
    await watching;
    if (!recovered)
      failure = fail(`no record sent after the kill was acknowledged within ${FAILOVER_TIMEOUT_MS / 1000} s`);
    else await sleep(AFTER_RECOVERY_MS);
  } catch (err) {
    failure = (err as Error).message;
  }
  producer.stdin.end();
  const timer = setTimeout(() => producer.kill('SIGKILL'), SETTLE_TIMEOUT_MS);
  const code = await exit;
  clearTimeout(timer);
  if (failure === null && (code !== 0 || done === null))
    failure = fail(`the producer exited with ${code} before settling`);

  const after = outcomes.filter((x) => x.ok && x.atUs > killedUs);
  const firstOf = (xs: Outcome[]) => (xs.length === 0 ? null : Math.min(...xs.map((x) => x.atUs)));
  const firstAck = killedUs ? firstOf(after.filter((x) => x.sentUs > killedUs)) : null;
  const firstAny = killedUs ? firstOf(after) : null;
  const nl = newLeader as { atUs: number; id: number } | null;
  const errors = [...new Set(outcomes.filter((x) => !x.ok).map((x) => x.error))].slice(0, MAX_ERRORS_KEPT);
  return {
    topic: o.topic,
    victim: o.victim,
    newLeaderMs: nl ? (nl.atUs - killedUs) / 1000 : null,
    newLeader: nl?.id ?? null,
    firstAckMs: firstAck === null ? null : (firstAck - killedUs) / 1000,
    firstAnyAckMs: firstAny === null ? null : (firstAny - killedUs) / 1000,
    ackedAcrossKill: killedUs ? after.filter((x) => x.sentUs <= killedUs).length : 0,
    sent: done ?? new Set(outcomes.map((x) => x.seq)).size,
    acked: outcomes.filter((x) => x.ok).length,
    failed: outcomes.filter((x) => !x.ok).length,
    errors,
    failure,
  };
}
